package scratchdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/quotad/quotad/internal/scratchdb"
	"github.com/quotad/quotad/internal/testenv"
)

// TestCreate uses the test Postgres, as every test does.
func TestCreate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	db, err := scratchdb.Create(ctx, testenv.DatabaseURL(), "scratchdb_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	if !strings.HasPrefix(db.Name, "scratchdb_test_") || len(db.Name) != len("scratchdb_test_")+12 || db.Version == "" {
		t.Errorf("Create = %+v", db)
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatalf("connect to %s: %v", db.Name, err)
	}
	// Open on purpose: Drop must disconnect it.
	defer conn.Close(context.Background())
	if err := db.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(ctx, t, db.Name) {
		t.Errorf("database %s still exists after Drop", db.Name)
	}
}

func exists(ctx context.Context, tb testing.TB, name string) bool {
	tb.Helper()
	conn, err := pgx.Connect(ctx, testenv.DatabaseURL())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n > 0
}
