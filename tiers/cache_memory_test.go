package tiers

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A client whose tier is known keeps it while Postgres is unreachable,
// though it was never looked up before: every assignment is in memory from
// the start.
func TestCache_AssignedClientKeepsItsTierWithoutPostgres(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Second)})
	if _, err := store.AssignClient(ctx, "paid", "pro", 0); err != nil {
		t.Fatal(err)
	}
	cache, _ := startCache(t, NewCache(newTestPool(t, dbURL), CacheConfig{}))

	// Postgres goes away: every connection killed, none accepted.
	psql := connect(t, dbURL)
	refuseConnections(t, dbURL)
	terminateAllBut(t, dbURL, psql.PgConn().PID())
	waitFor(t, 2*time.Second, "the listener to notice", func() bool { return !cache.Connected() })
	for _, l := range []struct{ id, want string }{{"paid", "pro"}, {"never-assigned", Free}, {"paid", "pro"}} {
		if got, err := cache.TierFor(ctx, l.id); err != nil || got.Name != l.want {
			t.Errorf("Postgres unreachable: TierFor(%s) = %s, %v; want %s", l.id, got.Name, err, l.want)
		}
	}
}

// A flood of identities never seen moves no one and asks Postgres nothing:
// a client without an assignment is free by definition, not by a lookup
// that found nothing, and nothing is evicted to make room.
func TestCache_FloodOfIdentitiesRunsNoQuery(t *testing.T) {
	t.Parallel()
	store, dbURL := newTestStore(t)
	ctx := context.Background()
	mustCreateTier(t, store, Tier{Name: "pro", Windows: one(100, time.Second)})
	if _, err := store.AssignClient(ctx, "paid", "pro", 0); err != nil {
		t.Fatal(err)
	}
	pool, queries := newCountingPool(t, dbURL)
	cache, _ := startCache(t, NewCache(pool, CacheConfig{}))
	before := queries.Load()

	if got, err := cache.TierFor(ctx, "paid"); err != nil || got.Name != "pro" {
		t.Errorf("TierFor(paid) = %s, %v; want pro", got.Name, err)
	}
	const flood = 20_000
	for i := range flood {
		id := fmt.Sprint("flood-", i)
		if got, _ := cache.TierFor(ctx, id); got.Name != Free {
			t.Fatalf("TierFor(%s) = %s, want free", id, got.Name)
		}
	}
	if got, _ := cache.TierFor(ctx, "paid"); got.Name != "pro" {
		t.Errorf("after %d other identities TierFor(paid) = %s, want pro", flood, got.Name)
	}
	if n := queries.Load() - before; n != 0 {
		t.Errorf("%d lookups ran %d queries, want none", flood+2, n)
	}
	if st := cache.Stats(); st.Clients != 1 {
		t.Errorf("stats = %+v, want the one assignment held", st)
	}
}

// newCountingPool opens a pool on dbURL whose queries are counted, but for
// a Cache listener's (which copies the pool's settings).
func newCountingPool(tb testing.TB, dbURL string) (*pgxpool.Pool, *atomic.Int64) {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tracer := &queryCounter{}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return pool, &tracer.n
}

// queryCounter is a pgx.QueryTracer counting queries of connections other
// than a Cache listener's.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if conn.Config().RuntimeParams["application_name"] != listenerAppName {
		q.n.Add(1)
	}
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
