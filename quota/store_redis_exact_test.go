package quota

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// multiKeyStore decides every Allow in one batch with a companion key under
// another limit, so that it goes as one allowManyScript call: the store
// contract then holds the multi-key script to every promise the lone one
// keeps.
type multiKeyStore struct{ *redisStore }

// companionLimit is multiKeyStore's companion key's limit: never reached.
var companionLimit = Limit{Windows: []Window{{Requests: MaxRequests, Per: MaxPer}}}

func (s multiKeyStore) Allow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	key2 := key
	if n == 1 && l.simple() {
		key2 = s.windowKey(key, l.Windows[0])
	}
	c := &call{ctx: ctx, key: key2, lim: l, cost: n, done: make(chan struct{}, 1)}
	companion := &call{ctx: ctx, key: s.windowKey("~companion", companionLimit.Windows[0]), lim: companionLimit, cost: 1, done: make(chan struct{}, 1)}
	s.batch.flush([]*call{c, companion})
	<-c.done
	<-companion.done
	if companion.err == nil && !companion.d.Allowed {
		return Decision{}, fmt.Errorf("companion key refused: %+v", companion.d)
	}
	return c.d, c.err
}

// TestRedisStore_ExpiryIsWindowEnd writes keys through every way a
// decision reaches Redis (allowScript with the window named or not, alone
// or merged; allowManyScript with runs of ones or of increments) and reads
// each key's expiry back: it is the window's end to the millisecond, as
// EXPIREAT sets it (no slack is designed in), and refusals leave it there.
func TestRedisStore_ExpiryIsWindowEnd(t *testing.T) {
	t.Parallel()
	s, client := newTestRedisStore(t)
	ctx := context.Background()
	paths := []struct {
		name  string
		batch []string // the batch's keys; "k" is the one checked
		named bool     // whether a lone call names its window
	}{
		{"lone, window not named", []string{"k"}, false},
		{"lone, window named", []string{"k"}, true},
		{"lone, merged", []string{"k", "k"}, true},
		{"multi-key, ones", []string{"k", "other"}, true},
		{"multi-key, increments", []string{"k", "other", "k"}, true},
	}
	for _, per := range []time.Duration{time.Minute, 24 * time.Hour, MaxPer} {
		for pi, p := range paths {
			lim := Limit{Windows: []Window{{Requests: 4, Per: per}}}
			// A minute window may end between the write and the read; then
			// the key has expired as it should, and the path runs again.
			for attempt := 0; ; attempt++ {
				prefix := fmt.Sprintf("p%d-%v-%d-", pi, per, attempt)
				if !p.named {
					s.clock.checked.Store(0)
				} else if _, ok := s.clock.estimate(time.Now()); !ok {
					mustAllow(t, s, prefix+"measure", lim, true)
				}
				batch := make([]*call, len(p.batch))
				for i, k := range p.batch {
					batch[i] = testCall(s, prefix+k, lim)
				}
				flushAll(t, s, batch)
				key := s.windowKey(prefix+"k", lim.Windows[0])
				want := batch[0].d.Reset
				got, err := client.PExpireTime(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				if got == -2 && !time.Now().Before(want) && attempt < 3 {
					continue
				}
				if got != time.Duration(want.UnixMilli())*time.Millisecond {
					t.Errorf("per %v, %s: PEXPIRETIME %v (negative: no expiry, or no key), want the window's end, Unix ms %d", per, p.name, got, want.UnixMilli())
				}
				for range 4 { // past the limit: refusals must not move it
					testRedisAllow(t, s, prefix+"k", lim)
				}
				if again := client.PExpireTime(ctx, key).Val(); again != got {
					t.Errorf("per %v, %s: refusals moved the expiry from %v to %v", per, p.name, got, again)
				}
				break
			}
		}
	}
}

// testRedisAllow decides one request of key, failing the test on an error.
func testRedisAllow(tb testing.TB, s *redisStore, key string, lim Limit) Decision {
	tb.Helper()
	d, err := s.Allow(context.Background(), key, lim, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestRedisStore_ManyKeysExactAcrossStores races 64 goroutines over two
// Limiters, each on its own client and store sharing one Redis and key
// space, for 16 keys at once: batches hold many keys, hot keys merge into
// one increment, and every key admits exactly its limit, no more, no
// fewer. The test checks that merged multi-key calls did happen.
func TestRedisStore_ManyKeysExactAcrossStores(t *testing.T) {
	t.Parallel()
	var merged atomic.Int64
	s1, c1 := newTestRedisStore(t)
	c1.AddHook(commandHook(mergedManyCalls(&merged)))
	c2, err := newRedisClient(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	c2.AddHook(commandHook(mergedManyCalls(&merged)))
	s2, err := newRedisStore(c2, redisConfig{Prefix: s1.prefix})
	if err != nil {
		t.Fatal(err)
	}
	stores := []store{mustLimiterStore(t, s1), mustLimiterStore(t, s2)}
	lim := Limit{Windows: []Window{{Requests: 30, Per: MaxPer}}}
	const callers, asks, keys = 64, 20, 16 // 80 asks per key
	var mu sync.Mutex
	admitted := map[string]int64{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range callers {
		s := stores[g%2]
		wg.Go(func() {
			<-start
			for i := range asks {
				key := "k" + strconv.Itoa((g/2+i)%keys)
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
	for k := range keys {
		key := "k" + strconv.Itoa(k)
		if n := admitted[key]; n != lim.Windows[0].Requests {
			t.Errorf("key %s admitted %d of %d asks, want exactly %d", key, n, callers*asks/keys, lim.Windows[0].Requests)
		}
		if d, err := s1.Peek(context.Background(), key, lim); err != nil || d.Remaining != 0 {
			t.Errorf("key %s: %+v, %v; want the window full, no more and no fewer", key, d, err)
		}
	}
	if merged.Load() == 0 {
		t.Fatal("no multi-key call merged a key's asks: the race proved nothing about increments")
	}
	t.Logf("%d multi-key calls carried increments", merged.Load())
}

// mergedManyCalls is a commandHook counting allowManyScript calls that
// carry increments: a run whose key count is positive (see allowManyScript).
func mergedManyCalls(n *atomic.Int64) func(redis.ProcessHook) redis.ProcessHook {
	return func(next redis.ProcessHook) redis.ProcessHook {
		return func(ctx context.Context, cmd redis.Cmder) error {
			if hasIncrements(cmd.Args()) {
				n.Add(1)
			}
			return next(ctx, cmd)
		}
	}
}

// hasIncrements reports whether args are an allowManyScript call with a
// run of increments.
func hasIncrements(args []any) bool {
	if len(args) < 3 || !strings.HasPrefix(strings.ToLower(fmt.Sprint(args[0])), "eval") {
		return false
	}
	// EVALSHA names the script by its hash, EVAL by its source.
	if script := fmt.Sprint(args[1]); script != allowManyScript.Hash() && !strings.Contains(script, "local out = {}") {
		return false
	}
	numKeys, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil {
		return false
	}
	argv := args[3+numKeys:]
	for a := 0; a+2 < len(argv); {
		count, err := strconv.Atoi(fmt.Sprint(argv[a+2]))
		if err != nil {
			return false
		}
		if count > 0 {
			return true
		}
		a += 3 // a run of ones: no increments follow
	}
	return false
}

// TestRedisStore_ResetAfterOnRedisClock: ResetAfter is the time from
// Redis's TIME, microseconds included, to the window's end, whether the
// script named the window (the clock measured) or chose it.
func TestRedisStore_ResetAfterOnRedisClock(t *testing.T) {
	t.Parallel()
	m := miniredis.RunT(t)
	clock := newFakeClock(time.Unix(1_700_000_000, 250_000_000)) // 39.75 s before a minute's end
	m.SetTime(clock.Now())
	client := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	s, err := newRedisStore(client, redisConfig{DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	s.now = clock.Now // miniredis's TIME stands still, and so must the estimate
	lim := Limit{Windows: []Window{{Requests: 5, Per: time.Minute}}}
	for _, how := range []string{"window chosen by the script", "window named"} {
		d := mustAllow(t, s, "k", lim, true)
		if want := d.Reset.Sub(clock.Now()); d.ResetAfter != want || want != 39750*time.Millisecond {
			t.Errorf("%s: ResetAfter %v, want %v to the window's end at %v", how, d.ResetAfter, want, d.Reset)
		}
	}
}
