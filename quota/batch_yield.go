package quota

import (
	"runtime"
	"sync/atomic"
)

// yielder decides whether a caller about to send a batch first lets the
// goroutines that are ready to run (other requests, already read) reach
// the queue, so they share its round trip instead of paying for one each.
//
// On one CPU (GOMAXPROCS 1, a pinned or small container) that is the only
// way batches form: no other caller can run while this one does, and each
// would otherwise go alone. Yielding costs a lone caller a trip through
// the scheduler (with idle CPUs, another thread may wake to take it), so
// a yield that brings no company while no other pipeline is in flight
// counts as a miss, and after a few misses in a row the next callers skip
// it for a while before trying again; meanwhile a caller that finds no
// pipeline in flight sends alone without touching it (see lone), so only
// overlapping callers bring the yields back. The pipeline whose round trip
// returns uses the same yielder before it takes the next batch. The
// price under load: the send waits for the goroutines queued ahead of it to
// block or be preempted, so a process full of long CPU-bound goroutines
// delays its decisions by up to a scheduling slice.
type yielder struct {
	misses atomic.Int32 // yields in a row that brought no company
	skip   atomic.Int32 // callers left to send without yielding
}

const (
	yieldMissLimit = 4   // misses in a row that stop yielding
	yieldSkip      = 128 // callers that then send without yielding
)

// before yields unless it is skipping, and reports whether it did.
func (y *yielder) before() bool {
	if y.skip.Load() > 0 {
		y.skip.Add(-1)
		return false
	}
	runtime.Gosched()
	return true
}

// resume stops skipping: callers overlap again.
func (y *yielder) resume() {
	y.misses.Store(0)
	y.skip.Store(0)
}

// after records whether a yield brought company.
func (y *yielder) after(company bool) {
	if company {
		y.misses.Store(0)
		return
	}
	if y.misses.Add(1) >= yieldMissLimit {
		y.misses.Store(0)
		y.skip.Store(yieldSkip)
	}
}
