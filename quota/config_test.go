package quota

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// wrappedClient is a redis.UniversalClient that is none of go-redis's own
// types, as an instrumented or mocked client would be.
type wrappedClient struct{ *redis.Client }

// checkNew builds a Limiter with New on rdb and checks that it made its own
// client exactly when want says so, that the client it uses neither
// retries nor ignores deadlines, that it counts exactly, and that Close
// closes only what it made.
func checkNew(t *testing.T, rdb redis.UniversalClient, wantOwn bool) {
	t.Helper()
	ctx := context.Background()
	l, err := NewWithConfig(rdb, Config{Prefix: testenv.RandomName("quotatest:new:")})
	if err != nil {
		t.Fatal(err)
	}
	used := l.store.(*redisStore).client
	if gotOwn := l.own != nil; gotOwn != wantOwn || (used == rediser(rdb)) == wantOwn {
		t.Fatalf("made its own client: %v (uses the caller's: %v), want %v", gotOwn, used == rediser(rdb), wantOwn)
	}
	if c, ok := used.(redis.UniversalClient); ok {
		if err := checkClientOptions(c); err != nil {
			t.Fatalf("the Limiter's client is unsafe: %v", err)
		}
	}
	lim := Limit{Windows: []Window{{Requests: 2, Per: time.Hour}}}
	key := testenv.RandomName("k")
	var allowed []bool
	for range 3 {
		d, err := l.Allow(ctx, key, lim)
		if err != nil {
			t.Fatal(err)
		}
		allowed = append(allowed, d.Allowed)
	}
	if allowed[0] != true || allowed[1] != true || allowed[2] != false {
		t.Fatalf("admitted %v, want exactly 2 of 3", allowed)
	}
	if err := l.Reset(ctx, key, lim); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("the caller's client after Close: %v", err)
	}
	if wantOwn {
		if err := l.own.(redis.UniversalClient).Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
			t.Fatalf("the Limiter's own client after Close: %v, want closed", err)
		}
	}
}

func TestNew_ClientsOfEveryKind(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	client := func(opt redis.Options) *redis.Client {
		opt.Addr = addr
		c := redis.NewClient(&opt)
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("ClientWithRetries", func(t *testing.T) {
		t.Parallel()
		checkNew(t, client(redis.Options{MaxRetries: 3, ContextTimeoutEnabled: true}), true)
	})
	t.Run("ClientWithDefaults", func(t *testing.T) {
		t.Parallel()
		checkNew(t, client(redis.Options{}), true)
	})
	t.Run("SafeClient", func(t *testing.T) {
		t.Parallel()
		checkNew(t, client(redis.Options{MaxRetries: -1, ContextTimeoutEnabled: true}), false)
	})
	t.Run("OtherUniversalClient", func(t *testing.T) {
		t.Parallel()
		checkNew(t, wrappedClient{client(redis.Options{})}, false)
	})
	t.Run("RingWithDefaults", func(t *testing.T) {
		t.Parallel()
		r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}})
		t.Cleanup(func() { r.Close() })
		checkNew(t, r, true)
	})
	t.Run("SafeRing", func(t *testing.T) {
		t.Parallel()
		r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": addr}, MaxRetries: -1, ContextTimeoutEnabled: true})
		t.Cleanup(func() { r.Close() })
		checkNew(t, r, false)
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		cluster := testenv.StartRedisCluster(t)
		withRetries := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs, MaxRetries: 2})
		t.Cleanup(func() { withRetries.Close() })
		checkNew(t, withRetries, true)
		checkNew(t, cluster.Client(t), false)
	})
}

func TestNew_RefusesBadArguments(t *testing.T) {
	t.Parallel()
	if _, err := New(nil); err == nil {
		t.Error("nil client accepted")
	}
	c, _ := newTestRedis(t)
	if _, err := NewWithConfig(c, Config{Timeout: -time.Second}); err == nil {
		t.Error("negative Timeout accepted")
	}
}

func TestNewInMemory_CountsExactly(t *testing.T) {
	t.Parallel()
	l := NewInMemory()
	ctx := context.Background()
	lim := Limit{Windows: []Window{{Requests: 3, Per: time.Hour}, {Requests: 5, Per: Month}}}
	var admitted int64
	for range 10 {
		if d, err := l.AllowN(ctx, "k", lim, 2); err != nil {
			t.Fatal(err)
		} else if d.Allowed {
			admitted += 2
		}
	}
	if admitted != 2 {
		t.Fatalf("admitted %d of cost-2 requests under 3 per hour, want 2 (one request)", admitted)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close of an in-memory Limiter: %v", err)
	}
}
