package main

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// With 8 workers racing a 5-per-second limiter, the client's per-window
// report must be exactly what the server counted, and never above the limit.
func TestRun_AdmittedPerWindowMatchesServer(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, serverConfig{limit: 5})

	got := runJSON(t, testContext(t), nil, "-url", srv.url, "-n", "40", "-concurrency", "8", "-wait=false")

	want := srv.truth()
	if got.Sent != 40 || got.Admitted+got.Limited != 40 {
		t.Fatalf("sent=%d admitted=%d limited=%d; want 40 = admitted+limited", got.Sent, got.Admitted, got.Limited)
	}
	if got.Admitted != want.admitted || got.Limited != want.limited || got.Errors != 0 {
		t.Errorf("client admitted=%d limited=%d errors=%d; server admitted=%d limited=%d",
			got.Admitted, got.Limited, got.Errors, want.admitted, want.limited)
	}
	perWindow, limitedPerWindow := map[int64]int{}, map[int64]int{}
	for _, w := range got.Windows {
		if w.Admitted > 5 {
			t.Errorf("window %s admitted %d, above the limit of 5", w.Reset, w.Admitted)
		}
		if w.Limit != 5 {
			t.Errorf("window %s limit = %d, want 5", w.Reset, w.Limit)
		}
		if ts, err := time.Parse(time.RFC3339, w.Reset); err != nil || ts.Unix() != w.ResetUnix {
			t.Errorf("window reset %q does not match reset_unix %d (%v)", w.Reset, w.ResetUnix, err)
		}
		if w.Limited > 0 && w.Admitted != 5 {
			t.Errorf("window %s refused %d with only %d admitted; want 5 admitted first", w.Reset, w.Limited, w.Admitted)
		}
		if w.Admitted > 0 {
			perWindow[w.ResetUnix] = w.Admitted
		}
		if w.Limited > 0 {
			limitedPerWindow[w.ResetUnix] = w.Limited
		}
	}
	if !maps.Equal(perWindow, want.perWindow) {
		t.Errorf("admitted per window: client %v, server %v", perWindow, want.perWindow)
	}
	if !maps.Equal(limitedPerWindow, want.limitedPerWindow) {
		t.Errorf("limited per window: client %v, server %v", limitedPerWindow, want.limitedPerWindow)
	}
	if got.LatencyMS.Count != 40 || got.LatencyMS.Max < got.LatencyMS.P50 {
		t.Errorf("latency = %+v; want 40 responses with max ≥ p50", got.LatencyMS)
	}
}

// After a 429 with Retry-After: 1 the next request reaches the server at
// least a second later (server-side timestamps, so no test sleeps), and
// without -wait it does not.
func TestRun_RetryAfter(t *testing.T) {
	t.Parallel()
	for _, wait := range []bool{true, false} {
		t.Run("wait="+strconv.FormatBool(wait), func(t *testing.T) {
			t.Parallel()
			srv := newTestServer(t, serverConfig{script: refuseNth(3), retryAfter: "1"})

			got := runJSON(t, testContext(t), nil, "-url", srv.url, "-n", "5", "-wait="+strconv.FormatBool(wait))

			if got.Sent != 5 || got.Limited != 1 {
				t.Fatalf("sent=%d limited=%d; want 5 and 1", got.Sent, got.Limited)
			}
			hits := srv.record()
			gap := hits[3].at.Sub(hits[2].at)
			if wait && gap < time.Second {
				t.Errorf("request after the 429 came %s later; want ≥ 1s (Retry-After)", gap)
			}
			// One worker, no pacing: only a Retry-After wait could make it
			// anywhere near a second.
			if !wait && gap >= 900*time.Millisecond {
				t.Errorf("with -wait=false the request after the 429 came %s later; want no pause", gap)
			}
		})
	}
}

// A pause longer than what is left of -duration ends the run at the
// deadline instead of sleeping through Retry-After.
func TestRun_RetryAfterCappedByDuration(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, serverConfig{script: func(int) int { return http.StatusTooManyRequests }, retryAfter: "60"})

	got := runJSON(t, testContext(t), nil, "-url", srv.url, "-duration", "300ms")

	if got.Sent != 1 || got.Limited != 1 {
		t.Errorf("sent=%d limited=%d; want one request, then a pause to the end", got.Sent, got.Limited)
	}
	if got.ElapsedSeconds < 0.3 || got.ElapsedSeconds > 10 {
		t.Errorf("elapsed %.3fs; want the 300ms duration, not the 60s Retry-After", got.ElapsedSeconds)
	}
}

// -rpm paces all workers together: 5 requests at 600/min are 4 gaps of
// 100ms whatever the concurrency (per-worker pacing would take ~100ms).
func TestRun_RPMIsGlobal(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, serverConfig{})

	got := runJSON(t, testContext(t), nil, "-url", srv.url, "-n", "5", "-rpm", "600", "-concurrency", "4")

	if got.Sent != 5 || got.Admitted != 5 {
		t.Fatalf("sent=%d admitted=%d; want 5", got.Sent, got.Admitted)
	}
	if got.ElapsedSeconds < 0.4 {
		t.Errorf("elapsed %.3fs; want ≥ 0.4s for 5 requests at 600/min", got.ElapsedSeconds)
	}
	if len(srv.record()) != 5 {
		t.Errorf("server saw %d requests, want 5", len(srv.record()))
	}
}

// Non-2xx, non-429 statuses and transport failures are errors, by kind.
func TestRun_Errors(t *testing.T) {
	t.Parallel()
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		srv := newTestServer(t, serverConfig{script: func(n int) int {
			if n == 2 {
				return http.StatusServiceUnavailable
			}
			return 0
		}})
		got := runJSON(t, testContext(t), nil, "-url", srv.url, "-n", "3")
		if got.Errors != 1 || got.ErrorsByKind["HTTP 503"] != 1 || got.Admitted != 2 {
			t.Errorf("errors=%d by kind %v admitted=%d; want one HTTP 503 and 2 admitted", got.Errors, got.ErrorsByKind, got.Admitted)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		srv := newTestServer(t, serverConfig{script: func(int) int { return hangStatus }})
		stdout, _, err := runClient(t, testContext(t), nil, "-quiet", "-json", "-url", srv.url, "-n", "2", "-timeout", "50ms")
		if err == nil {
			t.Fatal("run succeeded; want an error when no request got a response")
		}
		if want := `"timeout": 2`; !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %s:\n%s", want, stdout)
		}
	})
}

// Ctrl-C ends an unbounded run early and still prints the summary.
func TestRun_InterruptPrintsSummary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(testContext(t))
	tenth := make(chan struct{})
	srv := newTestServer(t, serverConfig{onHit: func(n int) {
		if n == 10 {
			close(tenth)
		}
	}})
	go func() { <-tenth; cancel() }()

	got := runJSON(t, ctx, nil, "-url", srv.url, "-concurrency", "2")

	if got.Sent < 10 || got.Sent != got.Admitted+got.Aborted {
		t.Errorf("sent=%d admitted=%d aborted=%d; want ≥ 10, all admitted or aborted", got.Sent, got.Admitted, got.Aborted)
	}
}

// refuseNth scripts a 429 for the n-th request only.
func refuseNth(n int) func(int) int {
	return func(i int) int {
		if i == n {
			return http.StatusTooManyRequests
		}
		return 0
	}
}
