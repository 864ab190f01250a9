package stack

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/quotad/quotad/api"
	"github.com/quotad/quotad/quota"
	"github.com/quotad/quotad/webhooks"
)

// TestNew_ReadsWebhookEvents: the stack reads the outbox for the admin
// API whether or not anything delivers it (New starts no dispatcher).
func TestNew_ReadsWebhookEvents(t *testing.T) {
	t.Parallel()
	pool, rdb, prefix := parts(t)
	start := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	ev := webhooks.Event{Client: "dora", Tier: "pro", Policy: "pro:month", Threshold: 100, Used: 10, Limit: 10,
		WindowStart: start, WindowEnd: start.AddDate(0, 1, 0)}
	if n, err := webhooks.Enqueue(context.Background(), pool, []webhooks.Event{ev}); err != nil || n != 1 {
		t.Fatalf("Enqueue: %d, %v", n, err)
	}
	url := serve(t, Config{
		Pool: pool, Redis: rdb, RedisPrefix: prefix, Limiter: quota.NewInMemory(),
		Logger: slog.New(slog.DiscardHandler), Auth: api.AuthConfig{Secret: secret},
	})
	admin, err := api.MintToken(secret, api.TokenClaims{Subject: "root", Admin: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, url+"/v1/admin/clients/dora/webhook-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Events []api.WebhookEventView }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET webhook-events: %d, %v", resp.StatusCode, err)
	}
	if len(body.Events) != 1 || body.Events[0].ID != ev.ID() || body.Events[0].State != webhooks.StatePending {
		t.Errorf("events %+v, want dora's pending %s", body.Events, ev.ID())
	}
}
