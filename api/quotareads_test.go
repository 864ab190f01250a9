package api

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/quotad/quotad/quota"
)

// TestOwnQuota_ReadsBoundedPerWindow: a caller reads its quota exactly 10
// times its tier's limit per window; the next read is 429 with the
// rate-limit headers of the read allowance and Retry-After, and the
// allowance is apart from the quota itself, which reads never spend.
func TestOwnQuota_ReadsBoundedPerWindow(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	setTier(t, inst, "anonymous", 2, 3600)
	for i := range 2 * quotaReadFactor {
		var q QuotaView
		mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", "", nil), http.StatusOK).decode(t, &q)
		if q.Limit != 2 || q.Remaining != 2 {
			t.Fatalf("read %d: %+v, want the untouched window of 2", i+1, q)
		}
	}
	for i := range 2 { // the second refusal comes from the limiter's memory
		r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/v1/quota", "", nil), http.StatusTooManyRequests)
		if r.errorCode(t) != CodeRateLimited {
			t.Fatalf("refusal %d: %s", i+1, r.Body)
		}
		want := strconv.Itoa(2 * quotaReadFactor)
		if r.Header.Get(quota.HeaderLimit) != want || r.Header.Get(quota.HeaderRemaining) != "0" ||
			r.Header.Get(quota.HeaderPolicy) != `"anonymous";q=`+want+`;w=3600` || r.Header.Get(quota.HeaderRetryAfter) == "" {
			t.Fatalf("refusal %d: headers %v, want the read allowance of %s per hour, spent, with Retry-After", i+1, r.Header, want)
		}
	}
	// A HEAD is a read too.
	mustStatus(t, do(t, http.MethodHead, inst.URL+"/v1/quota", "", nil), http.StatusTooManyRequests)
	// The quota itself is untouched.
	r := mustStatus(t, do(t, http.MethodGet, inst.URL+"/rate-limited", "", nil), http.StatusOK)
	if r.Header.Get(quota.HeaderRemaining) != "1" {
		t.Fatalf("after the reads, /rate-limited left %q, want 1", r.Header.Get(quota.HeaderRemaining))
	}
}
