package webhooks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/internal/testdb"
)

var testSecret = []byte("webhook-test-secret-of-32-bytes!!")

// newTestPool returns a pool on a migrated database of this test alone.
func newTestPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	return testdb.Pool(tb)
}

// clock is a time tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testEvent returns the event of client's month window starting in
// March 2031 reaching threshold, created at created.
func testEvent(client string, threshold int, created time.Time) Event {
	start := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	return Event{
		Client: client, Tier: "pro", Policy: "pro:month", Threshold: threshold,
		Used: int64(threshold) * 10, Limit: 1000,
		WindowStart: start, WindowEnd: start.AddDate(0, 1, 0), CreatedAt: created,
	}
}

func enqueue(tb testing.TB, pool *pgxpool.Pool, evs ...Event) {
	tb.Helper()
	n, err := Enqueue(context.Background(), pool, evs)
	if err != nil || n != len(evs) {
		tb.Fatalf("Enqueue: %d, %v; want %d new", n, err, len(evs))
	}
}

// delivery is one request a receiver got.
type delivery struct {
	id, signature, contentType string
	body                       []byte
	verified                   error
}

// receiver records every request and answers with respond's status for
// the n-th request (from 1) of event id. Each signature is verified
// against now() at the time the request arrives.
type receiver struct {
	*httptest.Server
	now     func() time.Time
	respond func(id string, n int, r *http.Request) int
	mu      sync.Mutex
	got     []delivery
}

func newReceiver(tb testing.TB, now func() time.Time, respond func(id string, n int, r *http.Request) int) *receiver {
	tb.Helper()
	rc := &receiver{now: now, respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivery{id: r.Header.Get(EventIDHeader), signature: r.Header.Get(SignatureHeader),
		contentType: r.Header.Get("Content-Type"), body: body}
	d.verified = Verify(testSecret, d.signature, body, time.Minute, rc.now())
	rc.mu.Lock()
	rc.got = append(rc.got, d)
	n := 0
	for _, g := range rc.got {
		if g.id == d.id {
			n++
		}
	}
	rc.mu.Unlock()
	w.WriteHeader(rc.respond(d.id, n, r))
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

func always(status int) func(string, int, *http.Request) int {
	return func(string, int, *http.Request) int { return status }
}

// startDispatcher runs a Dispatcher on pool until the test ends, polling
// often, on clk if not nil. Each stored attempt's event id arrives on the
// returned channel.
func startDispatcher(tb testing.TB, pool *pgxpool.Pool, cfg Config, clk *clock) (*Dispatcher, <-chan string) {
	tb.Helper()
	d, err := NewDispatcher(pool, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	attempts := make(chan string, 1000)
	run(tb, d, clk, attempts)
	return d, attempts
}

// run runs d until the test ends, as startDispatcher does, sending each
// stored attempt's event id to attempts.
func run(tb testing.TB, d *Dispatcher, clk *clock, attempts chan<- string) {
	tb.Helper()
	if clk != nil {
		d.now = clk.Now
	}
	d.poll = 10 * time.Millisecond
	d.attempted = func(id string) { attempts <- id }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}

// next waits for the next stored attempt and returns its event id.
func next(tb testing.TB, attempts <-chan string) string {
	tb.Helper()
	select {
	case id := <-attempts:
		return id
	case <-time.After(30 * time.Second):
		tb.Fatal("no attempt within 30s")
		return ""
	}
}

// row is an event's delivery state in the outbox.
type row struct {
	attempts              int
	lastStatus            *int
	lastError             *string
	created, nextAttempt  time.Time
	deliveredAt, failedAt *time.Time
}

func readRow(tb testing.TB, pool *pgxpool.Pool, id string) row {
	tb.Helper()
	var r row
	err := pool.QueryRow(context.Background(), `SELECT attempts, last_status, last_error, created_at,
		next_attempt_at, delivered_at, failed_at FROM webhook_events WHERE id = $1`, id).
		Scan(&r.attempts, &r.lastStatus, &r.lastError, &r.created, &r.nextAttempt, &r.deliveredAt, &r.failedAt)
	if err != nil {
		tb.Fatalf("read event %s: %v", id, err)
	}
	return r
}

func (r row) String() string {
	return fmt.Sprintf("{attempts %d status %v error %v next %v delivered %v failed %v}",
		r.attempts, deref(r.lastStatus), deref(r.lastError), r.nextAttempt, deref(r.deliveredAt), deref(r.failedAt))
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
