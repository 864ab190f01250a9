package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// readyBound is how long /readyz may take while a dependency hangs: its
// own 1 s deadline per check plus the margin of bound.
const readyBound = time.Second + bound

// rateLimitHeaders are the headers a decided response carries and a
// degraded one must not: nothing true can be said without Redis.
var rateLimitHeaders = []string{quota.HeaderLimit, quota.HeaderRemaining, quota.HeaderReset, quota.HeaderPolicy, quota.HeaderRateLimit}

func TestRedisRefusing_FailOpenAdmitsDegradedThenRecovers(t *testing.T) {
	t.Parallel()
	redisOutage(t, "open", (*testenv.RedisServer).Stop, (*testenv.RedisServer).Start)
}

func TestRedisRefusing_FailClosedAnswers503ThenRecovers(t *testing.T) {
	t.Parallel()
	redisOutage(t, "closed", (*testenv.RedisServer).Stop, (*testenv.RedisServer).Start)
}

func TestRedisHung_FailOpenAdmitsDegradedThenRecovers(t *testing.T) {
	t.Parallel()
	redisOutage(t, "open", (*testenv.RedisServer).Pause, (*testenv.RedisServer).Resume)
}

func TestRedisHung_FailClosedAnswers503ThenRecovers(t *testing.T) {
	t.Parallel()
	redisOutage(t, "closed", (*testenv.RedisServer).Pause, (*testenv.RedisServer).Resume)
}

// redisOutage runs quotad with QUOTA_REDIS_FAILURE=failure against a
// private Redis, breaks Redis with fail (stop: connections refused; pause:
// a hung server) and heals it with heal (start, empty; resume). It proves:
//
//   - limiting is exact before the outage;
//   - during it, every request is answered within bound: under "open" 200
//     with X-RateLimit-Degraded: 1 and no rate-limit headers, under
//     "closed" 503 with the error code unavailable;
//   - /readyz is 503 naming redis, quotad_store_failures_total counts every
//     failed decision, and the log says so in a few lines, not one a
//     request (subtest FailuresLoggedRateLimited);
//   - once Redis is back, limiting resumes by itself: a fresh client of a
//     tier of 5 is admitted exactly 5 times, then refused.
func redisOutage(t *testing.T, failure string, fail, heal func(*testenv.RedisServer)) {
	rs := testenv.StartRedis(t)
	vars := env(database(t), rs.URL())
	vars["QUOTA_REDIS_FAILURE"] = failure
	q := startQuotad(t, vars)
	createTier(t, q, "small", 5)
	for _, sub := range []string{"before", "after"} {
		assign(t, q, sub, "small")
	}
	expectExact(t, q, "before", "small", 5, 0)
	failuresBefore := metric(t, q, "quotad_store_failures_total")

	fail(rs)

	// Clients that have never been refused (the free tier's 300 is far
	// away), so every decision needs Redis: an over-limit key would be
	// refused from memory, correctly, without asking it.
	const workers, each = 4, 15
	type result struct {
		r   response
		err error
	}
	results := make(chan result, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		c := user(t, fmt.Sprintf("during-%d", w))
		wg.Go(func() {
			for range each {
				r, err := c.try(http.MethodGet, q.URL+"/rate-limited", nil)
				results <- result{r, err}
			}
		})
	}
	wg.Wait()
	close(results)
	for res := range results {
		r := res.r
		switch {
		case res.err != nil:
			t.Errorf("request while Redis is down: %v", res.err)
			continue
		case r.Took > bound:
			t.Errorf("request while Redis is down took %v; want at most %v", r.Took, bound)
		}
		if failure == "closed" {
			if r.Code != http.StatusServiceUnavailable || r.errorCode() != api.CodeUnavailable {
				t.Errorf("fail-closed request while Redis is down: %v; want 503 unavailable", r)
			}
			continue
		}
		if r.Code != http.StatusOK || r.Header.Get(quota.HeaderDegraded) != "1" {
			t.Errorf("fail-open request while Redis is down: %v, %s %q; want 200 with %[2]s: 1",
				r, quota.HeaderDegraded, r.Header.Get(quota.HeaderDegraded))
		}
		for _, h := range rateLimitHeaders {
			if v := r.Header.Get(h); v != "" {
				t.Errorf("degraded response carries %s: %q", h, v)
			}
		}
	}

	r, checks := readiness(t, q)
	if r.Code != http.StatusServiceUnavailable || checks["redis"] != "unavailable" || checks["postgres"] != "ok" {
		t.Errorf("/readyz while Redis is down: %v; want 503 with redis unavailable, postgres ok", r)
	}
	if r.Took > readyBound {
		t.Errorf("/readyz took %v; want at most %v", r.Took, readyBound)
	}
	if got := metric(t, q, "quotad_store_failures_total") - failuresBefore; got < workers*each {
		t.Errorf("quotad_store_failures_total grew by %v over %d failed decisions", got, workers*each)
	}
	t.Run("FailuresLoggedRateLimited", func(t *testing.T) {
		// A handful of lines for 60 failures, not one each (the access log
		// aside, which has a line per request by design).
		requests := workers * each
		if n := len(q.logLines("rate limiter store failed")); n < 1 || n*10 > requests {
			t.Errorf("%d 'rate limiter store failed' log lines for %d failed decisions; want at least 1 and at most %d",
				n, requests, requests/10)
		}
		if n := len(q.logLines("request failed")); n*10 > requests {
			t.Errorf("%d 'request failed' error log lines for %d failed decisions: the store failure is logged "+
				"once per request, not rate-limited", n, requests)
		}
	})

	heal(rs)
	waitLimiting(t, q)
	waitReady(t, q, 10*time.Second)
	expectExact(t, q, "after", "small", 5, 0)
}

// waitLimiting polls until a request is decided by Redis again (it
// carries rate-limit headers): after a failure the limiter's breaker waits
// out its cool-off before it probes Redis.
func waitLimiting(tb testing.TB, q *quotad) {
	tb.Helper()
	c := user(tb, "probe")
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := c.get(tb, q.URL+"/rate-limited")
		if r.Code == http.StatusOK && r.Header.Get(quota.HeaderLimit) != "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("limiting did not resume within 15s: %v", r)
		}
		time.Sleep(50 * time.Millisecond) // poll: the breaker gives no signal
	}
}
