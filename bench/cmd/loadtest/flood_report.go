package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/quotad/quotad/bench/internal/benchenv"
)

// maxFloodDegraded is the flood's goal for degraded admissions with Redis
// up: under 0.1 % of its requests, e.g. fewer than 100 of 100,000.
const maxFloodDegraded = 0.001

// degradedShare is the fraction of the flood's requests admitted without a
// decision.
func (f *floodResult) degradedShare() float64 {
	if n := f.counts.sent.Load(); n > 0 {
		return float64(f.counts.degraded.Load()) / float64(n)
	}
	return 0
}

// failures are the reasons the flood misses its goals: any answer under
// the wrong tier, degraded admissions at 0.1 % or more, a 5xx or a
// transport error (Redis and Postgres are up throughout).
func (f *floodResult) failures() []string {
	if f == nil {
		return nil
	}
	k := f.counts
	var out []string
	if n := k.fallbacks.Load(); n > 0 {
		out = append(out, fmt.Sprintf("flood: %d of %d requests of assigned clients answered under another tier (goal 0)",
			n, k.assignedSent.Load()))
	}
	if n := k.wrongFree.Load(); n > 0 {
		out = append(out, fmt.Sprintf("flood: %d requests of unassigned clients answered under a tier other than free", n))
	}
	if n := k.noPolicy.Load(); n > 0 {
		out = append(out, fmt.Sprintf("flood: %d decided answers without RateLimit-Policy", n))
	}
	if share := f.degradedShare(); share >= maxFloodDegraded {
		out = append(out, fmt.Sprintf("flood: %d of %d requests degraded, %.3f %% (goal under %.1f %%)",
			k.degraded.Load(), k.sent.Load(), 100*share, 100*maxFloodDegraded))
	}
	if n := k.status5xx.Load() + k.other.Load(); n > 0 {
		out = append(out, fmt.Sprintf("flood: %d answers neither 200 nor 429", n))
	}
	if n := k.errors.Load(); n > 0 {
		out = append(out, fmt.Sprintf("flood: %d transport errors (first: %s)", n, f.firstErr))
	}
	if k.sent.Load() == 0 {
		out = append(out, "flood: no request was sent")
	}
	return out
}

// render writes the flood's section of the report.
func (f *floodResult) render(w io.Writer, cfg config) {
	if f == nil {
		return
	}
	k := f.counts
	n := benchenv.FormatInt
	fmt.Fprintln(w, "## Flood")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "After the load, with Redis up: %s clients no instance had seen, %s of them assigned to the paid tiers "+
		"(round-robin) just before and the rest never assigned (free), send `GET /rate-limited` for %v, %d requests in flight "+
		"at a time, each for the next client of a shuffled list (wrapping around) to the next instance. Goals: no request of an assigned client answered under another tier "+
		"(a fallback), and under %.1f %% of requests degraded (`X-RateLimit-Degraded: 1`).\n\n",
		n(int64(f.clients)), n(int64(f.assigned)), cfg.flood, f.conns, 100*maxFloodDegraded)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	secs := f.elapsed.Seconds()
	fmt.Fprintf(w, "| requests | %s in %.2f s (%s req/s) |\n", n(k.sent.Load()), secs, n(int64(float64(k.sent.Load())/secs)))
	fmt.Fprintf(w, "| admitted (200), limited (429) | %s, %s |\n", n(k.admitted.Load()), n(k.limited.Load()))
	fmt.Fprintf(w, "| **degraded** | %s (%.3f %%) |\n", n(k.degraded.Load()), 100*f.degradedShare())
	fmt.Fprintf(w, "| **fallbacks**: assigned clients' answers under another tier | %s of %s |\n", n(k.fallbacks.Load()), n(k.assignedSent.Load()))
	fmt.Fprintf(w, "| unassigned clients' answers under a tier other than free | %s |\n", n(k.wrongFree.Load()))
	fmt.Fprintf(w, "| 5xx and other statuses, transport errors | %s, %s |\n", n(k.status5xx.Load()+k.other.Load()), n(k.errors.Load()))
	fmt.Fprintf(w, "| latency p50, p90, p99, max | %s, %s, %s, %s |\n", fmtLat(f.lat.p50), fmtLat(f.lat.p90), fmtLat(f.lat.p99), fmtLat(f.lat.max))
	fmt.Fprintln(w)
	if reasons := f.failures(); len(reasons) > 0 {
		fmt.Fprintf(w, "Missed: %s.\n\n", strings.Join(reasons, "; "))
	} else {
		fmt.Fprintln(w, "Both goals met.")
		fmt.Fprintln(w)
	}
}
