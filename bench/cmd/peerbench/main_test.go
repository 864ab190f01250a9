package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/bench/internal/benchenv"
)

// TestMain lets the test binary stand in for peerbench when the http
// scenario starts it as a child server.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := run(context.Background(), os.Args, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "peerbench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun_Scenarios runs each scenario once with tiny durations against
// the local Redis and Postgres: it proves the wiring, not the numbers.
func TestRun_Scenarios(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scenario string
		headings []string
		absent   []string
		args     []string // more flags
		rows     []string // regexps that some line of the report must match
	}{
		{"decision", []string{"## Decisions: 50 keys", "### Cost per decision", "| `quota` | 16 |", "| `seed` | `exec` 1.00",
			"| `script-floor` | `evalsha` 1.00, `incr` 1.00, `time` 1.00 |",
			"## Targets", "| `quota` (batched), 1 caller: ÷ `incr` | 0.80× |", "; `script-floor` reaches ",
			"wakes every 1ms (`-wake`)"}, nil, nil,
			[]string{"^\\| `quota` \\(batched\\), 1 caller: .*; `script-floor` reaches [0-9.]+× \\|$",
				"^\\| `quota-unbatched`, 16 callers: .*; `script-floor` reaches [0-9.]+× \\|$",
				"^\\| `quota` \\| 16 \\| .* \\| [0-9]+ % \\|$", // the cost table's machine idle
				"^\\| idle CPUs \\| (unknown|cpuidle driver .+) \\|$",
				"^\\| `quota` \\(batched\\), 16 callers: ÷ `incr` .*; machine idle [0-9]+ % \\(`incr` [0-9]+ %\\) \\|$",
				"^\\| `quota` \\(batched\\), 16 callers: ÷ the faster .*; machine idle [0-9]+ % \\(`incr` [0-9]+ %\\) \\|$"}},
		{"hog", []string{"## Hog: one key far over its limit", "| `ulule` | 1 |", "| hog, `quota`, 1 caller: ÷ `incr` | 10.00× |"},
			[]string{"`script-floor`"}, nil, nil},
		{"http", []string{"## HTTP: `GET /rate-limited`", "| `quotad` | 2 |", "Postgres", "| HTTP, `quotad`, 2 connections: ÷ `echo` | 0.50× |"}, nil, nil, nil},
		{"decision", []string{"| `incr` | 16 |", "| `quota` | 16 |", "| `ulule` | 16 |", "| `quota` (batched), 16 callers: ÷ `incr` | 1.00× |",
			"| `quota` (batched), 16 callers: ÷ `ulule` | 1.50× |"},
			[]string{"| `seed` |", "| `redis_rate` |", "| `quota-unbatched` |", "the faster of"}, []string{"-contenders", "ulule,quota"}, nil},
	} {
		// One scenario at a time: INFO commandstats is server-wide, so two
		// scenarios on one Redis would count each other's commands.
		t.Run(strings.Join(append([]string{tc.scenario}, tc.args...), " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "PERFORMANCE.md")
			var stdout, stderr bytes.Buffer
			args := append([]string{"peerbench", "-rounds", "1", "-duration", "50ms", "-callers", "1,16", "-conns", "2",
				"-keys", "50", "-scenarios", tc.scenario, "-out", out}, append(tc.args, benchenv.TestServers(true)...)...)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			if err := run(ctx, args, &stdout, &stderr); err != nil {
				t.Fatalf("run: %v\n%s", err, stderr.String())
			}
			page, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(page, stdout.Bytes()) {
				t.Error("the report on stdout differs from the -out file")
			}
			for _, h := range tc.headings {
				if !strings.Contains(string(page), h) {
					t.Errorf("report lacks %q:\n%s", h, page)
				}
			}
			for _, r := range tc.rows {
				if !regexp.MustCompile("(?m)" + r).Match(page) {
					t.Errorf("no line of the report matches %s:\n%s", r, page)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(string(page), a) {
					t.Errorf("report has %q:\n%s", a, page)
				}
			}
			if tc.scenario == "http" {
				checkGateway(t, string(page), stderr.String())
			}
			if bad := regexp.MustCompile(`(errors|degraded) [1-9]`).FindString(stderr.String()); bad != "" {
				t.Errorf("progress reports %q:\n%s", bad, stderr.String())
			}
		})
	}
}

// checkGateway checks the http report's gateway section: measured where
// nginx is installed (every request through it answered 200, which the
// progress check above asserts), else skipped with its reason.
func checkGateway(t *testing.T, page, progress string) {
	t.Helper()
	if !strings.Contains(page, "## Gateway: nginx + quotad ÷ nginx alone") {
		t.Errorf("report lacks the gateway section:\n%s", page)
	}
	if _, err := findNginx(); err != nil {
		if !strings.Contains(page, "Not measured: "+err.Error()) || !strings.Contains(progress, "http: skipping the nginx and nginx-quotad servers: ") {
			t.Errorf("without nginx (%v), the report or the progress does not say it skipped the gateway:\n%s\n%s", err, page, progress)
		}
		return
	}
	for _, r := range []string{
		"^\\| `nginx` \\| 2 \\| [0-9.]+k? \\| ",
		"^\\| `nginx-quotad` \\| 2 \\| [0-9.]+k? \\| ",
		"^\\| 2 \\| [0-9.]+× \\([0-9.]+–[0-9.]+\\) \\| [+−][0-9.]+ [nµm]?s \\(",
		"Two nginx processes \\(([0-9]+ worker processes each|its worker count unknown)\\)",
	} {
		if !regexp.MustCompile("(?m)" + r).MatchString(page) {
			t.Errorf("no line of the report matches %s:\n%s", r, page)
		}
	}
}

func TestRun_BadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-scenarios", "decision,nope"},
		{"-contenders", "quota,nope"},
		{"-callers", "1,0"},
		{"-rounds", "0"},
		{"-wake", "-1ms"},
		{"stray"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append([]string{"peerbench"}, args...), &stdout, &stderr); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}

func TestHistogram_Quantile(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -1.0/64 || diff > 1.0/64 {
			t.Errorf("quantile(%v) = %v, want %v ± 1/64", tc.q, got, tc.want)
		}
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 37_000, 1 << 20, 1<<40 - 1} {
		if got := valueOf(bucketOf(v)); float64(got) < float64(v)*(1-1.0/64) || float64(got) > float64(v)*(1+1.0/64)+1 {
			t.Errorf("valueOf(bucketOf(%d)) = %d", v, got)
		}
	}
}

func TestParseRedisStats(t *testing.T) {
	t.Parallel()
	text := "# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\n# Commandstats\r\n" +
		"cmdstat_evalsha:calls=10,usec=30,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=99,usec=1,usec_per_call=0.01,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hincrby:calls=12,usec=5,usec_per_call=0.40,rejected_calls=0,failed_calls=0\r\n"
	s, err := parseRedisStats(text)
	if err != nil {
		t.Fatal(err)
	}
	if s.cpu != 3.75 || s.calls["evalsha"] != 10 || s.calls["hincrby"] != 12 || s.total() != 22 {
		t.Errorf("parseRedisStats = %+v, want cpu 3.75, evalsha 10, hincrby 12 and no info", s)
	}
}

func TestExpandCPUList(t *testing.T) {
	t.Parallel()
	if got := expandCPUList("0-2,5"); got != "0,1,2,5" {
		t.Errorf("expandCPUList = %q", got)
	}
}

func TestShortfall(t *testing.T) {
	for _, tc := range []struct {
		goal, m float64
		want    string
	}{
		{1.5, 1.4897, "0.7 %"},
		{1.0, 0.81, "19 %"},
		{0.8, 0.7, "13 %"},
		{1.0, 0.99, "1 %"},
	} {
		if got := shortfall(tc.goal, tc.m); got != tc.want {
			t.Errorf("shortfall(%v, %v) = %q, want %q", tc.goal, tc.m, got, tc.want)
		}
	}
}
