package tiers

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testenv"
)

// connectAdmin connects to the test server's maintenance database, for
// what a test's own database cannot do (terminate backends, refuse logins).
func connectAdmin(tb testing.TB) *pgx.Conn {
	tb.Helper()
	return connect(tb, testenv.DatabaseURL())
}

// createDatabase creates an empty database for this test only.
func createDatabase(tb testing.TB) string {
	tb.Helper()
	return testenv.Database(tb)
}

// newTestDB creates a migrated database for this test and returns its URL.
func newTestDB(tb testing.TB) string {
	tb.Helper()
	dbURL := createDatabase(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := MigrateURL(ctx, dbURL); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return dbURL
}

// newTestPool opens a pool on dbURL, closed when the test ends.
func newTestPool(tb testing.TB, dbURL string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// newTestStore returns a Store over a fresh migrated database, and the
// database's URL for raw SQL.
func newTestStore(tb testing.TB) (*Store, string) {
	tb.Helper()
	dbURL := newTestDB(tb)
	return NewStore(newTestPool(tb, dbURL)), dbURL
}

// connect opens a plain connection to dbURL, closed when the test ends:
// the "someone else with psql" of the tests. A Postgres that cannot be
// reached fails the test in one line; it never skips.
func connect(tb testing.TB, dbURL string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatalf("cannot reach Postgres (run 'make services' or set QUOTA_TEST_DATABASE_URL): %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// closedPortURL returns a URL on which nothing listens, so every
// connection attempt is refused at once.
func closedPortURL(tb testing.TB) string {
	tb.Helper()
	return "postgres://postgres@" + testenv.ClosedAddr(tb) + "/postgres?sslmode=disable&connect_timeout=2"
}
