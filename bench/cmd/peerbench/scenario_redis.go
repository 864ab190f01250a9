package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
	"github.com/redis/go-redis/v9"
)

// redisMeasurement is one contender at one caller count in one round.
type redisMeasurement struct {
	loadResult
	process processStats // this process: client CPU and allocations
	redis   redisStats   // Redis's CPU and commandstats growth
	wire    wireCounts   // what the contender's client sent
	idle    float64      // share of the machine's CPU time left idle, or -1 if unknown
}

// runKey names one cell of a scenario's results: who, at what concurrency.
type runKey struct {
	name string
	n    int // callers or connections
}

// redisResults are a Redis scenario's measurements, one per round per cell.
type redisResults struct {
	scenario   string
	keys       int
	lim        limitSpec
	poolSize   int // every contender's go-redis pool
	callers    []int
	contenders []*contender
	rounds     map[runKey][]redisMeasurement
}

// errUnexpected is a decision with the wrong outcome: a refusal in the
// decision scenario, an admission in the hog scenario.
var errUnexpected = errors.New("unexpected decision")

// redisScenario is what distinguishes the decision and hog scenarios.
type redisScenario struct {
	name     string
	keys     int
	lim      limitSpec
	admitted bool // the outcome every limiter must give
}

// runRedisScenario measures every contender at every caller count, rounds
// times, interleaved: round 1 runs callers=1 for each contender in turn,
// then callers=16, …, then round 2 starts over, so slow drift in the
// machine's load hits every contender alike and each round's ratio to the
// bare INCR compares neighbours in time.
func runRedisScenario(ctx context.Context, cfg config, admin *redis.Client, cs []*contender, sc redisScenario, progress io.Writer) (*redisResults, error) {
	if !sc.admitted { // the hog: only limiters and the INCR floor
		cs = slices.DeleteFunc(slices.Clone(cs), func(c *contender) bool { return c.decisionOnly })
	}
	res := &redisResults{
		scenario: sc.name, keys: sc.keys, lim: sc.lim, poolSize: cs[0].client.Options().PoolSize,
		callers: cfg.callers, contenders: cs, rounds: map[runKey][]redisMeasurement{},
	}
	ops := make(map[string]opFunc, len(cs))
	for _, c := range cs {
		decide, err := c.prepare(ctx, sc.name, sc.keys, sc.lim)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", sc.name, c.name, err)
		}
		prime := touchAll
		if c.limiter && !sc.admitted {
			prime = exhaust
		}
		if err := prime(ctx, decide, sc.keys); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", sc.name, c.name, err)
		}
		ops[c.name] = func(ctx context.Context, _, i int) error {
			admitted, err := decide(ctx, i)
			if err != nil {
				return err
			}
			if c.limiter && admitted != sc.admitted {
				return errUnexpected
			}
			return nil
		}
	}
	for round := 1; round <= cfg.rounds; round++ {
		for _, n := range cfg.callers {
			for _, c := range cs {
				m, err := measureRedis(ctx, cfg.duration, admin, c, n, ops[c.name])
				if err != nil {
					return nil, err
				}
				k := runKey{c.name, n}
				res.rounds[k] = append(res.rounds[k], m)
				fmt.Fprintf(progress, "%s round %d/%d callers=%-3d %-16s %10.0f/s  p50 %-8v p99 %-8v errors %d\n",
					sc.name, round, cfg.rounds, n, c.name, m.rate(), m.hist.quantile(0.5), m.hist.quantile(0.99), m.errors)
				if m.firstErr != nil {
					fmt.Fprintf(progress, "  first error: %v\n", m.firstErr)
				}
			}
		}
	}
	return res, nil
}

// touchAll decides once for every key, 16 at a time, so that creating a
// key that never existed stays out of the measurements: they see keys in
// their steady state, as a long-running service does.
func touchAll(ctx context.Context, decide decideFunc, nkeys int) error {
	const workers = 16
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < nkeys && errs[w] == nil; i += workers {
				_, errs[w] = decide(ctx, i)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// exhaust spends a hog key's quota: it decides until one is refused, so the
// measured calls all meet a key over its limit.
func exhaust(ctx context.Context, decide decideFunc, _ int) error {
	for range 3 {
		admitted, err := decide(ctx, 0)
		if err != nil {
			return err
		}
		if !admitted {
			return nil
		}
	}
	return errors.New("the hog key is still admitted after 3 requests")
}

// measureRedis warms up, then runs op for d with the process, Redis and
// wire counters read on both sides of the timed run.
func measureRedis(ctx context.Context, d time.Duration, admin *redis.Client, c *contender, callers int, op opFunc) (redisMeasurement, error) {
	drive(ctx, callers, warmupFor(d), op)
	if err := ctx.Err(); err != nil {
		return redisMeasurement{}, err
	}
	r0, err := readRedisStats(ctx, admin)
	if err != nil {
		return redisMeasurement{}, err
	}
	w0, p0, t0 := c.wire.read(), readProcessStats(), benchenv.ReadCPUTimes()
	lr := drive(ctx, callers, d, op)
	t1, p1, w1 := benchenv.ReadCPUTimes(), readProcessStats(), c.wire.read()
	r1, err := readRedisStats(ctx, admin)
	if err != nil {
		return redisMeasurement{}, err
	}
	if err := ctx.Err(); err != nil {
		return redisMeasurement{}, err
	}
	idle, ok := benchenv.IdleShare(t0, t1)
	if !ok {
		idle = -1
	}
	return redisMeasurement{loadResult: lr, process: p1.sub(p0), redis: r1.sub(r0), wire: w1.sub(w0), idle: idle}, nil
}
