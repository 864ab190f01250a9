package main

import (
	"fmt"
	"io"
	"math"
	"slices"
)

// renderGateway writes what quotad behind auth_request adds to nginx: the
// two gateway servers side by side, then per connection count the
// throughput ratio and the added p50 and p99, each taken per round (both
// servers measured in the same round) and shown as the median across
// rounds with its range. No goal is set for it.
func (r *report) renderGateway(w io.Writer, res *httpResults) {
	fmt.Fprintln(w, "## Gateway: nginx + quotad ÷ nginx alone")
	fmt.Fprintln(w)
	if res.gatewaySkipped != "" {
		fmt.Fprintf(w, "Not measured: %s.\n\n", res.gatewaySkipped)
		return
	}
	workers := "its worker count unknown"
	if res.nginxWorkers > 0 {
		workers = fmt.Sprintf("%d worker processes each", res.nginxWorkers)
	}
	fmt.Fprintf(w, "What putting quotad behind nginx's `auth_request` adds to a request. Two nginx processes (%s) run `%s` "+
		"in front of the same upstream, the `echo` server above, over keep-alive connections (the file's `keepalive 32`):\n\n",
		workers, nginxConfFile)
	fmt.Fprintf(w, "* `%s`: the file as shipped; every request first asks a quotad of its own (the `quotad` stack above in another process, "+
		"with `QUOTA_AUTHORIZE_DENY_STATUS=403` and nginx's 127.0.0.1 trusted, as the file requires) `GET /v1/authorize`.\n", serverNginxQuotad)
	fmt.Fprintf(w, "* `%s`: the same file without its `auth_request` line; the variables quotad's answer would fill stay empty, "+
		"so every other directive (headers, access log to a temp dir) runs alike.\n\n", serverNginx)
	fmt.Fprintln(w, "The load and placement are the HTTP section's: `GET /rate-limited` with one token on a tier never reached; "+
		"nginx, quotad and the upstream share the servers' CPU when pinned. "+
		"Added latency is `nginx-quotad`'s percentile minus `nginx`'s in the same round.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| server | connections | requests/s | p50 | p99 | non-200 | degraded |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for _, n := range res.conns {
		for _, kind := range gatewayKinds {
			ms := res.rounds[runKey{kind, n}]
			var degraded, errs int64
			for _, m := range ms {
				degraded += m.degraded
				errs += m.errors
			}
			fmt.Fprintf(w, "| `%s` | %d | %s | %s | %s | %d | %d |\n", kind, n,
				fmtRate(medianOf(ms, httpRate)), fmtDur(medianOf(ms, httpP50)), fmtDur(medianOf(ms, httpP99)), errs, degraded)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| connections | throughput, `nginx-quotad` ÷ `nginx`, median (min–max) | added p50, median (min–max) | added p99, median (min–max) |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|")
	for _, n := range res.conns {
		with, alone := res.rounds[runKey{serverNginxQuotad, n}], res.rounds[runKey{serverNginx, n}]
		fmt.Fprintf(w, "| %d | %s | %s | %s |\n", n, ratioCell(with, alone),
			addedCell(roundDiffs(with, alone, httpP50)), addedCell(roundDiffs(with, alone, httpP99)))
	}
	fmt.Fprintln(w)
}

// roundDiffs is, per round, f of with minus f of alone.
func roundDiffs(with, alone []httpMeasurement, f func(httpMeasurement) float64) []float64 {
	var ds []float64
	for i := range min(len(with), len(alone)) {
		ds = append(ds, f(with[i])-f(alone[i]))
	}
	return ds
}

// addedCell is "+85.0 µs (+80.1 µs – +90.2 µs)": the median of ds
// (nanoseconds) and their range, signed, since noise can make a round's
// difference negative.
func addedCell(ds []float64) string {
	if len(ds) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s – %s)", signedDur(median(ds)), signedDur(slices.Min(ds)), signedDur(slices.Max(ds)))
}

// signedDur is fmtDur with a sign: "+85.0 µs", "−3.2 µs".
func signedDur(ns float64) string {
	if ns < 0 {
		return "−" + fmtDur(math.Abs(ns))
	}
	return "+" + fmtDur(ns)
}
