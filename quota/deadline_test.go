package quota

import (
	"context"
	"testing"
	"time"
)

type ctxKey struct{}

func TestDecisionContext(t *testing.T) {
	d := &deadlines{timeout: 50 * time.Millisecond}
	parent := context.WithValue(context.Background(), ctxKey{}, "v")

	t.Run("shares the tick and keeps values", func(t *testing.T) {
		now := time.Now()
		ctx, cancel := d.decisionContext(parent, now, false)
		defer cancel()
		if got := ctx.Value(ctxKey{}); got != "v" {
			t.Fatalf("Value = %v, want the parent's value", got)
		}
		dl, ok := ctx.Deadline()
		if !ok {
			t.Fatal("no deadline")
		}
		if lo, hi := now.Add(d.timeout), now.Add(d.timeout+time.Millisecond); dl.Before(lo) || dl.After(hi) {
			t.Fatalf("deadline %v not within [%v, %v]", dl, lo, hi)
		}
		other, cancel2 := d.decisionContext(context.Background(), now, false)
		defer cancel2()
		if od, _ := other.Deadline(); !od.Equal(dl) {
			t.Fatalf("same millisecond, different deadlines: %v and %v", od, dl)
		}
	})

	t.Run("ends at its deadline", func(t *testing.T) {
		ctx, cancel := d.decisionContext(parent, time.Now(), false)
		defer cancel()
		<-ctx.Done()
		if ctx.Err() != context.DeadlineExceeded {
			t.Fatalf("Err = %v, want DeadlineExceeded", ctx.Err())
		}
	})

	t.Run("an earlier caller deadline wins", func(t *testing.T) {
		early, cancelEarly := context.WithTimeout(parent, time.Millisecond)
		defer cancelEarly()
		pd, _ := early.Deadline()
		ctx, cancel := d.decisionContext(early, time.Now(), false)
		defer cancel()
		if dl, _ := ctx.Deadline(); !dl.Equal(pd) {
			t.Fatalf("deadline %v, want the caller's %v", dl, pd)
		}
	})

	t.Run("a cancelled caller gets a done context", func(t *testing.T) {
		gone, cancelGone := context.WithCancel(parent)
		cancelGone()
		ctx, cancel := d.decisionContext(gone, time.Now(), false)
		defer cancel()
		if ctx.Err() == nil {
			t.Fatal("context of a cancelled caller is not done")
		}
	})
}

// TestBatchContext: a batch gets the earliest deadline of its callers,
// free of their cancellation.
func TestBatchContext(t *testing.T) {
	d := &deadlines{timeout: time.Second}
	b, _ := d.decisionContext(context.Background(), time.Now(), false)
	soon, cancelSoon := context.WithTimeout(context.Background(), 500*time.Millisecond)
	ctx, cancel := batchContext([]*call{{ctx: b}, {ctx: soon}})
	defer cancel()
	if got, want := deadlineOf(ctx), deadlineOf(soon); !got.Equal(want) {
		t.Fatalf("deadline %v, want the earliest caller's %v", got, want)
	}
	cancelSoon()
	if ctx.Err() != nil {
		t.Fatal("a caller's cancellation ended the batch")
	}
}

// TestBatchContextOfDecisions: a batch of a Limiter's decision contexts runs
// under the earliest of them, which its caller's cancellation does not end.
func TestBatchContextOfDecisions(t *testing.T) {
	d := &deadlines{timeout: time.Second}
	now := time.Now()
	p1, cancel1 := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "first"))
	p2, cancel2 := context.WithCancel(context.Background())
	later, _ := d.decisionContext(p2, now.Add(5*time.Millisecond), false)
	earlier, _ := d.decisionContext(p1, now, false)
	ctx, cancel := batchContext([]*call{{ctx: later}, {ctx: earlier}})
	defer cancel()
	if ctx != earlier {
		t.Fatalf("batch context %v, want the earliest decision context itself", ctx)
	}
	if got, want := deadlineOf(ctx), deadlineOf(earlier); !got.Equal(want) || !got.Before(deadlineOf(later)) {
		t.Fatalf("deadline %v, want the earliest %v", got, want)
	}
	cancel1()
	cancel2()
	if ctx.Err() != nil {
		t.Fatal("a caller's cancellation ended the batch")
	}
	if got := ctx.Value(ctxKey{}); got != "first" {
		t.Fatalf("Value = %v, want the earliest caller's", got)
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
