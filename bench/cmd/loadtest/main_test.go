package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
)

// TestRun_Smoke runs a short load with a Redis restart, then a small
// flood, against the local Postgres: it proves the wiring and that the
// check passes, not the numbers.
func TestRun_Smoke(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "loadtest.md")
	var stdout, stderr bytes.Buffer
	args := append([]string{"loadtest", "-instances", "2", "-duration", "4s", "-window", "2", "-fault", "redis-restart", "-out", out,
		"-flood", "2s", "-flood-clients", "300", "-flood-assigned", "30", "-flood-conns", "8"},
		benchenv.TestServers(false)...)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, stderr.String(), stdout.String())
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(page, stdout.Bytes()) {
		t.Error("the report on stdout differs from the -out file")
	}
	for _, want := range []string{
		"**Result: PASS**", "## Throughput", "| quotad 2 |", "## Latency", "## Exactness",
		"| overlapping the fault |", "## Before, during and after the fault", "## The hog",
		"Redis answers PING", "## What the fault changes", "## Flood", "| **fallbacks**: assigned clients' answers under another tier | 0 of ",
		"## Metering", "| `QUOTA_METER_INTERVAL` | 1s, set by loadtest", "| **counted twice** (Postgres beyond every admission and unanswered request) | **0** |",
		"answers /healthz and takes load again",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q:\n%s", want, page)
		}
	}
	for _, want := range []string{"FAULT: redis-server stopped", "FAULT: redis-server started again", "SIGKILLed", "FAULT: quotad",
		"meter: after", "flood: 300 clients, 30 assigned"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestRun_BadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-fault", "postgres-restart"},
		{"-instances", "0"},
		{"-window", "0"},
		{"-duration", "0s"},
		{"-redis-timeout", "0s"},
		{"-flood", "-1s"},
		{"-flood-clients", "0"},
		{"-flood-conns", "0"},
		{"-flood-clients", "10", "-flood-assigned", "11"},
		{"-meter-interval", "11s"},
		{"-meter-interval", "0s"},
		{"-instances", "1"},
		{"stray"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append([]string{"loadtest"}, args...), &stdout, &stderr); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}

func TestWindowStat_Exact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		w    windowStat
		want bool
	}{
		{"under the limit, all admitted", windowStat{limit: 10, sent: 7, admitted: 7, limited: 0}, true},
		{"over the limit, exactly limit admitted", windowStat{limit: 10, sent: 25, admitted: 10, limited: 15}, true},
		{"one too many", windowStat{limit: 10, sent: 25, admitted: 11, limited: 14}, false},
		{"one too few (the seed's >= bug)", windowStat{limit: 10, sent: 25, admitted: 9, limited: 16}, false},
		{"a transport error makes it unknowable", windowStat{limit: 10, sent: 5, admitted: 4, errors: 1}, false},
	} {
		if got := tc.w.exact(); got != tc.want {
			t.Errorf("%s: exact() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAnalyze_WindowsAndPhases(t *testing.T) {
	t.Parallel()
	// Windows of 10 s; the load starts at Unix second 1000 (window 1000).
	cfg := config{window: 10, duration: 30 * time.Second}
	ids := []identity{{name: "u", kind: kindUser, tier: "bronze", limit: 2}, {name: "hog", kind: kindHog, tier: "bronze", limit: 2}}
	res := &loadResult{
		started: time.Unix(1000, 0), elapsed: 30 * time.Second,
		fault: &faultTimes{stop: 12 * time.Second, down: 12 * time.Second, restart: 13 * time.Second, up: 13 * time.Second},
	}
	at := func(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }
	add := func(start float64, status int16, reset int64, degraded bool) {
		res.samples = append(res.samples, sample{start: at(start), end: at(start + 0.001), status: status, reset: reset, degraded: degraded})
	}
	// Window 1000: 3 sent, 2 admitted: exact.
	add(1, 200, 1010, false)
	add(2, 200, 1010, false)
	add(3, 429, 1010, false)
	// Window 1010 spans the fault: 3 admitted (one fail-open) of limit 2.
	add(11, 200, 1020, false)
	add(12.5, 200, 0, true)
	add(14, 200, 1020, false)
	// Window 1020, after the fault period (13 s + grace): exact.
	add(21, 200, 1030, false)
	a := analyze(cfg, ids, res, 1)
	if a.outside.checked != 2 || a.outside.exact != 2 || a.inside.checked != 1 || a.inside.exact != 0 || a.inside.excess != 1 {
		t.Errorf("outside %+v, inside %+v; want 2 of 2 exact outside, 0 of 1 inside with 1 excess", a.outside, a.inside)
	}
	if a.phases[phaseBefore].requests != 4 || a.phases[phaseDuring].requests != 2 || a.phases[phaseAfter].requests != 1 {
		t.Errorf("phases %+v, want 4 before, 2 during, 1 after", a.phases)
	}
	if a.degraded != 1 || len(a.failures()) != 0 {
		t.Errorf("degraded %d, failures %q; want 1 and none", a.degraded, a.failures())
	}
}

func TestLatencyOf(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 1000; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Microsecond)
	}
	l := latencyOf(ds)
	if l.p50 != 500*time.Microsecond || l.p90 != 900*time.Microsecond || l.p99 != 990*time.Microsecond || l.max != time.Millisecond {
		t.Errorf("latencyOf = %+v", l)
	}
}
