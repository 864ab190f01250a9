package main

import (
	"fmt"
	"io"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
)

// renderMeter writes the Metering section: usage in Postgres against
// what the clients saw.
func (r *report) renderMeter(w io.Writer) {
	m := r.meter
	if m == nil {
		return
	}
	t := m.totals()
	fi := benchenv.FormatInt
	fmt.Fprintln(w, "## Metering")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "After the load, loadtest polls the table `usage_days` of the run's database until it matches what the clients saw "+
		"or has stopped changing (at most %v), then compares, per client and UTC day, the admissions Postgres counts (summed "+
		"over epochs) with the 200s the clients received. A request's day is that of the window Redis decided it in. Only "+
		"clients with a token are metered (the users and the hog); anonymous callers are not.\n\n", meterWait)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| instances | %d, each running the flusher; one at a time (Postgres advisory lock) copies |\n", r.cfg.instances)
	fmt.Fprintf(w, "| `QUOTA_METER_INTERVAL` | %v, set by loadtest (`-meter-interval`) |\n", m.interval)
	fmt.Fprintf(w, "| faults | %s |\n", r.faultSummary())
	fmt.Fprintf(w, "| clients, client-days | %d, %d |\n", countClients(m.rows), len(m.rows))
	fmt.Fprintf(w, "| admitted, as clients saw it (200) | %s: %s decided in Redis, %s fail-open (`X-RateLimit-Degraded`: no decision, nothing metered) |\n",
		fi(t.seen.decided+t.seen.degraded), fi(t.seen.decided), fi(t.seen.degraded))
	if r.an.hasKill {
		fmt.Fprintf(w, "| requests lost in flight at the SIGKILL | %s (no answer: decided in Redis or not, no one can tell) |\n", fi(t.seen.unknown))
	}
	lo, hi := m.epochRange()
	epochs := fmt.Sprint(lo)
	if lo != hi {
		epochs = fmt.Sprintf("%d–%d", lo, hi)
	}
	fmt.Fprintf(w, "| admitted in Postgres | %s (each client-day's rows span %s epochs: one per incarnation of the client's counters in Redis) |\n",
		fi(t.pg.admitted), epochs)
	fmt.Fprintf(w, "| **counted twice** (Postgres beyond every admission and unanswered request) | **%s** |\n", fi(t.twice))
	if m.redisLoss {
		fmt.Fprintf(w, "| **lost to the Redis restart** (decided, not in Postgres) | **%s** in %d client-days; bound %s: the decided admissions answered from %.3f s (%v + %v before the stop) until Redis exited at %.3f s |\n",
			fi(t.missing), t.lossyRows, fi(t.seen.atRisk), m.lossFrom.Seconds(), m.interval, meterSlack, m.lossTo.Seconds())
		fmt.Fprintf(w, "| client-days missing more than their bound | %d |\n", t.unboundRows)
	} else {
		fmt.Fprintf(w, "| **missing** (decided, not in Postgres; no Redis loss in this run) | **%s** |\n", fi(t.missing))
	}
	fmt.Fprintf(w, "| refused: clients saw (429), Postgres counts | %s, %s (reported, not checked) |\n", fi(t.seen.refused), fi(t.pg.refused))
	if t.pg.overage > 0 {
		fmt.Fprintf(w, "| overage in Postgres | %s (no tier of the run has a soft window) |\n", fi(t.pg.overage))
	}
	state := "stopped changing"
	if m.settled {
		state = "matched the clients exactly"
	}
	fmt.Fprintf(w, "| wait for the last copy | %v, until Postgres %s |\n", m.waited.Round(time.Millisecond), state)
	if len(m.strangers) > 0 {
		fmt.Fprintf(w, "| other clients in `usage_days` | %q (not compared) |\n", m.strangers)
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "Postgres may never count an admission twice: that fails the run. It may count one the client never "+
		"saw only when the request was in flight to the instance killed: its answer was lost, not its decision. Without "+
		"a Redis loss, every decided admission must be in Postgres. A quotad SIGKILL, of the copying instance too, loses "+
		"nothing: counts stay in Redis until a copy is committed, and copying a snapshot again changes nothing. "+
		"**A Redis restart loses what was counted since the last copy**: Redis holds the counts until the leader has "+
		"copied them, so the admissions decided between the snapshot of the last copy committed before the stop and the stop "+
		"itself go with Redis's data, at most one `QUOTA_METER_INTERVAL` of decisions (docs/METERING.md). The "+
		"restarted Redis starts a new epoch, whose counts add to those already copied. Fail-open admissions while Redis is "+
		"down are not decided, so not metered. Refusals are only reported: those an instance answers from memory reach "+
		"Redis once a second, so a SIGKILL loses up to a second of them.")
	fmt.Fprintln(w)

	var detail []meterRow
	for _, row := range m.rows {
		if row.missing() > 0 || row.twice() > 0 || row.pg.admitted != row.seen.decided {
			detail = append(detail, row)
		}
	}
	if len(detail) == 0 {
		fmt.Fprintln(w, "Every client-day in Postgres equals what its client saw decided.")
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "Client-days where Postgres differs from what the client saw decided:")
		fmt.Fprintln(w)
		r.meterTable(w, detail)
	}
	fmt.Fprintln(w, "<details><summary>Every client-day</summary>")
	fmt.Fprintln(w)
	r.meterTable(w, m.rows)
	fmt.Fprintln(w, "</details>")
	fmt.Fprintln(w)
}

// meterTable writes one row per client-day.
func (r *report) meterTable(w io.Writer, rows []meterRow) {
	fmt.Fprintln(w, "| client | day | decided (200) | fail-open (200) | lost at the SIGKILL | admitted in Postgres | epochs | missing | loss bound | counted twice | refused (429) | refused in Postgres |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, x := range rows {
		bound := "–"
		if r.meter.redisLoss {
			bound = fmt.Sprint(x.seen.atRisk)
		}
		missing := fmt.Sprint(x.missing())
		if r.meter.unbound(x) {
			missing = "**" + missing + "**"
		}
		twice := fmt.Sprint(x.twice())
		if x.twice() > 0 {
			twice = "**" + twice + "**"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %s | %s | %s | %d | %d |\n", x.client, x.day, x.seen.decided,
			x.seen.degraded, x.seen.unknown, x.pg.admitted, x.pg.epochs, missing, bound, twice, x.seen.refused, x.pg.refused)
	}
	fmt.Fprintln(w)
}

// faultSummary names the run's faults and their times.
func (r *report) faultSummary() string {
	var s string
	if r.an.hasKill {
		k := r.an.kill
		role := "not the metering leader"
		if k.leader {
			role = "the metering leader"
		}
		s = fmt.Sprintf("quotad %d (%s) SIGKILLed at %.3f s, started again at %.3f s, answering at %.3f s",
			k.inst+1, role, k.kill.Seconds(), k.restart.Seconds(), k.up.Seconds())
	}
	if f := r.res.fault; f != nil {
		if s != "" {
			s += "; "
		}
		s += fmt.Sprintf("Redis stopped at %.3f s (exited at %.3f s), started again empty at %.3f s", f.stop.Seconds(), f.down.Seconds(), f.restart.Seconds())
	}
	if s == "" {
		return "none"
	}
	return s
}

// epochRange is the fewest and most epochs of a client-day in Postgres.
func (m *meterResult) epochRange() (lo, hi int) {
	for i, x := range m.rows {
		if i == 0 || x.pg.epochs < lo {
			lo = x.pg.epochs
		}
		hi = max(hi, x.pg.epochs)
	}
	return lo, hi
}

// countClients counts the distinct clients of rows sorted by client.
func countClients(rows []meterRow) int {
	n := 0
	for i, x := range rows {
		if i == 0 || rows[i-1].client != x.client {
			n++
		}
	}
	return n
}
