package quota_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// The Redis the examples use: QUOTA_TEST_REDIS_URL, by default the one
// `make services` starts (redis://127.0.0.1:6379/0), and a key prefix no
// other run shares.
var (
	redisURL    = testenv.RedisURL()
	redisPrefix = testenv.RandomName("quota-example-")
)

// Limit every client of an Echo app to 2 requests per minute, keyed on the
// client IP. With Redis, pass a RedisStore (see the NewRedisStore example)
// instead of the memory store; nothing else changes.
func ExampleMiddleware() {
	store, _ := quota.NewMemoryStore(quota.MemoryConfig{})
	limiter, _ := quota.NewLimiter(store, quota.LimiterConfig{})
	mw, err := quota.Middleware(quota.MiddlewareConfig{
		Limiter: limiter,
		Limit:   quota.Limit{Name: "free", Windows: []quota.Window{{Requests: 2, Per: time.Minute}}},
	})
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.GET("/rate-limited", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"response": "This is a rate limited response"})
	}, mw)

	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/rate-limited", nil)
		req.RemoteAddr = "203.0.113.9:4711"
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("X-RateLimit-Remaining"), rec.Header().Get("RateLimit-Policy"))
	}
	// Output:
	// 200 1 "free";q=2;w=60
	// 200 0 "free";q=2;w=60
	// 429 0 "free";q=2;w=60
}

// Allow consumes one request of a key's window; Peek only looks.
func ExampleLimiter_Allow() {
	store, _ := quota.NewMemoryStore(quota.MemoryConfig{})
	limiter, _ := quota.NewLimiter(store, quota.LimiterConfig{})
	ctx := context.Background()
	lim := quota.PerMinute(10)

	for range 6 {
		_, _ = limiter.Allow(ctx, "user-42", lim)
	}
	d, _ := limiter.Peek(ctx, "user-42", lim)
	fmt.Println(d.Allowed, d.Remaining)
	// Output: true 4
}

// A Limiter on Redis, shared by every instance of an app: the store counts,
// and every instance sees the same windows. NewRedisClient sets the client
// up as NewRedisStore requires (no retries, context deadlines honoured).
func ExampleNewRedisStore() {
	client, err := quota.NewRedisClient(redisURL)
	if err != nil {
		panic(err)
	}
	defer client.Close()
	store, err := quota.NewRedisStore(client, quota.RedisConfig{Prefix: redisPrefix})
	if err != nil {
		panic(err)
	}
	limiter, err := quota.NewLimiter(store, quota.LimiterConfig{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	lim := quota.PerHour(2)

	for range 3 {
		d, err := limiter.Allow(ctx, "user-42", lim)
		if err != nil {
			panic(err)
		}
		fmt.Println(d.Allowed, d.Remaining)
	}
	if err := limiter.Reset(ctx, "user-42", lim); err != nil {
		panic(err)
	}
	// Output:
	// true 1
	// true 0
	// false 0
}
