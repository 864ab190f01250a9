package main

import (
	"context"
	"testing"
	"time"
)

// fakeClock drives a pacer without real waiting: sleeping moves time on,
// and onSleep lets a test act "while" a worker sleeps.
type fakeClock struct {
	t       time.Time
	sleeps  int
	onSleep func(n int)
}

func newFakePacer(tb testing.TB, interval time.Duration) (*pacer, *fakeClock) {
	tb.Helper()
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p := &pacer{interval: interval, now: func() time.Time { return c.t }}
	p.sleep = func(ctx context.Context, d time.Duration) bool {
		c.sleeps++
		if c.onSleep != nil {
			c.onSleep(c.sleeps)
		}
		c.t = c.t.Add(d)
		return ctx.Err() == nil
	}
	return p, c
}

// The pacer is what makes -rpm global and a 429 pause every worker: all
// workers draw their slots from it.
func TestPacer(t *testing.T) {
	t.Parallel()
	noEnd := time.Time{}

	t.Run("spaces slots by the interval", func(t *testing.T) {
		t.Parallel()
		p, c := newFakePacer(t, 100*time.Millisecond)
		t0 := c.t
		for i := range 5 {
			if !p.acquire(t.Context(), noEnd) {
				t.Fatal("acquire failed")
			}
			if want := t0.Add(time.Duration(i) * 100 * time.Millisecond); !c.t.Equal(want) {
				t.Errorf("slot %d at %s, want %s", i, c.t.Sub(t0), want.Sub(t0))
			}
		}
	})
	t.Run("a pause holds later callers", func(t *testing.T) {
		t.Parallel()
		p, c := newFakePacer(t, 0)
		until := p.pause(c.t.Add(time.Second))
		if !p.acquire(t.Context(), noEnd) || c.t.Before(until) {
			t.Errorf("slot at %s, before the pause ended at %s", c.t, until)
		}
	})
	t.Run("a pause set while waiting for a slot holds that caller too", func(t *testing.T) {
		t.Parallel()
		p, c := newFakePacer(t, 50*time.Millisecond)
		p.acquire(t.Context(), noEnd) // next slot is 50ms away
		until := c.t.Add(time.Second)
		c.onSleep = func(n int) {
			if n == 1 { // another worker's 429 arrives during the wait
				p.pause(until)
			}
		}
		if !p.acquire(t.Context(), noEnd) || c.t.Before(until) {
			t.Errorf("slot at %s, before the pause ended at %s", c.t, until)
		}
	})
	t.Run("a pause is capped by the end of the run", func(t *testing.T) {
		t.Parallel()
		p, c := newFakePacer(t, 0)
		stopAt := c.t.Add(300 * time.Millisecond)
		p.pause(c.t.Add(time.Minute))
		if p.acquire(t.Context(), stopAt) {
			t.Fatal("acquire succeeded after the end of the run")
		}
		if !c.t.Equal(stopAt) {
			t.Errorf("waited until %s, want the end of the run %s", c.t, stopAt)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		p, c := newFakePacer(t, 0)
		p.pause(c.t.Add(time.Minute))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if p.acquire(ctx, noEnd) {
			t.Error("acquire succeeded on a cancelled context")
		}
	})
}
