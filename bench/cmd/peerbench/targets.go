package main

import (
	"fmt"
	"io"
	"slices"
)

// target is one of the performance goals the report checks: a ratio of
// two contenders' rates, per round, that should reach at least min.
type target struct {
	what  string  // "batched, 64 callers: ÷ bare INCR"
	min   float64 // the goal
	rs    []float64
	extra string // a further condition and whether it held, or ""
	ok    bool   // extra held (true when there is none)
	note  string // what bounds the goal on this machine, or ""
}

// roundRatios is, per round, ms's rate over base's.
func roundRatios[M rated](ms, base []M) []float64 {
	var rs []float64
	for i := range min(len(ms), len(base)) {
		if b := base[i].rate(); b > 0 {
			rs = append(rs, ms[i].rate()/b)
		}
	}
	return rs
}

// bestPeer is, per round, the faster of redis_rate and ulule, or the one
// of them that ran (see -contenders), and how the report names it.
func bestPeer(res *redisResults, n int) ([]redisMeasurement, string) {
	a, b := res.rounds[runKey{"redis_rate", n}], res.rounds[runKey{"ulule", n}]
	if len(a) == 0 {
		return b, "`ulule`"
	}
	if len(b) == 0 {
		return a, "`redis_rate`"
	}
	out := make([]redisMeasurement, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i]
		if b[i].rate() > a[i].rate() {
			out[i] = b[i]
		}
	}
	return out, "the faster of `redis_rate` and `ulule`"
}

// idleNote compares how idle the machine was while batched quota ran and
// while the bare INCR did, e.g. "machine idle 32 % (`incr` 9 %)": batches
// trade round trips for fewer things in flight, so where a batched goal is
// missed with the machine idle, latency bounds it, not CPU. It is "" when
// either share is unknown.
func idleNote(quota, incr []redisMeasurement) string {
	q, okQ := medianIdle(quota)
	i, okI := medianIdle(incr)
	if !okQ || !okI {
		return ""
	}
	return fmt.Sprintf("machine idle %.0f %% (`incr` %.0f %%)", 100*q, 100*i)
}

// callersText is "1 caller" or "16 callers".
func callersText(n int) string {
	if n == 1 {
		return "1 caller"
	}
	return fmt.Sprintf("%d callers", n)
}

// targets lists the goals this run has data for.
func (r *report) targets() []target {
	var ts []target
	if res := r.decision; res != nil {
		for _, n := range res.callers {
			quota, incr := res.rounds[runKey{"quota", n}], res.rounds[runKey{"incr", n}]
			goal := map[int]float64{1: 0.8, 16: 1.0, 64: 1.5}[n]
			if goal == 0 {
				continue
			}
			// What the least a script can do reaches in the same rounds:
			// with nothing to batch (1 caller) or no batching, quota can
			// only approach it.
			floorNote := ""
			if floor := roundRatios(res.rounds[runKey{"script-floor", n}], incr); len(floor) > 0 {
				floorNote = fmt.Sprintf("`script-floor` reaches %.2f×", median(floor))
			}
			t := target{what: fmt.Sprintf("`quota` (batched), %s: ÷ `incr`", callersText(n)), min: goal, rs: roundRatios(quota, incr), ok: true}
			if n == 1 {
				t.note = floorNote
			} else {
				t.note = idleNote(quota, incr)
			}
			ts = append(ts, t)
			if n > 1 {
				peer, peerName := bestPeer(res, n)
				ts = append(ts, target{what: fmt.Sprintf("`quota` (batched), %d callers: ÷ %s", n, peerName),
					min: 1.5, rs: roundRatios(quota, peer), ok: true, note: t.note})
				ts = append(ts, target{what: fmt.Sprintf("`quota-unbatched`, %d callers: ÷ `incr`", n), min: 0.8,
					rs: roundRatios(res.rounds[runKey{"quota-unbatched", n}], incr), ok: true, note: floorNote})
			}
			if plan := res.rounds[runKey{"quota-3w", n}]; n == 64 && len(plan) > 0 {
				cpu := medianOf(plan, redisCPU) / medianOf(incr, redisCPU)
				ts = append(ts, target{what: "`quota-3w` (three windows), 64 callers: ÷ `incr`", min: 1.5, rs: roundRatios(plan, incr),
					extra: fmt.Sprintf("Redis CPU per decision %.2f× `incr`'s (want at most 0.60×)", cpu), ok: cpu <= 0.6})
				peer, peerName := bestPeer(res, n)
				ts = append(ts, target{what: "`quota-3w` (three windows), 64 callers: ÷ " + peerName, min: 1.8, rs: roundRatios(plan, peer), ok: true})
			}
			if metered := res.rounds[runKey{"quota-3w-meter", n}]; n == 64 && len(metered) > 0 {
				cpu := medianOf(metered, redisCPU) / medianOf(incr, redisCPU)
				ts = append(ts, target{what: "`quota-3w-meter` (three windows, metered), 64 callers: ÷ `incr`", min: 1.3, rs: roundRatios(metered, incr),
					extra: fmt.Sprintf("Redis CPU per decision %.2f× `incr`'s (want at most 0.80×)", cpu), ok: cpu <= 0.8})
			}
		}
	}
	if res := r.hog; res != nil {
		for _, n := range res.callers {
			ms := res.rounds[runKey{"quota", n}]
			cmds := medianOf(ms, allCommands)
			ts = append(ts, target{what: fmt.Sprintf("hog, `quota`, %s: ÷ `incr`", callersText(n)), min: 10,
				rs: roundRatios(ms, res.rounds[runKey{"incr", n}]), extra: fmt.Sprintf("Redis commands per decision %s (want 0)", fmtPer(cmds)), ok: cmds == 0})
		}
	}
	if res := r.http; res != nil {
		for _, n := range res.conns {
			ts = append(ts, target{what: fmt.Sprintf("HTTP, `quotad`, %d connections: ÷ `echo`", n), min: 0.5,
				rs: roundRatios(res.rounds[runKey{serverQuotad, n}], res.rounds[runKey{serverEcho, n}]), ok: true})
			ts = append(ts, target{what: fmt.Sprintf("HTTP, `quotad-3w` (three windows), %d connections: ÷ `echo`", n), min: 0.55,
				rs: roundRatios(res.rounds[runKey{serverQuotad3w, n}], res.rounds[runKey{serverEcho, n}]), ok: true})
			if n == 16 || n == 64 {
				ts = append(ts, target{what: fmt.Sprintf("HTTP, `quotad-authorize` (`/v1/authorize`), %d connections: ÷ `quotad` (`/rate-limited`)", n), min: 0.9,
					rs: roundRatios(res.rounds[runKey{serverQuotadAuth, n}], res.rounds[runKey{serverQuotad, n}]), ok: true})
			}
		}
	}
	return ts
}

// renderTargets writes the goals, what this run measured, and by how much
// each missed one fell short (on the median across rounds).
func (r *report) renderTargets(w io.Writer) {
	ts := r.targets()
	if len(ts) == 0 {
		return
	}
	fmt.Fprintln(w, "## Targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Each goal is a ratio of rates measured in the same round; the median across rounds decides it. "+
		"docs/PERFORMANCE-ANALYSIS.md says why a missed one is missed and what would close it.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| goal | at least | measured, median (min–max) | |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	for _, t := range ts {
		if len(t.rs) == 0 {
			continue
		}
		m := median(t.rs)
		verdict := "met"
		if m < t.min {
			verdict = "**missed** by " + shortfall(t.min, m)
		}
		if t.extra != "" {
			verdict += "; " + t.extra
			if !t.ok {
				verdict += ": **missed**"
			}
		}
		if t.note != "" {
			verdict += "; " + t.note
		}
		fmt.Fprintf(w, "| %s | %.2f× | %.2f× (%.2f–%.2f) | %s |\n", t.what, t.min, m, slices.Min(t.rs), slices.Max(t.rs), verdict)
	}
	fmt.Fprintln(w)
}

// shortfall says by how much m falls short of goal, as a percentage of the
// goal: whole percents, but one decimal under 1 %, where rounding to whole
// percents would print "missed by 0 %".
func shortfall(goal, m float64) string {
	p := 100 * (goal - m) / goal
	if p < 1 {
		return fmt.Sprintf("%.1f %%", p)
	}
	return fmt.Sprintf("%.0f %%", p)
}
