// Package testdb gives a test a pool on a migrated database of its own, for
// the packages whose tests need quotad's schema: usage, webhooks, metering.
// (tiers cannot use it: it imports tiers.)
package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/tiers"
)

// Pool returns a pool on a fresh database of this test alone, migrated to
// the latest version, closed when the test ends (testenv drops the
// database).
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dbURL := testenv.Database(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tiers.MigrateURL(ctx, dbURL); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}
