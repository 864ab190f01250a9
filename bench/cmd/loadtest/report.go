package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
)

// report is everything the markdown page is made from.
type report struct {
	cfg         config
	started     time.Time
	machine     machine
	ids         []identity
	res         *loadResult
	an          *analysis
	meter       *meterResult
	propagation time.Duration
	instances   []*instance
	logs        []logCounts
	flood       *floodResult // nil: no flood
}

// failures are the reasons the run fails: the load's, the meter's and
// the flood's.
func (r *report) failures() []string {
	return slices.Concat(r.an.failures(), r.meter.failures(), r.flood.failures())
}

// render writes the whole page; every number in it comes from this run.
func (r *report) render() []byte {
	var b bytes.Buffer
	w := &b
	fmt.Fprintln(w, "# quotad load test")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Generated %s by:\n\n```sh\n%s\n```\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.cfg.command)
	if reasons := r.failures(); len(reasons) > 0 {
		fmt.Fprintf(w, "**Result: FAIL**: %s.\n\n", strings.Join(reasons, "; "))
	} else {
		fmt.Fprintf(w, "**Result: PASS**: every (client, window) outside the fault admitted exactly min(sent, limit) "+
			"(%d of %d), and no 5xx or transport error happened outside the faults.", r.an.outside.exact, r.an.outside.checked)
		if m := r.meter; m != nil {
			t := m.totals()
			fmt.Fprintf(w, " Postgres metered %s admissions for %d client-days, none twice", benchenv.FormatInt(t.pg.admitted), len(m.rows))
			if m.redisLoss {
				fmt.Fprintf(w, "; %s lost to the Redis restart (bound %s).", benchenv.FormatInt(t.missing), benchenv.FormatInt(t.seen.atRisk))
			} else {
				fmt.Fprint(w, ", none missing.")
			}
		}
		if r.flood != nil {
			fmt.Fprintf(w, " The flood answered no assigned client under another tier and degraded %.3f %% of its requests.",
				100*r.flood.degradedShare())
		}
		fmt.Fprint(w, "\n\n")
	}
	r.renderMachine(w)
	r.renderSetup(w)
	r.renderTimeline(w)
	r.renderThroughput(w)
	r.renderLatency(w)
	r.renderExactness(w)
	r.renderPhases(w)
	r.renderHog(w)
	r.renderFaultNotes(w)
	r.renderMeter(w)
	r.flood.render(w, r.cfg)
	r.renderWindows(w)
	return b.Bytes()
}

func (r *report) renderMachine(w io.Writer) {
	m := r.machine
	m.WriteMarkdown(w,
		benchenv.Row{Name: "Go", Value: m.GoVersion},
		benchenv.Row{Name: "Redis", Value: m.redisVersion + ", a private redis-server on loopback (no persistence)"},
		benchenv.Row{Name: "Postgres", Value: m.postgresVersion},
		benchenv.Row{Name: "load average (1, 5, 15 min)", Value: m.loadStart + " at start of load, " + m.loadEnd + " at end"},
		benchenv.Row{Name: "CPU time during the load (`/proc/stat`)", Value: m.cpuShare + " (steal: taken by the hypervisor for other guests)"})
	fmt.Fprintln(w, "Everything runs on this one machine: the quotad instances, Redis, Postgres and the load generator share its CPUs.")
	fmt.Fprintln(w)
}

func (r *report) renderSetup(w io.Writer) {
	c := r.cfg
	fmt.Fprintln(w, "## Setup")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "* %d quotad processes built from this checkout, on loopback ports, sharing one Redis and one throwaway "+
		"Postgres database (dropped at the end); `QUOTA_REDIS_FAILURE=open`, `QUOTA_REDIS_TIMEOUT=%v`, "+
		"`QUOTA_TRUSTED_PROXIES=127.0.0.1/32` (the load generator acts as a proxy for the anonymous clients' "+
		"`X-Forwarded-For`), `QUOTA_LOG_FORMAT=json`.\n", c.instances, c.redisTimeout)
	fmt.Fprintf(w, "* Every tier's window is %d s. Tiers are set through the admin API of instance 1; the changes were "+
		"visible on all %d instances (`GET /v1/quota` for every client) after %v.\n",
		c.window, c.instances, r.propagation.Round(time.Millisecond))
	fmt.Fprintf(w, "* Load: %v, starting on a window boundary. Every client is one goroutine sending `GET /rate-limited` to the instances in turn over "+
		"keep-alive connections, one request at a time, paced at %.0f–%.0f× its limit per window with every gap "+
		"jittered ±50 %% (seed %d); the hog keeps %d requests in flight, flat out.\n",
		c.duration, minOversubscribe, maxOversubscribe, c.seed, hogConns)
	if c.kill {
		fmt.Fprintf(w, "* Fault: at a quarter of the load one instance, the metering leader when it can be told, is SIGKILLed, "+
			"kept down %v and started again on the same port; meanwhile the load generator sends to the others.\n", c.downtime)
	}
	if c.fault == faultRedisRestart {
		fmt.Fprintf(w, "* Fault: at the midpoint Redis is stopped (SIGTERM), kept down %v, and started again on the same port, empty.\n", c.downtime)
	} else {
		fmt.Fprintln(w, "* Fault: no Redis restart (`-fault none`).")
	}
	fmt.Fprintf(w, "* `QUOTA_METER_INTERVAL=%v`: the metering leader copies usage to Postgres every %v.\n", c.meterEvery, c.meterEvery)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| tier | limit per window | clients | target rate per client |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, p := range tierPlans() {
		var names []string
		lo, hi := 0.0, 0.0
		for _, id := range r.ids {
			if id.tier != p.name {
				continue
			}
			label := id.kind.String()
			if id.kind == kindUser && !id.assigned {
				label = "user (unassigned)"
			}
			names = append(names, label)
			if id.perSec > 0 {
				if lo == 0 || id.perSec < lo {
					lo = id.perSec
				}
				hi = max(hi, id.perSec)
			}
		}
		rate := "–"
		if lo > 0 {
			rate = fmt.Sprintf("%.1f–%.1f req/s", lo, hi)
		}
		if slices.Contains(names, "hog") {
			rate += "; the hog flat out"
		}
		fmt.Fprintf(w, "| `%s` | %d | %s | %s |\n", p.name, p.limit, countLabels(names), rate)
	}
	fmt.Fprintln(w)
}

// countLabels turns ["user","user","hog"] into "2 user, 1 hog".
func countLabels(labels []string) string {
	if len(labels) == 0 {
		return "0"
	}
	var order []string
	n := map[string]int{}
	for _, l := range labels {
		if n[l] == 0 {
			order = append(order, l)
		}
		n[l]++
	}
	var parts []string
	for _, l := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[l], l))
	}
	return strings.Join(parts, ", ")
}

func (r *report) renderTimeline(w io.Writer) {
	fmt.Fprintln(w, "## Timeline")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| offset | wall clock (UTC) | event |")
	fmt.Fprintln(w, "|---|---|---|")
	type event struct {
		at   time.Duration
		what string
	}
	evs := []event{
		{0, "load starts"},
		{r.cfg.duration, "`-duration` is over: no new requests"},
		{r.res.elapsed, fmt.Sprintf("the last of %d requests in flight at that moment is answered", r.an.inflight)},
	}
	if f := r.res.fault; f != nil {
		evs = append(evs,
			event{f.stop, "Redis sent SIGTERM: the fault period starts"},
			event{f.down, "Redis has exited; connections are refused"},
			event{f.restart, "Redis started again on the same port, empty"},
			event{f.up, "Redis answers PING"},
			event{r.an.faultTo, fmt.Sprintf("the fault period ends (Redis up + %v: a breaker cool-off and slack)", faultGrace)})
	}
	if r.an.hasKill {
		k := r.an.kill
		evs = append(evs,
			event{k.kill, fmt.Sprintf("quotad %d SIGKILLed; the load goes to the other instances", k.inst+1)},
			event{k.down, fmt.Sprintf("quotad %d has exited; %d requests in flight to it are lost", k.inst+1, r.an.killLost)},
			event{k.restart, fmt.Sprintf("quotad %d started again on the same port", k.inst+1)},
			event{k.up, fmt.Sprintf("quotad %d answers /healthz and takes load again", k.inst+1)})
	}
	slices.SortStableFunc(evs, func(x, y event) int { return cmp.Compare(x.at, y.at) })
	for _, e := range evs {
		fmt.Fprintf(w, "| %.3f s | %s | %s |\n", e.at.Seconds(), r.res.wall(e.at).UTC().Format("15:04:05.000"), e.what)
	}
	fmt.Fprintln(w)
	if r.an.degraded > 0 {
		fmt.Fprintf(w, "Fail-open (degraded) admissions were seen from %.3f s to %.3f s.\n\n",
			r.an.firstDegr.Seconds(), r.an.lastDegr.Seconds())
	}
}

func (r *report) renderThroughput(w io.Writer) {
	a := r.an
	secs := a.elapsed.Seconds()
	fmt.Fprintln(w, "## Throughput")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Over %.2f s (from the first request to the last answer).\n\n", secs)
	fmt.Fprintln(w, "| | requests | req/s | admitted (200) | limited (429) | degraded | 5xx | transport errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	var all instStats
	for _, in := range a.byInst {
		all.requests += in.requests
		all.admitted += in.admitted
		all.limited += in.limited
		all.degraded += in.degraded
		all.status5xx += in.status5xx
		all.errors += in.errors
	}
	row := func(name string, s instStats) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, benchenv.FormatInt(s.requests),
			benchenv.FormatInt(int64(float64(s.requests)/secs)), benchenv.FormatInt(s.admitted), benchenv.FormatInt(s.limited),
			benchenv.FormatInt(s.degraded), benchenv.FormatInt(s.status5xx), benchenv.FormatInt(s.errors))
	}
	row("**all**", all)
	for i, in := range a.byInst {
		row(fmt.Sprintf("quotad %d", i+1), in)
	}
	fmt.Fprintln(w)
	var codes []int
	for c := range a.byStatus {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "transport error"
		}
		parts = append(parts, fmt.Sprintf("%s: %s", name, benchenv.FormatInt(a.byStatus[c])))
	}
	fmt.Fprintf(w, "By status: %s. The hog sent %s requests, %.1f %% of all.\n\n", strings.Join(parts, ", "), benchenv.FormatInt(a.hogSent), 100*a.hogShare)
	if r.flood != nil {
		fmt.Fprintln(w, "Instance logs (lines by level, the flood's requests included):")
	} else {
		fmt.Fprintln(w, "Instance logs (lines by level):")
	}
	fmt.Fprintln(w)
	for i, lc := range r.logs {
		var lv []string
		for _, l := range []string{"DEBUG", "INFO", "WARN", "ERROR", "(not JSON)"} {
			if n := lc.levels[l]; n > 0 {
				lv = append(lv, fmt.Sprintf("%s %s", l, benchenv.FormatInt(int64(n))))
			}
		}
		line := fmt.Sprintf("* quotad %d: %s", i+1, strings.Join(lv, ", "))
		if lc.firstWarn != "" {
			line += fmt.Sprintf("; first warning: %q", lc.firstWarn)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
}

func (r *report) renderLatency(w io.Writer) {
	a := r.an
	fmt.Fprintln(w, "## Latency")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Client-side, from sending the request to reading the whole body, over every answered request "+
		"(exact nearest-rank percentiles of the recorded durations).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | responses | p50 | p90 | p99 | max |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	row := func(name string, l latency) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", name, benchenv.FormatInt(int64(l.n)), fmtLat(l.p50), fmtLat(l.p90), fmtLat(l.p99), fmtLat(l.max))
	}
	row("**all**", a.lat)
	row("admitted (200)", a.latOK)
	row("limited (429)", a.latLimit)
	if a.hasFault {
		row("before the fault", a.latPhases[phaseBefore])
		row("during the fault", a.latPhases[phaseDuring])
		row("after the fault", a.latPhases[phaseAfter])
	}
	fmt.Fprintln(w)
}

func (r *report) renderExactness(w io.Writer) {
	a := r.an
	fmt.Fprintln(w, "## Exactness")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A window is one client's fixed window (aligned to multiples of the window since the Unix epoch). "+
		"A request belongs to the window its `X-RateLimit-Reset` names, which is the window Redis decided it in; "+
		"a request answered without that header (a fail-open admission, a transport error) to the window of its "+
		"wall-clock midpoint. A window is **exact** when admitted == min(sent, limit) and every request was answered "+
		"200 or 429. The load starts on a window boundary; a window cut short by the end of the load (or holding "+
		"only the last requests in flight) is partial, and the rule holds for it too.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| windows | checked | exact | not exact | over-subscribed (sent > limit) | admitted beyond the limit | admitted short of min(sent, limit) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	row := func(name string, t tally) {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %s | %s |\n", name, t.checked, t.exact, t.checked-t.exact,
			t.oversubscribed, benchenv.FormatInt(t.excess), benchenv.FormatInt(t.short))
	}
	row("outside the faults", a.outside)
	if a.hasFault {
		row("overlapping the fault", a.inside)
	}
	if a.hasKill {
		row("holding a request lost at the SIGKILL", a.atKill)
	}
	fmt.Fprintln(w)
	var bad []windowStat
	for _, ws := range a.windows {
		if !ws.exact() {
			bad = append(bad, ws)
		}
	}
	if len(bad) == 0 {
		fmt.Fprintln(w, "Every window is exact.")
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintln(w, "Windows that are not exact:")
	fmt.Fprintln(w)
	r.windowTable(w, bad)
}

func (r *report) renderPhases(w io.Writer) {
	a := r.an
	if !a.hasFault {
		return
	}
	fmt.Fprintln(w, "## Before, during and after the fault")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A request is *during* the fault if it was in flight at any moment of the fault period "+
		"(from Redis's stop to the end of the grace after its restart).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| phase | span | requests | admitted | limited | degraded (fail-open) | 5xx | transport errors |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for ph, p := range a.phases {
		fmt.Fprintf(w, "| %s | %.1f–%.1f s | %s | %s | %s | %s | %s | %s |\n", phase(ph), p.from.Seconds(), p.to.Seconds(),
			benchenv.FormatInt(p.requests), benchenv.FormatInt(p.admitted), benchenv.FormatInt(p.limited),
			benchenv.FormatInt(p.degraded), benchenv.FormatInt(p.status5xx), benchenv.FormatInt(p.errors))
	}
	fmt.Fprintln(w)
}

func (r *report) renderHog(w io.Writer) {
	a := r.an
	hog := r.ids[a.hog]
	fmt.Fprintln(w, "## The hog")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "`%s` on `%s` (%d per window), %d requests in flight, flat out: %s requests, %.1f %% of all requests. "+
		"Once a window's limit is reached, each instance refuses it from memory (no Redis round trip) until the window ends.\n\n",
		hog.name, hog.tier, hog.limit, hogConns, benchenv.FormatInt(a.hogSent), 100*a.hogShare)
	var ws []windowStat
	for _, x := range a.windows {
		if x.id == a.hog {
			ws = append(ws, x)
		}
	}
	r.windowTable(w, ws)
}

func (r *report) renderFaultNotes(w io.Writer) {
	a := r.an
	fmt.Fprintln(w, "## What the fault changes")
	fmt.Fprintln(w)
	if a.hasKill {
		fmt.Fprintf(w, "* **The SIGKILL of quotad %d** loses the answers of the requests in flight to it (%s this run); whether "+
			"each was decided in Redis before the kill, no answer tells, so the windows holding one (%d) are reported apart "+
			"and do not fail the check. Its in-memory refusals go with it; the restarted process asks Redis again, which "+
			"still holds every window. The other instances' windows stay exact throughout.\n",
			a.kill.inst+1, benchenv.FormatInt(a.killLost), a.atKill.checked)
		if !a.hasFault {
			fmt.Fprintln(w)
		}
	}
	if !a.hasFault {
		fmt.Fprintln(w, "This run had no fault (`-fault none`): every window is held to exactness. With "+
			"`-fault redis-restart`, Redis is stopped at the midpoint and started again empty; the windows overlapping "+
			"that period are reported separately and do not fail the check.")
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "* **While Redis is down** every instance's decision fails (connection refused, or the %v deadline); "+
		"with `QUOTA_REDIS_FAILURE=open` the request is admitted with `X-RateLimit-Degraded: 1` and no rate-limit "+
		"headers, since nothing true can be said. After 5 failures in a row an instance's circuit breaker stops "+
		"calling Redis for 1 s, so a dead Redis costs nothing per request. This run: %s degraded admissions, "+
		"%s during the fault period.\n", r.cfg.redisTimeout, benchenv.FormatInt(a.degraded), benchenv.FormatInt(a.phases[phaseDuring].degraded))
	fmt.Fprintf(w, "* **Redis comes back empty**: the counts of the window in progress are lost, so a window "+
		"spanning the restart may admit up to its limit again on top of what it admitted before the stop, plus the "+
		"fail-open admissions. This run: %s admissions beyond the limit in the %d windows overlapping the fault.\n",
		benchenv.FormatInt(a.inside.excess), a.inside.checked)
	fmt.Fprintf(w, "* **The hog** is refused from each instance's memory once it is over its limit in a window, "+
		"until that window ends, Redis or no Redis; so a window that began before the stop stays closed to it. A "+
		"window that *begins* while Redis is down has no such knowledge: fail-open admits the hog at its full rate "+
		"until Redis answers again. This run: the hog was admitted %s times beyond its limit.\n", benchenv.FormatInt(a.hogExcess))
	fmt.Fprintf(w, "* **After the fault period** (Redis up + %v) windows start afresh in the new Redis and are held "+
		"to exactness again, as are the windows that ended before the stop: %d of %d such windows are exact.\n",
		faultGrace, a.outside.exact, a.outside.checked)
	fmt.Fprintln(w, "* 5xx answers and transport errors are not expected at any time (fail-open never answers 503); "+
		"outside the fault period they fail the check.")
	fmt.Fprintln(w)
}

func (r *report) renderWindows(w io.Writer) {
	fmt.Fprintln(w, "## Every window")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "<details><summary>%d (client, window) pairs</summary>\n\n", len(r.an.windows))
	r.windowTable(w, r.an.windows)
	fmt.Fprintln(w, "</details>")
	fmt.Fprintln(w)
}

// windowTable writes one row per window.
func (r *report) windowTable(w io.Writer, ws []windowStat) {
	fmt.Fprintln(w, "| client | tier | window (UTC) | sent | admitted | limited | degraded | limit | exact | fault |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, x := range ws {
		id := r.ids[x.id]
		start := time.Unix(x.start, 0).UTC().Format("15:04:05")
		exact := "yes"
		if !x.exact() {
			exact = fmt.Sprintf("**no** (want %d)", x.want())
			if x.errors > 0 || x.other > 0 {
				exact += fmt.Sprintf(", %d errors, %d other", x.errors, x.other)
			}
		}
		fault := ""
		switch {
		case x.fault:
			fault = "overlaps"
		case x.lost > 0:
			fault = fmt.Sprintf("%d lost at the SIGKILL", x.lost)
		}
		fmt.Fprintf(w, "| %s | %s | %s +%ds | %d | %d | %d | %d | %d | %s | %s |\n", id.name, id.tier, start, r.cfg.window,
			x.sent, x.admitted, x.limited, x.degraded, x.limit, exact, fault)
	}
	fmt.Fprintln(w)
}

// fmtLat formats a latency: 850µs → "850 µs", 12.345ms → "12.35 ms".
func fmtLat(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d µs", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
