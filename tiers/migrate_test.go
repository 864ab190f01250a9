package tiers

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/quotad/quotad/migrations"
)

func TestMigrate_SeedsBuiltInTiers(t *testing.T) {
	t.Parallel()
	store, _ := newTestStore(t)
	ctx := context.Background()

	want := map[string]Tier{
		Anonymous: {Name: Anonymous, Windows: one(60, 60*time.Second), Currency: "USD"},
		Free:      {Name: Free, Windows: one(300, 30*time.Second), Currency: "USD"},
	}
	for name, w := range want {
		got, err := store.GetTier(ctx, name)
		if err != nil {
			t.Fatalf("GetTier(%q): %v", name, err)
		}
		if got.Description == "" {
			t.Errorf("%s: empty description", name)
		}
		got.Description, got.Version = "", 0
		if !got.Equal(w) {
			t.Errorf("%s = %+v, want %+v", name, got, w)
		}
	}
}

func TestMigrate_ConcurrentInstancesApplyEachVersionOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(ctx context.Context, db *sql.DB) error
	}{
		{"fresh database", func(context.Context, *sql.DB) error { return nil }},
		// goose retries creating its version table after a second, which
		// alone happens to serialize instances racing on a fresh database;
		// with the table already there only the lock keeps them apart.
		{"version table exists", func(ctx context.Context, db *sql.DB) error {
			p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				return err
			}
			_, err = p.GetDBVersion(ctx)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbURL := createDatabase(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg, err := pgx.ParseConfig(dbURL)
			if err != nil {
				t.Fatal(err)
			}
			dbs := make([]*sql.DB, 4)
			for i := range dbs {
				dbs[i] = stdlib.OpenDB(*cfg)
				t.Cleanup(func() { _ = dbs[i].Close() })
				// Connect before the race: connecting takes longer than
				// migrating, and would spread the instances out.
				if err := dbs[i].PingContext(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.setup(ctx, dbs[0]); err != nil {
				t.Fatal(err)
			}

			start := make(chan struct{})
			errs := make([]error, len(dbs))
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() {
					<-start
					errs[i] = Migrate(ctx, db)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
				}
			}
			assertAppliedOnce(t, ctx, dbs[0])
		})
	}
}

// assertAppliedOnce checks goose's table: every embedded version applied,
// each exactly once.
func assertAppliedOnce(tb testing.TB, ctx context.Context, db *sql.DB) {
	tb.Helper()
	rows, err := db.QueryContext(ctx,
		`SELECT version_id, count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied GROUP BY version_id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	applied := map[int64]int64{}
	for rows.Next() {
		var version, n int64
		if err := rows.Scan(&version, &n); err != nil {
			tb.Fatal(err)
		}
		applied[version] = n
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	want := migrationVersions(tb)
	if got := slices.Sorted(maps.Keys(applied)); !slices.Equal(got, want) {
		tb.Errorf("applied versions %v, want %v", got, want)
	}
	for v, n := range applied {
		if n != 1 {
			tb.Errorf("version %d applied %d times, want once", v, n)
		}
	}
}

// Down migrations are code too: they must run, and Up must work after them.
func TestMigrate_DownThenUpAgain(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	ctx := context.Background()
	p, db := gooseProvider(t, dbURL)
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('tiers', 'clients')`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("after down %d tables left (%v)", tables, err)
	}
	if err := Migrate(ctx, db); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

func TestMigrate_UnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	err := MigrateURL(context.Background(), closedPortURL(t))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Migrate against a closed port = %v, want ErrUnavailable", err)
	}
}

// The guards live in the database, so psql users meet them too.
func TestMigrate_RawSQLCannotRemoveBuiltInTiers(t *testing.T) {
	t.Parallel()
	dbURL := newTestDB(t)
	conn := connect(t, dbURL)
	ctx := context.Background()

	tests := []struct {
		name, sql, code string
	}{
		{"delete anonymous", `DELETE FROM tiers WHERE name = 'anonymous'`, codeProtected},
		{"delete free", `DELETE FROM tiers WHERE name = 'free'`, codeProtected},
		{"delete all", `DELETE FROM tiers`, codeProtected},
		{"rename free", `UPDATE tiers SET name = 'gratis' WHERE name = 'free'`, codeProtected},
		{"truncate", `TRUNCATE tiers CASCADE`, codeProtected},
		{"delete tier in use", `
			INSERT INTO tiers (name, "limit", per_seconds) VALUES ('pro', 10, 1);
			INSERT INTO clients (id, tier) VALUES ('c1', 'pro');
			DELETE FROM tiers WHERE name = 'pro'`, codeInUse},
		{"bad limit", `INSERT INTO tiers (name, "limit", per_seconds) VALUES ('x', 0, 1)`, "23514"},
		{"bad name", `INSERT INTO tiers (name, "limit", per_seconds) VALUES ('Pro!', 1, 1)`, "23514"},
		{"bad currency", `INSERT INTO tiers (name, "limit", per_seconds, currency) VALUES ('x', 1, 1, 'usd')`, "23514"},
		{"negative price", `INSERT INTO tiers (name, "limit", per_seconds, price_cents) VALUES ('x', 1, 1, -1)`, "23514"},
		{"price above the bound", `INSERT INTO tiers (name, "limit", per_seconds, price_cents) VALUES ('x', 1, 1, 1000000000001)`, "23514"},
		{"update to a price above the bound", `UPDATE tiers SET price_cents = 1000000000001 WHERE name = 'free'`, "23514"},
		{"unknown tier", `INSERT INTO clients (id, tier) VALUES ('c2', 'nope')`, "23503"},
	}
	for _, tt := range tests {
		// Each statement runs in its own transaction, rolled back whatever
		// happens, so the cases cannot see each other.
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, tt.sql)
		_ = tx.Rollback(ctx)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != tt.code {
			t.Errorf("%s: err = %v, want SQLSTATE %s", tt.name, err, tt.code)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tiers WHERE name IN ('anonymous', 'free')`).Scan(&n); err != nil || n != 2 {
		t.Errorf("built-in tiers left: %d (%v), want 2", n, err)
	}
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

// gooseProvider returns a goose provider of quotad's migrations on the
// database at dbURL, and the connection it uses, closed by the test's end.
func gooseProvider(tb testing.TB, dbURL string) (*goose.Provider, *sql.DB) {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	tb.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		tb.Fatal(err)
	}
	return p, db
}
