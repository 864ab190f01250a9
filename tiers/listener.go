package tiers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listener timing. The spec wants a change visible everywhere within a
// second, including after Postgres comes back, so reconnects are retried at
// once and then at most every 500 ms (pgxlisten's default of a minute would
// be far too slow).
const (
	retryFirst     = 50 * time.Millisecond
	retryMax       = 500 * time.Millisecond
	connectTimeout = 5 * time.Second
	queryTimeout   = 5 * time.Second
	// idleCheck is how long the listener waits for a notification before
	// pinging: a connection that died silently (no RST) would otherwise
	// leave it waiting forever.
	idleCheck = 15 * time.Second
)

// listenerAppName names the listener's session in pg_stat_activity.
const listenerAppName = "quotad-tiers-listener"

// listen runs until ctx is done: it waits for notifications on conn,
// applies them, and reconnects (then resyncs) whenever conn fails.
func (c *Cache) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(c.done)
	log := c.cfg.Logger
	failures := 0
	for {
		if conn == nil {
			var err error
			if conn, err = c.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				// The first failure of a streak is worth a warning; the
				// retries that follow every half second are not.
				level := slog.LevelDebug
				if failures == 0 {
					level = slog.LevelWarn
				}
				log.Log(ctx, level, "tiers: listener cannot reconnect", "error", err, "attempt", failures+1)
				if !sleep(ctx, retryDelay(failures)) {
					return
				}
				failures++
				continue
			}
			log.Info("tiers: listener reconnected; tiers reloaded", "attempts", failures+1)
			failures = 0
			c.emit(Change{Kind: ChangeResync})
		}
		if err := c.receive(ctx, conn); err != nil {
			c.connected.Store(false)
			closeQuietly(conn)
			conn = nil
			if ctx.Err() != nil {
				return
			}
			log.Warn("tiers: listener lost its connection; reconnecting", "error", err)
		}
	}
}

// connect opens the listener's connection, subscribes, and then reloads
// every tier and flushes the client LRU. In that order: whatever changes
// after LISTEN is notified, whatever changed before is in the reload.
func (c *Cache) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	cfg := c.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = listenerAppName
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, interpretError(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		closeQuietly(conn)
		return nil, interpretError(err)
	}
	if err := c.resync(ctx, conn); err != nil {
		closeQuietly(conn)
		return nil, err
	}
	c.listenerPID.Store(conn.PgConn().PID())
	c.connected.Store(true)
	c.downUntil.Store(0) // Postgres evidently answers again: misses may ask it
	return conn, nil
}

// resync reloads every tier and forgets every client assignment.
func (c *Cache) resync(ctx context.Context, conn *pgx.Conn) error {
	rows, _ := conn.Query(ctx, sqlListTiers)
	list, err := pgx.CollectRows(rows, scanTier)
	if err != nil {
		return fmt.Errorf("load tiers: %w", interpretError(err))
	}
	c.setTiers(list)
	c.clients.flush()
	return nil
}

// receive waits for one notification and applies it. An error means conn
// is no longer trustworthy and must be replaced.
func (c *Cache) receive(ctx context.Context, conn *pgx.Conn) error {
	waitCtx, cancel := context.WithTimeout(ctx, c.idle)
	n, err := conn.WaitForNotification(waitCtx)
	idle := errors.Is(waitCtx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		if idle && ctx.Err() == nil {
			// Idle, not broken: make sure the server is still there.
			pingCtx, cancel := context.WithTimeout(ctx, queryTimeout)
			defer cancel()
			return conn.Ping(pingCtx)
		}
		return err
	}
	return c.apply(ctx, conn, n.Payload)
}

// apply updates the cache for one payload, then tells OnChange.
func (c *Cache) apply(ctx context.Context, conn *pgx.Conn, payload string) error {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		n.Kind = "" // resync below: safer than guessing what changed
	}
	switch n.Kind {
	case ChangeTier:
		if err := c.reloadTier(ctx, conn, n.Name); err != nil {
			return err
		}
		c.emit(Change{Kind: ChangeTier, Name: n.Name})
	case ChangeClient:
		c.clients.remove(n.ID)
		c.emit(Change{Kind: ChangeClient, ClientID: n.ID})
	case ChangeReset:
		c.emit(Change{Kind: ChangeReset, ClientID: n.ID})
	default:
		c.cfg.Logger.Warn("tiers: unexpected notification; reloading everything", "payload", payload)
		ctx, cancel := context.WithTimeout(ctx, queryTimeout)
		defer cancel()
		if err := c.resync(ctx, conn); err != nil {
			return err
		}
		c.emit(Change{Kind: ChangeResync})
	}
	return nil
}

// reloadTier reads one tier again; a tier that is gone is forgotten.
func (c *Cache) reloadTier(ctx context.Context, conn *pgx.Conn, name string) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	t, err := collectTier(conn.Query(ctx, sqlGetTier, name))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		c.setTier(name, Tier{}, false)
	case err != nil:
		return fmt.Errorf("reload tier %q: %w", name, interpretError(err))
	default:
		c.setTier(name, t, true)
	}
	return nil
}

func (c *Cache) emit(ch Change) {
	if c.cfg.OnChange != nil {
		c.cfg.OnChange(ch)
	}
}

// retryDelay is the wait after the n-th consecutive failed reconnect
// (n from 0): 50, 100, 200, 400, 500, 500 … ms. The first reconnect after
// a drop is not delayed at all; it happens before any failure.
func retryDelay(n int) time.Duration {
	d := retryFirst
	for i := 0; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// sleep waits for d or until ctx is done, reporting whether the full d
// passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// closeQuietly closes conn without waiting long on a dead server.
func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
