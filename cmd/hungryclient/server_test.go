package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// hangStatus makes the test server hold a request until the client gives up.
const hangStatus = -1

// serverConfig shapes a testServer.
type serverConfig struct {
	// limit > 0 runs an exact fixed-window limiter: limit admissions per
	// one-second window aligned to Unix seconds.
	limit int
	// script, when set, may force a status for the n-th request (1-based,
	// in arrival order); 0 leaves it to the limiter (or 200).
	script func(n int) int
	// retryAfter is sent with scripted 429s; default "1".
	retryAfter string
	// onHit is called, outside the lock, after the n-th request is decided.
	onHit func(n int)
}

// hit is the server's own record of one request: its truth, which tests
// compare the client's report against.
type hit struct {
	at     time.Time
	status int
	reset  int64
	auth   string
}

// testServer is an in-process stand-in for quotad's limited route.
type testServer struct {
	url string
	cfg serverConfig

	mu     sync.Mutex
	window int64 // reset of the current window
	count  int   // admissions in it
	hits   []hit
}

func newTestServer(tb testing.TB, cfg serverConfig) *testServer {
	tb.Helper()
	s := &testServer{cfg: cfg}
	srv := httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(srv.Close)
	s.url = srv.URL + "/rate-limited"
	return s
}

func (s *testServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the clock under the lock so arrival order and timestamps agree.
	s.mu.Lock()
	now := time.Now()
	reset := now.Unix() + 1 // windows are [k, k+1) Unix seconds
	n := len(s.hits) + 1
	status := 0
	if s.cfg.script != nil {
		status = s.cfg.script(n)
	}
	if reset != s.window {
		s.window, s.count = reset, 0
	}
	retryAfter := s.cfg.retryAfter
	switch {
	case status != 0:
	case s.cfg.limit > 0 && s.count >= s.cfg.limit:
		status = http.StatusTooManyRequests
		retryAfter = strconv.FormatInt(reset-now.Unix(), 10)
	default:
		status = http.StatusOK
		s.count++
	}
	remaining := 0
	if s.cfg.limit > 0 {
		remaining = s.cfg.limit - s.count
	}
	s.hits = append(s.hits, hit{at: now, status: status, reset: reset, auth: r.Header.Get("Authorization")})
	s.mu.Unlock()
	if s.cfg.onHit != nil {
		s.cfg.onHit(n)
	}

	if status == hangStatus {
		<-r.Context().Done()
		return
	}
	if s.cfg.limit > 0 {
		w.Header().Set(headerLimit, strconv.Itoa(s.cfg.limit))
		w.Header().Set(headerRemaining, strconv.Itoa(remaining))
	}
	w.Header().Set(headerReset, strconv.FormatInt(reset, 10))
	if status == http.StatusTooManyRequests {
		w.Header().Set(headerRetryAfter, cmp.Or(retryAfter, "1"))
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"response":"This is a rate limited response"}`))
}

// record returns a copy of the server's log.
func (s *testServer) record() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

// truth is what the server itself counted.
type truth struct {
	admitted, limited, other int
	perWindow                map[int64]int // reset → admitted
	limitedPerWindow         map[int64]int // reset → limited
}

func (s *testServer) truth() truth {
	t := truth{perWindow: map[int64]int{}, limitedPerWindow: map[int64]int{}}
	for _, h := range s.record() {
		switch {
		case h.status == http.StatusOK:
			t.admitted++
			t.perWindow[h.reset]++
		case h.status == http.StatusTooManyRequests:
			t.limited++
			t.limitedPerWindow[h.reset]++
		default:
			t.other++
		}
	}
	return t
}

// runClient calls run as main would, with env as the whole environment.
func runClient(tb testing.TB, ctx context.Context, env map[string]string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err = run(ctx, append([]string{"hungryclient"}, args...), getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

// runJSON runs the client with -json -quiet and decodes its summary.
func runJSON(tb testing.TB, ctx context.Context, env map[string]string, args ...string) summaryJSON {
	tb.Helper()
	stdout, stderr, err := runClient(tb, ctx, env, append([]string{"-json", "-quiet"}, args...)...)
	if err != nil {
		tb.Fatalf("run: %v\nstderr: %s", err, stderr)
	}
	var s summaryJSON
	dec := json.NewDecoder(bytes.NewReader([]byte(stdout)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		tb.Fatalf("summary is not JSON: %v\n%s", err, stdout)
	}
	return s
}

// testContext bounds a test so a hung client fails it instead of the suite.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
