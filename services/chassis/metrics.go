package chassis

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus series every service exports on /metrics.
type Metrics struct {
	Registry        *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	outboxPublished prometheus.Counter
	outboxPending   prometheus.Gauge
	relayErrors     prometheus.Counter
	consumed        *prometheus.CounterVec
}

// NewMetrics registers the chassis series, plus Go runtime and process collectors, on a fresh
// registry (one per service, so tests can run several).
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		outboxPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_events_published_total", Help: "Outbox events committed to Kafka by the relay.",
		}),
		outboxPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_events_pending", Help: "Outbox events not yet published (counted every 5s, also while Kafka is down).",
		}),
		relayErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_relay_errors_total", Help: "Relay rounds that failed and were retried.",
		}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_consumed_total", Help: "Events handled by consumers: applied, duplicate (already processed) or dead_lettered.",
		}, []string{"consumer", "result"}),
	}
	reg.MustRegister(m.requests, m.duration, m.outboxPublished, m.outboxPending, m.relayErrors, m.consumed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(method, route, code string, d time.Duration) {
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}
