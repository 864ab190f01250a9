package webhooks

import (
	"context"
	"encoding/json"
	"regexp"
	"sync"
	"testing"
	"time"
)

// TestEvent_IDAndBody: the id depends on client, window start and threshold
// only, and the body carries SPEC.md's fields in RFC 3339 UTC.
func TestEvent_IDAndBody(t *testing.T) {
	t.Parallel()
	created := time.Date(2031, 3, 20, 14, 30, 0, 0, time.FixedZone("CET", 3600))
	e := testEvent("alice", 80, created)
	if !regexp.MustCompile(`^evt_[0-9a-f]{32}$`).MatchString(e.ID()) {
		t.Errorf("ID %q is not evt_ and 32 hex digits", e.ID())
	}
	same := e
	same.Used, same.Tier, same.CreatedAt = 999, "other", created.Add(time.Hour)
	if same.ID() != e.ID() {
		t.Error("the id changed with usage, tier or creation time")
	}
	for _, other := range []Event{testEvent("bob", 80, created), testEvent("alice", 100, created)} {
		if other.ID() == e.ID() {
			t.Errorf("%s/%d has alice/80's id", other.Client, other.Threshold)
		}
	}
	later := e
	later.WindowStart = e.WindowEnd
	if later.ID() == e.ID() {
		t.Error("the next window has the same id")
	}

	b, err := e.body()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + e.ID() + `","type":"quota.threshold","client":"alice","tier":"pro","policy":"pro:month",` +
		`"threshold":80,"used":800,"limit":1000,"window_start":"2031-03-01T00:00:00Z",` +
		`"window_end":"2031-04-01T00:00:00Z","created_at":"2031-03-20T13:30:00Z"}`
	if string(b) != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
}

// TestEnqueue_OneRowPerEvent: enqueueing again, or with a duplicate in the
// same call, adds nothing; an invalid event makes the call insert nothing.
func TestEnqueue_OneRowPerEvent(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	ctx := context.Background()
	now := time.Now()
	a, b := testEvent("alice", 80, now), testEvent("alice", 100, now)
	if n, err := Enqueue(ctx, pool, []Event{a, b, a}); err != nil || n != 2 {
		t.Fatalf("first Enqueue: %d, %v; want 2", n, err)
	}
	a.Used = 900
	if n, err := Enqueue(ctx, pool, []Event{a, b}); err != nil || n != 0 {
		t.Fatalf("second Enqueue: %d, %v; want 0", n, err)
	}
	var body string
	if err := pool.QueryRow(ctx, `SELECT body FROM webhook_events WHERE id = $1`, a.ID()).Scan(&body); err != nil {
		t.Fatal(err)
	}
	var p payload
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Used != 800 {
		t.Errorf("stored body %s (%v); want the first enqueue's, used 800", body, err)
	}
	for name, bad := range map[string]Event{
		"threshold 90": testEvent("carol", 90, now),
		"no client":    testEvent("", 80, now),
		"no window":    {Client: "carol", Threshold: 80},
	} {
		if n, err := Enqueue(ctx, pool, []Event{testEvent("dave", 80, now), bad}); err == nil || n != 0 {
			t.Errorf("%s: Enqueue = %d, %v; want an error", name, n, err)
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events`).Scan(&rows); err != nil || rows != 2 {
		t.Errorf("%d rows (%v); want 2", rows, err)
	}
}

// TestEnqueue_ConcurrentTransactions: three transactions enqueueing the
// same events at once leave one row per event, and the inserts they
// report add up to that.
func TestEnqueue_ConcurrentTransactions(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	ctx := context.Background()
	now := time.Now()
	var evs []Event
	for _, c := range []string{"a", "b", "c", "d", "e"} {
		evs = append(evs, testEvent(c, 80, now), testEvent(c, 100, now))
	}
	var mu sync.Mutex
	total := 0
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			<-start
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer tx.Rollback(ctx)
			n, err := Enqueue(ctx, tx, evs)
			if err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(evs) || total != len(evs) {
		t.Errorf("%d rows, %d reported inserted; want %d each", rows, total, len(evs))
	}
}
