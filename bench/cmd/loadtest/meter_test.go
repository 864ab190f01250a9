package main

import (
	"strings"
	"testing"
	"time"
)

func TestMeterResult_Failures(t *testing.T) {
	t.Parallel()
	row := func(decided, degraded, unknown, atRisk, pg int64) meterRow {
		return meterRow{
			clientDay: clientDay{"user-01", "2026-01-02"},
			seen:      seenUsage{decided: decided, degraded: degraded, unknown: unknown, atRisk: atRisk},
			pg:        storedUsage{admitted: pg, epochs: 1},
		}
	}
	for _, tc := range []struct {
		name      string
		redisLoss bool
		row       meterRow
		want      string // a failure containing this, or "" for none
	}{
		{"exact", false, row(10, 0, 0, 0, 10), ""},
		{"one more than admitted", false, row(10, 0, 0, 0, 11), "counted 1 admissions twice"},
		{"one more, its answer lost at the SIGKILL", false, row(10, 0, 1, 0, 11), ""},
		{"one more, a fail-open admission that Redis decided after all", false, row(10, 1, 0, 0, 11), ""},
		{"one missing without a Redis loss", false, row(10, 0, 0, 0, 9), "without a Redis loss"},
		{"missing within the bound of a Redis loss", true, row(10, 0, 0, 3, 7), ""},
		{"missing beyond the bound", true, row(10, 0, 0, 3, 6), "more than the Redis restart can lose"},
		{"fail-open admissions are not metered", false, row(10, 5, 0, 0, 10), ""},
	} {
		m := &meterResult{redisLoss: tc.redisLoss, rows: []meterRow{tc.row}}
		got := strings.Join(m.failures(), "; ")
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s: failures %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := (&meterResult{}).failures(); len(got) != 1 {
		t.Errorf("no rows: failures %q, want one", got)
	}
}

func TestSeenUsages(t *testing.T) {
	t.Parallel()
	// Windows of 10 s; the load starts at 2026-01-02 23:59:40 UTC, so the
	// third window is on the next day.
	start := time.Date(2026, 1, 2, 23, 59, 40, 0, time.UTC)
	cfg := config{window: 10, duration: 30 * time.Second, meterEvery: time.Second}
	ids := []identity{{name: "user-01", kind: kindUser}, {name: "10.77.0.1", kind: kindAnon}}
	res := &loadResult{
		started: start, elapsed: 30 * time.Second,
		fault: &faultTimes{stop: 15 * time.Second, down: 15100 * time.Millisecond, restart: 16 * time.Second, up: 16 * time.Second},
		kill:  &killTimes{inst: 1, kill: 5 * time.Second, down: 5 * time.Second, restart: 6 * time.Second, up: 7 * time.Second},
	}
	at := func(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }
	add := func(id int32, inst int16, sec float64, status int16, degraded bool) {
		reset := int64(0)
		if status != 0 && !degraded {
			reset = start.Unix() + (int64(sec)/10+1)*10
		}
		res.samples = append(res.samples, sample{id: id, inst: inst, start: at(sec), end: at(sec + 0.01), status: status, reset: reset, degraded: degraded})
	}
	add(0, 0, 1, 200, false)    // day 1, safe
	add(0, 1, 4.995, 0, false)  // in flight to quotad 2 at the kill
	add(0, 0, 5.5, 0, false)    // a transport error to another instance: not the kill's
	add(0, 0, 12, 200, false)   // day 1, before the loss window (15 - 1 - 1 = 13 s)
	add(0, 0, 13.5, 200, false) // day 1, at risk
	add(0, 0, 13.6, 429, false)
	add(0, 0, 15.5, 200, true) // fail-open
	add(0, 0, 25, 200, false)  // day 2
	add(1, 0, 2, 200, false)   // anonymous: not metered
	m := &meterResult{redisLoss: true, lossFrom: 13 * time.Second, lossTo: res.fault.down}
	seen := m.seenUsages(ids, res, analyze(cfg, ids, res, 2))
	day1, day2 := seen[clientDay{"user-01", "2026-01-02"}], seen[clientDay{"user-01", "2026-01-03"}]
	if want := (seenUsage{decided: 3, degraded: 1, refused: 1, unknown: 1, atRisk: 1}); day1 != want {
		t.Errorf("day 1: %+v, want %+v", day1, want)
	}
	if want := (seenUsage{decided: 1}); day2 != want {
		t.Errorf("day 2: %+v, want %+v", day2, want)
	}
	if len(seen) != 2 {
		t.Errorf("%d client-days, want 2 (anonymous callers are not metered)", len(seen))
	}
}
