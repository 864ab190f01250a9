package quota

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// threeWindows is a plan of a burst rate, a daily and a monthly quota.
func threeWindows(burst, day, month int64) Limit {
	return Limit{Name: "pro", Windows: []Window{{Requests: burst, Per: time.Hour}, {Requests: day, Per: 24 * time.Hour}, {Requests: month, Per: Month}}}
}

// TestStore_PlanContract holds every store to the promises of plans: all
// or nothing across windows, costs, a refusal that counts nowhere, the
// binding window, a one-window limit growing windows that keeps its
// count, and month windows on the anchor day.
func TestStore_PlanContract(t *testing.T) {
	t.Parallel()
	for _, h := range storeHarnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			t.Run("AllOrNothing", func(t *testing.T) { t.Parallel(); planAllOrNothing(t, h) })
			t.Run("Costs", func(t *testing.T) { t.Parallel(); planCosts(t, h) })
			t.Run("GrowingKeepsCount", func(t *testing.T) { t.Parallel(); planGrowing(t, h) })
			t.Run("MonthOnAnchor", func(t *testing.T) { t.Parallel(); planMonth(t, h) })
		})
	}
}

func allowN(t *testing.T, s store, key string, l Limit, n int64) Decision {
	t.Helper()
	d, err := s.Allow(context.Background(), key, l, n)
	if err != nil {
		t.Fatalf("Allow(%q, %v, %d): %v", key, l, n, err)
	}
	return d
}

func peek(t *testing.T, s store, key string, l Limit) Decision {
	t.Helper()
	d, err := s.Peek(context.Background(), key, l)
	if err != nil {
		t.Fatalf("Peek(%q, %v): %v", key, l, err)
	}
	return d
}

// remainings lists every window's Remaining.
func remainings(d Decision) []int64 {
	out := make([]int64, len(d.Limit.Windows))
	for i := range out {
		out[i] = d.Window(i).Remaining
	}
	return out
}

func wantRemaining(t *testing.T, what string, d Decision, want ...int64) {
	t.Helper()
	got := remainings(d)
	if len(got) != len(want) {
		t.Fatalf("%s: remaining %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: remaining %v, want %v (%+v)", what, got, want, d)
		}
	}
}

func planAllOrNothing(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	l := threeWindows(2, 3, 100)
	for i := range 2 {
		if d := allowN(t, s, "k", l, 1); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i+1, d)
		}
	}
	d := allowN(t, s, "k", l, 1)
	if d.Allowed || !d.Window(0).Refused || d.Window(1).Refused || d.Window(2).Refused {
		t.Fatalf("third request: %+v, want refused by the hour window only", d)
	}
	if d.Binding != 0 || d.RetryAfter != d.Window(0).ResetAfter || d.RetryAfter <= 0 {
		t.Fatalf("third request binds window %d, retry after %v, want window 0's reset %v", d.Binding, d.RetryAfter, d.Window(0).ResetAfter)
	}
	// The refusal counted nowhere: the day and the month still have 1
	// and 98 left.
	wantRemaining(t, "after the refusal", peek(t, s, "k", l), 0, 1, 98)
}

func planCosts(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	l := Limit{Name: "c", Windows: []Window{{Requests: 10, Per: time.Hour}, {Requests: 12, Per: 24 * time.Hour}}}
	if d := allowN(t, s, "k", l, 4); !d.Allowed {
		t.Fatalf("cost 4 refused: %+v", d)
	} else {
		wantRemaining(t, "cost 4", d, 6, 8)
		if d.Binding != 0 {
			t.Fatalf("cost 4: binding %d, want 0 (fewest remaining)", d.Binding)
		}
	}
	d := allowN(t, s, "k", l, 7)
	if d.Allowed || !d.Window(0).Refused || d.Window(1).Refused {
		t.Fatalf("cost 7: %+v, want refused by the hour only", d)
	}
	wantRemaining(t, "cost 7 refused", peek(t, s, "k", l), 6, 8)
	if d := allowN(t, s, "k", l, 6); !d.Allowed {
		t.Fatalf("cost 6 refused: %+v", d)
	}
	d = allowN(t, s, "k", l, 3)
	if d.Allowed || !d.Window(0).Refused || !d.Window(1).Refused {
		t.Fatalf("cost 3: %+v, want refused by both windows", d)
	}
	// The day window resets last, except in a day's last hour, when both
	// end at midnight: then the first of them binds.
	want := 1
	if d.Window(0).Reset.Equal(d.Window(1).Reset) {
		want = 0
	}
	if d.Binding != want || d.RetryAfter != d.Window(1).ResetAfter {
		t.Fatalf("cost 3: binding %d retry %v, want window %d, which resets last (%v)", d.Binding, d.RetryAfter, want, d.Window(1).ResetAfter)
	}
	if d := allowN(t, s, "k", l, 1); d.Allowed {
		t.Fatalf("cost 1 with the hour spent: %+v", d)
	}
	wantRemaining(t, "end", peek(t, s, "k", l), 0, 2)
}

func planGrowing(t *testing.T, h storeHarness) {
	s, _ := h.new(t)
	one := Limit{Name: "g", Windows: []Window{{Requests: 5, Per: time.Hour}}}
	for range 3 {
		allowN(t, s, "k", one, 1)
	}
	three := Limit{Name: "g", Windows: []Window{{Requests: 10, Per: time.Minute}, {Requests: 5, Per: time.Hour}, {Requests: 100, Per: Month}}}
	d := allowN(t, s, "k", three, 1)
	if !d.Allowed {
		t.Fatalf("first request under three windows refused: %+v", d)
	}
	wantRemaining(t, "the hour's count stays", d, 9, 1, 99)
	if d.Binding != 1 {
		t.Fatalf("binding %d, want the hour window", d.Binding)
	}
	// And back: the one window sees all four.
	wantRemaining(t, "back to one window", peek(t, s, "k", one), 1)
}

func planMonth(t *testing.T, h storeHarness) {
	s, advance := h.new(t)
	l := Limit{Name: "m", Windows: []Window{{Requests: 3, Per: Month}}, AnchorDay: 15}
	d := allowN(t, s, "k", l, 2)
	if !d.Allowed {
		t.Fatalf("cost 2 refused: %+v", d)
	}
	now := d.Reset.Add(-d.ResetAfter)
	start, end := monthBounds(now.Unix(), 15)
	if d.Reset.Unix() != end || time.Unix(start, 0).UTC().Day() != 15 || time.Unix(end, 0).UTC().Day() != 15 {
		t.Fatalf("month window ends %v, want %v (from the 15th)", d.Reset.UTC(), time.Unix(end, 0).UTC())
	}
	if d := allowN(t, s, "k", l, 2); d.Allowed || d.Remaining != 1 {
		t.Fatalf("cost 2 with 1 left: %+v", d)
	}
	if h.name != "memory" && h.name != "miniredis" {
		return // real Redis keeps real time: a month cannot be waited out
	}
	advance(d.ResetAfter + time.Second)
	if d := allowN(t, s, "k", l, 3); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("next month: %+v, want a fresh window", d)
	}
}

// TestMonthBounds checks calendar months against time.Date across month
// ends, leap years and every anchor day.
func TestMonthBounds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		now        string
		anchor     int
		start, end string
	}{
		{"2024-01-31T23:59:59Z", 1, "2024-01-01", "2024-02-01"},
		{"2024-02-01T00:00:00Z", 1, "2024-02-01", "2024-03-01"},
		{"2024-02-29T12:00:00Z", 28, "2024-02-28", "2024-03-28"},
		{"2024-02-27T23:59:59Z", 28, "2024-01-28", "2024-02-28"},
		{"2023-03-01T00:00:00Z", 28, "2023-02-28", "2023-03-28"},
		{"2024-12-14T23:59:59Z", 15, "2024-11-15", "2024-12-15"},
		{"2024-12-15T00:00:00Z", 15, "2024-12-15", "2025-01-15"},
		{"2025-01-10T00:00:00Z", 15, "2024-12-15", "2025-01-15"},
		{"2100-02-28T10:00:00Z", 1, "2100-02-01", "2100-03-01"},
	}
	for _, tc := range cases {
		now, _ := time.Parse(time.RFC3339, tc.now)
		s, e := monthBounds(now.Unix(), tc.anchor)
		gs, ge := time.Unix(s, 0).UTC().Format(time.DateOnly), time.Unix(e, 0).UTC().Format(time.DateOnly)
		if gs != tc.start || ge != tc.end {
			t.Errorf("monthBounds(%s, %d) = [%s, %s), want [%s, %s)", tc.now, tc.anchor, gs, ge, tc.start, tc.end)
		}
	}
}

// TestMonthBounds_LuaAgreesWithGo runs the scripts' month function in real
// Redis against monthBounds, for every anchor day, around every midnight
// of 2023–2029 (leap years included) and at random instants.
func TestMonthBounds_LuaAgreesWithGo(t *testing.T) {
	t.Parallel()
	client, _ := newTestRedis(t)
	script := redis.NewScript(luaMonth + `
local out = {}
for i = 2, #ARGV do
  local s, e = month(ARGV[i] + 0, ARGV[1] + 0)
  out[#out + 1] = s
  out[#out + 1] = e
end
return out`)
	var instants []int64
	for day := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 2030; day = day.AddDate(0, 0, 1) {
		instants = append(instants, day.Unix()-1, day.Unix())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		instants = append(instants, rng.Int64N(4_102_444_800)) // up to 2100
	}
	for anchor := 1; anchor <= 28; anchor++ {
		for from := 0; from < len(instants); from += 2000 {
			batch := instants[from:min(from+2000, len(instants))]
			args := []any{anchor}
			for _, x := range batch {
				args = append(args, x)
			}
			got, err := script.Run(context.Background(), client, nil, args...).Int64Slice()
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range batch {
				s, e := monthBounds(x, anchor)
				if got[2*i] != s || got[2*i+1] != e {
					t.Fatalf("anchor %d at %v: Lua [%d, %d), Go [%d, %d)", anchor, time.Unix(x, 0).UTC(), got[2*i], got[2*i+1], s, e)
				}
			}
		}
	}
}

// TestRedisStore_PlanBatchEqualsOneByOne sends one batch holding several
// requests of mixed costs for one key under a plan, interleaved with
// requests of another key under another plan and with one-window keys,
// through the multi-key script and through a pipeline, and checks every
// request was decided as the memory store decides them one by one.
func TestRedisStore_PlanBatchEqualsOneByOne(t *testing.T) {
	t.Parallel()
	hot := Limit{Name: "b", Windows: []Window{{Requests: 5, Per: time.Hour}, {Requests: 7, Per: 24 * time.Hour}, {Requests: 50, Per: Month}}, AnchorDay: 3}
	cold := Limit{Name: "c", Windows: []Window{{Requests: 3, Per: time.Hour}, {Requests: 4, Per: 24 * time.Hour}, {Requests: 9, Per: Month}}}
	other := Limit{Windows: []Window{{Requests: MaxRequests, Per: MaxPer}}}
	costs := []int64{3, 3, 1, 2, 1, 1, 1}
	for _, single := range []bool{true, false} {
		s, _ := newTestRedisStore(t)
		s.singleServer = single
		mem, err := newMemoryStore(memoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		type ask struct {
			key  string // the client's key
			lim  Limit
			cost int64
			c    *call
		}
		var asks []ask
		for i, c := range costs {
			asks = append(asks, ask{key: "hot", lim: hot, cost: c}, ask{key: "cold", lim: cold, cost: 1},
				ask{key: "other" + strconv.Itoa(i), lim: other, cost: 1})
		}
		batch := make([]*call, len(asks))
		for i, a := range asks {
			key := a.key
			if a.lim.simple() {
				key = s.windowKey(key, a.lim.Windows[0])
			}
			asks[i].c = &call{ctx: context.Background(), key: key, lim: a.lim, cost: a.cost, done: make(chan struct{}, 1)}
			batch[i] = asks[i].c
		}
		s.batch.flush(batch)
		for i, a := range asks {
			got := a.c
			<-got.done
			if got.err != nil {
				t.Fatalf("single=%v: request %d: %v", single, i, got.err)
			}
			want := allowN(t, mem, a.key, a.lim, a.cost)
			if got.d.Allowed != want.Allowed || !equalInts(remainings(got.d), remainings(want)) {
				t.Fatalf("single=%v: request %d (%s, cost %d): allowed %v remaining %v, want %v %v",
					single, i, a.key, a.cost, got.d.Allowed, remainings(got.d), want.Allowed, remainings(want))
			}
			// Redis's clock and this one are the same machine's: the
			// windows end at the same instants.
			for x := range a.lim.Windows {
				if g, w := got.d.Window(x).Reset, want.Window(x).Reset; !g.Equal(w) {
					t.Fatalf("single=%v: request %d: window %d ends %v, want %v", single, i, x, g, w)
				}
			}
		}
		// What Redis holds agrees: 3+1+1 = 5 admitted in every window of
		// the hot key, 3 for the cold one.
		wantRemaining(t, "hot after the batch", peek(t, s, "hot", hot), 0, 2, 45)
		wantRemaining(t, "cold after the batch", peek(t, s, "cold", cold), 0, 1, 6)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLimiter_PlanExactAcrossInstances hammers a three-window plan with
// costs 1 and 3 from two instances (each a Limiter on its own Redis client,
// batching) and a third without batching, then checks every window: what
// Redis counts is what was admitted, no window went past its limit, and
// every refused request was too dear for what was finally left.
func TestLimiter_PlanExactAcrossInstances(t *testing.T) {
	t.Parallel()
	s1, client := newTestRedisStore(t)
	var stores []store
	for i := range 3 {
		c, err := newRedisClient(testRedisURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := newRedisStore(c, redisConfig{Prefix: s1.prefix, DisableBatching: i == 2})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	l := Limit{Name: "x", Windows: []Window{{Requests: 400, Per: time.Hour}, {Requests: 301, Per: 24 * time.Hour}, {Requests: 500, Per: Month}}, AnchorDay: 9}
	checkPlanRace(t, stores, client, s1, l, 64, 20)
}

// checkPlanRace races workers × per requests of cost 1 or 3 under l on
// stores (each behind its own Limiter) and checks every window exactly.
func checkPlanRace(t *testing.T, stores []store, client redis.UniversalClient, keys *redisStore, l Limit, workers, per int) {
	t.Helper()
	key := "plan-" + randomHex(t, 4)
	limiters := make([]*Limiter, len(stores))
	for i, s := range stores {
		limiters[i] = mustLimiter(t, s, limiterConfig{Timeout: 5 * time.Second})
	}
	var mu sync.Mutex
	var admitted int64
	var refused []int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range per {
				cost := int64(1 + 2*rng.IntN(2))
				d, err := limiters[w%len(limiters)].AllowN(context.Background(), key, l, cost)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if d.Allowed {
					admitted += cost
				} else {
					refused = append(refused, cost)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	final := peek(t, stores[0], key, l)
	for i, w := range l.Windows {
		start, _ := w.bounds(final.Reset.Add(-final.ResetAfter).Unix(), l.anchor())
		n, err := client.HGet(context.Background(), keys.windowKey(key, w), strconv.FormatInt(start, 10)).Int64()
		if err != nil {
			t.Fatalf("window %d: %v", i, err)
		}
		if n != admitted || n > w.Requests {
			t.Fatalf("window %d (%v): Redis counts %d, admitted %d", i, w, n, admitted)
		}
	}
	left := final.Remaining
	for _, c := range refused {
		if c <= left {
			t.Fatalf("a request of cost %d was refused, yet %d are left", c, left)
		}
	}
	if len(refused) == 0 || admitted < l.Windows[1].Requests-2 {
		t.Fatalf("admitted %d with %d refusals: the race never reached the limit", admitted, len(refused))
	}
}

// TestRedisStore_ClusterPlan runs the plan race on a real Redis Cluster:
// a three-window plan's keys share a slot, and two clients admit exactly.
func TestRedisStore_ClusterPlan(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	var stores []store
	var first *redisStore
	for range 2 {
		s, err := newRedisStore(cluster.Client(t), redisConfig{})
		if err != nil {
			t.Fatal(err)
		}
		first = s
		stores = append(stores, s)
	}
	l := Limit{Name: "x", Windows: []Window{{Requests: 400, Per: time.Hour}, {Requests: 151, Per: 24 * time.Hour}, {Requests: 300, Per: Month}}}
	checkPlanRace(t, stores, cluster.Client(t), first, l, 32, 10)
}

// TestRedisStore_PlanKeysExpireAtWindowEnd: every window key a plan
// decision writes, month included, expires exactly when its window ends,
// through the lone call and through a batch, and a refusal leaves it so.
func TestRedisStore_PlanKeysExpireAtWindowEnd(t *testing.T) {
	t.Parallel()
	s, client := newTestRedisStore(t)
	l := Limit{Name: "e", Windows: []Window{{Requests: 2, Per: time.Hour}, {Requests: 5, Per: 24 * time.Hour}, {Requests: 9, Per: Month}}, AnchorDay: 20}
	ctx := context.Background()
	check := func(key string, d Decision) {
		t.Helper()
		for i, w := range l.Windows {
			got, err := client.PExpireTime(ctx, s.windowKey(key, w)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := d.Window(i).Reset.UnixMilli(); got.Milliseconds() != want {
				t.Errorf("%s window %d (%v): expires at %d ms, window ends %d", key, i, w, got.Milliseconds(), want)
			}
		}
	}
	lone := allowN(t, s, "lone", l, 1)
	check("lone", lone)
	c := &call{ctx: ctx, key: "batched", lim: l, cost: 2, done: make(chan struct{}, 1)}
	other := &call{ctx: ctx, key: "other", lim: l, cost: 1, done: make(chan struct{}, 1)}
	s.batch.flush([]*call{c, other})
	<-c.done
	<-other.done
	if c.err != nil || !c.d.Allowed {
		t.Fatalf("batched: %+v %v", c.d, c.err)
	}
	check("batched", c.d)
	if d := allowN(t, s, "batched", l, 1); d.Allowed {
		t.Fatalf("third request under 2 per hour: %+v", d)
	}
	check("batched", c.d)
}
