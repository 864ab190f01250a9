package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
	"github.com/quotad/quotad/quota"
)

// TestStartWhileDown_RedisServesNotReadyUntilRedisStarts: serve only
// warns when Redis does not answer PING, so quotad starting without Redis
// comes up (healthy), says it is not ready, admits degraded under the
// default fail-open policy, and becomes ready and exact once Redis starts.
func TestStartWhileDown_RedisServesNotReadyUntilRedisStarts(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	rs.Stop()
	q := startQuotad(t, env(database(t), rs.URL()))

	r, checks := readiness(t, q)
	if r.Code != http.StatusServiceUnavailable || checks["redis"] != "unavailable" || checks["postgres"] != "ok" {
		t.Fatalf("/readyz without Redis: %v; want 503 with redis unavailable, postgres ok", r)
	}
	if len(q.logLines("redis is not answering; limiting follows QUOTA_REDIS_FAILURE until it does")) != 1 {
		t.Errorf("no start-up warning about Redis:\n%s", q.stdout)
	}
	if r := user(t, "early").get(t, q.URL+"/rate-limited"); r.Code != http.StatusOK || r.Header.Get(quota.HeaderDegraded) != "1" {
		t.Errorf("request without Redis: %v; want 200 degraded", r)
	}

	rs.Start()
	waitReady(t, q, 10*time.Second)
	waitLimiting(t, q)
	createTier(t, q, "small", 3)
	assign(t, q, "late", "small")
	expectExact(t, q, "late", "small", 3, 0)
}

// TestStartWhileDown_PostgresNeverUpExitsAfterStartupTimeout: with
// Postgres unreachable quotad retries for QUOTA_STARTUP_TIMEOUT, then
// exits non-zero with one line on stderr naming DATABASE_URL and not the
// password in it.
func TestStartWhileDown_PostgresNeverUpExitsAfterStartupTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	rs := testenv.StartRedis(t)
	const password = "hunter2-not-for-logs"
	db := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/quota?sslmode=disable", password, testenv.FreePort(t))
	vars := env(db, rs.URL())
	vars["QUOTA_STARTUP_TIMEOUT"] = timeout.String()

	start := time.Now()
	q := launchQuotad(t, vars)
	code := q.waitExit(timeout + 15*time.Second)
	took := time.Since(start)

	if code == 0 {
		t.Errorf("exit status 0; want non-zero")
	}
	if took < timeout {
		t.Errorf("exited after %v, before QUOTA_STARTUP_TIMEOUT=%v", took, timeout)
	}
	if len(q.logLines("postgres is not answering yet; retrying")) == 0 {
		t.Errorf("no retry was logged:\n%s", q.stdout)
	}
	lines := strings.Split(strings.TrimSpace(q.stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "DATABASE_URL") {
		t.Errorf("stderr = %q; want one line naming DATABASE_URL", q.stderr)
	}
	if out := q.stdout.String() + q.stderr.String(); strings.Contains(out, password) {
		t.Errorf("the database password leaked into the output:\n%s", out)
	}
	t.Logf("exit %d after %v: %s", code, took.Round(time.Millisecond), lines[0])
}

// TestStartWhileDown_PostgresUpWithinTimeoutStarts: Postgres coming up
// while quotad is still within QUOTA_STARTUP_TIMEOUT is found; quotad
// migrates, loads the tiers and serves.
func TestStartWhileDown_PostgresUpWithinTimeoutStarts(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	db := pg.Database(t)
	pg.Stop()
	rs := testenv.StartRedis(t)
	vars := env(db, rs.URL())
	vars["QUOTA_STARTUP_TIMEOUT"] = "60s"

	q := launchQuotad(t, vars)
	q.waitLog("postgres is not answering yet; retrying", 30*time.Second)
	pg.Start()
	q.waitHealthy(30 * time.Second)
	waitReady(t, q, 10*time.Second)
	if got := publicLimit(t, q, "free"); got != 300 {
		t.Fatalf("free tier limit %d after a late start; want the seed's 300", got)
	}
}
