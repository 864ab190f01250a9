package api

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
)

// TestCluster_TwoInstancesExact runs quotad's acceptance flow on a real
// three-master Redis Cluster: tier headers, an exact burst over two
// instances, and a refusal lifted by an admin change.
func TestCluster_TwoInstancesExact(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	b := newBackend(t)
	a := b.start(t, instanceOpts{redisClient: cluster.Client(t)})
	c := b.start(t, instanceOpts{redisClient: cluster.Client(t)})
	admin := token(t, "admin", true)
	setTier(t, a, "gold", 30, 3600)
	users := []string{"u1", "u2", "u3", "u4"} // spread over slots
	for _, u := range users {
		mustStatus(t, do(t, http.MethodPut, a.URL+"/v1/admin/clients/"+u, admin, map[string]string{"tier": "gold"}), http.StatusOK)
	}
	waitFor(t, time.Second, "instance 2 sees the assignments", func() bool {
		return quotaOf(t, c, token(t, users[len(users)-1], false)).Tier == "gold"
	})
	for _, u := range users {
		tok := token(t, u, false)
		var mu sync.Mutex
		admitted := 0
		var wg sync.WaitGroup
		for g := range 16 {
			inst := []*instance{a, c}[g%2]
			wg.Go(func() {
				for range 4 {
					r := do(t, http.MethodGet, inst.URL+"/rate-limited", tok, nil)
					if r.StatusCode == http.StatusOK {
						mu.Lock()
						admitted++
						mu.Unlock()
					} else if r.StatusCode != http.StatusTooManyRequests {
						t.Errorf("%s: status %d", u, r.StatusCode)
					}
				}
			})
		}
		wg.Wait()
		if admitted != 30 {
			t.Fatalf("%s: %d of 64 admitted on the cluster, want exactly 30", u, admitted)
		}
	}
	setTier(t, a, "gold", 31, 3600)
	waitFor(t, time.Second, "the raised limit on the other instance", func() bool {
		return do(t, http.MethodGet, c.URL+"/rate-limited", token(t, "u1", false), nil).StatusCode == http.StatusOK
	})
}
