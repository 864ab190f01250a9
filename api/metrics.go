package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/quotad/quotad/tiers"
)

// Metrics are quotad's Prometheus metrics, on a registry of their own (no
// globals, so several servers can live in one test process).
type Metrics struct {
	registry  *prometheus.Registry
	handler   http.Handler
	decisions *prometheus.CounterVec
	failures  prometheus.Counter
	latency   prometheus.Histogram
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// NewMetrics returns Metrics on a fresh registry, with Go and process
// collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quotad_decisions_total",
			Help: "Rate-limit decisions by outcome (admitted, limited, degraded, unavailable) and tier.",
		}, []string{"outcome", "tier"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quotad_store_failures_total",
			Help: "Decisions the limiter's store (Redis) could not make: errors, timeouts, open breaker.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "quotad_decision_duration_seconds",
			Help:    "Time to reach a rate-limit decision, cached refusals included.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quotad_http_requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quotad_http_request_duration_seconds",
			Help: "HTTP request latency by route.",
			// Most requests take well under a millisecond, so the finest
			// buckets are at 50 µs; the coarsest reaches the write timeout.
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	r.MustRegister(m.decisions, m.failures, m.latency, m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
	return m
}

// Registry returns the registry, for callers adding their own metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// observeCache exposes the tier cache's state. Every lookup is answered
// from memory, so there is no hit, miss or fallback to count.
func (m *Metrics) observeCache(c *tiers.Cache) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "quotad_tier_cache_clients",
			Help: "Client assignments held in memory: every client assigned a tier."}, func() float64 { return float64(c.Stats().Clients) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "quotad_tier_listener_connected",
			Help: "1 while the Postgres change listener is connected."}, func() float64 {
			if c.Connected() {
				return 1
			}
			return 0
		}),
	)
}

func (m *Metrics) decision(tier, outcome string, took time.Duration, err error) {
	m.decisions.WithLabelValues(outcome, tier).Inc()
	m.latency.Observe(took.Seconds())
	if err != nil {
		m.failures.Inc()
	}
}

func (m *Metrics) request(route string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}
