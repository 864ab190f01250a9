package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/quotad/quotad/webhooks"
)

// TestRun_DeliversWebhooks: with QUOTA_WEBHOOK_URL set, quotad delivers an
// event of its outbox signed with QUOTA_WEBHOOK_SECRET, and /metrics shows
// the outbox.
func TestRun_DeliversWebhooks(t *testing.T) {
	t.Parallel()
	secret := []byte("webhook-secret-of-at-least-32-bytes")
	got := make(chan error, 10)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- webhooks.Verify(secret, r.Header.Get(webhooks.SignatureHeader), body, time.Minute, time.Now())
	}))
	t.Cleanup(rc.Close)
	vars := baseVars(t)
	vars["QUOTA_WEBHOOK_URL"] = rc.URL + "/hook"
	vars["QUOTA_WEBHOOK_SECRET"] = string(secret)
	base, logs, _, _ := startQuotad(t, vars)

	pool, err := pgxpool.New(context.Background(), vars["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	start := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := webhooks.Enqueue(context.Background(), pool, []webhooks.Event{{Client: "alice", Tier: "pro",
		Policy: "pro:month", Threshold: 80, Used: 80, Limit: 100, WindowStart: start, WindowEnd: start.AddDate(0, 1, 0)}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("delivery's signature: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery within 30s")
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "quotad_webhook_outbox_up 1") {
		t.Errorf("/metrics lacks quotad_webhook_outbox_up 1")
	}
	if strings.Contains(logs.String(), string(secret)) {
		t.Error("the log shows QUOTA_WEBHOOK_SECRET")
	}
}
