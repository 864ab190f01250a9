package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Header names the quotad limiter sets (SPEC, "Rate limiting semantics").
const (
	headerLimit      = "X-RateLimit-Limit"
	headerRemaining  = "X-RateLimit-Remaining"
	headerReset      = "X-RateLimit-Reset"
	headerRetryAfter = "Retry-After"
)

// maxBody caps how much of a response body is drained: draining lets the
// connection be reused, the cap keeps a huge body from stalling a worker.
const maxBody = 1 << 20

// Result is what one request produced. The summary is computed from Results
// alone, so tests can feed [Summarize] recorded or made-up runs.
type Result struct {
	// Status is the HTTP status code, or 0 when no response arrived.
	Status int
	// Latency runs from sending the request to reading the end of the body.
	Latency time.Duration
	// Err classifies a transport failure ("timeout", "connection refused",
	// …); empty when a response arrived.
	Err string
	// ErrDetail is the transport error's text, for the example the summary
	// shows (a DNS failure is easier to fix when you can read it).
	ErrDetail string
	// Aborted marks a request cut off by Ctrl-C: neither the server's fault
	// nor the limiter's, so it counts as sent and in no other bucket.
	Aborted bool
	// Reset is X-RateLimit-Reset (Unix seconds), which names the window the
	// server counted the request in; 0 when absent or malformed.
	Reset int64
	// Limit is X-RateLimit-Limit; 0 when absent or malformed.
	Limit int64
	// Remaining is X-RateLimit-Remaining; -1 when absent or malformed.
	Remaining int64
	// RetryAfter is how long a 429 asked us to wait; 0 otherwise.
	RetryAfter time.Duration
}

// loader runs the workers and records every Result.
type loader struct {
	cfg    config
	client *http.Client
	now    func() time.Time
	live   counters
	pace   *pacer
	issued atomic.Int64 // tickets handed out against -n

	mu      sync.Mutex
	results []Result
}

func newLoader(cfg config, now func() time.Time) *loader {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep one idle connection per worker; the default of 2 would make
	// every worker beyond the second dial a new connection each time and
	// measure TCP handshakes instead of the limiter.
	tr.MaxIdleConnsPerHost = cfg.concurrency
	var interval time.Duration
	if cfg.rpm > 0 {
		interval = time.Minute / time.Duration(cfg.rpm)
	}
	l := &loader{
		cfg:    cfg,
		client: &http.Client{Transport: tr},
		now:    now,
		pace:   &pacer{interval: interval, now: now, sleep: sleep},
	}
	l.live.remaining.Store(-1)
	if cfg.n > 0 {
		l.results = make([]Result, 0, min(cfg.n, 1<<20))
	}
	return l
}

// run sends requests until -n is reached, -duration has passed or ctx is
// cancelled, and returns everything recorded and how long it took.
func (l *loader) run(ctx context.Context, start time.Time) ([]Result, time.Duration) {
	var stopAt time.Time
	if l.cfg.duration > 0 {
		stopAt = start.Add(l.cfg.duration)
	}
	var wg sync.WaitGroup
	for range l.cfg.concurrency {
		wg.Go(func() { l.work(ctx, stopAt) })
	}
	wg.Wait()
	l.client.CloseIdleConnections()
	return l.results, l.now().Sub(start)
}

func (l *loader) work(ctx context.Context, stopAt time.Time) {
	for {
		// Take the ticket before waiting for a slot, so -n 40 sends exactly
		// 40 however many workers race for the last one.
		if l.cfg.n > 0 && l.issued.Add(1) > int64(l.cfg.n) {
			return
		}
		if !l.pace.acquire(ctx, stopAt) {
			return
		}
		l.live.sent.Add(1)
		r := l.do(ctx)
		l.record(r)
		if r.Status == http.StatusTooManyRequests && l.cfg.wait && r.RetryAfter > 0 {
			until := l.pace.pause(l.now().Add(r.RetryAfter))
			l.live.pausedUntil.Store(until.UnixNano())
		}
	}
}

// do sends one request. The per-request timeout derives from ctx, so Ctrl-C
// cuts requests off, while the end of -duration only stops new ones (the
// last requests of a timed run still count).
func (l *loader) do(ctx context.Context) Result {
	reqCtx, cancel := context.WithTimeout(ctx, l.cfg.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, l.cfg.url, nil)
	if err != nil { // the URL was validated; this is a programming error
		return Result{Err: "request", ErrDetail: err.Error(), Remaining: -1}
	}
	req.Header.Set("User-Agent", "quotad-hungryclient")
	if l.cfg.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.token)
	}

	start := l.now()
	resp, err := l.client.Do(req)
	if err != nil {
		r := Result{Latency: l.now().Sub(start), Remaining: -1}
		if ctx.Err() != nil {
			r.Aborted = true
		} else {
			r.Err, r.ErrDetail = classify(err), err.Error()
		}
		return r
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	got := l.now()

	r := Result{
		Status:    resp.StatusCode,
		Latency:   got.Sub(start),
		Reset:     headerInt(resp.Header, headerReset, 0),
		Limit:     headerInt(resp.Header, headerLimit, 0),
		Remaining: headerInt(resp.Header, headerRemaining, -1),
	}
	if r.Status == http.StatusTooManyRequests {
		r.RetryAfter = retryDelay(resp.Header, got)
	}
	return r
}

func (l *loader) record(r Result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()

	switch {
	case r.Aborted:
	case r.Status >= 200 && r.Status < 300:
		l.live.admitted.Add(1)
	case r.Status == http.StatusTooManyRequests:
		l.live.limited.Add(1)
	default:
		l.live.errors.Add(1)
	}
	if r.Remaining >= 0 {
		l.live.remaining.Store(r.Remaining)
	}
}

// classify names a transport failure coarsely, so a thousand "connection
// refused" errors with different source ports count as one kind.
func classify(err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "dns"
	default:
		return "transport"
	}
}

// headerInt parses an integer header, returning def when it is absent or
// malformed (a degraded, fail-open response carries no rate-limit headers).
func headerInt(h http.Header, name string, def int64) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
	if err != nil {
		return def
	}
	return v
}

// retryDelay reads Retry-After in either form RFC 9110 allows (seconds or
// an HTTP date). Without it, X-RateLimit-Reset still says when quota
// returns. Example: "Retry-After: 3" → 3s.
func retryDelay(h http.Header, now time.Time) time.Duration {
	const maxSecs = int64(24 * time.Hour / time.Second) // sane and far from overflow
	if v := strings.TrimSpace(h.Get(headerRetryAfter)); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return time.Duration(min(secs, maxSecs)) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if reset := headerInt(h, headerReset, 0); reset > 0 && reset-now.Unix() <= maxSecs {
		return max(time.Unix(reset, 0).Sub(now), 0)
	}
	return 0
}
