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
	// loadTimeout bounds a reload, which reads every assignment: a million
	// take a few seconds.
	loadTimeout = time.Minute
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
// every tier and assignment. In that order: whatever changes after LISTEN
// is notified, whatever changed before is in the reload.
func (c *Cache) connect(ctx context.Context) (*pgx.Conn, error) {
	connectCtx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	cfg := c.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = listenerAppName
	}
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	if err != nil {
		return nil, interpretError(err)
	}
	if _, err := conn.Exec(connectCtx, "LISTEN "+channel); err != nil {
		closeQuietly(conn)
		return nil, interpretError(err)
	}
	if err := c.resync(ctx, conn); err != nil {
		closeQuietly(conn)
		return nil, err
	}
	c.listenerPID.Store(conn.PgConn().PID())
	c.connected.Store(true)
	return conn, nil
}

const (
	// sqlVersionFloor reads the last version handed out. As the first
	// statement of a repeatable-read transaction it runs as the snapshot
	// is taken, so any greater version is taken after the snapshot.
	sqlVersionFloor = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM quota_version_seq`

	sqlLoadTiers   = `SELECT ` + tierColumns + ` FROM tiers`
	sqlLoadClients = `SELECT id, tier, anchor_day, version FROM clients`
)

// resync reloads every tier and every assignment from one snapshot and
// installs them (see Cache.replace).
func (c *Cache) resync(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	s, err := load(ctx, conn)
	if err != nil {
		return fmt.Errorf("load tiers: %w", interpretError(err))
	}
	c.replace(s)
	return nil
}

// load reads a snapshot.
func load(ctx context.Context, conn *pgx.Conn) (loaded, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return loaded{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	s := loaded{tiers: newVersioned[Tier](0)}
	if err := tx.QueryRow(ctx, sqlVersionFloor).Scan(&s.floor); err != nil {
		return loaded{}, err
	}
	rows, _ := tx.Query(ctx, sqlLoadTiers)
	list, err := pgx.CollectRows(rows, scanTier)
	if err != nil {
		return loaded{}, err
	}
	for _, t := range list {
		s.tiers.put(t.Name, t, t.Version)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM clients`).Scan(&n); err != nil {
		return loaded{}, err
	}
	s.clients = newVersioned[assignment](n)
	var id, tier string
	var anchorDay int
	var version int64
	rows, _ = tx.Query(ctx, sqlLoadClients)
	_, err = pgx.ForEachRow(rows, []any{&id, &tier, &anchorDay, &version}, func() error {
		if t, ok := s.tiers.get(tier); ok {
			tier = t.Name // one string per tier, shared by its clients
		}
		s.clients.put(id, newAssignment(tier, anchorDay), version)
		return nil
	})
	if err != nil {
		return loaded{}, err
	}
	return s, tx.Commit(ctx)
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
	if n.Kind == ChangeOperation {
		c.emit(Change{Kind: ChangeOperation, Name: n.Name})
		return nil
	}
	if n.Kind != ChangeReset && n.Version <= 0 {
		n.Kind = "" // unversioned: it cannot be ordered, so reload
	}
	switch n.Kind {
	case ChangeTier:
		var t *Tier
		if !n.Deleted {
			var err error
			if t, err = c.reloadTier(ctx, conn, n.Name); err != nil {
				return err
			}
		}
		if n.Deleted || t != nil {
			c.notified(n, t)
		}
		c.emit(Change{Kind: ChangeTier, Name: n.Name})
	case ChangeClient:
		c.notified(n, nil)
		c.emit(Change{Kind: ChangeClient, ClientID: n.ID})
	case ChangeReset:
		c.emit(Change{Kind: ChangeReset, ClientID: n.ID})
	default:
		c.cfg.Logger.Warn("tiers: unexpected notification; reloading everything", "payload", payload)
		if err := c.resync(ctx, conn); err != nil {
			return err
		}
		c.emit(Change{Kind: ChangeResync})
	}
	return nil
}

// reloadTier reads one tier again, as it is now: the notification says
// only that it changed. A tier that is gone is nil; the notification of
// its deletion follows.
func (c *Cache) reloadTier(ctx context.Context, conn *pgx.Conn, name string) (*Tier, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	t, err := collectTier(conn.Query(ctx, sqlGetTier, name))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reload tier %q: %w", name, interpretError(err))
	}
	return &t, nil
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
