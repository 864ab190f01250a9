package quota

import (
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"
)

// group is the calls of one batch for one key and limit, in arrival order,
// all simple (see call.simple) or none.
type group struct {
	key   string
	lim   Limit
	plan  bool // decided by planScript
	calls []*call
	call  allowCall  // a simple group's own allowScript call; cmd nil if it had none
	cmd   *redis.Cmd // a plan group's own planScript call in a pipeline
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
	if len(groups) == 1 && !groups[0].plan {
		// One script call needs no pipeline: a lone caller pays exactly
		// what an unbatched store would.
		g := groups[0]
		g.send(ctx, b.store, b.store.client, sendRun)
		g.settle(b.store, nil)
		return
	}
	if b.store.singleServer || len(groups) == 1 {
		if slices.ContainsFunc(groups, func(g *group) bool { return g.plan }) {
			b.plans(ctx, groups)
		} else {
			b.many(ctx, groups)
		}
		return
	}
	err := b.pipeline(ctx, groups, false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A server lacks the script (a restart, or a Cluster master that
		// has not run it yet): EVAL loads it, for the calls it refused
		// only, since the others ran and must not count twice.
		err = b.pipeline(ctx, slices.DeleteFunc(slices.Clone(groups), ran), true)
	}
	for _, g := range groups {
		if g.plan {
			g.settlePlan(err)
			continue
		}
		g.settle(b.store, err)
	}
}

// ran reports whether g's script call ran, or failed for another reason
// than a missing script.
func ran(g *group) bool {
	cmd := g.cmd
	if !g.plan {
		cmd = g.call.cmd
	}
	return cmd == nil || !redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT")
}

// pipeline sends one script call per group.
func (b *batcher) pipeline(ctx context.Context, groups []*group, eval bool) error {
	pipe := b.store.client.Pipeline()
	how := sendEvalSha
	if eval {
		how = sendEval
	}
	for _, g := range groups {
		if g.plan {
			g.cmd = b.store.sendPlan(ctx, pipe, g.planGroup(), eval)
			continue
		}
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
			r = manyReply(ints[i], g.lim.Windows[0].Requests, int64(len(g.calls)), ints[len(ints)-2], ints[len(ints)-1])
		}
		g.give(r, err)
	}
}

// manyArgs is allowManyScript's ARGV for groups, in their order: each run
// of neighbouring groups under the same limit shares one header.
func manyArgs(groups []*group) []any {
	args := make([]any, 0, len(groups)+3)
	for i := 0; i < len(groups); {
		w := groups[i].lim.Windows[0]
		j := i + 1
		for j < len(groups) && groups[j].lim.Windows[0] == w {
			j++
		}
		run := groups[i:j]
		i = j
		if !slices.ContainsFunc(run, func(g *group) bool { return len(g.calls) > 1 }) {
			args = append(args, w.seconds(), w.Requests, -len(run)) // all ones: no increments follow
			continue
		}
		args = append(args, w.seconds(), w.Requests, len(run))
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
func (g *group) send(ctx context.Context, s *redisStore, c redis.Scripter, how sendHow) {
	g.call = s.sendAllow(ctx, c, g.key, g.lim, len(g.calls), how)
}

// settle hands each call its share of the group's allowScript reply.
func (g *group) settle(s *redisStore, batchErr error) {
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

// groupCalls groups a batch by key, limit and kind (simple or not),
// keeping arrival order.
//
// It runs once per batch, so its allocations show per decision: the groups
// share one allocation, a group's first call is a view of the batch
// (capped, so a second call copies it out), and up to groupScanLimit calls
// a scan of the groups so far finds a call's group instead of a map.
func groupCalls(batch []*call) []*group {
	if len(batch) == 1 {
		return []*group{{key: batch[0].key, lim: batch[0].lim, plan: !batch[0].simple(), calls: batch}}
	}
	type gk struct {
		key  string
		plan bool
	}
	store := make([]group, 0, len(batch))
	groups := make([]*group, 0, len(batch))
	var index map[gk]*group
	if len(batch) > groupScanLimit {
		index = make(map[gk]*group, len(batch))
	}
	for i, c := range batch {
		plan := !c.simple()
		var g *group
		if index != nil {
			g = index[gk{c.key, plan}]
			if g != nil && !sameLimit(g.lim, c.lim) {
				// The key's limit changed within the batch (a tier edit):
				// rare enough for a scan.
				g = findGroup(groups, c.key, plan, c.lim)
			}
		} else {
			g = findGroup(groups, c.key, plan, c.lim)
		}
		if g != nil {
			g.calls = append(g.calls, c)
			continue
		}
		store = append(store, group{key: c.key, lim: c.lim, plan: plan, calls: batch[i : i+1 : i+1]})
		g = &store[len(store)-1]
		groups = append(groups, g)
		if index != nil {
			if _, taken := index[gk{c.key, plan}]; !taken {
				index[gk{c.key, plan}] = g
			}
		}
	}
	return groups
}

// findGroup returns the group of key, kind and limit among groups, or nil.
func findGroup(groups []*group, key string, plan bool, lim Limit) *group {
	for _, h := range groups {
		if h.key == key && h.plan == plan && sameLimit(h.lim, lim) {
			return h
		}
	}
	return nil
}

// groupScanLimit is the largest batch groupCalls groups without a map.
const groupScanLimit = 32
