package quota

import (
	"context"
	"sync"
)

// Defaults of redisConfig's batching fields.
const (
	// defaultBatchSize bounds the decisions sent in one pipeline.
	defaultBatchSize = 256
	// defaultBatchPipelines bounds the pipelines in flight at once.
	defaultBatchPipelines = 4
)

// batcher sends decisions that arrive while a round trip is in flight
// together, as one pipeline, when that round trip returns.
//
// There is no timer: a caller that finds fewer than max pipelines in flight
// sends what has queued, its own decision included, once the goroutines
// ready to run have had their turn (see yielder; a lone caller waits for
// nothing), and while a pipeline is out, later callers queue. The caller
// whose pipeline returns lets the callers it answered queue again (see
// takeAfterYield), hands what queued to a new goroutine and goes back to
// its request, so nobody waits for more than the round trip in flight plus
// its own. Decisions for the same key and limit in one batch become one
// script call that admits as many as fit, in arrival order (see flush): the
// script is atomic, so exactness is the script's, batch or not.
type batcher struct {
	store *redisStore
	size  int
	max   int

	yield yielder

	mu      sync.Mutex
	queue   []*call
	active  int    // pipelines in flight
	arrived uint64 // callers so far, to tell a lone caller it had company
}

// call is one decision waiting for its batch.
type call struct {
	ctx  context.Context
	key  string // the Redis key if simple, else the client's key
	lim  Limit
	cost int64
	done chan struct{}
	d    Decision
	err  error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// allow queues one decision of cost n and waits for it, or for ctx to
// end. key is the Redis key of a simple call (see call.simple), else the
// client's key.
func (b *batcher) allow(ctx context.Context, key string, lim Limit, n int64) (Decision, error) {
	if seen, ok := b.lone(); ok {
		var d Decision
		var err error
		if n == 1 && lim.simple() {
			d, err = b.store.allowNow(ctx, key, lim)
		} else {
			d, err = b.store.allowPlanNow(ctx, key, lim, n)
		}
		// One lock for both: whether anyone arrived during the round trip,
		// and what queued meanwhile. No yield first, unlike a pipeline's
		// return: the one caller answered is this one, and it is not
		// waiting to come back.
		b.mu.Lock()
		company := b.arrived != seen
		batch, _ := b.takeNextLocked()
		b.mu.Unlock()
		if company {
			b.yield.resume()
		}
		b.handOn(batch)
		return d, err
	}
	c := callPool.Get().(*call)
	c.ctx, c.key, c.lim, c.cost = ctx, key, lim, n
	b.mu.Lock()
	b.arrived++
	b.queue = append(b.queue, c)
	if b.active < b.max {
		b.active++
		b.mu.Unlock()
		if batch := b.takeAfterYield(true); batch != nil {
			b.flush(batch)
			b.next()
		}
	} else {
		b.mu.Unlock()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		select {
		case <-c.done: // decided after all: the count is spent, so report it
		default:
			// The batch still owns c and will signal done; leave c to
			// the garbage collector rather than the pool.
			return Decision{}, ctx.Err()
		}
	}
	d, err := c.d, c.err
	*c = call{done: c.done}
	callPool.Put(c)
	return d, err
}

// lone takes a pipeline slot for a caller that need not queue: no pipeline
// is in flight and the yielder is skipping (yields have lately brought no
// company), so its batch would hold its own call alone. Such a caller sends
// its decision as the unbatched store would, without the queue, the call
// record, the batch and the signal back to itself, so a lone caller pays
// for none of the batching it does not use.
//
// It neither yields nor counts against the yielder's skip. Instead, any
// caller that arrives during its round trip is company, and the yielder
// stops skipping at once (resume): so a caller that stays alone never
// yields again, and callers that overlap (on one CPU, those that run while
// this one waits for Redis) batch again. Arrivals bring the yields back,
// not a yield now and then to look for company: a yield is dear where it
// wakes an idle CPU's thread, and a lone caller would pay for every one.
// It returns the arrival count as of its own arrival.
func (b *batcher) lone() (uint64, bool) {
	if b.yield.skip.Load() <= 0 {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active != 0 || len(b.queue) != 0 {
		return 0, false
	}
	b.active++
	b.arrived++
	return b.arrived, true
}

// simple reports whether c goes by allowScript: one request under a
// one-window Limit of whole seconds.
func (c *call) simple() bool { return c.cost == 1 && c.lim.simple() }

// take removes up to size queued calls; the caller holds mu.
func (b *batcher) take() []*call {
	n := min(len(b.queue), b.size)
	batch := make([]*call, n)
	copy(batch, b.queue)
	rest := copy(b.queue, b.queue[n:])
	clear(b.queue[rest:])
	b.queue = b.queue[:rest]
	return batch
}

// next hands what queued during a round trip to a new pipeline, or gives
// the pipeline slot back.
//
// The pipeline goroutine it starts keeps flushing for as long as calls
// queue: a goroutine per batch would start on a small stack and grow it
// again in go-redis's deep call chain every time.
func (b *batcher) next() {
	b.handOn(b.takeAfterYield(false))
}

// handOn starts the pipeline goroutine on batch, if there is one.
func (b *batcher) handOn(batch []*call) {
	if batch == nil {
		return
	}
	// batch goes as an argument: captured, it would live on the heap, an
	// allocation on every call, even the many that return above.
	go func(batch []*call) {
		for batch != nil {
			b.flush(batch)
			batch = b.takeAfterYield(false)
		}
	}(batch)
}

// takeAfterYield is takeNext once the goroutines ready to run have had
// their turn (see yielder). A leader about to send yields so that other
// requests already read share its round trip; a pipeline whose round trip
// returned yields so that the callers it has just answered, which come
// straight back with their next decisions, join the next batch instead of
// missing it, so batches stay large and round trips few.
//
// The yield brought company if another pipeline is in flight, or if the
// take holds a call other than the leader's own (a leader's own call is in
// the queue; nil means another leader took it along). Otherwise it counts
// as a miss, so a lone caller soon stops paying for it.
func (b *batcher) takeAfterYield(leader bool) []*call {
	yielded := b.yield.before()
	batch, others := b.takeNext()
	if yielded {
		own := 0
		if leader {
			own = 1
		}
		b.yield.after(others || len(batch) > own || leader && batch == nil)
	}
	return batch
}

// takeNext takes what queued, or gives the pipeline slot back and returns
// nil when nothing did (or another leader took it all). others reports
// whether other pipelines were in flight: then the callers are many, and a
// yield that found nobody queued was bad luck, not a sign of a lone caller.
func (b *batcher) takeNext() (batch []*call, others bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.takeNextLocked()
}

// takeNextLocked is takeNext for a caller that holds mu.
func (b *batcher) takeNextLocked() (batch []*call, others bool) {
	others = b.active > 1
	if len(b.queue) == 0 {
		b.active--
		return nil, others
	}
	return b.take(), others
}
