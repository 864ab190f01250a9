package tiers

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// newUnpingedPool opens a pool on dbURL that never pings a connection
// before handing it out, as pgxpool does for one idle under a second, and
// that holds three idle connections, as a pool that has served concurrent
// requests does.
func newUnpingedPool(tb testing.TB, dbURL string) *pgxpool.Pool {
	tb.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	refill(tb, pool)
	return pool
}

// refill makes pool hold three idle connections again.
func refill(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	var held []*pgxpool.Conn
	for range 3 {
		c, err := pool.Acquire(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
}

// closePooledConnections terminates the backends of pool's database, but a
// Cache listener's, as a restart would, and waits until they are gone: the
// pool's idle connections are dead, and Postgres answers new ones.
func closePooledConnections(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	ctx := context.Background()
	if n := pool.Stat().IdleConns(); n < 3 {
		tb.Fatalf("the pool holds %d idle connections, want 3 to be closed", n)
	}
	db := pool.Config().ConnConfig.Database
	admin := connectAdmin(tb)
	const backends = `FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name <> $2`
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) `+backends, db, listenerAppName); err != nil {
		tb.Fatal(err)
	}
	waitFor(tb, 5*time.Second, "the pool's backends to exit", func() bool {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) `+backends, db, listenerAppName).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		return n == 0
	})
}
