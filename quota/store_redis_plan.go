package quota

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// planGroup is what planScript needs of one group: the client's key, its
// Limit and the costs of its requests, in order.
type planGroup struct {
	key      string
	redisKey string // set instead of key for a simple group: its one window's key
	lim      Limit
	costs    []int64 // nil: ones requests of cost 1
	ones     int64
}

// total is the group's whole cost.
func (g planGroup) total() int64 {
	if g.costs == nil {
		return g.ones
	}
	var t int64
	for _, c := range g.costs {
		t += c
	}
	return t
}

// planWire appends the groups' keys and planScript's ARGV: neighbouring
// groups under the same windows share one run header.
func (s *redisStore) planWire(groups []planGroup) (keys []string, args []any) {
	nkeys, nargs := 0, 0
	for _, g := range groups {
		nkeys += len(g.lim.Windows) + 1
		nargs += 2 + 2*len(g.lim.Windows) + 2 + len(g.costs) // at most a run per group
	}
	keys, args = make([]string, 0, nkeys), make([]any, 0, nargs)
	for i := 0; i < len(groups); {
		ws := groups[i].lim.Windows
		j := i + 1
		meter := groups[i].lim.Meter
		for j < len(groups) && groups[j].lim.Meter == meter && sameWindows(groups[j].lim.Windows, ws) {
			j++
		}
		if meter {
			args = append(args, -len(ws))
		} else {
			args = append(args, len(ws))
		}
		for _, w := range ws {
			args = append(args, w.wireSeconds(), w.Requests)
		}
		args = append(args, j-i)
		for _, g := range groups[i:j] {
			if g.redisKey != "" {
				keys = append(keys, g.redisKey)
			} else {
				keys = s.appendWindowKeys(keys, g.key, ws)
			}
			if meter {
				keys = append(keys, s.usageKey(g.key))
			}
			args = append(args, g.lim.anchor())
			if g.costs == nil {
				args = append(args, g.ones)
				continue
			}
			args = append(args, -len(g.costs))
			for _, c := range g.costs {
				args = append(args, c)
			}
		}
		i = j
	}
	return keys, args
}

// planReplies splits planScript's reply into each group's window counts,
// checking its length.
func planReplies(ints []int64, groups []planGroup) (sec, usec int64, err error) {
	want := 2
	for _, g := range groups {
		want += len(g.lim.Windows)
	}
	if len(ints) != want {
		return 0, 0, fmt.Errorf("quota: redis script replied %d integers, want %d", len(ints), want)
	}
	return ints[want-2], ints[want-1], nil
}

// replay decides a group's requests one by one from the counts the script
// replied (each window's count after the group's whole cost was added),
// exactly as the script decided them. give receives each request's
// Decision in order.
func (g planGroup) replay(after []int64, sec, usec int64, give func(int, Decision)) {
	var counts [MaxWindows]int64
	total := g.total()
	for x := range g.lim.Windows {
		counts[x] = after[x] - total
	}
	if g.costs == nil {
		for i := range g.ones {
			give(int(i), decide(g.lim, &counts, 1, sec, usec))
		}
		return
	}
	for i, c := range g.costs {
		give(i, decide(g.lim, &counts, c, sec, usec))
	}
}

// allowPlanNow decides one request of cost n under l in a round trip of
// its own.
func (s *redisStore) allowPlanNow(ctx context.Context, key string, l Limit, n int64) (Decision, error) {
	g := []planGroup{{key: key, lim: l, costs: []int64{n}}}
	if n == 1 {
		g[0].costs, g[0].ones = nil, 1
	}
	keys, args := s.planWire(g)
	ints, err := planScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, wrapRedisErr("allow", err)
	}
	sec, usec, err := planReplies(ints, g)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	g[0].replay(ints, sec, usec, func(_ int, got Decision) { d = got })
	return d, nil
}

// peekPlan is Peek for any Limit.
func (s *redisStore) peekPlan(ctx context.Context, key string, l Limit) (Decision, error) {
	keys := s.appendWindowKeys(make([]string, 0, len(l.Windows)), key, l.Windows)
	args := make([]any, 1, len(l.Windows)+1)
	args[0] = l.anchor()
	for _, w := range l.Windows {
		args = append(args, w.seconds())
	}
	ints, err := peekPlanScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return Decision{}, wrapRedisErr("peek", err)
	}
	if len(ints) != len(keys)+2 {
		return Decision{}, fmt.Errorf("quota: redis script replied %d integers, want %d", len(ints), len(keys)+2)
	}
	var counts [MaxWindows]int64
	copy(counts[:], ints)
	return peekDecision(l, &counts, ints[len(keys)], ints[len(keys)+1]), nil
}

// sendPlan queues planScript for one group on a pipeline.
func (s *redisStore) sendPlan(ctx context.Context, c redis.Scripter, g planGroup, eval bool) *redis.Cmd {
	keys, args := s.planWire([]planGroup{g})
	if eval {
		return planScript.Eval(ctx, c, keys, args...)
	}
	return planScript.EvalSha(ctx, c, keys, args...)
}
