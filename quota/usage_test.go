package quota

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// newMeterLimiter returns a Limiter on the test Redis with its own prefix.
func newMeterLimiter(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	client, prefix := newTestRedis(t)
	cfg.Prefix = prefix
	cfg.Timeout = 2 * time.Second // a loaded CI machine misses 100 ms
	l, err := NewWithConfig(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// readAll returns every Usage l's store holds, by key.
func readAll(t *testing.T, l *Limiter) map[string]Usage {
	t.Helper()
	out := map[string]Usage{}
	err := l.ReadUsage(context.Background(), func(u Usage) error {
		if _, dup := out[u.Key]; dup {
			t.Errorf("key %q read twice", u.Key)
		}
		out[u.Key] = u
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sumDays adds up u's days.
func sumDays(u Usage) (a, r, o int64) {
	for _, d := range u.Days {
		a, r, o = a+d.Admitted, r+d.Refused, o+d.Overage
	}
	return a, r, o
}

// TestMeter_CountsWhatWasDecided hammers metered keys from two limiters
// (one batching, one not) with costs of 1 to 3 and checks that the usage
// is exactly what the callers were told, admitted and refused.
func TestMeter_CountsWhatWasDecided(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	var ls []*Limiter
	for _, off := range []bool{false, true} {
		// A generous deadline: a failed decision would leave the callers'
		// count unknown, and a loaded CI machine misses 100 ms.
		l, err := NewWithConfig(client, Config{Prefix: prefix, DisableBatching: off, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	lim := Limit{Name: "pro", Meter: true, Windows: []Window{{Requests: 50, Per: time.Hour}, {Requests: 1000, Per: Month}}}
	keys := []string{"u:alice", "u:bob:with:colons", "u:carol"}
	var admitted, refused [3]atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 20 {
				k := (g + i) % len(keys)
				cost := int64(1 + (g*i)%3)
				d, err := ls[g%2].AllowN(context.Background(), keys[k], lim, cost)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					admitted[k].Add(cost)
				} else {
					refused[k].Add(cost)
				}
			}
		})
	}
	wg.Wait()
	// Close sends what the hog cache refused from memory; ReadUsage sends
	// its own Limiter's.
	if err := ls[1].Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, ls[0])
	for k, key := range keys {
		a, r, o := sumDays(got[key])
		if a != admitted[k].Load() || r != refused[k].Load() || o != 0 {
			t.Errorf("%s: usage admitted %d refused %d overage %d, callers saw %d and %d", key, a, r, o, admitted[k].Load(), refused[k].Load())
		}
		if a > 50 || got[key].Epoch == "" {
			t.Errorf("%s: admitted %d past the limit of 50, or no epoch %q", key, a, got[key].Epoch)
		}
	}
	if len(got) != len(keys) {
		t.Errorf("read %d keys, want %d", len(got), len(keys))
	}
}

// TestMeter_SoftMonth admits past a soft month window, shows 0 remaining
// and the overage, and counts the overage once.
func TestMeter_SoftMonth(t *testing.T) {
	t.Parallel()
	l := newMeterLimiter(t, Config{})
	lim := Limit{Name: "metered", Meter: true, Windows: []Window{{Requests: 9, Per: time.Hour}, {Requests: 5, Per: Month, Soft: true}}}
	ctx := context.Background()
	for i := int64(1); i <= 6; i++ {
		d, err := l.Allow(ctx, "k", lim)
		if err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v; a soft month admits past its limit", i, d, err)
		}
		if want := max(i-5, 0); d.Overage != want || d.Window(1).Remaining != max(5-i, 0) {
			t.Fatalf("request %d: overage %d, month remaining %d; want %d, %d", i, d.Overage, d.Window(1).Remaining, want, max(5-i, 0))
		}
	}
	d, err := l.AllowN(ctx, "k", lim, 3) // 9 in the hour: the last that fits
	if err != nil || !d.Allowed || d.Overage != 4 {
		t.Fatalf("cost 3: %+v, %v; want admitted with overage 4", d, err)
	}
	d, err = l.Allow(ctx, "k", lim) // the hour window still refuses
	if err != nil || d.Allowed || d.Window(0).Refused != true || d.Window(1).Refused {
		t.Fatalf("10th in the hour: %+v, %v; want refused by the hour window only", d, err)
	}
	u := readAll(t, l)["k"]
	if a, r, o := sumDays(u); a != 9 || r != 1 || o != 4 {
		t.Fatalf("usage %d admitted, %d refused, %d overage; want 9, 1, 4", a, r, o)
	}
	if len(u.Alerts) != 2 {
		t.Fatalf("alerts %+v, want 80 and 100", u.Alerts)
	}
}

// TestMeter_Alerts notes 80 % and 100 % of a month window once each, at the
// request that reached them, and Settle removes them and past days.
func TestMeter_Alerts(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	l, err := NewWithConfig(client, Config{Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Name: "m", Meter: true, AnchorDay: 15, Windows: []Window{{Requests: 10, Per: Month}}}
	ctx := context.Background()
	var d Decision
	for range 7 {
		d, _ = l.Allow(ctx, "k", lim)
	}
	if got := readAll(t, l)["k"].Alerts; len(got) != 0 {
		t.Fatalf("alerts at 7 of 10: %+v", got)
	}
	d, _ = l.AllowN(ctx, "k", lim, 2) // 9: past 80 %
	for range 3 {
		d, _ = l.Allow(ctx, "k", lim) // 10, then two refused
	}
	if d.Allowed {
		t.Fatal("a hard month window admitted past its limit")
	}
	u := readAll(t, l)["k"]
	byPct := map[int]Alert{}
	for _, a := range u.Alerts {
		byPct[a.Percent] = a
	}
	start, end := monthBounds(time.Now().Unix(), 15)
	want := map[int]int64{80: 9, 100: 10}
	for p, used := range want {
		a, ok := byPct[p]
		if !ok || a.Used != used || a.Limit != 10 || a.Start.Unix() != start || a.End.Unix() != end || a.At.IsZero() {
			t.Errorf("alert %d%%: %+v, want used %d of 10 in [%d, %d)", p, a, used, start, end)
		}
	}
	if len(u.Alerts) != 2 {
		t.Errorf("alerts %+v, want two", u.Alerts)
	}
	// A day that is over, written as the script would have.
	key := prefix + ":{k}:usage"
	yesterday := strconv.FormatInt(time.Now().Unix()/86400-1, 10)
	if err := client.HSet(ctx, key, yesterday+"a", 7).Err(); err != nil {
		t.Fatal(err)
	}
	u = readAll(t, l)["k"]
	if len(u.Days) != 2 || u.Days[0].Admitted != 7 {
		t.Fatalf("days %+v, want yesterday's 7 first", u.Days)
	}
	if err := l.Settle(ctx, u); err != nil {
		t.Fatal(err)
	}
	after := readAll(t, l)["k"]
	if len(after.Alerts) != 0 || len(after.Days) != 1 || after.Days[0].Admitted != 10 || after.Days[0].Refused != 2 || after.Epoch != u.Epoch {
		t.Fatalf("after Settle: %+v; want today only (10 admitted, 2 refused), no alerts, same epoch", after)
	}
	// Reset (an admin's) counts the window anew: crossing again notes again,
	// which a reader dedupes by window and percent.
	if err := l.Reset(ctx, "k", lim); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		_, _ = l.Allow(ctx, "k", lim)
	}
	if got := readAll(t, l)["k"].Alerts; len(got) != 1 || got[0].Percent != 80 || got[0].Start.Unix() != start {
		t.Fatalf("alerts after reset: %+v", got)
	}
}

// TestMeter_EpochChangesWhenCountersAreLost gives counters started again
// (Redis lost them) another epoch.
func TestMeter_EpochChangesWhenCountersAreLost(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	l, err := NewWithConfig(client, Config{Prefix: prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Meter: true, Windows: []Window{{Requests: 5, Per: time.Minute}}}
	ctx := context.Background()
	_, _ = l.Allow(ctx, "k", lim)
	first := readAll(t, l)["k"]
	ttl, err := client.TTL(ctx, prefix+":{k}:usage").Result()
	if err != nil || ttl <= 3*24*time.Hour || ttl > 4*24*time.Hour {
		t.Fatalf("usage key TTL %v (%v), want between 3 and 4 days", ttl, err)
	}
	if err := client.Del(ctx, prefix+":{k}:usage").Err(); err != nil {
		t.Fatal(err)
	}
	_, _ = l.Allow(ctx, "k", lim)
	second := readAll(t, l)["k"]
	if first.Epoch == "" || second.Epoch == first.Epoch {
		t.Fatalf("epochs %q then %q, want two different", first.Epoch, second.Epoch)
	}
	if a, _, _ := sumDays(second); a != 1 {
		t.Fatalf("new epoch admitted %d, want 1", a)
	}
}

// TestMeter_Cluster meters keys spread over a Cluster's masters and reads
// them all back.
func TestMeter_Cluster(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	l, err := NewWithConfig(cluster.Client(t), Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Meter: true, Windows: []Window{{Requests: 3, Per: time.Hour}, {Requests: 100, Per: Month}}}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			for range 5 {
				if _, err := l.Allow(context.Background(), "c"+strconv.Itoa(i), lim); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := readAll(t, l)
	for i := range 12 {
		if a, r, _ := sumDays(got["c"+strconv.Itoa(i)]); a != 3 || r != 2 {
			t.Errorf("c%d: %d admitted, %d refused; want 3, 2", i, a, r)
		}
	}
}

// TestMeter_InMemoryStoreSaysSo: ReadUsage needs Redis.
func TestMeter_InMemoryStoreSaysSo(t *testing.T) {
	t.Parallel()
	if err := NewInMemory().ReadUsage(context.Background(), func(Usage) error { return nil }); err == nil {
		t.Fatal("ReadUsage on the in-memory store: no error")
	}
}

// TestMeter_ClusterScriptMissingOnSomeMasters: a batch pipelined across
// Cluster masters, one of which lacks the script, sends EVAL again only for
// the calls that master refused. Before each round one master forgets its
// scripts; every key must then show exactly its five decisions.
func TestMeter_ClusterScriptMissingOnSomeMasters(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	client := cluster.Client(t)
	s, err := newRedisStore(client, redisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLimiter(s, limiterConfig{HogCacheSize: -1, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l.meter = newHogMeter(s)
	lim := Limit{Meter: true, Windows: []Window{{Requests: 3, Per: time.Hour}, {Requests: 100, Per: Month}}}
	ctx := context.Background()
	for round := range 6 {
		var once atomic.Bool
		if err := client.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			if once.CompareAndSwap(false, true) {
				return node.ScriptFlush(ctx).Err()
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				for range 5 {
					if _, err := l.Allow(ctx, "r"+strconv.Itoa(round)+"c"+strconv.Itoa(i), lim); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	got := readAll(t, l)
	for round := range 6 {
		for i := range 12 {
			k := "r" + strconv.Itoa(round) + "c" + strconv.Itoa(i)
			if a, r, _ := sumDays(got[k]); a != 3 || r != 2 {
				t.Errorf("%s: %d admitted, %d refused; want 3 and 2", k, a, r)
			}
		}
	}
}

// TestSoftMonth_InMemoryAndHeaders: the in-memory store enforces soft
// windows too, and the headers say how far past the limit a request is.
func TestSoftMonth_InMemoryAndHeaders(t *testing.T) {
	t.Parallel()
	l := NewInMemory()
	lim := Limit{Name: "m", Windows: []Window{{Requests: 2, Per: Month, Soft: true}}}
	var d Decision
	for range 3 {
		var err error
		if d, err = l.Allow(context.Background(), "k", lim); err != nil || !d.Allowed {
			t.Fatalf("%+v, %v: a soft month admits past its limit", d, err)
		}
	}
	h := http.Header{}
	SetHeaders(h, d, HeadersAll)
	if d.Overage != 1 || h.Get(HeaderOverage) != "1" || h.Get(HeaderRemaining) != "0" {
		t.Fatalf("overage %d, headers %v; want 1, X-Quota-Overage 1, remaining 0", d.Overage, h)
	}
	h = http.Header{}
	SetHeaders(h, d, HeadersNone)
	if len(h) != 0 {
		t.Fatalf("HeadersNone wrote %v", h)
	}
}
