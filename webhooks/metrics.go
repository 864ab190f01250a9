package webhooks

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// statsTimeout bounds the outbox query of a scrape.
const statsTimeout = 2 * time.Second

// Metrics exposes the outbox to Prometheus: events by state and the age of
// the oldest pending one, read from Postgres at each scrape, and the
// attempts a Dispatcher given these Metrics makes, by outcome. Register it
// on a registry (it is a prometheus.Collector) and pass it in Config.
type Metrics struct {
	pool     *pgxpool.Pool
	now      func() time.Time
	attempts *prometheus.CounterVec
	events   *prometheus.Desc
	oldest   *prometheus.Desc
	up       *prometheus.Desc
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns the Metrics of the outbox in pool's database.
func NewMetrics(pool *pgxpool.Pool) *Metrics {
	return &Metrics{
		pool: pool,
		now:  time.Now,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quotad_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome (delivered: 2xx; status: another answer; timeout; error: no answer).",
		}, []string{"outcome"}),
		events: prometheus.NewDesc("quotad_webhook_events",
			"Webhook events in the outbox by state (pending, delivered, failed: given up after 24 h of retries).",
			[]string{"state"}, nil),
		oldest: prometheus.NewDesc("quotad_webhook_oldest_pending_age_seconds",
			"Age of the oldest pending webhook event (0 when none is pending).", nil, nil),
		up: prometheus.NewDesc("quotad_webhook_outbox_up",
			"1 if the last scrape could read the webhook outbox; the outbox gauges are missing when 0.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.attempts.Describe(ch)
	ch <- m.events
	ch <- m.oldest
	ch <- m.up
}

// Collect implements prometheus.Collector. A Postgres that does not answer
// costs the scrape its outbox gauges, not the whole scrape (an invalid
// metric would make it fail): quotad_webhook_outbox_up says which.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.attempts.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	var pending, delivered, failed int64
	var oldest *time.Time
	err := m.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
		       count(*) FILTER (WHERE delivered_at IS NOT NULL),
		       count(*) FILTER (WHERE failed_at IS NOT NULL),
		       min(created_at) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL)
		FROM webhook_events`).Scan(&pending, &delivered, &failed, &oldest)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(m.events, prometheus.GaugeValue, float64(pending), "pending")
	ch <- prometheus.MustNewConstMetric(m.events, prometheus.GaugeValue, float64(delivered), "delivered")
	ch <- prometheus.MustNewConstMetric(m.events, prometheus.GaugeValue, float64(failed), "failed")
	age := 0.0
	if oldest != nil {
		age = max(0, m.now().Sub(*oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, age)
}
