package quota

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines gives decisions their deadline without a timer each. Every
// decision that starts within one millisecond shares one context whose
// deadline is the end of that millisecond plus its wait, so a decision
// waits at least that long and at most a millisecond more. A
// context.WithTimeout per decision (a timer set and stopped, a child
// registered with the caller's context) costs a noticeable share of the
// client's CPU per decision on a loaded machine.
//
// A decision waits either the timeout or the patience (see
// Limiter.patient), each with its own shared context.
type deadlines struct {
	timeout  time.Duration
	patience time.Duration
	cur      atomic.Pointer[deadlineTick] // ticks of timeout
	patient  atomic.Pointer[deadlineTick] // ticks of patience
}

// wait is how long a decision waits for the store: the patience or the
// timeout.
func (d *deadlines) wait(patient bool) time.Duration {
	if patient {
		return d.patience
	}
	return d.timeout
}

// deadlineTick is the shared context of one millisecond's decisions.
type deadlineTick struct {
	ms  int64 // Unix milliseconds
	ctx context.Context
	// bare is ctx as the decision context of callers with no values of
	// their own (context.Background), made once per tick.
	bare *decisionCtx
	// cancel is kept only to honour WithDeadline's contract; nobody calls
	// it early, since decisions may still run under ctx. The context's own
	// timer releases it at the deadline.
	cancel context.CancelFunc
}

// decisionContext is the context of one store call that starts now under
// parent, waiting the patience if patient and the timeout otherwise, and
// the function that ends it.
//
// The shared context carries the deadline; parent's values stay visible
// (go-redis hooks for tracing read them). A decision already sent is not cut
// short when parent is cancelled later: it ends at its own deadline, which
// also spares go-redis closing a connection whose reply was abandoned. A
// parent that is already done, or whose own deadline comes first, gets a
// context of its own, as context.WithTimeout would give.
func (d *deadlines) decisionContext(parent context.Context, now time.Time, patient bool) (context.Context, context.CancelFunc) {
	t := d.tick(now, patient)
	if parent.Err() != nil {
		return context.WithTimeout(parent, d.wait(patient))
	}
	if pd, ok := parent.Deadline(); ok {
		if td, _ := t.ctx.Deadline(); pd.Before(td) {
			return context.WithTimeout(parent, d.wait(patient))
		}
	}
	if parent == context.Background() {
		return t.bare, noCancel
	}
	return &decisionCtx{Context: t.ctx, parent: parent}, noCancel
}

func noCancel() {}

// tick returns the shared context of now's millisecond for a patient or
// an impatient decision.
func (d *deadlines) tick(now time.Time, patient bool) *deadlineTick {
	ms := now.UnixMilli()
	cur := &d.cur
	if patient {
		cur = &d.patient
	}
	if t := cur.Load(); t != nil && t.ms == ms {
		return t
	}
	// Two callers may both build this millisecond's tick; one is stored,
	// and the other's context is just as valid for its own caller.
	t := &deadlineTick{ms: ms}
	t.ctx, t.cancel = context.WithDeadline(context.Background(), time.UnixMilli(ms+1).Add(d.wait(patient)))
	t.bare = &decisionCtx{Context: t.ctx, parent: context.Background()}
	cur.Store(t)
	return t
}

// decisionCtx is a shared tick's deadline with its caller's values. It
// ends only at that deadline, never with its caller, so a batch whose
// earliest deadline is one can run under it as it is (see batchContext).
type decisionCtx struct {
	context.Context // the tick: Deadline, Done, Err
	parent          context.Context
}

// Value looks key up in the caller's context.
func (c *decisionCtx) Value(key any) any { return c.parent.Value(key) }
