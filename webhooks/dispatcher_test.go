package webhooks

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2031, 3, 20, 12, 0, 0, 0, time.UTC)

// TestDispatcher_RetriesUntilDelivered: a receiver that answers 500 twice
// then 200 gets the event three times, with the same id and body and a
// valid signature each time, the first retry within 30 s.
func TestDispatcher_RetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	clk := newClock(t0)
	rc := newReceiver(t, clk.Now, func(_ string, n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ev := testEvent("alice", 80, t0)
	enqueue(t, pool, ev)
	_, attempts := startDispatcher(t, pool, Config{URL: rc.URL, Secret: testSecret}, clk)

	next(t, attempts)
	r := readRow(t, pool, ev.ID())
	if r.attempts != 1 || deref(r.lastStatus) != 500 || r.deliveredAt != nil ||
		!r.nextAttempt.After(t0) || r.nextAttempt.After(t0.Add(30*time.Second)) {
		t.Fatalf("after a 500: %v; want 1 attempt, status 500, next attempt within 30 s", r)
	}
	firstWait := r.nextAttempt.Sub(t0)
	clk.Set(r.nextAttempt)
	next(t, attempts)
	r = readRow(t, pool, ev.ID())
	if r.attempts != 2 || r.deliveredAt != nil || r.nextAttempt.Sub(clk.Now()) <= firstWait {
		t.Fatalf("after a second 500: %v; want 2 attempts and a longer wait than %v", r, firstWait)
	}
	clk.Set(r.nextAttempt)
	next(t, attempts)
	r = readRow(t, pool, ev.ID())
	if r.attempts != 3 || deref(r.lastStatus) != 200 || r.lastError != nil || r.deliveredAt == nil || !r.deliveredAt.Equal(clk.Now()) {
		t.Fatalf("after a 200: %v; want delivered on attempt 3", r)
	}

	got := rc.deliveries()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests; want 3", len(got))
	}
	want, _ := ev.body()
	for i, d := range got {
		if d.id != ev.ID() || !bytes.Equal(d.body, want) || d.contentType != "application/json" || d.verified != nil {
			t.Errorf("request %d: id %q, body %s, type %q, signature %v; want %q, %s, application/json, valid",
				i+1, d.id, d.body, d.contentType, d.verified, ev.ID(), want)
		}
	}
}

// TestDispatcher_GivesUpAfterADay: an event that always fails is retried
// with growing waits and marked failed only by an attempt 24 h or more
// after its creation.
func TestDispatcher_GivesUpAfterADay(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	clk := newClock(t0)
	rc := newReceiver(t, clk.Now, always(http.StatusServiceUnavailable))
	ev := testEvent("alice", 100, t0)
	enqueue(t, pool, ev)
	_, attempts := startDispatcher(t, pool, Config{URL: rc.URL, Secret: testSecret}, clk)

	var waits []time.Duration
	var r row
	for n := 1; ; n++ {
		if n > 100 {
			t.Fatalf("still retrying after 100 attempts: %v", r)
		}
		next(t, attempts)
		if r = readRow(t, pool, ev.ID()); r.failedAt != nil {
			break
		}
		if r.attempts != n {
			t.Fatalf("attempt %d stored as %v", n, r)
		}
		waits = append(waits, r.nextAttempt.Sub(clk.Now()))
		clk.Set(r.nextAttempt)
	}
	if r.failedAt.Sub(t0) < 24*time.Hour || r.deliveredAt != nil || deref(r.lastStatus) != 503 {
		t.Errorf("gave up: %v, %v after creation; want failed, status 503, at 24 h or later", r, r.failedAt.Sub(t0))
	}
	if got := len(rc.deliveries()); got != r.attempts {
		t.Errorf("receiver got %d requests; the row counts %d attempts", got, r.attempts)
	}
	if waits[0] > 30*time.Second {
		t.Errorf("first retry after %v; want 30 s at most", waits[0])
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] > maxBackoff || (waits[i-1] < maxBackoff/4 && waits[i] <= waits[i-1]) {
			t.Errorf("wait %d is %v after %v; want growth up to the %v cap", i+1, waits[i], waits[i-1], maxBackoff)
		}
	}
	// The event is no longer due.
	clk.Set(t0.Add(100 * 24 * time.Hour))
	d, _ := NewDispatcher(pool, Config{URL: rc.URL, Secret: testSecret})
	d.now = clk.Now
	if evs, err := d.claim(context.Background(), 10); err != nil || len(evs) != 0 {
		t.Errorf("claim after failure: %d events, %v; want none", len(evs), err)
	}
}

// TestDispatcher_OutboxSurvivesRestart: events enqueued while no
// dispatcher runs, and an event claimed by a dispatcher that then died, are
// delivered by a dispatcher started later (the claimed one once its lease
// has run out).
func TestDispatcher_OutboxSurvivesRestart(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	clk := newClock(t0)
	rc := newReceiver(t, clk.Now, always(http.StatusNoContent))
	crashed := testEvent("alice", 80, t0.Add(-time.Minute))
	enqueue(t, pool, crashed)
	dead, err := NewDispatcher(pool, Config{URL: rc.URL, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	dead.now = clk.Now
	if evs, err := dead.claim(context.Background(), 10); err != nil || len(evs) != 1 {
		t.Fatalf("claim: %d events, %v; want 1", len(evs), err)
	}
	waiting := []Event{testEvent("bob", 80, t0), testEvent("carol", 100, t0)}
	enqueue(t, pool, waiting...)

	d, attempts := startDispatcher(t, pool, Config{URL: rc.URL, Secret: testSecret}, clk)
	for range waiting {
		if id := next(t, attempts); id == crashed.ID() {
			t.Fatal("the crashed claim was retried before its lease ran out")
		}
	}
	clk.Set(t0.Add(d.lease))
	if id := next(t, attempts); id != crashed.ID() {
		t.Fatalf("attempt at %s; want the crashed claim's event", id)
	}
	for _, ev := range append(waiting, crashed) {
		if r := readRow(t, pool, ev.ID()); r.deliveredAt == nil || r.attempts != 1 {
			t.Errorf("%s: %v; want delivered at the first attempt", ev.Client, r)
		}
	}
}

// TestDispatcher_SeveralInstancesShareTheOutbox: three dispatchers on one
// database deliver 50 events, each exactly once.
func TestDispatcher_SeveralInstancesShareTheOutbox(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	rc := newReceiver(t, time.Now, always(http.StatusOK))
	var evs []Event
	for i := range 25 {
		c := "client-" + string(rune('a'+i))
		evs = append(evs, testEvent(c, 80, time.Now()), testEvent(c, 100, time.Now()))
	}
	enqueue(t, pool, evs...)
	attempts := make(chan string, 1000)
	for range 3 {
		d, err := NewDispatcher(pool, Config{URL: rc.URL, Secret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		run(t, d, nil, attempts)
	}
	for range evs {
		next(t, attempts)
	}
	perID := map[string]int{}
	for _, d := range rc.deliveries() {
		perID[d.id]++
		if d.verified != nil {
			t.Errorf("%s: %v", d.id, d.verified)
		}
	}
	for _, ev := range evs {
		if perID[ev.ID()] != 1 {
			t.Errorf("%s/%d delivered %d times; want once", ev.Client, ev.Threshold, perID[ev.ID()])
		}
	}
	var delivered int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE delivered_at IS NOT NULL`).Scan(&delivered); err != nil || delivered != len(evs) {
		t.Errorf("%d delivered (%v); want %d", delivered, err, len(evs))
	}
}

// TestDispatcher_HangingReceiverTimesOut: a receiver that never answers one
// event costs that event an attempt after Timeout; the others go out
// meanwhile.
func TestDispatcher_HangingReceiverTimesOut(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	stuck := testEvent("stuck", 80, time.Now().Add(-time.Minute))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rc := newReceiver(t, time.Now, func(id string, _ int, r *http.Request) int {
		if id == stuck.ID() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
		return http.StatusOK
	})
	others := []Event{testEvent("a", 80, time.Now()), testEvent("b", 80, time.Now()), testEvent("c", 80, time.Now())}
	enqueue(t, pool, append([]Event{stuck}, others...)...)
	m := NewMetrics(pool)
	_, attempts := startDispatcher(t, pool, Config{URL: rc.URL, Secret: testSecret, Timeout: 2 * time.Second,
		Concurrency: 2, Metrics: m}, nil)

	delivered := 0
	for delivered < len(others) {
		if id := next(t, attempts); id == stuck.ID() {
			t.Fatal("the stuck event's attempt ended before the others were delivered")
		}
		delivered++
	}
	if id := next(t, attempts); id != stuck.ID() {
		t.Fatalf("attempt at %s; want the stuck event's", id)
	}
	r := readRow(t, pool, stuck.ID())
	if r.attempts != 1 || r.lastStatus != nil || r.deliveredAt != nil || r.lastError == nil ||
		!strings.Contains(*r.lastError, "deadline exceeded") {
		t.Errorf("stuck event: %v; want one attempt ended by the deadline", r)
	}
	if got := counter(t, m, "timeout"); got != 1 {
		t.Errorf("timeout attempts counted %v; want 1", got)
	}
	if got := counter(t, m, "delivered"); got != float64(len(others)) {
		t.Errorf("delivered attempts counted %v; want %d", got, len(others))
	}
}
