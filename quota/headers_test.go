package quota

import (
	"net/http"
	"testing"
	"time"
)

func TestSetHeaders_Rounding(t *testing.T) {
	t.Parallel()
	d := Decision{Allowed: false, Limit: Limit{Name: `we"ird\näme`, Requests: 10, Per: time.Minute},
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
	d := Decision{Allowed: true, Limit: Limit{Name: "pro", Requests: 100, Per: time.Minute}, Remaining: 99,
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
