package chassis

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Metrics are the Prometheus series every service exports on /metrics.
type Metrics struct {
	Registry        *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	outboxPublished prometheus.Counter
	outboxPending   prometheus.Gauge
	outboxOldest    prometheus.Gauge
	relayErrors     prometheus.Counter
	consumed        *prometheus.CounterVec
	deadLetters     *prometheus.GaugeVec
	consumerLag     *prometheus.GaugeVec
	pool            *poolCollector

	collectors []prometheus.Collector
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
		outboxOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_pending_age_seconds", Help: "Age of the oldest outbox event not yet published; 0 when none waits.",
		}),
		relayErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_relay_errors_total", Help: "Relay rounds that failed and were retried.",
		}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "events_consumed_total", Help: "Events handled by consumers: applied, duplicate (already processed) or dead_lettered.",
		}, []string{"consumer", "result"}),
		deadLetters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dead_letter_events", Help: "Events in the dead_letters table, by consumer, waiting for an operator.",
		}, []string{"consumer"}),
		consumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kafka_consumer_lag", Help: "Records of a partition the consumer has not applied yet, as of its last fetch " +
				"(a transaction marker counts as one).",
		}, []string{"consumer", "topic", "partition"}),
		pool: newPoolCollector(),
	}
	m.collectors = []prometheus.Collector{m.requests, m.duration, m.outboxPublished, m.outboxPending, m.outboxOldest,
		m.relayErrors, m.consumed, m.deadLetters, m.consumerLag, m.pool,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	reg.MustRegister(m.collectors...)
	return m
}

func (m *Metrics) observe(method, route, code string, d time.Duration) {
	m.requests.WithLabelValues(method, route, code).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// observeLag sets the lag of every partition in fetches: before the records are applied
// (applied false) every fetched record is still to do; after, none of them is.
func (m *Metrics) observeLag(group string, fetches kgo.Fetches, applied bool) {
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		next := p.Records[0].Offset
		if applied {
			next = p.Records[len(p.Records)-1].Offset + 1
		}
		m.consumerLag.WithLabelValues(group, p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(p.HighWatermark-next, 0)))
	})
}

// forgetLag drops the lag of partitions the consumer no longer owns, so a stale value does not
// outlive a rebalance (kgo.OnPartitionsRevoked and OnPartitionsLost).
func (m *Metrics) forgetLag(group string) func(context.Context, *kgo.Client, map[string][]int32) {
	return func(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
		for topic, partitions := range gone {
			for _, p := range partitions {
				m.consumerLag.DeleteLabelValues(group, topic, strconv.Itoa(int(p)))
			}
		}
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names lists the name of every series family the chassis exports, the Go runtime's and the
// process's included, read from the registered collectors' descriptions. A histogram's series
// add _bucket, _sum and _count to its name. The platform's alerts and dashboards are checked
// against it.
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if s := fqName.FindStringSubmatch(d.String()); s != nil {
			out = append(out, s[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
