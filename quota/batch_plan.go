package quota

import (
	"cmp"
	"context"
	"errors"
)

// plans decides a batch's groups in one planScript call.
func (b *batcher) plans(ctx context.Context, groups []*group) {
	pgs := make([]planGroup, len(groups))
	for i, g := range groups {
		pgs[i] = g.planGroup()
	}
	keys, args := b.store.planWire(pgs)
	ints, err := planScript.Run(ctx, b.store.client, keys, args...).Int64Slice()
	var sec, usec int64
	if err == nil {
		sec, usec, err = planReplies(ints, pgs)
	}
	for i, g := range groups {
		g.givePlan(pgs[i], ints, sec, usec, err)
		if err == nil {
			ints = ints[len(pgs[i].lim.Windows):]
		}
	}
}

// planGroup is what planScript needs of g.
func (g *group) planGroup() planGroup {
	pg := planGroup{key: g.key, lim: g.lim, ones: int64(len(g.calls))}
	if !g.plan {
		pg.redisKey = g.key
		return pg
	}
	for i, c := range g.calls {
		if c.cost != 1 && pg.costs == nil {
			pg.costs = make([]int64, i, len(g.calls))
			for j := range pg.costs {
				pg.costs[j] = 1
			}
		}
		if pg.costs != nil {
			pg.costs = append(pg.costs, c.cost)
		}
	}
	return pg
}

// givePlan hands each call its Decision, replayed from after, the group's
// part of planScript's reply.
func (g *group) givePlan(pg planGroup, after []int64, sec, usec int64, err error) {
	if err != nil {
		for _, c := range g.calls {
			c.err = wrapRedisErr("allow", err)
			c.done <- struct{}{}
		}
		return
	}
	pg.replay(after, sec, usec, func(i int, d Decision) {
		g.calls[i].d = d
		g.calls[i].done <- struct{}{}
	})
}

// settlePlan hands each call of a plan group its share of the group's
// planScript reply in a pipeline. The reply carries its own error: a group
// that ran has its answer even when another group of the batch failed.
func (g *group) settlePlan(batchErr error) {
	pg := g.planGroup()
	if g.cmd == nil {
		g.givePlan(pg, nil, 0, 0, cmp.Or(batchErr, errors.New("quota: no script call was sent")))
		return
	}
	ints, err := g.cmd.Int64Slice()
	var sec, usec int64
	if err == nil {
		sec, usec, err = planReplies(ints, []planGroup{pg})
	}
	g.givePlan(pg, ints, sec, usec, err)
}
