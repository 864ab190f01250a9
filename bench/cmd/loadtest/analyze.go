package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// faultGrace extends the fault period past the moment Redis answers again:
// an instance whose circuit breaker opened keeps admitting without a
// decision for up to one cool-off (a second, quota's fixed breaker
// cool-off) before its next probe finds Redis back; twice that leaves
// slack.
const faultGrace = 2 * time.Second

// phase places a request relative to the fault.
type phase int

const (
	phaseBefore phase = iota // answered before the stop (or: no fault)
	phaseDuring              // in flight at some point of the fault period
	phaseAfter               // sent after the fault period
)

func (p phase) String() string { return [...]string{"before", "during", "after"}[p] }

// windowStat is one identity in one window: what it sent and what was
// admitted. Requests are placed in the window their X-RateLimit-Reset
// names (the window Redis decided in); those without it (fail-open
// admissions, transport errors) by the wall-clock midpoint of the request.
type windowStat struct {
	id       int32
	start    int64 // Unix seconds
	limit    int64
	sent     int64
	admitted int64 // 200s, degraded ones included
	limited  int64 // 429s
	degraded int64
	other    int64 // any other status
	errors   int64 // transport errors
	lost     int64 // of which lost in flight at the SIGKILL
	fault    bool  // overlaps the fault period
}

// want is what an exact limiter admits: min(sent, limit).
func (w windowStat) want() int64 { return min(w.sent, w.limit) }

// exact reports admitted == min(sent, limit), with every request answered
// 200 or 429.
func (w windowStat) exact() bool {
	return w.errors == 0 && w.other == 0 && w.admitted == w.want()
}

// tally counts windows of one kind (inside or outside the fault).
type tally struct {
	checked, exact, oversubscribed int
	excess                         int64 // admitted beyond the limit, summed
	short                          int64 // admitted below min(sent, limit), summed
}

// phaseStats are the requests of one phase.
type phaseStats struct {
	requests, admitted, limited, degraded, status5xx, other, errors int64
	from, to                                                        time.Duration
}

// instStats are one instance's requests.
type instStats struct {
	requests, admitted, limited, degraded, status5xx, errors int64
}

// latency is exact percentiles of a set of durations.
type latency struct {
	n                  int
	p50, p90, p99, max time.Duration
}

// analysis is every number the report shows and the check decides on.
type analysis struct {
	per       int64
	hasFault  bool
	faultFrom time.Duration // offsets from the start of the load
	faultTo   time.Duration
	elapsed   time.Duration

	total     int64
	byStatus  map[int]int64 // 0: transport error
	degraded  int64
	byInst    []instStats
	phases    [3]phaseStats
	lat       latency
	latPhases [3]latency
	latOK     latency // 200s: a Redis round trip (or a fail-open admission)
	latLimit  latency // 429s: mostly refused from an instance's memory

	windows []windowStat // by identity, then window
	inside  tally        // windows overlapping the fault period
	atKill  tally        // other windows holding a request lost at the SIGKILL
	outside tally

	hasKill  bool
	kill     killTimes
	killLost int64 // requests in flight to the killed instance: no answer, outcome unknown

	hog       int32 // index of the hog
	hogSent   int64
	hogShare  float64
	hogExcess int64 // the hog's admissions beyond its limit, summed over its windows
	inflight  int   // requests still in flight at -duration
	lastDegr  time.Duration
	firstDegr time.Duration
}

func analyze(cfg config, ids []identity, res *loadResult, ninst int) *analysis {
	a := &analysis{
		per: int64(cfg.window), elapsed: res.elapsed, byStatus: map[int]int64{},
		byInst: make([]instStats, ninst), firstDegr: -1, lastDegr: -1,
	}
	if f := res.fault; f != nil {
		a.hasFault, a.faultFrom, a.faultTo = true, f.stop, f.up+faultGrace
	}
	if k := res.kill; k != nil {
		a.hasKill, a.kill = true, *k
	}
	for i, id := range ids {
		if id.kind == kindHog {
			a.hog = int32(i)
		}
	}
	a.phases[phaseBefore].from, a.phases[phaseBefore].to = 0, a.faultFrom
	a.phases[phaseDuring].from, a.phases[phaseDuring].to = a.faultFrom, a.faultTo
	a.phases[phaseAfter].from, a.phases[phaseAfter].to = min(a.faultTo, res.elapsed), res.elapsed
	if !a.hasFault {
		a.phases[phaseBefore].to = res.elapsed
	}

	type key struct {
		id    int32
		start int64
	}
	wins := map[key]*windowStat{}
	var durs []time.Duration
	var phaseDurs [3][]time.Duration
	var okDurs, limitDurs []time.Duration
	for _, s := range res.samples {
		a.total++
		a.byStatus[int(s.status)]++
		ph := a.phaseOf(s)
		p := &a.phases[ph]
		in := &a.byInst[s.inst]
		p.requests++
		in.requests++
		if s.id == a.hog {
			a.hogSent++
		}
		if s.end > cfg.duration {
			a.inflight++
		}
		start := a.windowOf(res, s)
		k := key{s.id, start}
		w := wins[k]
		if w == nil {
			w = &windowStat{id: s.id, start: start, limit: ids[s.id].limit}
			wins[k] = w
		}
		w.sent++
		switch {
		case s.status == 0:
			in.errors++
			w.errors++
			if a.lostAtKill(s) {
				a.killLost++
				w.lost++
			} else {
				p.errors++
			}
			continue // no latency: there was no answer
		case s.status == 200:
			p.admitted++
			in.admitted++
			w.admitted++
			if s.degraded {
				a.degraded++
				p.degraded++
				in.degraded++
				w.degraded++
				if a.firstDegr < 0 || s.start < a.firstDegr {
					a.firstDegr = s.start
				}
				a.lastDegr = max(a.lastDegr, s.end)
			}
		case s.status == 429:
			p.limited++
			in.limited++
			w.limited++
		default:
			p.other++
			w.other++
			if s.status >= 500 {
				p.status5xx++
				in.status5xx++
			}
		}
		d := s.end - s.start
		durs = append(durs, d)
		phaseDurs[ph] = append(phaseDurs[ph], d)
		switch s.status {
		case 200:
			okDurs = append(okDurs, d)
		case 429:
			limitDurs = append(limitDurs, d)
		}
	}
	a.lat = latencyOf(durs)
	a.latOK, a.latLimit = latencyOf(okDurs), latencyOf(limitDurs)
	for ph := range phaseDurs {
		a.latPhases[ph] = latencyOf(phaseDurs[ph])
	}
	if a.total > 0 {
		a.hogShare = float64(a.hogSent) / float64(a.total)
	}

	for _, w := range wins {
		w.fault = a.windowOverlap(res, w.start)
		t := &a.outside
		switch {
		case w.fault:
			t = &a.inside
		case w.lost > 0:
			t = &a.atKill
		}
		t.checked++
		if w.exact() {
			t.exact++
		}
		if w.sent > w.limit {
			t.oversubscribed++
		}
		t.excess += max(w.admitted-w.limit, 0)
		if w.id == a.hog {
			a.hogExcess += max(w.admitted-w.limit, 0)
		}
		t.short += max(w.want()-w.admitted, 0)
		a.windows = append(a.windows, *w)
	}
	slices.SortFunc(a.windows, func(x, y windowStat) int {
		return cmp.Or(cmp.Compare(x.id, y.id), cmp.Compare(x.start, y.start))
	})
	return a
}

// phaseOf places a request: before the fault if answered before the stop,
// after it if sent after the fault period, during it otherwise.
func (a *analysis) phaseOf(s sample) phase {
	switch {
	case !a.hasFault || s.end < a.faultFrom:
		return phaseBefore
	case s.start >= a.faultTo:
		return phaseAfter
	}
	return phaseDuring
}

// lostAtKill reports whether a transport error is the SIGKILL's: a
// request to the killed instance, in flight when it was killed or sent to
// it before the load generator saw it down.
func (a *analysis) lostAtKill(s sample) bool {
	return a.hasKill && s.status == 0 && int(s.inst) == a.kill.inst && s.end >= a.kill.kill && s.start <= a.kill.up
}

// windowOf is the Unix second a request's window starts at: from
// X-RateLimit-Reset when the response has it, else from the wall-clock
// midpoint of the request (Redis's clock is this machine's clock).
func (a *analysis) windowOf(res *loadResult, s sample) int64 {
	if s.reset > 0 {
		return s.reset - a.per
	}
	mid := res.wall(s.start + (s.end-s.start)/2)
	perNanos := a.per * int64(time.Second)
	return mid.UnixNano() / perNanos * a.per
}

// latencyOf returns exact nearest-rank percentiles of ds (sorted in place).
func latencyOf(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		return ds[max(i, 0)]
	}
	return latency{n: len(ds), p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), max: ds[len(ds)-1]}
}

// failures are the reasons the run fails the check: an inexact window
// outside the faults, or a 5xx or transport error outside them.
func (a *analysis) failures() []string {
	var out []string
	if n := a.outside.checked - a.outside.exact; n > 0 {
		out = append(out, fmt.Sprintf("%d of %d windows outside the fault not exact", n, a.outside.checked))
	}
	var s5, errs int64
	for _, ph := range []phase{phaseBefore, phaseAfter} {
		s5 += a.phases[ph].status5xx
		errs += a.phases[ph].errors
	}
	if s5 > 0 {
		out = append(out, fmt.Sprintf("%d 5xx responses outside the fault", s5))
	}
	if errs > 0 {
		out = append(out, fmt.Sprintf("%d transport errors outside the faults", errs))
	}
	if a.total == 0 {
		out = append(out, "no request was sent")
	}
	return out
}

// windowOverlap reports whether the window starting at Unix second start
// overlaps the fault period.
func (a *analysis) windowOverlap(res *loadResult, start int64) bool {
	if !a.hasFault {
		return false
	}
	ws := time.Unix(start, 0)
	we := ws.Add(time.Duration(a.per) * time.Second)
	return ws.Before(res.wall(a.faultTo)) && we.After(res.wall(a.faultFrom))
}
