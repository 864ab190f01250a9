package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a private three-master Redis Cluster on loopback, for
// tests that prove the limiter's keys route and stay exact on a cluster.
type RedisCluster struct {
	// Addrs are the masters' host:port.
	Addrs []string
}

// StartRedisCluster starts three `redis-server --cluster-enabled yes`
// processes on free loopback ports, joins them with `redis-cli --cluster
// create`, waits until the cluster is ok, and stops them when the test ends.
func StartRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			tb.Fatalf("%s not found (run 'make services', which installs Redis): %v", bin, err)
		}
	}
	dir := tb.TempDir()
	c := &RedisCluster{}
	for i := range 3 {
		port := clusterPort(tb)
		nodeDir := filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command("redis-server",
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(nodeDir, "nodes.conf"), "--cluster-node-timeout", "2000",
			"--save", "", "--appendonly", "no", "--dir", nodeDir, "--logfile", filepath.Join(nodeDir, "redis.log"))
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start redis-server: %v", err)
		}
		tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		waitPing(tb, addr)
		c.Addrs = append(c.Addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !c.ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("redis cluster %v not ok within 20s", c.Addrs)
		}
		time.Sleep(50 * time.Millisecond) // poll: the cluster bus converges on its own
	}
	return c
}

// URL returns the cluster in REDIS_URL's cluster form.
func (c *RedisCluster) URL() string {
	u := "redis-cluster://" + c.Addrs[0]
	for i, a := range c.Addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// Client returns a cluster client that does not retry and honours context
// deadlines, closed when the test ends.
func (c *RedisCluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, MaxRetries: -1, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { client.Close() })
	return client
}

// ok reports whether every node says the cluster is ok and all slots are
// served.
func (c *RedisCluster) ok() bool {
	for _, a := range c.Addrs {
		cl := redis.NewClient(&redis.Options{Addr: a})
		info, err := cl.ClusterInfo(context.Background()).Result()
		cl.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return false
		}
	}
	return true
}

// clusterPort finds a free port whose cluster bus port (port+10000) is
// free too.
func clusterPort(tb testing.TB) int {
	tb.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	tb.Fatal("no free port pair for a cluster node")
	return 0
}

// waitPing waits until a Redis at addr answers PING.
func waitPing(tb testing.TB, addr string) {
	tb.Helper()
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	deadline := time.Now().Add(10 * time.Second)
	for cl.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			tb.Fatalf("redis at %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond) // poll: a starting server sends no signal
	}
}
