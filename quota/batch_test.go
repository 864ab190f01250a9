package quota

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// newCountedStore returns a batching store on a fresh key space whose
// go-redis commands are counted, from zero, once the scripts are loaded.
func newCountedStore(t *testing.T) (*redisStore, *atomic.Int64) {
	t.Helper()
	client, prefix := newTestRedis(t)
	return countedStore(t, client, prefix)
}

// countedStore is newCountedStore on client and prefix.
func countedStore(t *testing.T, client *redis.Client, prefix string) (*redisStore, *atomic.Int64) {
	t.Helper()
	cmds := new(atomic.Int64)
	client.AddHook(countHook{cmds})
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{{"warm"}, {"warm1", "warm2"}} { // one script, then the multi-key one
		var batch []*call
		for _, k := range keys {
			batch = append(batch, testCall(s, k, Limit{Windows: []Window{{Requests: 1, Per: MaxPer}}}))
		}
		flushAll(t, s, batch)
	}
	cmds.Store(0)
	return s, cmds
}

// testCall is a decision for key under lim as batcher.allow queues it.
func testCall(s *redisStore, key string, lim Limit) *call {
	return &call{ctx: context.Background(), key: s.windowKey(key, lim.Windows[0]), lim: lim, cost: 1, done: make(chan struct{}, 1)}
}

// flushAll sends batch through s's batcher as one batch and waits for
// every call's answer; a call's error fails the test.
func flushAll(t *testing.T, s *redisStore, batch []*call) {
	t.Helper()
	s.batch.flush(batch)
	for i, c := range batch {
		if <-c.done; c.err != nil {
			t.Fatalf("call %d of the batch: %v", i, c.err)
		}
	}
}

// TestRedisStore_BatchMergesAndStaysExact races 64 goroutines through one
// batching store for one key: batches form and merge (fewer script calls
// than decisions), exactly the limit is admitted, and the admitted
// decisions' Remaining values are each of limit-1 … 0 exactly once, as
// arrival order within a merged call assigns them.
func TestRedisStore_BatchMergesAndStaysExact(t *testing.T) {
	t.Parallel()
	s, cmds := newCountedStore(t)
	lim := Limit{Windows: []Window{{Requests: 500, Per: MaxPer}}}
	var mu sync.Mutex
	var remaining []int64
	refused := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Go(func() {
			<-start
			for range 20 {
				d, err := s.Allow(context.Background(), "hot", lim, 1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if d.Allowed {
					remaining = append(remaining, d.Remaining)
				} else {
					refused++
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(remaining) != 500 || refused != 64*20-500 {
		t.Fatalf("admitted %d, refused %d; want exactly 500 and %d", len(remaining), refused, 64*20-500)
	}
	slices.Sort(remaining)
	for i, r := range remaining {
		if r != int64(i) {
			t.Fatalf("admitted Remaining values are not 0…499 once each: position %d holds %d", i, r)
		}
	}
	if n := cmds.Load(); n >= 64*20 {
		t.Fatalf("%d Redis commands for %d decisions: nothing was batched", n, 64*20)
	}
	t.Logf("%d decisions in %d script calls", 64*20, cmds.Load())
}

// TestRedisStore_BatchCallerGivesUp: a caller whose context ends while its
// decision is queued behind a hung round trip gets its context's error at
// once; the others are not held beyond their own deadline.
func TestRedisStore_BatchCallerGivesUp(t *testing.T) {
	t.Parallel()
	l, _ := hungLimiter(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := decideWithin(t, l, "k", PerMinute(10), 3*time.Second)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
}

// TestNewRedisStore_BadBatchConfig rejects negative batch settings.
func TestNewRedisStore_BadBatchConfig(t *testing.T) {
	t.Parallel()
	client, _ := newTestRedis(t)
	for _, cfg := range []redisConfig{{BatchSize: -1}, {BatchPipelines: -1}} {
		if _, err := newRedisStore(client, cfg); err == nil {
			t.Errorf("newRedisStore(%+v) accepted", cfg)
		}
	}
}

// TestRedisStore_BatchManyKeysExact races 64 goroutines over 200 keys with
// a limit of 3, each key asked 8 times: whatever batches form (many keys
// each, on a single-server store), every key admits exactly 3.
func TestRedisStore_BatchManyKeysExact(t *testing.T) {
	t.Parallel()
	s, cmds := newCountedStore(t)
	if !s.singleServer {
		t.Fatal("a *redis.Client store does not use multi-key calls")
	}
	lim := Limit{Name: "three", Windows: []Window{{Requests: 3, Per: MaxPer}}}
	const keys, asks = 200, 8
	var mu sync.Mutex
	admitted := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 64 {
		wg.Go(func() {
			<-start
			for i := g; i < keys*asks; i += 64 {
				key := "k" + strconv.Itoa(i%keys)
				d, err := s.Allow(context.Background(), key, lim, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mu.Lock()
					admitted[key]++
					mu.Unlock()
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range keys {
		if n := admitted["k"+strconv.Itoa(i)]; n != 3 {
			t.Fatalf("key k%d admitted %d of %d, want exactly 3", i, n, asks)
		}
	}
	t.Logf("%d decisions over %d keys in %d script calls", keys*asks, keys, cmds.Load())
}

// TestRedisStore_BatchIsOneMultiKeyCall hands a single-server store's
// batcher one batch of 40 decisions over 10 keys (limit 3, 4 asks each):
// it goes as exactly one script call naming the 10 keys, and each key's
// first 3 asks are admitted in arrival order with Remaining 2, 1, 0.
//
// Only script calls are counted: a connection dialed meanwhile sends
// HELLO and CLIENT SETINFO through the same hooks. The Redis is a private
// one, so no other test can flush its script cache and turn the one
// EVALSHA into an EVALSHA and an EVAL.
func TestRedisStore_BatchIsOneMultiKeyCall(t *testing.T) {
	t.Parallel()
	client, err := newRedisClient(testenv.StartRedis(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	scripts := &scriptCalls{}
	client.AddHook(scripts)
	s, _ := countedStore(t, client, "")
	scripts.reset()
	lim := Limit{Windows: []Window{{Requests: 3, Per: MaxPer}}}
	var batch []*call
	for range 4 {
		for k := range 10 {
			batch = append(batch, testCall(s, "k"+strconv.Itoa(k), lim))
		}
	}
	flushAll(t, s, batch)
	if got, want := scripts.reset(), []string{"evalsha of 10 keys"}; !slices.Equal(got, want) {
		t.Fatalf("one batch of 10 keys sent script calls %q, want %q", got, want)
	}
	for i, c := range batch {
		ask := int64(i / 10)
		if want := ask < 3; c.d.Allowed != want || (want && c.d.Remaining != 2-ask) {
			t.Fatalf("ask %d of key %d: %+v, want allowed=%v remaining=%d", ask+1, i%10, c.d, want, max(2-ask, 0))
		}
	}
}

// scriptCalls is a go-redis hook that records every script call a client
// sends, alone or pipelined, as its command and its number of keys.
type scriptCalls struct {
	mu    sync.Mutex
	calls []string
}

func (h *scriptCalls) record(cmd redis.Cmder) {
	if name := cmd.Name(); strings.HasPrefix(name, "eval") {
		h.mu.Lock()
		h.calls = append(h.calls, fmt.Sprintf("%s of %v keys", name, cmd.Args()[2]))
		h.mu.Unlock()
	}
}

// reset returns the calls recorded so far and forgets them.
func (h *scriptCalls) reset() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	calls := h.calls
	h.calls = nil
	return calls
}

func (h *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.record(cmd)
		}
		return next(ctx, cmds)
	}
}

// TestRedisStore_OneCPUBatches runs bursts of 16 callers on one CPU: none
// can reach the queue while another runs, so only the leader's yield lets
// them share a round trip; without it the first BatchPipelines callers each
// go alone (five round trips or more a burst). The scheduler may resume a
// leader early now and then, so the test asks it of most bursts, not all.
// Not parallel: GOMAXPROCS is the process's.
func TestRedisStore_OneCPUBatches(t *testing.T) {
	s, cmds := newCountedStore(t)
	lim := Limit{Windows: []Window{{Requests: 10, Per: MaxPer}}}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const callers, bursts = 16, 9
	var trips []int
	for burst := range bursts {
		// A bad burst's misses must not skip the next ones' yields. The last
		// burst's pipeline goroutine may still be yielding, so reset atomically.
		s.batch.yield.misses.Store(0)
		s.batch.yield.skip.Store(0)
		cmds.Store(0)
		errs := make(chan error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				d, err := s.Allow(context.Background(), fmt.Sprintf("b%d-k%d", burst, i), lim, 1)
				if err == nil && (!d.Allowed || d.Remaining != lim.Windows[0].Requests-1) {
					err = fmt.Errorf("caller %d: %+v, want the first of its key's window", i, d)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		trips = append(trips, int(cmds.Load()))
	}
	slices.Sort(trips)
	if median := trips[bursts/2]; median > 2 {
		t.Fatalf("bursts of %d callers on one CPU took %v round trips, want most to share one or two", callers, trips)
	}
}

// TestYielder: misses in a row stop the yielding for yieldSkip callers;
// a yield that brings company resets the count.
func TestYielder(t *testing.T) {
	var y yielder
	for range yieldMissLimit - 1 {
		if !y.before() {
			t.Fatal("a fresh yielder skipped")
		}
		y.after(false)
	}
	y.after(true)
	for range yieldMissLimit - 1 {
		y.after(false)
	}
	if !y.before() {
		t.Fatal("company did not reset the misses")
	}
	y.after(false)
	for i := range yieldSkip {
		if y.before() {
			t.Fatalf("yielded on call %d of %d to skip", i+1, yieldSkip)
		}
	}
	if !y.before() {
		t.Fatal("still skipping after yieldSkip callers")
	}
}

// TestTakeAfterYield: on one CPU, a caller that is ready to run when a
// round trip returns (one just answered, coming back with its next
// decision) joins the next batch; without the yield, takeNext would find
// the queue empty and give the pipeline slot back. An empty queue counts
// as a miss only when no other pipeline is in flight. The scheduler now and
// then resumes the yielder first, so most attempts must see the call, not
// all. Not parallel: GOMAXPROCS is the process's.
func TestTakeAfterYield(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b := &batcher{size: defaultBatchSize, max: 1}
	const attempts = 9
	joined := 0
	for range attempts {
		b.yield.misses.Store(0)
		b.yield.skip.Store(0)
		b.active = 1 // the pipeline whose round trip just returned
		c := &call{key: "k"}
		go func() {
			b.mu.Lock()
			b.queue = append(b.queue, c)
			b.mu.Unlock()
		}()
		batch := b.takeAfterYield(false)
		if len(batch) == 1 && batch[0] == c {
			joined++
			continue
		}
		// The call came too late for this pipeline: drain it so the
		// next attempt starts empty.
		for {
			b.mu.Lock()
			n := len(b.queue)
			b.queue = b.queue[:0]
			b.mu.Unlock()
			if n > 0 {
				break
			}
			runtime.Gosched()
		}
	}
	if joined < attempts-2 {
		t.Fatalf("a ready caller joined the next batch in %d of %d attempts", joined, attempts)
	}
	// An empty queue after the yield is a miss: a lone caller soon skips it.
	b.yield.misses.Store(0)
	b.yield.skip.Store(0)
	for range yieldMissLimit {
		b.active = 1
		if batch := b.takeAfterYield(false); batch != nil {
			t.Fatalf("took %d calls from an empty queue", len(batch))
		}
		if b.active != 0 {
			t.Fatalf("%d pipelines still active after an empty take, want 0", b.active)
		}
	}
	if b.yield.before() {
		t.Fatalf("still yielding after %d empty takes", yieldMissLimit)
	}
	// With another pipeline in flight the callers are many: finding the
	// queue empty is no reason to stop yielding.
	b.yield.misses.Store(0)
	b.yield.skip.Store(0)
	for range 2 * yieldMissLimit {
		b.active = 2
		if batch := b.takeAfterYield(false); batch != nil {
			t.Fatalf("took %d calls from an empty queue", len(batch))
		}
	}
	if !b.yield.before() {
		t.Fatal("stopped yielding while other pipelines were in flight")
	}
}

// TestGroupCalls: a batch groups by key and limit, groups in order of
// first arrival and calls in arrival order within each.
func TestGroupCalls(t *testing.T) {
	for _, n := range []int{2, 5, groupScanLimit, groupScanLimit + 1, 100} {
		var batch []*call
		for i := range n {
			lim := Limit{Windows: []Window{{Requests: int64(1 + i%2), Per: time.Minute}}}
			batch = append(batch, &call{key: "k" + strconv.Itoa(i%3), lim: lim, cost: 1})
		}
		arrived := slices.Clone(batch)
		groups := groupCalls(batch)
		if !slices.Equal(batch, arrived) {
			t.Fatalf("%d calls: grouping rewrote the batch", n)
		}
		if want := min(n, 6); len(groups) != want {
			t.Fatalf("%d calls: %d groups, want %d", n, len(groups), want)
		}
		seen := 0
		for gi, g := range groups {
			if g.calls[0] != batch[gi] {
				t.Fatalf("%d calls: group %d starts with a later call", n, gi)
			}
			for j, c := range g.calls {
				if c.key != g.key || !sameLimit(c.lim, g.lim) {
					t.Fatalf("%d calls: group %s/%v holds %s/%v", n, g.key, g.lim, c.key, c.lim)
				}
				if j > 0 && slices.Index(batch, c) < slices.Index(batch, g.calls[j-1]) {
					t.Fatalf("%d calls: group %d out of arrival order", n, gi)
				}
			}
			seen += len(g.calls)
		}
		if seen != n {
			t.Fatalf("%d calls: groups hold %d", n, seen)
		}
	}
}

// TestRedisStore_BatchMixedLimits hands a single-server store's batcher one
// batch whose keys are under different limits, in runs that alternate (3,
// 4, 2, 3, 2; the run under 4 holds one ask per key, so it goes without
// increments), one of them a key already past a limit lowered since: each
// key is decided under its own limit in arrival order, and the lowered one
// admits nothing and keeps its count.
func TestRedisStore_BatchMixedLimits(t *testing.T) {
	t.Parallel()
	s, cmds := newCountedStore(t)
	ctx := context.Background()
	three, two, five := Limit{Windows: []Window{{Requests: 3, Per: MaxPer}}}, Limit{Windows: []Window{{Requests: 2, Per: MaxPer}}}, Limit{Windows: []Window{{Requests: 5, Per: MaxPer}}}
	four := Limit{Windows: []Window{{Requests: 4, Per: MaxPer}}}
	for range 4 {
		if d, err := s.Allow(ctx, "lowered", five, 1); err != nil || !d.Allowed {
			t.Fatalf("filling the lowered key: %+v, %v", d, err)
		}
	}
	type ask struct {
		key string
		lim Limit
	}
	asks := []ask{{"a", three}, {"x", four}, {"y", four}, {"b", two}, {"a", three}, {"c", three}, {"lowered", two},
		{"b", two}, {"a", three}, {"b", two}, {"a", three}, {"c", three}, {"lowered", two}}
	var batch []*call
	for _, a := range asks {
		batch = append(batch, testCall(s, a.key, a.lim))
	}
	cmds.Store(0)
	flushAll(t, s, batch)
	if n := cmds.Load(); n != 1 {
		t.Errorf("one batch took %d Redis commands, want one multi-key call", n)
	}
	seen := map[string]int64{}
	for i, c := range batch {
		a := asks[i]
		seen[a.key]++
		want := a.key != "lowered" && seen[a.key] <= a.lim.Windows[0].Requests
		wantRemaining := max(a.lim.Windows[0].Requests-seen[a.key], 0)
		if a.key == "lowered" {
			wantRemaining = 0
		}
		if c.d.Allowed != want || c.d.Remaining != wantRemaining || !sameLimit(c.d.Limit, a.lim) {
			t.Errorf("ask %d (%s, its #%d under %d): %+v, want allowed=%v remaining=%d", i, a.key, seen[a.key], a.lim.Windows[0].Requests, c.d, want, wantRemaining)
		}
	}
	if d, err := s.Peek(ctx, "lowered", five); err != nil || d.Remaining != 1 {
		t.Errorf("lowered key after its refusals: %+v, %v; want 4 of 5 spent, as before", d, err)
	}
}

func TestManyArgsAndReply(t *testing.T) {
	t.Parallel()
	a, b := Limit{Windows: []Window{{Requests: 3, Per: time.Minute}}}, Limit{Windows: []Window{{Requests: 7, Per: time.Hour}}}
	groups := []*group{
		{lim: a, calls: make([]*call, 1)}, {lim: a, calls: make([]*call, 2)},
		{lim: b, calls: make([]*call, 1)}, {lim: a, calls: make([]*call, 4)},
	}
	want := []any{int64(60), int64(3), 2, 1, 2, int64(3600), int64(7), -1, int64(60), int64(3), 1, 4}
	if got := manyArgs(groups); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("manyArgs = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		n, limit, k             int64
		wantAdmitted, wantCount int64
	}{
		{1, 3, 1, 1, 1}, // room
		{3, 3, 1, 1, 3}, // the last one
		{4, 3, 1, 0, 3}, // one past
		{5, 3, 3, 1, 3}, // a merged call of three; one fits
		{9, 3, 2, 0, 7}, // the limit lowered below the count
		{10, 10, 4, 4, 10},
	} {
		r := manyReply(tc.n, tc.limit, tc.k, 100, 5)
		if r.admitted != tc.wantAdmitted || r.count != tc.wantCount || r.sec != 100 || r.usec != 5 {
			t.Errorf("manyReply(n=%d, limit=%d, k=%d) = %+v, want admitted %d, count %d", tc.n, tc.limit, tc.k, r, tc.wantAdmitted, tc.wantCount)
		}
	}
}

// TestRedisStore_LoneAndBatchedShareWindow decides one key alternately
// alone (allowScript) and in a multi-key batch (allowManyScript): both
// scripts must count in the same window field, so Remaining falls by one
// each time and the limit holds across them.
func TestRedisStore_LoneAndBatchedShareWindow(t *testing.T) {
	t.Parallel()
	s, _ := newCountedStore(t)
	for _, per := range []time.Duration{time.Minute, MaxPer} {
		lim := Limit{Windows: []Window{{Requests: 4, Per: per}}}
		shared := "shared-" + per.String()
		for i, keys := range [][]string{{shared}, {shared, "other"}, {shared}, {shared, "other"}, {shared}} {
			var batch []*call
			for _, k := range keys {
				batch = append(batch, testCall(s, k, lim))
			}
			flushAll(t, s, batch)
			d := batch[0].d
			want := i < 4
			if d.Allowed != want || d.Remaining != max(3-int64(i), 0) {
				t.Errorf("per %v, decision %d (%d keys in its batch): %+v, want allowed=%v remaining=%d", per, i+1, len(keys), d, want, max(3-int64(i), 0))
			}
		}
	}
}

// TestRedisStore_LoneGroupMerges sends one batch of five calls for one key
// under a limit of 3: they go as one allowScript call adding 5 to a new
// window, with the window named and not. The first three are admitted in
// order, the rest refused, and Redis holds the window's one field at the
// limit, with the key's expiry at the window's end.
func TestRedisStore_LoneGroupMerges(t *testing.T) {
	t.Parallel()
	s, cmds := newCountedStore(t)
	client := s.client.(*redis.Client)
	lim := Limit{Windows: []Window{{Requests: 3, Per: time.Hour}}}
	for _, named := range []bool{true, false} {
		if !named {
			s.clock.checked.Store(0)
		}
		key := fmt.Sprintf("merged-named=%v", named)
		cmds.Store(0)
		var batch []*call
		for range 5 {
			batch = append(batch, testCall(s, key, lim))
		}
		flushAll(t, s, batch)
		if n := cmds.Load(); n != 1 {
			t.Errorf("named=%v: %d commands, want 1 script call", named, n)
		}
		for i, c := range batch {
			if want := i < 3; c.d.Allowed != want || c.d.Remaining != max(2-int64(i), 0) {
				t.Errorf("named=%v, call %d: %+v, want allowed=%v remaining=%d", named, i, c.d, want, max(2-int64(i), 0))
			}
		}
		ctx := context.Background()
		fields, err := client.HGetAll(ctx, s.windowKey(key, lim.Windows[0])).Result()
		field := fmt.Sprint(batch[0].d.Reset.Unix() - lim.Windows[0].seconds())
		if err != nil || len(fields) != 1 || fields[field] != "3" {
			t.Errorf("named=%v: hash %v (%v), want only %s: 3", named, fields, err, field)
		}
		ttl, err := client.TTL(ctx, s.windowKey(key, lim.Windows[0])).Result()
		if err != nil || ttl <= 0 || ttl > time.Until(batch[0].d.Reset)+time.Second {
			t.Errorf("named=%v: TTL %v (%v), want the time to the window's end, %v", named, ttl, err, time.Until(batch[0].d.Reset))
		}
	}
}

// TestRedisStore_LoneCallerSkipsQueue: once a batching store has found its
// caller alone (yields brought no company), the caller's decisions go as
// the unbatched store's do, without the queue: no more allocations each,
// and no more yields.
//
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestRedisStore_LoneCallerSkipsQueue(t *testing.T) {
	batched, _ := newTestRedisStore(t)
	client, prefix := newTestRedis(t)
	unbatched, err := newRedisStore(client, redisConfig{Prefix: prefix, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Windows: []Window{{Requests: MaxRequests, Per: MaxPer}}}
	ctx := context.Background()
	allocs := func(s *redisStore) float64 {
		allow := func() {
			if _, err := s.Allow(ctx, "lone", lim, 1); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 * yieldMissLimit { // the clock measured, the yielder given up
			allow()
		}
		return testing.AllocsPerRun(100, allow)
	}
	if b, u := allocs(batched), allocs(unbatched); b > u {
		t.Fatalf("a lone caller's decision allocates %v times through the batcher, %v unbatched", b, u)
	}
	// Nor does it probe for company again: the yielder's skip is untouched.
	for range 3 * yieldSkip {
		if _, err := batched.Allow(ctx, "lone", lim, 1); err != nil {
			t.Fatal(err)
		}
	}
	if skip := batched.batch.yield.skip.Load(); skip != yieldSkip {
		t.Fatalf("after %d lone decisions the yielder's skip is %d, want %d: the caller yielded", 3*yieldSkip, skip, yieldSkip)
	}
}

// TestRedisStore_LoneCallerFindsCompany: a caller sending alone while the
// yielder skips, during whose round trip another caller arrives, makes the
// yielder stop skipping, so overlapping callers (on one CPU, those that run
// while a caller waits for Redis) batch again.
func TestRedisStore_LoneCallerFindsCompany(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	h := &companyHook{second: make(chan struct{})}
	client.AddHook(commandHook(h.process))
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Windows: []Window{{Requests: 10, Per: MaxPer}}}
	ctx := context.Background()
	mustAllow(t, s, "warm", lim, true) // the script loaded: one command a call from here on
	other := make(chan error, 1)
	h.first = func() { // during the lone caller's round trip
		go func() {
			_, err := s.Allow(ctx, "other", lim, 1)
			other <- err
		}()
		<-h.second // the other caller has arrived and sent its own
	}
	s.batch.yield.skip.Store(yieldSkip) // the store has found its caller alone
	h.armed.Store(true)
	mustAllow(t, s, "lone", lim, true)
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	if skip := s.batch.yield.skip.Load(); skip > 0 {
		t.Fatalf("the yielder still skips (%d) after a caller arrived during a lone caller's round trip", skip)
	}
}

// companyHook runs first during the first command once armed, and closes
// second when a second command starts.
type companyHook struct {
	armed  atomic.Bool
	calls  atomic.Int64
	first  func()
	second chan struct{}
}

// process is a commandHook.
func (h *companyHook) process(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.armed.Load() {
			switch h.calls.Add(1) {
			case 1:
				h.first()
			case 2:
				close(h.second)
			}
		}
		return next(ctx, cmd)
	}
}
