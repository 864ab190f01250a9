package operations

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listener timing, as tiers': a change must be visible everywhere within a
// second, including after Postgres comes back.
const (
	retryFirst     = 50 * time.Millisecond
	retryMax       = 500 * time.Millisecond
	connectTimeout = 5 * time.Second
	queryTimeout   = 5 * time.Second
	// idleCheck is how long the listener waits for a notification before
	// pinging: a connection that died silently would otherwise leave it
	// waiting forever.
	idleCheck = 15 * time.Second
)

// channel is the LISTEN/NOTIFY channel of migrations 00003 and 00012,
// shared with tiers; kind tells the rules' notifications apart.
const (
	channel = "quota_changes"
	kind    = "operation"
)

// listenerAppName names the listener's session in pg_stat_activity.
const listenerAppName = "quotad-operations-listener"

// listen runs until ctx is done: it waits for notifications on conn,
// reloads the rules on each of theirs, and reconnects (then reloads)
// whenever conn fails.
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
				level := slog.LevelDebug // only the first of a streak warns
				if failures == 0 {
					level = slog.LevelWarn
				}
				log.Log(ctx, level, "operations: listener cannot reconnect", "error", err, "attempt", failures+1)
				if !sleep(ctx, retryDelay(failures)) {
					return
				}
				failures++
				continue
			}
			log.Info("operations: listener reconnected; rules reloaded", "attempts", failures+1)
			failures = 0
		}
		if err := c.receive(ctx, conn); err != nil {
			c.connected.Store(false)
			closeQuietly(conn)
			conn = nil
			if ctx.Err() != nil {
				return
			}
			log.Warn("operations: listener lost its connection; reconnecting", "error", err)
		}
	}
}

// connect opens the listener's connection, subscribes, then loads every
// rule: whatever changes after LISTEN is notified, whatever changed before
// is in the load.
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
	if err := c.reload(ctx, conn); err != nil {
		closeQuietly(conn)
		return nil, err
	}
	c.listenerPID.Store(conn.PgConn().PID())
	c.connected.Store(true)
	c.reloaded()
	return conn, nil
}

// receive waits for one notification and reloads the rules if it is about
// one. An error means conn is no longer trustworthy and must be replaced.
func (c *Cache) receive(ctx context.Context, conn *pgx.Conn) error {
	waitCtx, cancel := context.WithTimeout(ctx, c.idle)
	n, err := conn.WaitForNotification(waitCtx)
	idle := errors.Is(waitCtx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		if idle && ctx.Err() == nil {
			pingCtx, cancel := context.WithTimeout(ctx, queryTimeout)
			defer cancel()
			return conn.Ping(pingCtx)
		}
		return err
	}
	var payload struct {
		Kind string `json:"kind"`
	}
	// A payload that cannot be read may be anyone's: reloading is cheap
	// and safe, missing a change is not.
	if err := json.Unmarshal([]byte(n.Payload), &payload); err == nil && payload.Kind != kind {
		return nil
	}
	if err := c.reload(ctx, conn); err != nil {
		return err
	}
	c.reloaded()
	return nil
}

// retryDelay is the wait after the n-th consecutive failed reconnect
// (n from 0): 50, 100, 200, 400, 500, 500 … ms.
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
