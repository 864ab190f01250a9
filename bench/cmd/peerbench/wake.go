package main

import "time"

// wakeEvery wakes the process every d until the returned function is
// called; d of 0 does nothing.
//
// A lone caller's rate is the latency of one round trip, and on a VM much of
// that latency is an idle virtual CPU being woken when the reply arrives:
// the deeper it has gone to sleep, the longer that takes. A process that
// wakes often keeps its CPU out of the deeper sleep. quota.Limiter does so
// as a side effect, since its decisions share one deadline per millisecond,
// each with a timer; on an AMD EPYC VM a 1 ms ticker alone took a bare
// go-redis INCR from 14–19k to 20–28k round trips a second at one caller,
// more than any contender's own work changed it. Waking every process of
// the run alike leaves each contender's own cost to decide the ratios.
func wakeEvery(d time.Duration) (stop func()) {
	if d <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	t := time.NewTicker(d)
	go func() {
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
