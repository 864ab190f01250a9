package main

import (
	"context"
	"testing"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	c, err := parseRedisURL("redis://127.0.0.1:6379/3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if o := c.(*redis.Client).Options(); o.DB != 3 || o.MaxRetries > 0 || !o.ContextTimeoutEnabled {
		t.Fatalf("single-node options %+v", o)
	}
	cc, err := parseRedisURL("redis-cluster://10.0.0.1:7000?addr=10.0.0.2:7001&addr=10.0.0.3:7002")
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	o := cc.(*redis.ClusterClient).Options()
	if len(o.Addrs) != 3 || o.MaxRetries > 0 || !o.ContextTimeoutEnabled {
		t.Fatalf("cluster options %+v", o)
	}
	for _, bad := range []string{"http://x", "redis-cluster://", "redis://host:notaport"} {
		if c, err := parseRedisURL(bad); err == nil {
			c.Close()
			t.Errorf("parseRedisURL(%q) accepted", bad)
		}
	}
}

// TestRun_OnRedisCluster: quotad configured with the documented cluster
// form of REDIS_URL serves limited requests from a real cluster.
func TestRun_OnRedisCluster(t *testing.T) {
	t.Parallel()
	cluster := testenv.StartRedisCluster(t)
	vars := baseVars(t)
	vars["REDIS_URL"] = cluster.URL()
	base, _, _, _ := startQuotad(t, vars)
	tok := mintTestToken(t, "cluster-user")
	for i := range 3 {
		resp := getWithToken(t, base+"/rate-limited", tok)
		if resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Remaining") != []string{"299", "298", "297"}[i] {
			t.Fatalf("request %d: %d remaining %q", i+1, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"))
		}
	}
	n, err := cluster.Client(t).Exists(context.Background(), "quota:{u:cluster-user}:30").Result()
	if err != nil || n != 1 {
		t.Fatalf("the counter is not on the cluster: %d, %v", n, err)
	}
}
