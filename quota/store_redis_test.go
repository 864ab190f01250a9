package quota

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// TestLimiter_AllowExactAcrossInstances races 64 goroutines over two
// Limiters, each with its own Redis client, for one key: exactly the limit
// is admitted.
func TestLimiter_AllowExactAcrossInstances(t *testing.T) {
	t.Parallel()
	s1, _ := newTestRedisStore(t)
	c2, err := newRedisClient(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	s2, err := newRedisStore(c2, redisConfig{Prefix: s1.prefix})
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{1, 99, 500} {
		lim := Limit{Windows: []Window{{Requests: limit, Per: MaxPer}}}
		key := "hot-" + randomHex(t, 4)
		stores := []store{
			mustLimiterStore(t, s1), mustLimiterStore(t, s2),
		}
		admitted := raceAllow(t, stores, key, lim, 64, 10)
		checkExact(t, admitted, lim, 640)
	}
}

// mustLimiterStore adapts a Limiter to the store shape raceAllow takes, so
// the race also goes through the hog cache.
func mustLimiterStore(tb testing.TB, s store) store {
	return limiterStore{mustLimiter(tb, s, limiterConfig{Timeout: 5 * time.Second})}
}

type limiterStore struct{ l *Limiter }

func (s limiterStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	return s.l.AllowN(ctx, key, l, n)
}
func (s limiterStore) Peek(ctx context.Context, key string, l Limit) (Decision, error) {
	return s.l.Peek(ctx, key, l)
}
func (s limiterStore) Reset(ctx context.Context, key string, l Limit) error {
	return s.l.Reset(ctx, key, l)
}

// TestRedisStore_Key pins the key layout (prefix, hash tag, window length)
// and its cost. Not parallel: AllocsPerRun needs the process to itself.
func TestRedisStore_Key(t *testing.T) {
	client, _ := newTestRedis(t)
	s, err := newRedisStore(client, redisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		per  time.Duration
		want string
	}{
		{time.Minute, "quota:{user-42}:60"},
		{MaxPer, "quota:{user-42}:" + strconv.FormatInt(int64(MaxPer/time.Second), 10)},
	} {
		if got := s.windowKey("user-42", Window{Per: tc.per}); got != tc.want {
			t.Errorf("Key(user-42, per %v) = %q, want %q", tc.per, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.windowKey("user-42", Window{Per: MaxPer}) }); n > 1 {
		t.Errorf("Key allocates %v times, want once (the key itself)", n)
	}
}

// TestRedisStore_KeyHasTTLWithinWindow checks that every key written has an
// expiry no later than its window's end, and that keys are hash-tagged.
func TestRedisStore_KeyHasTTLWithinWindow(t *testing.T) {
	t.Parallel()
	s, client := newTestRedisStore(t)
	ctx := context.Background()
	for _, per := range []time.Duration{time.Second, time.Minute, MaxPer} {
		lim := Limit{Windows: []Window{{Requests: 3, Per: per}}}
		d := mustAllow(t, s, "ttl", lim, true)
		key := s.windowKey("ttl", lim.Windows[0])
		if !strings.Contains(key, "{ttl}") {
			t.Errorf("key %q has no hash tag", key)
		}
		exp, err := client.ExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if exp <= 0 || exp > time.Duration(d.Reset.Unix())*time.Second {
			t.Errorf("per %v: key expires at %v (Unix), window ends %d", per, exp, d.Reset.Unix())
		}
		// A refusal writes nothing: the expiry stays where the window put it.
		mustAllow(t, s, "ttl", lim, true)
		mustAllow(t, s, "ttl", lim, true)
		mustAllow(t, s, "ttl", lim, false)
		if exp2 := client.ExpireTime(ctx, key).Val(); exp2 != exp {
			t.Errorf("per %v: expiry moved from %v to %v", per, exp, exp2)
		}
	}
}

// TestRedisStore_OneRoundTrip counts the commands go-redis sends: one per
// admitted or refused decision that reaches Redis, none for a cached hog.
func TestRedisStore_OneRoundTrip(t *testing.T) {
	t.Parallel()
	client, prefix := newTestRedis(t)
	var cmds atomic.Int64
	client.AddHook(countHook{&cmds})
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	l := mustLimiter(t, s, limiterConfig{})
	lim := Limit{Windows: []Window{{Requests: 5, Per: time.Hour}}}
	ctx := context.Background()
	if _, err := l.Allow(ctx, "warm", lim); err != nil { // loads the script
		t.Fatal(err)
	}
	cmds.Store(0)
	for i := range 5 {
		if _, err := l.Allow(ctx, "k", lim); err != nil {
			t.Fatal(err)
		}
		if got := cmds.Load(); got != int64(i+1) {
			t.Fatalf("after %d admitted decisions: %d Redis commands", i+1, got)
		}
	}
	if d, _ := l.Allow(ctx, "k", lim); d.Allowed {
		t.Fatal("sixth request admitted")
	}
	before := cmds.Load() // the first refusal asks Redis once
	for range 100 {
		if d, _ := l.Allow(ctx, "k", lim); d.Allowed {
			t.Fatal("hog admitted")
		}
	}
	if got := cmds.Load() - before; got != 0 {
		t.Fatalf("100 refusals of a known hog sent %d Redis commands, want 0", got)
	}
}

type countHook struct{ n *atomic.Int64 }

func (countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestRedisStore_ScriptCacheFlushed checks that a Redis restarted empty (no
// cached script) is served again without intervention. The script cache is
// the whole server's, so the test flushes a private redis-server's: on the
// shared one, tests running alongside would meet NOSCRIPT too.
func TestRedisStore_ScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	client, err := newRedisClient(testenv.StartRedis(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	s, err := newRedisStore(client, redisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Windows: []Window{{Requests: 2, Per: time.Hour}}}
	mustAllow(t, s, "k", lim, true)
	if err := client.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, s, "k", lim, true)
	mustAllow(t, s, "k", lim, false)
}

// TestNewRedisStore_RejectsUnsafeClients: a client that retries could count
// one request twice; one that ignores deadlines could hang requests.
func TestNewRedisStore_RejectsUnsafeClients(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  redis.Options
		want string
	}{
		{"default retries", redis.Options{ContextTimeoutEnabled: true}, "MaxRetries"},
		{"explicit retries", redis.Options{MaxRetries: 2, ContextTimeoutEnabled: true}, "MaxRetries"},
		{"no context deadlines", redis.Options{MaxRetries: -1}, "ContextTimeoutEnabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opt.Addr = testenv.ClosedAddr(t)
			c := redis.NewClient(&tc.opt)
			defer c.Close()
			_, err := newRedisStore(c, redisConfig{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	if _, err := newRedisStore(nil, redisConfig{}); err == nil {
		t.Fatal("nil client accepted")
	}
}

// decideWithin runs Allow and fails the test if it has not returned after
// limit: a store failure must never hold a request.
func decideWithin(tb testing.TB, l *Limiter, key string, lim Limit, limit time.Duration) (Decision, error) {
	tb.Helper()
	type result struct {
		d   Decision
		err error
	}
	ch := make(chan result, 1)
	go func() {
		d, err := l.Allow(context.Background(), key, lim)
		ch <- result{d, err}
	}()
	select {
	case r := <-ch:
		return r.d, r.err
	case <-time.After(limit):
		tb.Fatalf("Allow still running after %v", limit)
		return Decision{}, nil
	}
}

// TestLimiter_AllowRedisRefusingConnections: errors wrap ErrUnavailable and
// arrive promptly.
func TestLimiter_AllowRedisRefusingConnections(t *testing.T) {
	t.Parallel()
	client, err := newRedisClient("redis://" + testenv.ClosedAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := newRedisStore(client, redisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l := mustLimiter(t, s, limiterConfig{Timeout: 100 * time.Millisecond})
	for range 10 {
		if _, err := decideWithin(t, l, "k", PerMinute(5), 3*time.Second); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	if !l.breaker.open() {
		t.Fatal("breaker still closed after 10 failures in a row")
	}
}

// TestLimiter_AllowRedisHungThenBack: a Redis that accepts but never answers
// costs one deadline per decision (then nothing while the breaker is open),
// and limiting resumes by itself once it answers again.
func TestLimiter_AllowRedisHungThenBack(t *testing.T) {
	t.Parallel()
	_, prefix := newTestRedis(t)
	proxy := testenv.NewProxy(t, redisAddr(t))
	client, err := newRedisClient("redis://" + proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	l := mustLimiter(t, s, limiterConfig{Timeout: 100 * time.Millisecond, BreakerCooldown: 50 * time.Millisecond})
	lim := Limit{Windows: []Window{{Requests: 3, Per: time.Hour}}}
	if _, err := decideWithin(t, l, "k", lim, 3*time.Second); err != nil {
		t.Fatalf("healthy proxy: %v", err)
	}

	proxy.SetMode(testenv.Blackhole)
	for range 8 {
		if _, err := decideWithin(t, l, "k", lim, 3*time.Second); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("hung Redis: err = %v, want ErrUnavailable", err)
		}
	}

	proxy.SetMode(testenv.Forward)
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := decideWithin(t, l, "k", lim, 3*time.Second)
		if err == nil {
			if !d.Allowed || d.Remaining != 1 {
				t.Fatalf("after recovery: %+v, want the window's second admission", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll: recovery has no signal to wait on
	}
}

// TestRedisStore_Cluster runs the store contract's exactness and TTL
// checks on a real three-master Redis Cluster: keys route by their hash tag
// and two limiters on two cluster clients admit exactly the limit.
func TestRedisStore_Cluster(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	s1, err := newRedisStore(cluster.Client(t), redisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := newRedisStore(cluster.Client(t), redisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lim := Limit{Windows: []Window{{Requests: 100, Per: MaxPer}}}
	// Keys spread over the three masters' slots.
	for i := range 6 {
		key := "cluster-" + strconv.Itoa(i)
		admitted := raceAllow(t, []store{mustLimiterStore(t, s1), mustLimiterStore(t, s2)}, key, lim, 64, 4)
		checkExact(t, admitted, lim, 256)
	}
	d := mustAllow(t, s1, "ttl", Limit{Windows: []Window{{Requests: 2, Per: time.Minute}}}, true)
	exp, err := cluster.Client(t).ExpireTime(context.Background(), s1.windowKey("ttl", Window{Per: time.Minute})).Result()
	if err != nil || exp <= 0 || exp > time.Duration(d.Reset.Unix())*time.Second {
		t.Fatalf("cluster key expiry %v (%v), window ends %d", exp, err, d.Reset.Unix())
	}
}

// hungLimiter returns a Limiter whose Redis accepts connections but never
// answers, with a 100 ms deadline, and the proxy in front of it.
func hungLimiter(tb testing.TB) (*Limiter, *testenv.Proxy) {
	tb.Helper()
	_, prefix := newTestRedis(tb)
	proxy := testenv.NewProxy(tb, redisAddr(tb))
	proxy.SetMode(testenv.Blackhole)
	client, err := newRedisClient("redis://" + proxy.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return mustLimiter(tb, s, limiterConfig{Timeout: 100 * time.Millisecond, BreakerThreshold: -1}), proxy
}

// TestRedisStore_AppendWindowKeys: a plan's keys are windowKey's, in order,
// built in one allocation.
func TestRedisStore_AppendWindowKeys(t *testing.T) {
	s := &redisStore{prefix: "quota"}
	ws := []Window{{Requests: 1, Per: time.Second}, {Requests: 1, Per: 24 * time.Hour}, {Requests: 1, Per: Month}}
	got := s.appendWindowKeys(nil, "u:alice", ws)
	for i, w := range ws {
		if got[i] != s.windowKey("u:alice", w) {
			t.Fatalf("key %d: %q, want %q", i, got[i], s.windowKey("u:alice", w))
		}
	}
	dst := make([]string, 0, 3)
	if n := testing.AllocsPerRun(100, func() { _ = s.appendWindowKeys(dst[:0], "u:alice", ws) }); n > 1 {
		t.Fatalf("%v allocations for three keys, want 1", n)
	}
}
