package quota

import (
	"testing"
	"time"
)

// TestDecide_BindingWindow pins the SPEC's binding-window rules: on a
// refusal, the refusing window that resets last; otherwise the window with
// the fewest remaining, and of those the one that resets first.
func TestDecide_BindingWindow(t *testing.T) {
	t.Parallel()
	// 2024-03-10 12:00:00 UTC: the minute ends in 60 s, the hour in 1 h,
	// the day in 12 h, the month (from the 1st) in 21.5 days.
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC).Unix()
	l := Limit{Windows: []Window{{Requests: 10, Per: time.Minute}, {Requests: 10, Per: time.Hour}, {Requests: 20, Per: 24 * time.Hour}, {Requests: 30, Per: Month}}}
	for _, tc := range []struct {
		name    string
		counts  [MaxWindows]int64
		cost    int64
		allowed bool
		binding int
		retry   time.Duration
	}{
		{"fewest remaining", [MaxWindows]int64{1, 2, 5, 0}, 1, true, 1, 0},
		{"a tie goes to the window that resets first", [MaxWindows]int64{4, 4, 14, 24}, 1, true, 0, 0},
		{"a tie of three, the minute first", [MaxWindows]int64{5, 5, 15, 0}, 1, true, 0, 0},
		{"one refusing window", [MaxWindows]int64{10, 3, 3, 3}, 1, false, 0, time.Minute},
		{"of two refusing windows, the one that resets last", [MaxWindows]int64{10, 3, 20, 3}, 1, false, 2, 12 * time.Hour},
		{"a cost only the month refuses", [MaxWindows]int64{0, 0, 0, 25}, 6, false, 3, (21*24 + 12) * time.Hour},
	} {
		counts := tc.counts
		d := decide(l, &counts, tc.cost, now, 0)
		if d.Allowed != tc.allowed || d.Binding != tc.binding || d.RetryAfter != tc.retry {
			t.Errorf("%s: allowed %v binding %d retry %v; want %v %d %v", tc.name, d.Allowed, d.Binding, d.RetryAfter, tc.allowed, tc.binding, tc.retry)
		}
		b := d.Window(d.Binding)
		if d.Remaining != b.Remaining || !d.Reset.Equal(b.Reset) || d.ResetAfter != b.ResetAfter {
			t.Errorf("%s: top-level fields %d %v %v differ from the binding window's %+v", tc.name, d.Remaining, d.Reset, d.ResetAfter, b)
		}
		if refusedNow := counts != tc.counts; refusedNow == !tc.allowed {
			t.Errorf("%s: counts %v after a decision allowed=%v, from %v", tc.name, counts, d.Allowed, tc.counts)
		}
	}
	// Windows in any order: an hour with 5 left binds before a minute
	// with 8, though the minute resets first.
	mixed := Limit{Windows: []Window{{Requests: 10, Per: time.Hour}, {Requests: 20, Per: time.Minute}}}
	counts := [MaxWindows]int64{4, 11}
	if d := decide(mixed, &counts, 1, now, 0); d.Binding != 0 || d.Remaining != 5 {
		t.Errorf("hour then minute: binding %d remaining %d, want the hour's 5", d.Binding, d.Remaining)
	}
}
