package quota

import (
	"sync"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// testRedisURL is the Redis the tests use.
func testRedisURL() string { return testenv.RedisURL() }

// redisAddr is the test Redis's host:port.
func redisAddr(tb testing.TB) string {
	opt, err := redis.ParseURL(testRedisURL())
	if err != nil {
		tb.Fatal(err)
	}
	return opt.Addr
}

// newTestRedis returns a client of the test Redis set up as newRedisStore
// requires, and a key prefix that no other test uses.
func newTestRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	return testenv.Redis(tb)
}

// newTestRedisStore returns a redisStore on its own key prefix.
func newTestRedisStore(tb testing.TB) (*redisStore, *redis.Client) {
	tb.Helper()
	client, prefix := newTestRedis(tb)
	s, err := newRedisStore(client, redisConfig{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return s, client
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	return testenv.RandomName("")[:2*min(n, 6)]
}

// fakeClock is a settable clock for stores and limiters under test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustLimiter(tb testing.TB, s store, cfg limiterConfig) *Limiter {
	tb.Helper()
	l, err := newLimiter(s, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// commandHook is a go-redis hook around single commands; dials and
// pipelines pass through.
type commandHook func(next redis.ProcessHook) redis.ProcessHook

func (commandHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h commandHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return h(next)
}
func (commandHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// newRedisClient returns a client of url that neither retries nor ignores
// context deadlines, as a store needs, without the Limiter's copying.
func newRedisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
	return redis.NewClient(opt), nil
}
