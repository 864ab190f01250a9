package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkServer_RateLimited measures quotad's request path in process
// (no sockets on the HTTP side): JWT verification, tier lookup, one Redis
// decision, headers, the JSON body, logging and metrics.
//
//	go test -run '^$' -bench Server_RateLimited -benchmem ./api
func BenchmarkServer_RateLimited(b *testing.B) {
	bk := newBackend(b)
	inst := bk.start(b, instanceOpts{})
	setTier(b, inst, "free", 1_000_000_000, 3600)
	waitFor(b, 2*time.Second, "the raised free tier", func() bool { return inst.cache.Free().First().Limit == 1_000_000_000 })
	tok := token(b, "bench-user", false)
	h := inst.srv.Config.Handler
	b.ReportAllocs()
	b.SetParallelism(8) // 16 requests in flight on 2 CPUs, as under real load
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/rate-limited", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
