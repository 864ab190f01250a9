package main

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadResult is what callers goroutines did in one timed run.
type loadResult struct {
	ok, errors int64 // operations that succeeded with the expected outcome, and the rest
	firstErr   error
	elapsed    time.Duration
	hist       *histogram // latency of the successful operations
}

// rate is successful operations per second.
func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// caller is one goroutine's tally; each owns one, so nothing is shared on
// the hot path.
type caller struct {
	ok, errors int64
	firstErr   error
	hist       histogram
}

// opFunc is one timed operation: call number i of goroutine g.
type opFunc func(ctx context.Context, g, i int) error

// drive runs op from callers goroutines for d (or until ctx ends) and
// times every call. Goroutine g numbers its calls from g×7919, so callers
// spread over the key space as the quota package's benchmarks do.
func drive(ctx context.Context, callers int, d time.Duration, op opFunc) loadResult {
	var stop atomic.Bool
	tallies := make([]*caller, callers)
	var wg sync.WaitGroup
	start := time.Now()
	for g := range callers {
		t := &caller{}
		tallies[g] = t
		wg.Go(func() {
			i := g * 7919
			for !stop.Load() {
				i++
				t0 := time.Now()
				err := op(ctx, g, i)
				took := time.Since(t0)
				if err != nil {
					t.errors++
					if t.firstErr == nil {
						t.firstErr = err
					}
					if ctx.Err() != nil {
						return
					}
					continue
				}
				t.ok++
				t.hist.record(took)
			}
		})
	}
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	stop.Store(true)
	wg.Wait()
	r := loadResult{elapsed: time.Since(start), hist: &histogram{}}
	for _, t := range tallies {
		r.ok += t.ok
		r.errors += t.errors
		if r.firstErr == nil {
			r.firstErr = t.firstErr
		}
		r.hist.merge(&t.hist)
	}
	return r
}

// processStats is this process's CPU time and allocation count so far.
type processStats struct {
	cpu     time.Duration // user + system
	mallocs uint64
}

// readProcessStats reads getrusage(RUSAGE_SELF) and the heap's allocation
// counter. ReadMemStats stops the world briefly, so it runs only between
// timed runs.
func readProcessStats() processStats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return processStats{
		cpu:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		mallocs: ms.Mallocs,
	}
}

func (p processStats) sub(before processStats) processStats {
	return processStats{cpu: p.cpu - before.cpu, mallocs: p.mallocs - before.mallocs}
}

// warmupFor is the untimed run before each measurement: long enough to open
// the pool's connections and load scripts, short beside the measurement.
func warmupFor(d time.Duration) time.Duration {
	return min(max(d/10, 20*time.Millisecond), 300*time.Millisecond)
}
