package quota

import (
	"context"
	"time"
)

// batchContext bounds a batch's round trip by its earliest deadline: the
// oldest caller's, since a Limiter's callers wait alike while its store
// answers. A batch that mixes patient and impatient callers (see
// Limiter.patient) forms only once the store has failed or gone quiet, and
// then ends with the impatient one's deadline: a store that may be dead is
// given up on sooner. Callers that cancel early just stop waiting; the
// batch goes on for the others. When the earliest is a Limiter's decision
// context, which no caller can cancel, the batch runs under it as it is: no
// context and no timer of its own per batch.
func batchContext(batch []*call) (context.Context, context.CancelFunc) {
	if len(batch) == 1 {
		return batch[0].ctx, noCancel
	}
	var earliest time.Time
	var first context.Context
	for _, c := range batch {
		if d, ok := c.ctx.Deadline(); ok && (earliest.IsZero() || d.Before(earliest)) {
			earliest, first = d, c.ctx
		}
	}
	if dc, ok := first.(*decisionCtx); ok {
		return dc, noCancel
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	if earliest.IsZero() {
		return ctx, noCancel
	}
	return context.WithDeadline(ctx, earliest)
}
