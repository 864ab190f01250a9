package quota

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// newTestEcho mounts a middleware built from cfg (Limiter filled from a
// memory store on a fake clock at a minute boundary when nil) on GET /a and
// GET /b; handlers echo the Decision they see.
func newTestEcho(tb testing.TB, cfg MiddlewareConfig) (*echo.Echo, *fakeClock) {
	tb.Helper()
	clock := newFakeClock(time.Unix(1_700_000_040, 0))
	if cfg.Limiter == nil {
		mem, err := newMemoryStore(memoryConfig{Now: clock.Now})
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Limiter = mustLimiter(tb, mem, limiterConfig{Now: clock.Now})
	}
	mw, err := MiddlewareWithConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e := echo.New()
	h := func(c echo.Context) error {
		d, ok := DecisionFrom(c)
		return c.JSON(http.StatusOK, map[string]any{"seen": ok, "remaining": d.Remaining})
	}
	e.GET("/a", h, mw)
	e.GET("/b", h, mw)
	return e, clock
}

func doGet(e *echo.Echo, path, remote string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remote
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestMiddleware_HeadersAndRefusal(t *testing.T) {
	t.Parallel()
	e, clock := newTestEcho(t, MiddlewareConfig{Limit: Limit{Name: "free", Windows: []Window{{Requests: 3, Per: time.Minute}}}})
	clock.Advance(15 * time.Second) // 45 s left in the window
	reset := strconv.FormatInt(1_700_000_040+60, 10)
	for i := range 3 {
		rec := doGet(e, "/a", "192.0.2.7:5555")
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, rec.Code)
		}
		want := map[string]string{
			HeaderLimit:      "3",
			HeaderRemaining:  strconv.Itoa(2 - i),
			HeaderReset:      reset,
			HeaderPolicy:     `"free";q=3;w=60`,
			HeaderRateLimit:  fmt.Sprintf(`"free";r=%d;t=45`, 2-i),
			HeaderRetryAfter: "",
			HeaderDegraded:   "",
		}
		for h, v := range want {
			if got := rec.Header().Get(h); got != v {
				t.Errorf("request %d: %s = %q, want %q", i+1, h, got, v)
			}
		}
		var body struct {
			Seen      bool
			Remaining int64
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !body.Seen || body.Remaining != int64(2-i) {
			t.Errorf("request %d: handler saw %+v (%v), want the decision", i+1, body, err)
		}
	}
	rec := doGet(e, "/b", "192.0.2.7:6666") // same client, other route: one quota
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth request: status %d, want 429", rec.Code)
	}
	for h, v := range map[string]string{
		HeaderRemaining: "0", HeaderRetryAfter: "45", HeaderRateLimit: `"free";r=0;t=45`, HeaderReset: reset,
		echo.HeaderContentType: echo.MIMEApplicationJSON,
	} {
		if got := rec.Header().Get(h); got != v {
			t.Errorf("429: %s = %q, want %q", h, got, v)
		}
	}
	var body struct{ Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Message != "rate limit of 3 requests per 1m0s exceeded; retry in 45 s" {
		t.Fatalf("429 body %s: %+v, %v", rec.Body, body, err)
	}
	if rec := doGet(e, "/a", "192.0.2.8:1"); rec.Code != http.StatusOK {
		t.Fatalf("another client: status %d, want 200", rec.Code)
	}
}

func TestMiddleware_IPv6ClientsShareTheirSlash64(t *testing.T) {
	t.Parallel()
	e, _ := newTestEcho(t, MiddlewareConfig{Limit: PerMinute(1)})
	if rec := doGet(e, "/a", "[2001:db8:1:2::1]:80"); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := doGet(e, "/a", "[2001:db8:1:2:ffff::9]:80"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d, want 429", rec.Code)
	}
	if rec := doGet(e, "/a", "[2001:db8:1:3::1]:80"); rec.Code != http.StatusOK {
		t.Fatalf("other /64: %d, want 200", rec.Code)
	}
}

func TestMiddleware_ScopeByRoute(t *testing.T) {
	t.Parallel()
	e, _ := newTestEcho(t, MiddlewareConfig{Limit: PerMinute(1), Scope: ScopeByRoute})
	for _, p := range []string{"/a", "/b"} {
		if rec := doGet(e, p, "192.0.2.1:1"); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d, want 200 (own quota)", p, rec.Code)
		}
		if rec := doGet(e, p, "192.0.2.1:1"); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("%s again: %d, want 429", p, rec.Code)
		}
	}
}

func TestMiddleware_Options(t *testing.T) {
	t.Parallel()
	t.Run("Skipper", func(t *testing.T) {
		t.Parallel()
		e, _ := newTestEcho(t, MiddlewareConfig{Limit: PerMinute(1), Skipper: func(echo.Context) bool { return true }})
		for range 3 {
			if rec := doGet(e, "/a", "192.0.2.1:1"); rec.Code != http.StatusOK || rec.Header().Get(HeaderLimit) != "" {
				t.Fatalf("skipped request: %d, headers %v", rec.Code, rec.Header())
			}
		}
	})
	t.Run("Resolve", func(t *testing.T) {
		t.Parallel()
		e, _ := newTestEcho(t, MiddlewareConfig{
			Resolve: func(c echo.Context) (string, Limit, error) {
				if user := c.QueryParam("user"); user == "vip" {
					return user, Limit{Name: "pro", Windows: []Window{{Requests: 2, Per: time.Minute}}}, nil
				}
				return c.QueryParam("user"), Limit{Name: "free", Windows: []Window{{Requests: 1, Per: time.Minute}}}, nil
			},
		})
		var codes []int
		var policies []string
		for _, user := range []string{"vip", "vip", "vip", "bob"} {
			rec := doGet(e, "/a?user="+user, "192.0.2.1:1")
			codes, policies = append(codes, rec.Code), append(policies, rec.Header().Get(HeaderPolicy))
		}
		if fmt.Sprint(codes) != "[200 200 429 200]" || policies[0] != `"pro";q=2;w=60` || policies[3] != `"free";q=1;w=60` {
			t.Fatalf("codes %v policies %q, want [200 200 429 200] under pro, pro, pro, free", codes, policies)
		}
	})
	t.Run("ResolveErrors", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			err  error
			want int
		}{
			{errors.New("tier lookup failed"), http.StatusInternalServerError},
			{echo.NewHTTPError(http.StatusUnauthorized, "who are you"), http.StatusUnauthorized},
		} {
			e, _ := newTestEcho(t, MiddlewareConfig{Resolve: func(echo.Context) (string, Limit, error) { return "", Limit{}, tc.err }})
			if rec := doGet(e, "/a", "192.0.2.1:1"); rec.Code != tc.want {
				t.Errorf("Resolve error %v: status %d, want %d", tc.err, rec.Code, tc.want)
			}
		}
	})
	t.Run("GarbagePeerAddress", func(t *testing.T) {
		t.Parallel()
		e, _ := newTestEcho(t, MiddlewareConfig{Limit: PerMinute(1)})
		if rec := doGet(e, "/a", "not-an-ip"); rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", rec.Code)
		}
	})
	t.Run("HeaderStyles", func(t *testing.T) {
		t.Parallel()
		for style, want := range map[HeaderStyle][2]bool{HeadersAll: {true, true}, HeadersLegacy: {true, false}, HeadersIETF: {false, true}, HeadersNone: {false, false}} {
			e, _ := newTestEcho(t, MiddlewareConfig{Limit: PerMinute(5), Headers: style})
			rec := doGet(e, "/a", "192.0.2.1:1")
			if got := [2]bool{rec.Header().Get(HeaderLimit) != "", rec.Header().Get(HeaderPolicy) != ""}; got != want {
				t.Errorf("style %d: legacy/IETF present %v, want %v", style, got, want)
			}
		}
	})
	t.Run("BadConfig", func(t *testing.T) {
		t.Parallel()
		mem, _ := newMemoryStore(memoryConfig{})
		l := mustLimiter(t, mem, limiterConfig{})
		for name, cfg := range map[string]MiddlewareConfig{
			"no limiter":     {Limit: PerMinute(1)},
			"no limit":       {Limiter: l},
			"bad mode":       {Limiter: l, Limit: PerMinute(1), FailureMode: 7},
			"bad headers":    {Limiter: l, Limit: PerMinute(1), Headers: 9},
			"fractional per": {Limiter: l, Limit: Limit{Windows: []Window{{Requests: 1, Per: time.Millisecond}}}},
		} {
			if _, err := MiddlewareWithConfig(cfg); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
	t.Run("MiddlewarePanicsOnABadLimit", func(t *testing.T) {
		t.Parallel()
		defer func() {
			if recover() == nil {
				t.Error("Middleware accepted a Limit without windows")
			}
		}()
		Middleware(NewInMemory(), Limit{})
	})
}

func TestMiddleware_StoreFailure(t *testing.T) {
	t.Parallel()
	failing := func(t *testing.T) *Limiter {
		l, cs, _ := newCountingLimiter(t, limiterConfig{})
		cs.fail.Store(true)
		return l
	}
	t.Run("FailOpen", func(t *testing.T) {
		t.Parallel()
		var seen error
		e, _ := newTestEcho(t, MiddlewareConfig{Limiter: failing(t), Limit: PerMinute(1),
			OnDecision: func(_ echo.Context, _ Decision, err error) { seen = err }})
		rec := doGet(e, "/a", "192.0.2.1:1")
		if rec.Code != http.StatusOK || rec.Header().Get(HeaderDegraded) != "1" {
			t.Fatalf("status %d, degraded %q; want 200 marked degraded", rec.Code, rec.Header().Get(HeaderDegraded))
		}
		for _, h := range []string{HeaderLimit, HeaderRemaining, HeaderReset, HeaderPolicy, HeaderRateLimit} {
			if v := rec.Header().Get(h); v != "" {
				t.Errorf("degraded response carries %s: %q", h, v)
			}
		}
		if !errors.Is(seen, ErrUnavailable) {
			t.Errorf("OnDecision saw %v, want ErrUnavailable", seen)
		}
	})
	t.Run("FailClosed", func(t *testing.T) {
		t.Parallel()
		e, _ := newTestEcho(t, MiddlewareConfig{Limiter: failing(t), Limit: PerMinute(1), FailureMode: FailClosed})
		rec := doGet(e, "/a", "192.0.2.1:1")
		var body struct{ Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusServiceUnavailable ||
			body.Message != "rate limiter unavailable; try again shortly" || rec.Header().Get(HeaderRetryAfter) != "1" {
			t.Fatalf("status %d body %s Retry-After %q, want 503, its message and 1", rec.Code, rec.Body, rec.Header().Get(HeaderRetryAfter))
		}
	})
}
