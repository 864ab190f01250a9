package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedisURL is the Redis the tests use; each test writes only under its
// own random key prefix and deletes it afterwards.
func testRedisURL() string {
	if u := os.Getenv("QUOTA_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// newTestRedis returns a client of the test Redis set up as NewRedisStore
// requires, and a key prefix that no other test uses. Keys under the prefix
// are deleted when the test ends.
func newTestRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url := testRedisURL()
	client, err := NewRedisClient(url)
	if err != nil {
		tb.Fatalf("quota: bad QUOTA_TEST_REDIS_URL %q: %v", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		tb.Fatalf("quota: cannot reach Redis at %s (start it with 'make services' or set QUOTA_TEST_REDIS_URL): %v", url, err)
	}
	prefix := "quotatest:" + randomHex(tb, 8)
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		client.Close()
	})
	return client, prefix
}

// newTestRedisStore returns a RedisStore on its own key prefix.
func newTestRedisStore(tb testing.TB) (*RedisStore, *redis.Client) {
	tb.Helper()
	client, prefix := newTestRedis(tb)
	s, err := NewRedisStore(client, RedisConfig{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	return s, client
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
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

func mustLimiter(tb testing.TB, s Store, cfg LimiterConfig) *Limiter {
	tb.Helper()
	l, err := NewLimiter(s, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}
