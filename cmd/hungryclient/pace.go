package main

import (
	"context"
	"sync"
	"time"
)

// pacer hands out send times shared by all workers. With -rpm it spaces any
// two sends, whoever makes them, by a minute/rpm: a token schedule rather
// than a ticker per worker, so 8 workers at -rpm 60 send 60 a minute, not
// 480. After a 429 it holds every worker until Retry-After has passed,
// because the quota is the client's, not one worker's.
type pacer struct {
	interval time.Duration // 0: as fast as possible
	// now and sleep are the pacer's clock, fields so tests can move it.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) bool

	mu          sync.Mutex
	next        time.Time // earliest time the next slot may start
	pausedUntil time.Time
}

// acquire waits for the caller's send slot. It reports false when ctx is
// done or the slot would fall at or after stopAt (zero: no end); in the
// latter case it waits until stopAt first, so a pause is capped by the
// remaining duration rather than cut short.
func (p *pacer) acquire(ctx context.Context, stopAt time.Time) bool {
	for {
		slot := p.reserve()
		late := !stopAt.IsZero() && !slot.Before(stopAt)
		wake := slot
		if late {
			wake = stopAt
		}
		if d := wake.Sub(p.now()); d > 0 && !p.sleep(ctx, d) {
			return false
		}
		if late || ctx.Err() != nil {
			return false
		}
		// A 429 seen by another worker while we slept moves the pause
		// forward; take a fresh slot after it instead of sending into it.
		if !p.paused() {
			return true
		}
	}
}

func (p *pacer) reserve() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Never earlier than now: a slow server must not bank slots that
	// would later go out as a burst above -rpm.
	slot := p.now()
	if p.next.After(slot) {
		slot = p.next
	}
	if p.pausedUntil.After(slot) {
		slot = p.pausedUntil
	}
	if p.interval > 0 {
		p.next = slot.Add(p.interval)
	}
	return slot
}

// pause holds all workers until at least until and returns the pause now
// in force (a later 429 may already have asked for longer).
func (p *pacer) pause(until time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	return p.pausedUntil
}

func (p *pacer) paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now().Before(p.pausedUntil)
}

// sleep waits d and reports true, or reports false as soon as ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
