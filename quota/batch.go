package quota

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisConfig's batching fields.
const (
	// DefaultBatchSize bounds the decisions sent in one pipeline.
	DefaultBatchSize = 256
	// DefaultBatchPipelines bounds the pipelines in flight at once.
	DefaultBatchPipelines = 4
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
// its own. Decisions for the same key and limit in one batch
// become one script call that admits as many as fit, in arrival order: the
// script is atomic, so exactness is the script's, batch or not.
type batcher struct {
	store *RedisStore
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
	key  string // the Redis key
	lim  Limit
	done chan struct{}
	d    Decision
	err  error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// allow queues one decision and waits for it, or for ctx to end.
func (b *batcher) allow(ctx context.Context, key string, lim Limit) (Decision, error) {
	if seen, ok := b.lone(); ok {
		d, err := b.store.allowNow(ctx, key, lim)
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
	c.ctx, c.key, c.lim = ctx, key, lim
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
// record, the batch and the signal back to itself: at one caller that took
// a decision from 14 allocations to 10.
//
// It neither yields nor counts against the yielder's skip. Instead, any
// caller that arrives during its round trip is company, and the yielder
// stops skipping at once (resume): so a caller that stays alone never
// yields again, and callers that overlap (on one CPU, those that run while
// this one waits for Redis) batch as before. A yield is dear where it wakes
// an idle CPU's thread: probing with one every 64 decisions cost a lone
// caller 10–20 % of its rate on a 2-vCPU VM. It returns the arrival count
// as of its own arrival.
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
// missing it (at 16 callers on two CPUs, about 3 decisions a round trip
// instead of 5).
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

// group is the calls of one batch for one key and limit, in arrival order.
type group struct {
	key   string
	lim   Limit
	calls []*call
	call  allowCall // the group's own allowScript call; cmd nil if it had none
}

// flush decides a batch in one pipeline and signals every call.
func (b *batcher) flush(batch []*call) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.ctx.Err(); err != nil {
			c.err = err // its caller has gone; send nothing for it
			c.done <- struct{}{}
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	batch = live
	groups := groupCalls(batch)
	ctx, cancel := batchContext(batch)
	defer cancel()
	if len(groups) == 1 {
		// One script call needs no pipeline: a lone caller pays exactly
		// what an unbatched store would.
		g := groups[0]
		g.send(ctx, b.store, b.store.client, sendRun)
		g.settle(b.store, nil)
		return
	}
	if b.store.singleServer {
		b.many(ctx, groups)
		return
	}
	err := b.pipeline(ctx, groups, false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis lost its script cache (a restart): EVAL loads it again.
		err = b.pipeline(ctx, groups, true)
	}
	for _, g := range groups {
		g.settle(b.store, err)
	}
}

// pipeline sends one script call per group.
func (b *batcher) pipeline(ctx context.Context, groups []*group, eval bool) error {
	pipe := b.store.client.Pipeline()
	how := sendEvalSha
	if eval {
		how = sendEval
	}
	for _, g := range groups {
		g.send(ctx, b.store, pipe, how)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// many decides a batch's groups in one allowManyScript call.
func (b *batcher) many(ctx context.Context, groups []*group) {
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = g.key
	}
	ints, err := allowManyScript.Run(ctx, b.store.client, keys, manyArgs(groups)...).Int64Slice()
	if err == nil && len(ints) != len(groups)+2 {
		err = fmt.Errorf("quota: redis script replied %d integers for %d keys", len(ints), len(groups))
	}
	for i, g := range groups {
		var r reply
		if err == nil {
			r = manyReply(ints[i], g.lim.Requests, int64(len(g.calls)), ints[len(ints)-2], ints[len(ints)-1])
		}
		g.give(r, err)
	}
}

// manyArgs is allowManyScript's ARGV for groups, in their order: each run
// of neighbouring groups under the same limit shares one header.
func manyArgs(groups []*group) []any {
	args := make([]any, 0, len(groups)+3)
	for i := 0; i < len(groups); {
		lim := groups[i].lim
		j := i + 1
		for j < len(groups) && groups[j].lim == lim {
			j++
		}
		run := groups[i:j]
		i = j
		if !slices.ContainsFunc(run, func(g *group) bool { return len(g.calls) > 1 }) {
			args = append(args, lim.seconds(), lim.Requests, -len(run)) // all ones: no increments follow
			continue
		}
		args = append(args, lim.seconds(), lim.Requests, len(run))
		for _, g := range run {
			args = append(args, len(g.calls))
		}
	}
	return args
}

// manyReply is one key's share of an allowScript or allowManyScript reply:
// n is its count just after adding k, before the script took back what went
// past limit.
func manyReply(n, limit, k, sec, usec int64) reply {
	over := min(max(n-limit, 0), k)
	return reply{admitted: k - over, count: n - over, sec: sec, usec: usec}
}

// send sends the group's calls as one allowScript call through c.
func (g *group) send(ctx context.Context, s *RedisStore, c redis.Scripter, how sendHow) {
	g.call = s.sendAllow(ctx, c, g.key, g.lim, len(g.calls), how)
}

// settle hands each call its share of the group's allowScript reply.
func (g *group) settle(s *RedisStore, batchErr error) {
	var r reply
	err := batchErr
	if g.call.cmd != nil {
		r, err = g.call.reply(s, g.lim, int64(len(g.calls)))
	}
	g.give(r, err)
}

// give hands each call its share of the group's reply r: the first
// r.admitted calls are admitted with successive counts, the rest refused.
func (g *group) give(r reply, err error) {
	for i, c := range g.calls {
		if err != nil {
			c.err = wrapRedisErr("allow", err)
		} else {
			before := r.count - r.admitted
			if int64(i) < r.admitted {
				c.d = r.decision(c.lim, true, before+int64(i)+1)
			} else {
				c.d = r.decision(c.lim, false, r.count)
			}
		}
		c.done <- struct{}{}
	}
}

// groupCalls groups a batch by key and limit, keeping arrival order.
//
// It runs once per batch, so its allocations show per decision: the groups
// share one allocation, a group's first call is a view of the batch
// (capped, so a second call copies it out), and up to groupScanLimit calls
// a scan of the groups so far finds a call's group instead of a map. At 16
// and 64 callers that took BenchmarkLimiter_Allow from 9 to 7 and from 6
// to 4 allocations per decision.
func groupCalls(batch []*call) []*group {
	if len(batch) == 1 {
		return []*group{{key: batch[0].key, lim: batch[0].lim, calls: batch}}
	}
	type gk struct {
		key string
		lim Limit
	}
	store := make([]group, 0, len(batch))
	groups := make([]*group, 0, len(batch))
	var index map[gk]*group
	if len(batch) > groupScanLimit {
		index = make(map[gk]*group, len(batch))
	}
	for i, c := range batch {
		var g *group
		if index != nil {
			g = index[gk{c.key, c.lim}]
		} else {
			for _, h := range groups {
				if h.key == c.key && h.lim == c.lim {
					g = h
					break
				}
			}
		}
		if g != nil {
			g.calls = append(g.calls, c)
			continue
		}
		store = append(store, group{key: c.key, lim: c.lim, calls: batch[i : i+1 : i+1]})
		g = &store[len(store)-1]
		groups = append(groups, g)
		if index != nil {
			index[gk{c.key, c.lim}] = g
		}
	}
	return groups
}

// groupScanLimit is the largest batch groupCalls groups without a map.
const groupScanLimit = 32
