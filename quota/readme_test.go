package quota_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quotad/quotad/quota"
	"github.com/redis/go-redis/v9"
)

// readmeSnippet holds the README's library snippet between its markers, so
// that the snippet compiles; TestREADME_Snippet checks that the two agree
// and runs it. It returns what the test needs to clean up.
func readmeSnippet(e *echo.Echo, handler echo.HandlerFunc) (*quota.Limiter, quota.Limit) {
	// snippet:begin
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	limiter, err := quota.New(rdb) // uses its own connections if rdb retries
	if err != nil {
		log.Fatal(err)
	}
	pro := quota.Limit{Name: "pro", Windows: []quota.Window{
		{Requests: 20, Per: time.Second},
		{Requests: 1_000_000, Per: quota.Month},
	}}
	e.GET("/search", handler, quota.Middleware(limiter, pro))
	// snippet:end
	return limiter, pro
}

// between returns the lines of s after the line holding begin and before
// the line holding end.
func between(tb testing.TB, s, begin, end string) []string {
	tb.Helper()
	_, rest, ok := strings.Cut(s, begin+"\n")
	if !ok {
		tb.Fatalf("no %q", begin)
	}
	body, _, ok := strings.Cut(rest, end)
	if !ok {
		tb.Fatalf("no %q after %q", end, begin)
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	// The end marker's own indentation is left on the last line.
	if last := lines[len(lines)-1]; strings.TrimSpace(last) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// TestREADME_Snippet: the README's library snippet is readmeSnippet's body,
// short, and works against the Redis it names: a 200 whose
// RateLimit-Policy lists both of the plan's windows.
func TestREADME_Snippet(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	block := between(t, string(readme), "<!-- snippet:begin -->", "<!-- snippet:end -->")
	if len(block) < 2 || block[0] != "```go" || block[len(block)-1] != "```" {
		t.Fatalf("README snippet is not one ```go block: %q", block)
	}
	block = block[1 : len(block)-1]
	if len(block) > 12 {
		t.Errorf("README snippet has %d lines, want at most 12", len(block))
	}
	var body []string
	for _, l := range between(t, string(self), "\t// snippet:begin", "\t// snippet:end") {
		body = append(body, strings.TrimPrefix(l, "\t"))
	}
	if got, want := strings.Join(block, "\n"), strings.Join(body, "\n"); got != want {
		t.Fatalf("README snippet:\n%s\n\nreadmeSnippet's body:\n%s", got, want)
	}

	e := echo.New()
	limiter, pro := readmeSnippet(e, func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	t.Cleanup(func() { limiter.Close() })
	req := httptest.NewRequest(http.MethodGet, "/search", nil)
	// A documentation address of its own /64, so no other run shares the key.
	req.RemoteAddr = fmt.Sprintf("[2001:db8:%x:%x::1]:4711", rand.IntN(0x10000), rand.IntN(0x10000))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	t.Cleanup(func() {
		ip, _ := quota.NewIPExtractor(nil)
		if key, err := ip.Key(req); err == nil {
			_ = limiter.Reset(context.Background(), key, pro)
		}
	})
	policy := rec.Header().Get(quota.HeaderPolicy)
	if rec.Code != http.StatusOK || !strings.HasPrefix(policy, `"pro:1";q=20;w=1, "pro:month";q=1000000;w=`) {
		t.Fatalf("status %d, RateLimit-Policy %q; want 200 with the burst and the monthly window", rec.Code, policy)
	}
}
