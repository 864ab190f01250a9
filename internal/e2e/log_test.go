package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotad/quotad/internal/testenv"
)

// TestRequestLog_NamesClientNeverToken: each request gets one JSON log line
// with its route, status and client: the limiter's key ("u:" + the token's
// subject, or the anonymous IP bucket), with the tier and the decision's
// outcome where the limiter decided; a route without the limiter still
// names the token's client. The token itself appears nowhere in the log.
func TestRequestLog_NamesClientNeverToken(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	q := startQuotad(t, env(database(t), rs.URL()))
	createTier(t, q, "logged", 1)
	assign(t, q, "log-user", "logged")
	c := user(t, "log-user")

	if r := c.get(t, q.URL+"/rate-limited"); r.Code != http.StatusOK {
		t.Fatalf("first request: %v", r)
	}
	if r := c.get(t, q.URL+"/rate-limited"); r.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: %v", r)
	}
	if r := c.get(t, q.URL+"/v1/quota"); r.Code != http.StatusOK {
		t.Fatalf("/v1/quota: %v", r)
	}
	if r := anonymous.get(t, q.URL+"/rate-limited"); r.Code != http.StatusOK {
		t.Fatalf("anonymous request: %v", r)
	}

	// Each line is written as its request ends; wait for all four.
	var lines []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines = nil
		for _, l := range q.logLines("request") {
			if r := l["route"]; r == "/rate-limited" || r == "/v1/quota" {
				lines = append(lines, l)
			}
		}
		if len(lines) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // poll the log
	}
	want := []struct {
		route, client, tier, outcome string
		status                       float64
	}{
		{"/rate-limited", "u:log-user", "logged", "admitted", 200},
		{"/rate-limited", "u:log-user", "logged", "limited", 429},
		{"/v1/quota", "u:log-user", "", "", 200},
		{"/rate-limited", "ip:127.0.0.1", "anonymous", "admitted", 200},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d request lines for the four requests, want %d:\n%v", len(lines), len(want), lines)
	}
	for i, w := range want {
		l := lines[i]
		if l["route"] != w.route || l["status"] != w.status || l["client"] != w.client {
			t.Errorf("line %d: route %v status %v client %v, want %s %v %s", i, l["route"], l["status"], l["client"], w.route, w.status, w.client)
		}
		if got, _ := l["tier"].(string); got != w.tier {
			t.Errorf("line %d: tier %q, want %q", i, got, w.tier)
		}
		if got, _ := l["outcome"].(string); got != w.outcome {
			t.Errorf("line %d: outcome %q, want %q", i, got, w.outcome)
		}
	}
	if strings.Contains(q.stdout.String(), c.token) {
		t.Error("the log contains the bearer token")
	}
}
