package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// TestSIGTERMUnderLoad: 16 keep-alive clients hammer quotad; SIGTERM
// arrives mid-load. What is asserted, and why:
//
//   - every request that got a response got 200 or 429: shutting down
//     never shows a client a 5xx;
//   - no request failed before the signal;
//   - after the signal, failures are expected only on connections the
//     server never accepted. The listener is closed at once, so new dials
//     are refused, and connections still in the kernel's accept queue when
//     it closes are reset (EOF or "connection reset" on a fresh
//     connection): quotad never read those requests. A request written
//     onto a keep-alive connection the server closed as idle was never
//     read either, and Go's client retries it (a GET) on a new connection,
//     which ends as one of the two above. A request that fails on a
//     reused, kept-alive connection is one the server was serving and
//     dropped: that fails the test (http.Server.Shutdown lets in-flight
//     requests finish, then closes their connections);
//   - the limiter stayed exact: what the load had admitted, plus what a
//     fresh instance on the same Redis admits afterwards until its first
//     refusal, is exactly the tier's limit. The fresh instance makes the
//     check run whether or not the load reached the limit before the
//     signal, and it also catches a request counted in Redis whose answer
//     the shutdown lost (the total falls short);
//   - the process exits 0 within QUOTA_SHUTDOWN_TIMEOUT (plus a margin
//     for closing its pools).
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		workers         = 16
		limit           = 300
		shutdownTimeout = 5 * time.Second
	)
	rs := testenv.StartRedis(t)
	db := database(t)
	vars := env(db, rs.URL())
	vars["QUOTA_SHUTDOWN_TIMEOUT"] = shutdownTimeout.String()
	q := startQuotad(t, vars)
	createTier(t, q, "load", limit)
	assign(t, q, "hungry", "load")

	transport := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer transport.CloseIdleConnections()
	c := user(t, "hungry")
	c.http = &http.Client{Transport: transport, Timeout: 30 * time.Second}

	var (
		sigSent                  atomic.Bool
		exited                   = make(chan struct{})
		admitted, limited, other atomic.Int64
		inFlight                 atomic.Int64 // sent before SIGTERM, answered after
		refused, backlogReset    atomic.Int64
		mu                       sync.Mutex
		failures                 []string
		wg                       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-exited:
					return
				default:
				}
				sentBefore := !sigSent.Load()
				var reused bool // of the last connection the request tried
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
				})
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, q.URL+"/rate-limited", nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := c.http.Do(req)
				if err != nil {
					switch {
					case !sigSent.Load():
						fail("request before SIGTERM: %v", err)
					case isDialError(err):
						refused.Add(1)
					case !reused:
						backlogReset.Add(1)
					default:
						fail("request on a kept-alive connection dropped after SIGTERM: %v", err)
					}
					continue
				}
				resp.Body.Close()
				if sentBefore && sigSent.Load() {
					inFlight.Add(1)
				}
				switch resp.StatusCode {
				case http.StatusOK:
					admitted.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
					fail("status %d", resp.StatusCode)
				}
			}
		})
	}

	// Mid-load: after two thirds of the limit's worth of answers, while
	// it still has room, so that the requests in flight at the signal are
	// decisions Redis makes (counted there before they are answered) and
	// not refusals from an instance's memory.
	loadStart := time.Now()
	for admitted.Load()+limited.Load() < limit*2/3 {
		if time.Since(loadStart) > 30*time.Second {
			t.Fatalf("load did not get going: %d answers in 30s", admitted.Load()+limited.Load())
		}
		time.Sleep(10 * time.Millisecond) // poll the counters
	}
	sigSent.Store(true)
	signalled := time.Now()
	q.signal(syscall.SIGTERM)
	code := q.waitExit(shutdownTimeout + 10*time.Second)
	took := time.Since(signalled)
	close(exited)
	wg.Wait()

	if code != 0 {
		t.Errorf("exit status %d after SIGTERM; want 0", code)
	}
	if took > shutdownTimeout+3*time.Second {
		t.Errorf("exited %v after SIGTERM; want within QUOTA_SHUTDOWN_TIMEOUT=%v (+3s)", took, shutdownTimeout)
	}
	for i, f := range failures {
		if i == 10 {
			t.Errorf("… and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}
	after := admitUntilRefused(t, startQuotad(t, env(db, rs.URL())), c.token, limit)
	if got := admitted.Load() + after; got != limit {
		t.Errorf("%d admitted under load (%d limited), %d more by a fresh instance until its first refusal: "+
			"want exactly the limit of %d in all", admitted.Load(), limited.Load(), after, limit)
	}
	draining, stopped := q.logLines("shutting down; draining in-flight requests"), q.logLines("stopped")
	if len(draining) != 1 || len(stopped) != 1 {
		t.Fatalf("want one 'shutting down' and one 'stopped' line in the log:\n%s", tail(q.stdout.String(), 20))
	}
	from, _ := time.Parse(time.RFC3339Nano, draining[0]["time"].(string))
	to, _ := time.Parse(time.RFC3339Nano, stopped[0]["time"].(string))
	t.Logf("drained in %v", to.Sub(from).Round(time.Millisecond))
	t.Logf("%d admitted, %d limited, %d other; %d in flight at SIGTERM and answered; after it %d dials refused, "+
		"%d fresh connections reset; exit %d after %v; then %d admitted by a fresh instance", admitted.Load(), limited.Load(),
		other.Load(), inFlight.Load(), refused.Load(), backlogReset.Load(), code, took.Round(time.Millisecond), after)
}

// admitUntilRefused sends token's requests to q one at a time until one is
// refused and returns how many were admitted; more than limit fails the
// test, since a refusal should have come by then.
func admitUntilRefused(tb testing.TB, q *quotad, token string, limit int64) int64 {
	tb.Helper()
	c := client{token: token, http: httpClient}
	var n int64
	for {
		r := c.get(tb, q.URL+"/rate-limited")
		switch {
		case r.Code == http.StatusTooManyRequests:
			return n
		case r.Code != http.StatusOK || r.Header.Get(quota.HeaderDegraded) != "":
			tb.Fatalf("request %d to the fresh instance: %v (%s %q); want 200 or 429, decided",
				n+1, r, quota.HeaderDegraded, r.Header.Get(quota.HeaderDegraded))
		}
		if n++; n > limit {
			tb.Fatalf("a fresh instance admitted %d requests without a refusal; the limit is %d", n, limit)
		}
	}
}
