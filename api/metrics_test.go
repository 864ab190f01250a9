package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetrics_RequestDurationResolvesSubMillisecond: the HTTP latency
// histogram has buckets below a millisecond, where most requests fall.
func TestMetrics_RequestDurationResolvesSubMillisecond(t *testing.T) {
	t.Parallel()
	inst := newBackend(t).start(t, instanceOpts{})
	mustStatus(t, do(t, http.MethodGet, inst.URL+"/healthz", "", nil), http.StatusOK)
	m := string(mustStatus(t, do(t, http.MethodGet, inst.URL+"/metrics", "", nil), http.StatusOK).Body)
	for _, le := range []string{"5e-05", "0.0001", "0.00025", "0.0005", "0.001"} {
		want := `quotad_http_request_duration_seconds_bucket{route="/healthz",le="` + le + `"}`
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
