package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// meterSlack widens the window of admissions a Redis restart may lose
// beyond one QUOTA_METER_INTERVAL: a copy takes time (a SCAN of every
// usage hash, then a transaction) and the leader's ticker drops the ticks
// it is late for, so the snapshot of the last copy committed before the
// stop may be somewhat older than one interval.
const meterSlack = time.Second

// meterWait bounds the wait for the last copy after the load.
const meterWait = 20 * time.Second

// clientDay is one metered client (a token's subject) on one UTC day.
type clientDay struct {
	client string
	day    string // YYYY-MM-DD
}

// seenUsage is what the load generator saw of one client on one day.
type seenUsage struct {
	decided  int64 // 200s decided in Redis (answered with rate-limit headers)
	degraded int64 // 200s admitted fail-open: no decision was made, so nothing was metered
	refused  int64 // 429s
	unknown  int64 // lost in flight at the SIGKILL: decided in Redis or not, no answer tells
	atRisk   int64 // decided admissions a Redis restart may lose (see meterResult.lossFrom)
}

// storedUsage is one client's day in usage_days, summed over epochs.
type storedUsage struct {
	admitted, refused, overage int64
	epochs                     int
}

// meterRow compares one client's day.
type meterRow struct {
	clientDay
	seen seenUsage
	pg   storedUsage
}

// twice is what Postgres counts beyond anything the client could have
// been admitted: every answered admission, and every request whose answer
// the SIGKILL lost.
func (r meterRow) twice() int64 {
	return max(r.pg.admitted-(r.seen.decided+r.seen.degraded+r.seen.unknown), 0)
}

// missing is what the client was admitted by a decision and Postgres does
// not count.
func (r meterRow) missing() int64 { return max(r.seen.decided-r.pg.admitted, 0) }

// meterResult is the meter check: usage in Postgres against what the
// clients saw, per client and day.
type meterResult struct {
	interval  time.Duration
	rows      []meterRow // by client, then day
	strangers []string   // clients in usage_days that the load does not know
	waited    time.Duration
	settled   bool // Postgres matched the clients exactly, rather than stopped changing

	// With a Redis restart: decided admissions answered from lossFrom
	// (one interval plus meterSlack before the stop) and sent by lossTo
	// (Redis has exited) are the most it may lose.
	redisLoss        bool
	lossFrom, lossTo time.Duration
}

// meterTotals sums the rows.
type meterTotals struct {
	seen                       seenUsage
	pg                         storedUsage
	twice, missing, lossyRows  int64
	unboundRows, unboundMissed int64 // client-days missing more than they may
}

func (m *meterResult) totals() meterTotals {
	var t meterTotals
	for _, r := range m.rows {
		t.seen.decided += r.seen.decided
		t.seen.degraded += r.seen.degraded
		t.seen.refused += r.seen.refused
		t.seen.unknown += r.seen.unknown
		t.seen.atRisk += r.seen.atRisk
		t.pg.admitted += r.pg.admitted
		t.pg.refused += r.pg.refused
		t.pg.overage += r.pg.overage
		t.twice += r.twice()
		miss := r.missing()
		t.missing += miss
		if miss > 0 {
			t.lossyRows++
		}
		if m.unbound(r) {
			t.unboundRows++
			t.unboundMissed += miss
		}
	}
	return t
}

// unbound reports a client-day missing more than a Redis restart can
// explain: anything at all without one.
func (m *meterResult) unbound(r meterRow) bool {
	if !m.redisLoss {
		return r.missing() > 0
	}
	return r.missing() > r.seen.atRisk
}

// failures are the meter's reasons to fail the run.
func (m *meterResult) failures() []string {
	if m == nil {
		return nil
	}
	var out []string
	t := m.totals()
	if len(m.rows) == 0 {
		out = append(out, "the meter saw no metered client")
	}
	if t.twice > 0 {
		out = append(out, fmt.Sprintf("Postgres counted %d admissions twice", t.twice))
	}
	if t.unboundRows > 0 {
		if m.redisLoss {
			out = append(out, fmt.Sprintf("%d client-days miss %d admissions in Postgres, more than the Redis restart can lose", t.unboundRows, t.unboundMissed))
		} else {
			out = append(out, fmt.Sprintf("%d client-days miss %d admissions in Postgres without a Redis loss", t.unboundRows, t.unboundMissed))
		}
	}
	return out
}

// checkMeter waits for the last copy of the load's usage to Postgres and
// compares it with what the clients saw.
func checkMeter(ctx context.Context, cfg config, databaseURL string, ids []identity, res *loadResult, an *analysis, progress io.Writer) (*meterResult, error) {
	m := &meterResult{interval: cfg.meterEvery}
	if f := res.fault; f != nil {
		m.redisLoss, m.lossFrom, m.lossTo = true, f.stop-cfg.meterEvery-meterSlack, f.down
	}
	seen := m.seenUsages(ids, res, an)
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// The load is over, so the counts in Redis are final but for the
	// refusals answered from memory (sent to Redis every second). Done
	// when Postgres matches the clients, or has not changed for two
	// copies and a refusal flush.
	stable := 2*cfg.meterEvery + 2*time.Second
	start := time.Now()
	var stored map[clientDay]storedUsage
	lastChange := start
	for {
		next, err := readStoredUsage(ctx, conn)
		if err != nil {
			return nil, err
		}
		if !maps.Equal(next, stored) {
			stored, lastChange = next, time.Now()
		}
		if m.settled = matches(seen, stored); m.settled || time.Since(lastChange) >= stable || time.Since(start) >= meterWait {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond): // Postgres has no signal for "copied"
		}
	}
	m.waited = time.Since(start)
	known := map[string]bool{}
	for _, id := range ids {
		known[id.name] = true
	}
	for k := range stored {
		if !known[k.client] && !slices.Contains(m.strangers, k.client) {
			m.strangers = append(m.strangers, k.client)
		}
	}
	slices.Sort(m.strangers)
	keys := map[clientDay]bool{}
	for k := range seen {
		keys[k] = true
	}
	for k := range stored {
		if known[k.client] {
			keys[k] = true
		}
	}
	for k := range keys {
		m.rows = append(m.rows, meterRow{clientDay: k, seen: seen[k], pg: stored[k]})
	}
	slices.SortFunc(m.rows, func(x, y meterRow) int {
		return cmp.Or(cmp.Compare(x.client, y.client), cmp.Compare(x.day, y.day))
	})
	t := m.totals()
	fmt.Fprintf(progress, "meter: after %v Postgres counts %d admitted for %d client-days; clients saw %d decided, %d fail-open; %d counted twice, %d missing\n",
		m.waited.Round(time.Millisecond), t.pg.admitted, len(m.rows), t.seen.decided, t.seen.degraded, t.twice, t.missing)
	return m, nil
}

// seenUsages sums the load's requests per metered client (users and the
// hog: anonymous callers are not metered) and UTC day. A request's day is
// its window's, the one Redis decided in: windows are aligned to the Unix
// epoch, so a window lies in one day when the window divides one.
func (m *meterResult) seenUsages(ids []identity, res *loadResult, an *analysis) map[clientDay]seenUsage {
	seen := map[clientDay]seenUsage{}
	for _, s := range res.samples {
		id := ids[s.id]
		if id.kind == kindAnon {
			continue
		}
		k := clientDay{id.name, time.Unix(an.windowOf(res, s), 0).UTC().Format(time.DateOnly)}
		u := seen[k]
		switch {
		case s.status == 200 && s.degraded:
			u.degraded++
		case s.status == 200:
			u.decided++
			if m.redisLoss && s.end >= m.lossFrom && s.start <= m.lossTo {
				u.atRisk++
			}
		case s.status == 429:
			u.refused++
		case an.lostAtKill(s):
			u.unknown++
		}
		seen[k] = u
	}
	return seen
}

// matches reports Postgres counting exactly what the clients saw decided,
// admitted and refused, for every client and day.
func matches(seen map[clientDay]seenUsage, stored map[clientDay]storedUsage) bool {
	for k, u := range seen {
		if pg := stored[k]; pg.admitted != u.decided || pg.refused != u.refused {
			return false
		}
	}
	return true
}

// sqlUsage is every client's usage per day, summed over epochs.
const sqlUsage = `
SELECT client_id, to_char(day, 'YYYY-MM-DD'), sum(admitted)::bigint, sum(refused)::bigint, sum(overage)::bigint, count(*)::int
FROM usage_days GROUP BY 1, 2`

// readStoredUsage reads usage_days.
func readStoredUsage(ctx context.Context, conn *pgx.Conn) (map[clientDay]storedUsage, error) {
	rows, err := conn.Query(ctx, sqlUsage)
	if err != nil {
		return nil, fmt.Errorf("meter: reading usage_days: %w", err)
	}
	out := map[clientDay]storedUsage{}
	for rows.Next() {
		var k clientDay
		var u storedUsage
		if err := rows.Scan(&k.client, &k.day, &u.admitted, &u.refused, &u.overage, &u.epochs); err != nil {
			return nil, fmt.Errorf("meter: reading usage_days: %w", err)
		}
		out[k] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meter: reading usage_days: %w", err)
	}
	return out, nil
}
