package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is what a run amounts to. Sent = Admitted + Limited + Errors +
// Aborted.
type Summary struct {
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Sent counts every request issued.
	Sent int
	// Admitted counts 2xx responses.
	Admitted int
	// Limited counts 429 responses.
	Limited int
	// Errors counts transport failures and any other status.
	Errors int
	// ErrorsByKind splits Errors: "HTTP 503", "timeout", "connection refused", ….
	ErrorsByKind map[string]int
	// ErrorExample is the first transport error's text, if any.
	ErrorExample string
	// Aborted counts requests cut off by Ctrl-C.
	Aborted int
	// Windows holds admitted and limited requests per limiter window,
	// oldest first.
	Windows []Window
	// Unwindowed counts admitted responses without a usable
	// X-RateLimit-Reset (quotad's fail-open responses carry none).
	Unwindowed int
	// Latency summarises every response that arrived, whatever its status.
	Latency Latency
}

// Window is one fixed window as the server reported it. With a limit of 5
// per second, Admitted above 5 in any window means the limiter leaked, and
// Admitted below 5 while Limited is above 0 means it refused too early: a
// window that saw 12 requests must read Admitted 5, Limited 7.
type Window struct {
	// Reset is when the window ends: its X-RateLimit-Reset.
	Reset time.Time
	// Limit is the largest X-RateLimit-Limit seen in the window; 0 if none.
	Limit int64
	// Admitted counts 2xx responses in the window.
	Admitted int
	// Limited counts 429 responses in the window. A 429 without a usable
	// X-RateLimit-Reset counts in Summary.Limited only.
	Limited int
}

// Latency holds nearest-rank percentiles of response latencies.
type Latency struct {
	// Count is the number of latencies the percentiles are taken over.
	Count              int
	P50, P90, P99, Max time.Duration
}

// Summarize aggregates recorded results. It is pure: the same results give
// the same Summary, whatever order they arrive in.
func Summarize(results []Result, elapsed time.Duration) Summary {
	s := Summary{Elapsed: elapsed, Sent: len(results), ErrorsByKind: map[string]int{}}
	windows := map[int64]*Window{}
	// window returns r's window, or nil when r names none.
	window := func(r Result) *Window {
		if r.Reset <= 0 {
			return nil
		}
		w := windows[r.Reset]
		if w == nil {
			w = &Window{Reset: time.Unix(r.Reset, 0).UTC()}
			windows[r.Reset] = w
		}
		w.Limit = max(w.Limit, r.Limit)
		return w
	}
	var lat []time.Duration
	for _, r := range results {
		if r.Status != 0 {
			lat = append(lat, r.Latency)
		}
		switch {
		case r.Aborted:
			s.Aborted++
		case r.Status == 0:
			s.Errors++
			s.ErrorsByKind[cmp.Or(r.Err, "transport")]++
			if s.ErrorExample == "" {
				s.ErrorExample = r.ErrDetail
			}
		case r.Status >= 200 && r.Status < 300:
			s.Admitted++
			if w := window(r); w != nil {
				w.Admitted++
			} else {
				s.Unwindowed++
			}
		case r.Status == http.StatusTooManyRequests:
			s.Limited++
			if w := window(r); w != nil {
				w.Limited++
			}
		default:
			s.Errors++
			s.ErrorsByKind[fmt.Sprintf("HTTP %d", r.Status)]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(windows)) {
		s.Windows = append(s.Windows, *windows[k])
	}
	slices.Sort(lat)
	s.Latency = Latency{
		Count: len(lat),
		P50:   percentile(lat, 50),
		P90:   percentile(lat, 90),
		P99:   percentile(lat, 99),
		Max:   percentile(lat, 100),
	}
	return s
}

// percentile returns the p-th percentile (0–100) of sorted by the
// nearest-rank method: the smallest value with at least p% of values at or
// below it, always one of the inputs. It takes whole percents so the rank
// is exact integer arithmetic: of 10 values, p90 is rank ceil(90·10/100) = 9,
// the 9th smallest; p99 is rank 10, the largest. Empty input gives 0.
func percentile(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100 // ceil(p·n/100)
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// writeText prints the summary for people:
//
//	sent      23  in 5.001s (4.6/s)
//	admitted  15  2xx
//	limited    8  429
//	errors     0
//	latency   p50 445µs  p90 2.8ms  p99 3.19ms  max 3.19ms  (23 responses)
//
//	admitted and limited per window (window reset, UTC):
//	  2026-11-27T15:26:38Z  5  of 5 admitted  3 limited
//	  2026-11-27T15:26:39Z  5  of 5 admitted  0 limited
func writeText(w io.Writer, s Summary) error {
	ew := &errWriter{w: w}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Sent) / s.Elapsed.Seconds()
	}
	numW := len(strconv.Itoa(s.Sent)) // Sent is the largest count
	row := func(label string, n int, note string) {
		ew.printf("%s\n", strings.TrimRight(fmt.Sprintf("%-10s%*d  %s", label, numW, n, note), " "))
	}
	row("sent", s.Sent, fmt.Sprintf("in %s (%.1f/s)", roundLatency(s.Elapsed), rate))
	row("admitted", s.Admitted, "2xx")
	row("limited", s.Limited, "429")
	row("errors", s.Errors, errorKinds(s.ErrorsByKind))
	if s.Aborted > 0 {
		row("aborted", s.Aborted, "cut off by interrupt")
	}
	if l := s.Latency; l.Count > 0 {
		ew.printf("%-10sp50 %s  p90 %s  p99 %s  max %s  (%d responses)\n", "latency",
			roundLatency(l.P50), roundLatency(l.P90), roundLatency(l.P99), roundLatency(l.Max), l.Count)
	} else {
		ew.printf("%-10sno responses\n", "latency")
	}
	if s.ErrorExample != "" {
		ew.printf("\nfirst transport error: %s\n", s.ErrorExample)
	}
	if len(s.Windows) == 0 && s.Unwindowed == 0 {
		return ew.err
	}
	ew.printf("\nadmitted and limited per window (window reset, UTC):\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, win := range s.Windows {
		admitted := "admitted"
		if win.Limit > 0 {
			admitted = fmt.Sprintf("of %d admitted", win.Limit)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%d limited\n", win.Reset.Format(time.RFC3339), win.Admitted, admitted, win.Limited)
	}
	if s.Unwindowed > 0 {
		fmt.Fprintf(tw, "  no X-RateLimit-Reset\t%d\tadmitted\t(degraded?)\n", s.Unwindowed)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return ew.err
}

// errWriter keeps the first write error so writeText can print freely and
// check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

// errorKinds renders ErrorsByKind most frequent first: "HTTP 503: 2, timeout: 1".
func errorKinds(m map[string]int) string {
	kinds := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// roundLatency keeps a readable precision: 1.234567ms → 1.23ms,
// 2.3456789s → 2.346s.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// summaryJSON is the -json shape: durations as numbers with their unit in
// the name, windows with both a readable and a Unix reset.
type summaryJSON struct {
	ElapsedSeconds float64        `json:"elapsed_seconds"`
	Sent           int            `json:"sent"`
	Admitted       int            `json:"admitted"`
	Limited        int            `json:"limited"`
	Errors         int            `json:"errors"`
	ErrorsByKind   map[string]int `json:"errors_by_kind"`
	ErrorExample   string         `json:"error_example,omitempty"`
	Aborted        int            `json:"aborted"`
	Windows        []windowJSON   `json:"windows"`
	Unwindowed     int            `json:"admitted_without_window"`
	LatencyMS      latencyJSON    `json:"latency_ms"`
}

type windowJSON struct {
	Reset     string `json:"reset"`
	ResetUnix int64  `json:"reset_unix"`
	Limit     int64  `json:"limit,omitempty"`
	Admitted  int    `json:"admitted"`
	Limited   int    `json:"limited"`
}

type latencyJSON struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// writeJSON prints the summary for scripts.
func writeJSON(w io.Writer, s Summary) error {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	out := summaryJSON{
		ElapsedSeconds: s.Elapsed.Seconds(),
		Sent:           s.Sent,
		Admitted:       s.Admitted,
		Limited:        s.Limited,
		Errors:         s.Errors,
		ErrorsByKind:   s.ErrorsByKind,
		ErrorExample:   s.ErrorExample,
		Aborted:        s.Aborted,
		Windows:        make([]windowJSON, 0, len(s.Windows)),
		Unwindowed:     s.Unwindowed,
		LatencyMS: latencyJSON{
			Count: s.Latency.Count,
			P50:   ms(s.Latency.P50), P90: ms(s.Latency.P90),
			P99: ms(s.Latency.P99), Max: ms(s.Latency.Max),
		},
	}
	if out.ErrorsByKind == nil { // keep the JSON shape fixed: {} rather than null
		out.ErrorsByKind = map[string]int{}
	}
	for _, win := range s.Windows {
		out.Windows = append(out.Windows, windowJSON{
			Reset:     win.Reset.UTC().Format(time.RFC3339),
			ResetUnix: win.Reset.Unix(),
			Limit:     win.Limit,
			Admitted:  win.Admitted,
			Limited:   win.Limited,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
