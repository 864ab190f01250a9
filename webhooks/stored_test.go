package webhooks

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// monthEvent is client's event of the month window starting month months
// after March 2031, created at created.
func monthEvent(client string, month int, created time.Time) Event {
	ev := testEvent(client, 80, created)
	ev.WindowStart = ev.WindowStart.AddDate(0, month, 0)
	ev.WindowEnd = ev.WindowStart.AddDate(0, 1, 0)
	ev.Used = int64(800 + month)
	return ev
}

// TestClientEvents: a client's events come newest first, each with the
// state the dispatcher left it in and only the times that state has;
// other clients' events are not listed, and limit cuts the list.
func TestClientEvents(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	ctx := context.Background()
	now := t0.Add(retryFor + 90*time.Second)
	clk := newClock(now)
	failed := monthEvent("alice", 0, t0)
	delivered := monthEvent("alice", 1, t0.Add(time.Minute))
	pending := monthEvent("alice", 2, t0.Add(2*time.Hour))
	// Not due until after now: never attempted.
	untried := monthEvent("alice", 3, now.Add(time.Hour))
	other := monthEvent("bob", 0, t0.Add(3*time.Hour))
	enqueue(t, pool, failed, delivered, pending, untried, other)

	rc := newReceiver(t, clk.Now, func(id string, _ int, _ *http.Request) int {
		if id == delivered.ID() {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	_, attempts := startDispatcher(t, pool, Config{URL: rc.URL, Secret: testSecret}, clk)
	for range 4 { // failed, delivered, pending and bob's
		next(t, attempts)
	}

	got, err := ClientEvents(ctx, pool, "alice", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ev     Event
		state  string
		tries  int
		status int
		errMsg string
	}{
		{untried, StatePending, 0, 0, ""},
		{pending, StatePending, 1, 500, "HTTP 500"},
		{delivered, StateDelivered, 1, 200, ""},
		{failed, StateFailed, 1, 500, "HTTP 500"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ev.ID() || g.Threshold != 80 || g.Policy != "pro:month" || g.Used != w.ev.Used || g.Limit != 1000 ||
			!g.WindowStart.Equal(w.ev.WindowStart) || !g.WindowEnd.Equal(w.ev.WindowEnd) || !g.CreatedAt.Equal(w.ev.CreatedAt) ||
			g.CreatedAt.Location() != time.UTC {
			t.Errorf("event %d: %+v, want the stored %+v", i, g, w.ev)
		}
		if g.State != w.state || g.Attempts != w.tries || g.LastStatus != w.status || g.LastError != w.errMsg {
			t.Errorf("event %d: state %q attempts %d status %d error %q, want %q %d %d %q",
				i, g.State, g.Attempts, g.LastStatus, g.LastError, w.state, w.tries, w.status, w.errMsg)
		}
		var wantDelivered, wantFailed bool
		switch w.state {
		case StateDelivered:
			wantDelivered = true
		case StateFailed:
			wantFailed = true
		}
		if g.DeliveredAt.Equal(now) != wantDelivered || g.FailedAt.Equal(now) != wantFailed ||
			g.NextAttemptAt.IsZero() != (w.state != StatePending) ||
			g.DeliveredAt.IsZero() == wantDelivered || g.FailedAt.IsZero() == wantFailed {
			t.Errorf("event %d (%s): delivered %v failed %v next %v; want only the %s time",
				i, w.state, g.DeliveredAt, g.FailedAt, g.NextAttemptAt, w.state)
		}
	}
	if !got[0].NextAttemptAt.Equal(untried.CreatedAt) || !got[1].NextAttemptAt.After(now) {
		t.Errorf("next attempts %v and %v; want %v (creation) and after %v", got[0].NextAttemptAt, got[1].NextAttemptAt, untried.CreatedAt, now)
	}

	two, err := ClientEvents(ctx, pool, "alice", 2)
	if err != nil || len(two) != 2 || two[0].ID != untried.ID() || two[1].ID != pending.ID() {
		t.Errorf("limit 2: %+v, %v; want the two newest", two, err)
	}
	none, err := ClientEvents(ctx, pool, "carol", 10)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("a client without events: %#v, %v; want an empty list", none, err)
	}
}

// TestClientEvents_SameCreationTime: events created together come in
// descending id order, the same on every read.
func TestClientEvents_SameCreationTime(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	a, b := monthEvent("dan", 0, t0), monthEvent("dan", 1, t0)
	enqueue(t, pool, a, b)
	first, second := a.ID(), b.ID()
	if first < second {
		first, second = second, first
	}
	got, err := ClientEvents(context.Background(), pool, "dan", 10)
	if err != nil || len(got) != 2 || got[0].ID != first || got[1].ID != second {
		t.Fatalf("got %+v, %v; want %s then %s", got, err, first, second)
	}
}

func TestClientEvents_Errors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := ClientEvents(ctx, newTestPool(t), "alice", 0); err == nil {
		t.Error("limit 0: no error")
	}
	// Nothing listens on port 1: every connection is refused.
	down, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/quotad?connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	if _, err := ClientEvents(ctx, down, "alice", 10); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Postgres unreachable: %v, want ErrUnavailable", err)
	}
}
