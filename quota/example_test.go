package quota_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
	"github.com/redis/go-redis/v9"
)

// The Redis the examples use: QUOTA_TEST_REDIS_URL, by default the one
// `make services` starts (redis://127.0.0.1:6379/0), and a key prefix no
// other run shares.
var (
	redisURL    = testenv.RedisURL()
	redisPrefix = testenv.RandomName("quota-example-")
)

// A Limiter on the go-redis client an app already has, shared by every
// instance of the app. New alone would do; NewWithConfig here only keeps the
// example's keys apart from other runs'.
func ExampleNew() {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	limiter, err := quota.NewWithConfig(rdb, quota.Config{Prefix: redisPrefix})
	if err != nil {
		panic(err)
	}
	defer limiter.Close()

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

// Limit every client IP of an Echo app to 2 requests per hour.
func ExampleMiddleware() {
	limiter := quota.NewInMemory() // or quota.New(rdb) to share counts
	e := echo.New()
	e.GET("/rate-limited", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok")
	}, quota.Middleware(limiter, quota.Limit{Name: "free", Windows: []quota.Window{{Requests: 2, Per: time.Hour}}}))

	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/rate-limited", nil)
		req.RemoteAddr = "203.0.113.9:4711"
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("X-RateLimit-Remaining"), rec.Header().Get("RateLimit-Policy"))
	}
	// Output:
	// 200 1 "free";q=2;w=3600
	// 200 0 "free";q=2;w=3600
	// 429 0 "free";q=2;w=3600
}

// One resolver names the caller and its plan: here from a header an earlier
// auth middleware would have checked. The pro plan has a burst window and a
// monthly allowance that starts on the 15th; a request must fit both.
func ExampleMiddlewareWithConfig() {
	free := quota.Limit{Name: "free", Windows: []quota.Window{{Requests: 1, Per: time.Hour}}}
	pro := quota.Limit{Name: "pro", AnchorDay: 15, Windows: []quota.Window{
		{Requests: 2, Per: time.Hour},
		{Requests: 1_000_000, Per: quota.Month},
	}}
	mw, err := quota.MiddlewareWithConfig(quota.MiddlewareConfig{
		Limiter: quota.NewInMemory(),
		Resolve: func(c echo.Context) (string, quota.Limit, error) {
			user := c.Request().Header.Get("X-User")
			if strings.HasPrefix(user, "pro-") {
				return "u:" + user, pro, nil
			}
			return "u:" + user, free, nil
		},
	})
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.GET("/search", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }, mw)

	for _, user := range []string{"pro-ann", "pro-ann", "pro-ann", "bob", "bob"} {
		req := httptest.NewRequest(http.MethodGet, "/search", nil)
		req.Header.Set("X-User", user)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		policies := strings.Split(rec.Header().Get("RateLimit-Policy"), ", ")
		fmt.Println(user, rec.Code, rec.Header().Get("X-RateLimit-Remaining"), len(policies), policies[0])
	}
	// Output:
	// pro-ann 200 1 2 "pro:3600";q=2;w=3600
	// pro-ann 200 0 2 "pro:3600";q=2;w=3600
	// pro-ann 429 0 2 "pro:3600";q=2;w=3600
	// bob 200 0 1 "free";q=1;w=3600
	// bob 429 0 1 "free";q=1;w=3600
}

// AllowN charges a request by its cost, such as the rows an export returns;
// a request that does not fit is refused whole and costs nothing.
func ExampleLimiter_AllowN() {
	limiter := quota.NewInMemory()
	ctx := context.Background()
	lim := quota.PerHour(10)

	for _, cost := range []int64{6, 5, 4} {
		d, err := limiter.AllowN(ctx, "user-42", lim, cost)
		if err != nil {
			panic(err)
		}
		fmt.Println(cost, d.Allowed, d.Remaining)
	}
	// Output:
	// 6 true 4
	// 5 false 4
	// 4 true 0
}

// Allow consumes one request of a key's windows; Peek only looks.
func ExampleLimiter_Allow() {
	limiter := quota.NewInMemory()
	ctx := context.Background()
	lim := quota.PerHour(10)

	for range 6 {
		_, _ = limiter.Allow(ctx, "user-42", lim)
	}
	d, _ := limiter.Peek(ctx, "user-42", lim)
	fmt.Println(d.Allowed, d.Remaining)
	// Output: true 4
}
