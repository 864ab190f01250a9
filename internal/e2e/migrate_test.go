package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/migrations"
)

// TestFourInstancesMigrateOnce: four quotad processes started together on
// one empty database all become healthy, and goose's version table shows
// each migration applied exactly once (the migration lock works across
// processes, not only goroutines).
func TestFourInstancesMigrateOnce(t *testing.T) {
	t.Parallel()
	db := database(t)
	rs := testenv.StartRedis(t)
	qs := make([]*quotad, 4)
	for i := range qs {
		qs[i] = launchQuotad(t, env(db, rs.URL()))
	}
	for _, q := range qs {
		q.waitHealthy(60 * time.Second)
	}

	want := migrationVersions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(ctx, `SELECT version_id, count(*) FROM goose_db_version WHERE version_id > 0 GROUP BY version_id ORDER BY version_id`)
	applied := map[int64]int64{}
	var versions []int64
	for rows.Next() {
		var v, n int64
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		applied[v] = n
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(want) {
		t.Errorf("applied versions %v; want %v", versions, want)
	}
	for _, v := range want {
		if applied[v] != 1 {
			t.Errorf("migration %d applied %d times; want once", v, applied[v])
		}
	}

	var wg sync.WaitGroup
	for _, q := range qs {
		wg.Go(func() {
			if got := publicLimit(t, q, "free"); got != 300 {
				t.Errorf("%s: free tier limit %d; want the seed's 300", q.URL, got)
			}
		})
	}
	wg.Wait()
}

// migrationVersions lists the versions of the embedded migrations.
func migrationVersions(tb testing.TB) []int64 {
	tb.Helper()
	versions, err := migrations.Versions()
	if err != nil || len(versions) == 0 {
		tb.Fatalf("no migrations embedded: %v", err)
	}
	return versions
}
