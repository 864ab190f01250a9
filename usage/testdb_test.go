package usage

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testdb"
)

// newTestPool returns a pool on a migrated database of this test alone.
func newTestPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return testdb.Pool(tb)
}

// day returns the UTC midnight of the date "2006-01-02".
func day(tb testing.TB, s string) time.Time {
	tb.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// row is a stored usage_days row.
type row struct {
	admitted, refused, overage int64
	updatedAt                  time.Time
}

// readRow returns the row of client, day and epoch, failing the test if
// there is none.
func readRow(tb testing.TB, pool *pgxpool.Pool, client string, d time.Time, epoch string) row {
	tb.Helper()
	var r row
	err := pool.QueryRow(context.Background(),
		`SELECT admitted, refused, overage, updated_at FROM usage_days WHERE client_id = $1 AND day = $2 AND epoch = $3`,
		client, d, epoch).Scan(&r.admitted, &r.refused, &r.overage, &r.updatedAt)
	if err != nil {
		tb.Fatalf("row %s %s %s: %v", client, d.Format(time.DateOnly), epoch, err)
	}
	return r
}

// countRows returns the number of rows in usage_days.
func countRows(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM usage_days`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// mustRecord records counts, failing the test on an error.
func mustRecord(tb testing.TB, db DB, counts ...Count) {
	tb.Helper()
	if err := Record(context.Background(), db, counts); err != nil {
		tb.Fatalf("record: %v", err)
	}
}
