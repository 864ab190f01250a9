package webhooks

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gather returns the value of every sample of m, by metric name and label
// values ("quotad_webhook_events{pending}").
func gather(tb testing.TB, m *Metrics) map[string]float64 {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += "{" + l.GetValue() + "}"
			}
			if c := s.GetCounter(); c != nil {
				out[key] = c.GetValue()
			} else {
				out[key] = s.GetGauge().GetValue()
			}
		}
	}
	return out
}

func counter(tb testing.TB, m *Metrics, outcome string) float64 {
	tb.Helper()
	return gather(tb, m)["quotad_webhook_attempts_total{"+outcome+"}"]
}

// TestMetrics_OutboxStates: the gauges count events by state and give the
// oldest pending event's age; a database that cannot be read leaves them
// out and says so without failing the scrape.
func TestMetrics_OutboxStates(t *testing.T) {
	t.Parallel()
	pool := newTestPool(t)
	ctx := context.Background()
	m := NewMetrics(pool)
	m.now = func() time.Time { return t0 }
	got := gather(t, m)
	if got["quotad_webhook_events{pending}"] != 0 || got["quotad_webhook_oldest_pending_age_seconds"] != 0 ||
		got["quotad_webhook_outbox_up"] != 1 {
		t.Errorf("empty outbox: %v", got)
	}
	enqueue(t, pool, testEvent("a", 80, t0.Add(-90*time.Second)), testEvent("a", 100, t0.Add(-30*time.Second)),
		testEvent("b", 80, t0.Add(-time.Hour)), testEvent("c", 80, t0.Add(-2*time.Hour)))
	if _, err := pool.Exec(ctx, `UPDATE webhook_events SET delivered_at = $1 WHERE client_id = 'b'`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE webhook_events SET failed_at = $1 WHERE client_id = 'c'`, t0); err != nil {
		t.Fatal(err)
	}
	got = gather(t, m)
	for k, want := range map[string]float64{
		"quotad_webhook_events{pending}":            2,
		"quotad_webhook_events{delivered}":          1,
		"quotad_webhook_events{failed}":             1,
		"quotad_webhook_oldest_pending_age_seconds": 90,
		"quotad_webhook_outbox_up":                  1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v; want %v", k, got[k], want)
		}
	}

	pool.Close()
	got = gather(t, m)
	if _, ok := got["quotad_webhook_events{pending}"]; ok || got["quotad_webhook_outbox_up"] != 0 {
		t.Errorf("closed pool: %v; want outbox_up 0 and no event gauges", got)
	}
}
