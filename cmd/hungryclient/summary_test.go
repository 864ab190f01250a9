package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	oneTo := func(n int) []time.Duration {
		vs := make([]int, n)
		for i := range vs {
			vs[i] = i + 1
		}
		return ms(vs...)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"p0 is the minimum", ms(1, 2, 3), 0, 1 * time.Millisecond},
		{"two values p50", ms(1, 2), 50, 1 * time.Millisecond}, // rank ceil(1) = 1
		{"two values p51", ms(1, 2), 51, 2 * time.Millisecond}, // rank ceil(1.02) = 2
		{"1..10 p50", oneTo(10), 50, 5 * time.Millisecond},
		{"1..10 p90", oneTo(10), 90, 9 * time.Millisecond},
		{"1..10 p99", oneTo(10), 99, 10 * time.Millisecond}, // rank ceil(9.9) = 10
		{"1..100 p50", oneTo(100), 50, 50 * time.Millisecond},
		{"1..100 p90", oneTo(100), 90, 90 * time.Millisecond},
		{"1..100 p99", oneTo(100), 99, 99 * time.Millisecond},
		{"1..100 max", oneTo(100), 100, 100 * time.Millisecond},
		{"1..1000 p99", oneTo(1000), 99, 990 * time.Millisecond},
		{"outlier p90", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 500), 90, 1 * time.Millisecond},
		{"outlier p99", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 500), 99, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%d) = %s, want %s", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	const w1, w2 = 1_700_000_001, 1_700_000_002
	ok := func(reset int64, lat time.Duration) Result {
		return Result{Status: 200, Reset: reset, Limit: 5, Remaining: 0, Latency: lat}
	}
	results := []Result{
		ok(w2, 4*time.Millisecond), // out of order on purpose
		ok(w1, 1*time.Millisecond),
		ok(w1, 2*time.Millisecond),
		{Status: 429, Reset: w1, Latency: 3 * time.Millisecond},
		{Status: 503, Latency: 5 * time.Millisecond},
		{Status: 204, Latency: 6 * time.Millisecond}, // fail-open: no window
		{Err: "timeout", ErrDetail: "Get …: context deadline exceeded", Latency: time.Second},
		{Err: "timeout", ErrDetail: "second", Latency: time.Second},
		{Aborted: true},
	}

	s := Summarize(results, 2*time.Second)

	if s.Sent != 9 || s.Admitted != 4 || s.Limited != 1 || s.Errors != 3 || s.Aborted != 1 || s.Unwindowed != 1 {
		t.Errorf("counts = sent %d admitted %d limited %d errors %d aborted %d unwindowed %d; want 9 4 1 3 1 1",
			s.Sent, s.Admitted, s.Limited, s.Errors, s.Aborted, s.Unwindowed)
	}
	if s.ErrorsByKind["timeout"] != 2 || s.ErrorsByKind["HTTP 503"] != 1 || len(s.ErrorsByKind) != 2 {
		t.Errorf("errors by kind = %v", s.ErrorsByKind)
	}
	if s.ErrorExample != "Get …: context deadline exceeded" {
		t.Errorf("error example = %q, want the first", s.ErrorExample)
	}
	wantWindows := []Window{
		{Reset: time.Unix(w1, 0).UTC(), Limit: 5, Admitted: 2, Limited: 1},
		{Reset: time.Unix(w2, 0).UTC(), Limit: 5, Admitted: 1},
	}
	if len(s.Windows) != len(wantWindows) {
		t.Fatalf("windows = %+v, want %+v", s.Windows, wantWindows)
	}
	for i, w := range wantWindows {
		if s.Windows[i] != w { // Reset is UTC on both sides, so == compares it too
			t.Errorf("window %d = %+v, want %+v", i, s.Windows[i], w)
		}
	}
	// Latency covers the 6 responses only: 1 2 3 4 5 6 ms.
	wantLat := Latency{Count: 6, P50: 3 * time.Millisecond, P90: 6 * time.Millisecond, P99: 6 * time.Millisecond, Max: 6 * time.Millisecond}
	if s.Latency != wantLat {
		t.Errorf("latency = %+v, want %+v", s.Latency, wantLat)
	}

	var text bytes.Buffer
	if err := writeText(&text, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2023-11-14T22:13:21Z", "of 5 admitted  1 limited", "HTTP 503: 1", "timeout: 2", "aborted", "no X-RateLimit-Reset"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
}

func TestSummarize_Empty(t *testing.T) {
	t.Parallel()
	s := Summarize(nil, 0)
	var out bytes.Buffer
	if err := writeJSON(&out, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"errors_by_kind": {}`, `"windows": []`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("empty JSON summary lacks %s:\n%s", want, out.String())
		}
	}
}

// Limited responses count in their window too, so a window's requests are
// Admitted + Limited: a window in which every request was refused still
// shows, and one that saw more requests than its limit can be checked for
// admitting exactly the limit.
func TestSummarize_LimitedPerWindow(t *testing.T) {
	t.Parallel()
	const w1, w2, w3 = 1_700_000_030, 1_700_000_060, 1_700_000_090
	var results []Result
	add := func(n, status int, reset int64) {
		for range n {
			results = append(results, Result{Status: status, Reset: reset, Limit: 3, Remaining: 0})
		}
	}
	add(3, 200, w1)
	add(4, 429, w1)
	add(2, 429, w2) // refused only: the window still shows
	add(1, 200, w3)
	add(1, 429, 0) // no X-RateLimit-Reset: in Limited, in no window

	s := Summarize(results, time.Second)

	if s.Admitted != 4 || s.Limited != 7 || s.Unwindowed != 0 {
		t.Errorf("admitted %d limited %d unwindowed %d; want 4 7 0", s.Admitted, s.Limited, s.Unwindowed)
	}
	want := []Window{
		{Reset: time.Unix(w1, 0).UTC(), Limit: 3, Admitted: 3, Limited: 4},
		{Reset: time.Unix(w2, 0).UTC(), Limit: 3, Admitted: 0, Limited: 2},
		{Reset: time.Unix(w3, 0).UTC(), Limit: 3, Admitted: 1, Limited: 0},
	}
	if len(s.Windows) != len(want) {
		t.Fatalf("windows = %+v, want %+v", s.Windows, want)
	}
	for i := range want {
		if s.Windows[i] != want[i] {
			t.Errorf("window %d = %+v, want %+v", i, s.Windows[i], want[i])
		}
	}

	var text bytes.Buffer
	if err := writeText(&text, s); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"admitted and limited per window (window reset, UTC):",
		"  2023-11-14T22:13:50Z  3  of 3 admitted  4 limited",
		"  2023-11-14T22:14:20Z  0  of 3 admitted  2 limited",
		"  2023-11-14T22:14:50Z  1  of 3 admitted  0 limited",
	} {
		if !strings.Contains(text.String(), line+"\n") {
			t.Errorf("text summary lacks the line %q:\n%s", line, text.String())
		}
	}

	var out bytes.Buffer
	if err := writeJSON(&out, s); err != nil {
		t.Fatal(err)
	}
	var got summaryJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	wantJSON := []windowJSON{
		{Reset: "2023-11-14T22:13:50Z", ResetUnix: w1, Limit: 3, Admitted: 3, Limited: 4},
		{Reset: "2023-11-14T22:14:20Z", ResetUnix: w2, Limit: 3, Admitted: 0, Limited: 2},
		{Reset: "2023-11-14T22:14:50Z", ResetUnix: w3, Limit: 3, Admitted: 1, Limited: 0},
	}
	if !slices.Equal(got.Windows, wantJSON) {
		t.Errorf("JSON windows = %+v, want %+v", got.Windows, wantJSON)
	}
	if !strings.Contains(out.String(), `"limited": 0`) {
		t.Errorf("a window with no refusals omits \"limited\": 0:\n%s", out.String())
	}
}
