package quota

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
)

func TestSetHeaders_Rounding(t *testing.T) {
	t.Parallel()
	d := Decision{Allowed: false, Limit: Limit{Name: `we"ird\näme`, Windows: []Window{{Requests: 10, Per: time.Minute}}},
		Reset: time.Unix(1_700_000_100, 0), ResetAfter: 1200 * time.Millisecond, RetryAfter: 1200 * time.Millisecond}
	h := http.Header{}
	SetHeaders(h, d, HeadersAll)
	for k, v := range map[string]string{
		HeaderRetryAfter: "2",
		HeaderRateLimit:  `"we\"ird\\n??me";r=0;t=2`,
		HeaderPolicy:     `"we\"ird\\n??me";q=10;w=60`,
		HeaderReset:      "1700000100",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	h = http.Header{}
	d.RetryAfter, d.ResetAfter = 0, 0
	SetHeaders(h, d, HeadersNone)
	if h.Get(HeaderRetryAfter) != "1" || h.Get(HeaderLimit) != "" {
		t.Errorf("HeadersNone refusal: %v, want only Retry-After: 1", h)
	}
}

func TestHeaders_CanonicalForms(t *testing.T) {
	t.Parallel()
	for name, canon := range map[string]string{
		HeaderLimit: canonLimit, HeaderRemaining: canonRemaining, HeaderReset: canonReset,
		HeaderPolicy: canonPolicy, HeaderRateLimit: canonRateLimit, HeaderRetryAfter: canonRetryAfter,
	} {
		if got := http.CanonicalHeaderKey(name); got != canon {
			t.Errorf("canonical form of %s is %s, not %s", name, got, canon)
		}
	}
}

// TestSetHeaders_ValuesStayApart: the values share one backing slice, so
// adding to one header must not overwrite the next, and the writes cost
// two allocations whatever the style.
func TestSetHeaders_ValuesStayApart(t *testing.T) {
	d := Decision{Allowed: true, Limit: Limit{Name: "pro", Windows: []Window{{Requests: 100, Per: time.Minute}}}, Remaining: 99,
		Reset: time.Unix(1_700_000_100, 0), ResetAfter: time.Second}
	h := http.Header{}
	SetHeaders(h, d, HeadersAll)
	h.Add(HeaderLimit, "extra")
	if got := h.Values(HeaderLimit); len(got) != 2 || got[0] != "100" || got[1] != "extra" {
		t.Errorf("%s = %q, want [100 extra]", HeaderLimit, got)
	}
	if got := h.Get(HeaderRemaining); got != "99" {
		t.Errorf("%s = %q after adding to %s, want 99", HeaderRemaining, got, HeaderLimit)
	}
	if got := h.Get(HeaderRateLimit); got != `"pro";r=99;t=1` {
		t.Errorf("%s = %q", HeaderRateLimit, got)
	}
	h = http.Header{}
	if n := testing.AllocsPerRun(100, func() { SetHeaders(h, d, HeadersAll) }); n > 2 {
		t.Errorf("SetHeaders allocates %v times, want 2", n)
	}
}

// TestSetHeaders_SeveralWindows parses the IETF fields of a three-window
// decision with a Structured Field Values parser: one item per window in
// the limit's order, named "<name>:<per>", a month's w being the current
// month window's seconds; X-RateLimit-* describe the binding window.
func TestSetHeaders_SeveralWindows(t *testing.T) {
	t.Parallel()
	l := Limit{Name: "pro", Windows: []Window{{Requests: 20, Per: time.Second}, {Requests: 6000, Per: time.Hour}, {Requests: 5, Per: Month}}, AnchorDay: 3}
	now := time.Date(2024, 2, 10, 12, 0, 0, 500_000_000, time.UTC)
	counts := [MaxWindows]int64{0, 100, 4}
	for _, tc := range []struct {
		cost        int64
		allowed     bool
		binding     int
		wantRemain  []int64
		wantRetry   int64
		wantLimitXR int64
	}{
		// 1 left in the month after this one: the month binds.
		{cost: 1, allowed: true, binding: 2, wantRemain: []int64{19, 5899, 0}, wantLimitXR: 5},
		// Cost 2 fails in the month only: it binds, and Retry-After is
		// when the month window (Feb 3 → Mar 3) ends, 21.5 days away.
		{cost: 2, allowed: false, binding: 2, wantRemain: []int64{20, 5900, 1}, wantRetry: 21*86400 + 43200, wantLimitXR: 5},
	} {
		c := counts
		d := decide(l, &c, tc.cost, now.Unix(), int64(now.Nanosecond()/1e3))
		if d.Allowed != tc.allowed || d.Binding != tc.binding {
			t.Fatalf("cost %d: allowed %v binding %d, want %v %d", tc.cost, d.Allowed, d.Binding, tc.allowed, tc.binding)
		}
		h := http.Header{}
		SetHeaders(h, d, HeadersAll)
		policy, err := httpsfv.UnmarshalList(h.Values(HeaderPolicy))
		if err != nil {
			t.Fatalf("RateLimit-Policy %q: %v", h.Values(HeaderPolicy), err)
		}
		state, err := httpsfv.UnmarshalList(h.Values(HeaderRateLimit))
		if err != nil {
			t.Fatalf("RateLimit %q: %v", h.Values(HeaderRateLimit), err)
		}
		names := []string{"pro:1", "pro:3600", "pro:month"}
		ws := []int64{1, 3600, 29 * 86400} // Feb 3 → Mar 3 in a leap year
		if len(policy) != 3 || len(state) != 3 {
			t.Fatalf("%d policy and %d state items, want 3 each: %q %q", len(policy), len(state), h.Values(HeaderPolicy), h.Values(HeaderRateLimit))
		}
		for i := range 3 {
			p, s := policy[i].(httpsfv.Item), state[i].(httpsfv.Item)
			q, _ := p.Params.Get("q")
			w, _ := p.Params.Get("w")
			r, _ := s.Params.Get("r")
			if p.Value != names[i] || s.Value != names[i] || q != l.Windows[i].Requests || w != ws[i] || r != tc.wantRemain[i] {
				t.Errorf("cost %d, item %d: policy %v q=%v w=%v, state %v r=%v; want %s q=%d w=%d r=%d",
					tc.cost, i, p.Value, q, w, s.Value, r, names[i], l.Windows[i].Requests, ws[i], tc.wantRemain[i])
			}
		}
		if got := h.Get(HeaderLimit); got != strconv.FormatInt(tc.wantLimitXR, 10) {
			t.Errorf("cost %d: X-RateLimit-Limit %s, want the binding window's %d", tc.cost, got, tc.wantLimitXR)
		}
		if got := h.Get(HeaderRetryAfter); tc.allowed && got != "" || !tc.allowed && got != strconv.FormatInt(tc.wantRetry, 10) {
			t.Errorf("cost %d: Retry-After %q, want %d", tc.cost, got, tc.wantRetry)
		}
	}
}
