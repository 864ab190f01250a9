package metering

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testdb"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/tiers"
	"github.com/quotad/quotad/usage"
	"github.com/redis/go-redis/v9"
)

// fixture is a metering limiter on its own Redis prefix and a migrated
// database of its own.
type fixture struct {
	pool   *pgxpool.Pool
	rdb    *redis.Client
	prefix string
	lim    *quota.Limiter
	plans  staticPlans
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := testdb.Pool(t)
	rdb, prefix := testenv.Redis(t)
	lim, err := quota.NewWithConfig(rdb, quota.Config{Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() })
	return &fixture{pool: pool, rdb: rdb, prefix: prefix, lim: lim, plans: staticPlans{}}
}

// staticPlans puts every client on one tier.
type staticPlans struct{}

func (staticPlans) PlanFor(context.Context, string) (tiers.Tier, int, error) {
	return tiers.Tier{Name: "pro", Windows: []tiers.Window{{Limit: 100, Per: time.Hour}, {Limit: 10, Per: tiers.Month}}}, 1, nil
}

func (f *fixture) flusher(t *testing.T) *Flusher {
	t.Helper()
	fl, err := New(Config{Pool: f.pool, Limiter: f.lim, Plans: f.plans, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

var plan = quota.Limit{Name: "pro", Meter: true, Windows: []quota.Window{{Requests: 100, Per: time.Hour}, {Requests: 10, Per: quota.Month}}}

// spend makes n decisions for client and returns how many were admitted.
func (f *fixture) spend(t *testing.T, client string, n int) (admitted, refused int64) {
	t.Helper()
	for range n {
		d, err := f.lim.Allow(context.Background(), "u:"+client, plan)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			admitted++
		} else {
			refused++
		}
	}
	return admitted, refused
}

// total is client's usage in Postgres today.
func (f *fixture) total(t *testing.T, client string) usage.Totals {
	t.Helper()
	today := time.Now().UTC()
	r, err := usage.NewStore(f.pool).Days(context.Background(), client, today.AddDate(0, 0, -2), today)
	if err != nil {
		t.Fatal(err)
	}
	return r.Total
}

func (f *fixture) events(t *testing.T, client string) (n int) {
	t.Helper()
	if err := f.pool.QueryRow(context.Background(), "SELECT count(*) FROM webhook_events WHERE client_id = $1", client).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFlush_CopiesExactlyAndIdempotently: the usage in Postgres is what
// the limiter decided, whatever the number of copies, concurrent ones
// included, and each threshold is one event.
func TestFlush_CopiesExactlyAndIdempotently(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a1, r1 := f.spend(t, "alice", 12) // 10 of 10, then refused
	a2, r2 := f.spend(t, "bob", 3)
	var wg sync.WaitGroup
	for range 3 {
		fl := f.flusher(t)
		wg.Go(func() {
			for range 3 {
				if err := fl.Flush(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := f.total(t, "alice"); got.Admitted != a1 || got.Refused != r1 || a1 != 10 || r1 != 2 {
		t.Errorf("alice: %+v, decided %d admitted and %d refused (want 10 and 2)", got, a1, r1)
	}
	if got := f.total(t, "bob"); got.Admitted != a2 || got.Refused != r2 {
		t.Errorf("bob: %+v, decided %d and %d", got, a2, r2)
	}
	if n := f.events(t, "alice"); n != 2 {
		t.Errorf("alice has %d events, want 80 %% and 100 %%", n)
	}
	if n := f.events(t, "bob"); n != 0 {
		t.Errorf("bob has %d events at 3 of 10", n)
	}
	// More requests after the copies: the next copy adds exactly them.
	a3, _ := f.spend(t, "bob", 2)
	if err := f.flusher(t).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.total(t, "bob"); got.Admitted != a2+a3 {
		t.Errorf("bob after more: %+v, want %d admitted", got, a2+a3)
	}
}

// TestFlush_RedisLossKeepsWhatWasCopied: counters lost with Redis start a
// new epoch, and Postgres adds the new counts to what it had.
func TestFlush_RedisLossKeepsWhatWasCopied(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fl := f.flusher(t)
	a1, _ := f.spend(t, "carol", 4)
	if err := fl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys, err := f.rdb.Keys(context.Background(), f.prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	if err := f.rdb.Del(context.Background(), keys...).Err(); err != nil { // Redis lost everything
		t.Fatal(err)
	}
	a2, _ := f.spend(t, "carol", 3)
	if err := fl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.total(t, "carol"); got.Admitted != a1+a2 {
		t.Fatalf("carol: %+v, want %d admitted (%d before the loss, %d after)", got, a1+a2, a1, a2)
	}
}

// TestFlush_SettlesPastDays: a day that is over leaves Redis once copied;
// today stays, to be counted further.
func TestFlush_SettlesPastDays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.spend(t, "dave", 1)
	ctx := context.Background()
	key := f.prefix + ":{u:dave}:usage"
	yesterday := strconv.FormatInt(time.Now().Unix()/86400-1, 10)
	if err := f.rdb.HSet(ctx, key, yesterday+"a", 5).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.flusher(t).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.total(t, "dave"); got.Admitted != 6 {
		t.Fatalf("dave: %+v, want 6 admitted (5 yesterday, 1 today)", got)
	}
	fields, err := f.rdb.HKeys(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fields {
		if fl == yesterday+"a" {
			t.Fatalf("yesterday still in Redis after its copy: %v", fields)
		}
	}
	if len(fields) < 2 {
		t.Fatalf("today's counts left Redis: %v", fields)
	}
}

// TestRun_AnotherTakesOver: of two running Flushers one copies, and when it
// stops the other takes over.
func TestRun_AnotherTakesOver(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	start := func() (context.CancelFunc, chan struct{}) {
		fl, err := New(Config{Pool: f.pool, Limiter: f.lim, Plans: f.plans, Logger: slog.New(slog.DiscardHandler), Interval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); fl.Run(ctx) }()
		return cancel, done
	}
	stop1, done1 := start()
	stop2, done2 := start()
	defer func() { stop2(); <-done2 }()
	a, _ := f.spend(t, "erin", 5)
	waitFor(t, func() bool { return f.total(t, "erin").Admitted == a })
	stop1()
	<-done1
	b, _ := f.spend(t, "erin", 2)
	waitFor(t, func() bool { return f.total(t, "erin").Admitted == a+b })
}

// waitFor polls cond until it holds, failing after 15 s: the time within
// which usage must be visible.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFlush_SkipsKeysOfNoValidClient: a usage hash whose key names no
// valid client (written by something other than quotad) is left alone,
// and every other client is still copied.
func TestFlush_SkipsKeysOfNoValidClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, _ := f.spend(t, "frank", 2)
	bad := f.prefix + ":{u:" + strings.Repeat("x", 300) + "}:usage"
	day := strconv.FormatInt(time.Now().Unix()/86400, 10)
	if err := f.rdb.HSet(context.Background(), bad, "e", "1.1", day+"a", 3).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.flusher(t).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.total(t, "frank"); got.Admitted != a {
		t.Fatalf("frank: %+v, want %d admitted", got, a)
	}
}
