package microservice

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/services/slo"
)

// dashboard is the service's Grafana dashboard: its golden signals as the mesh sees them and by
// route as the service sees them, its SLOs' budgets and burn, and its events.
func (a Args) dashboard() observability.Dashboard {
	istio := fmt.Sprintf(`reporter="destination",destination_service_namespace=%q,destination_service_name=%q`, a.Namespace, a.Name)
	own := fmt.Sprintf(`namespace=%q,service=%q`, a.Namespace, a.Name)
	budget := strconv.FormatFloat(a.SLO.ErrorBudget(), 'f', -1, 64)
	latencyBudget := strconv.FormatFloat(slo.LatencyBudget, 'f', -1, 64)
	q := func(expr, legend string) []observability.Query {
		return []observability.Query{{Expr: expr, Legend: legend}}
	}
	rows := []observability.Row{
		{Title: "Golden signals (mesh)", Panels: []observability.Panel{
			{Title: "Requests per second by code", Unit: "reqps", Queries: q(fmt.Sprintf(`sum by (response_code) (rate(istio_requests_total{%s}[$__rate_interval]))`, istio), "{{response_code}}")},
			{Title: "5xx ratio", Unit: "percentunit", Queries: q(fmt.Sprintf(`sum(rate(istio_requests_total{%s,response_code=~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{%s}[$__rate_interval]))`, istio, istio), "5xx")},
			{Title: "Latency", Unit: "ms", Queries: []observability.Query{
				{Expr: fmt.Sprintf(`histogram_quantile(0.5, sum by (le) (rate(istio_request_duration_milliseconds_bucket{%s}[$__rate_interval])))`, istio), Legend: "p50"},
				{Expr: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{%s}[$__rate_interval])))`, istio), Legend: "p99"},
			}},
			{Title: "Saturation: CPU per pod", Unit: "short", Queries: q(fmt.Sprintf(`sum by (pod) (rate(process_cpu_seconds_total{%s}[$__rate_interval]))`, own), "{{pod}}")},
		}},
		{Title: "By route (the service's own metrics)", Panels: []observability.Panel{
			{Title: "Requests per second", Unit: "reqps", Queries: q(fmt.Sprintf(`sum by (route, code) (rate(http_requests_total{%s}[$__rate_interval]))`, own), "{{route}} {{code}}")},
			{Title: "p99 latency", Unit: "s", Queries: q(fmt.Sprintf(`histogram_quantile(0.99, sum by (route, le) (rate(http_request_duration_seconds_bucket{%s}[$__rate_interval])))`, own), "{{route}}")},
			{Title: "Memory per pod", Unit: "bytes", Queries: q(fmt.Sprintf(`max by (pod) (process_resident_memory_bytes{%s})`, own), "{{pod}}")},
			{Title: "Goroutines per pod", Unit: "short", Queries: q(fmt.Sprintf(`max by (pod) (go_goroutines{%s})`, own), "{{pod}}")},
		}},
		{Title: fmt.Sprintf("SLO: %v%% available, p99 under %s (30 days)", a.SLO.Availability, a.SLO.LatencyP99), Panels: []observability.Panel{
			{Title: "Availability budget left", Unit: "percentunit", Stat: true, Queries: q(fmt.Sprintf(
				`1 - (sum(increase(istio_requests_total{%s,response_code=~"5.."}[30d])) / sum(increase(istio_requests_total{%s}[30d]))) / %s`, istio, istio, budget), "left")},
			{Title: "Latency budget left", Unit: "percentunit", Stat: true, Queries: q(fmt.Sprintf(
				`1 - (1 - sum(increase(istio_request_duration_milliseconds_bucket{%s,le=%q}[30d])) / sum(increase(istio_request_duration_milliseconds_count{%s}[30d]))) / %s`,
				istio, a.SLO.LatencyBucket(), istio, latencyBudget), "left")},
			{Title: "Burn rate (1 spends the budget in 30 days)", Unit: "short", Queries: []observability.Query{
				{Expr: fmt.Sprintf(`%s1h{service=%q} / %s`, RecordErrorRatio, a.Name, budget), Legend: "availability 1h"},
				{Expr: fmt.Sprintf(`%s6h{service=%q} / %s`, RecordErrorRatio, a.Name, budget), Legend: "availability 6h"},
				{Expr: fmt.Sprintf(`%s1h{service=%q} / %s`, RecordSlowRatio, a.Name, latencyBudget), Legend: "latency 1h"},
				{Expr: fmt.Sprintf(`%s6h{service=%q} / %s`, RecordSlowRatio, a.Name, latencyBudget), Legend: "latency 6h"},
			}},
		}},
	}
	if a.Database {
		rows = append(rows, observability.Row{Title: "Database", Panels: []observability.Panel{
			{Title: "Connections in use per pod", Queries: []observability.Query{
				{Expr: fmt.Sprintf(`max by (pod) (db_pool_connections{%s,state="acquired"})`, own), Legend: "{{pod}}"},
				{Expr: fmt.Sprintf(`max(db_pool_max_connections{%s})`, own), Legend: "pool size"},
			}},
			{Title: "Waits for a connection per second", Unit: "ops", Queries: q(fmt.Sprintf(`sum(rate(db_pool_empty_acquires_total{%s}[$__rate_interval]))`, own), "waits")},
			{Title: "Average time to get a connection", Unit: "s", Queries: q(fmt.Sprintf(
				`sum(rate(db_pool_acquire_wait_seconds_total{%s}[$__rate_interval])) / sum(rate(db_pool_acquires_total{%s}[$__rate_interval]))`, own, own), "average")},
		}})
	}
	if a.Outbox {
		rows = append(rows, observability.Row{Title: "Outbox", Panels: []observability.Panel{
			{Title: "Unpublished events", Queries: q(fmt.Sprintf(`max(outbox_events_pending{%s})`, own), "pending")},
			{Title: "Oldest unpublished event", Unit: "s", Queries: q(fmt.Sprintf(`max(outbox_oldest_pending_age_seconds{%s})`, own), "age")},
			{Title: "Published per second", Unit: "ops", Queries: q(fmt.Sprintf(`sum(rate(outbox_events_published_total{%s}[$__rate_interval]))`, own), "published")},
			{Title: "Relay errors per second", Unit: "ops", Queries: q(fmt.Sprintf(`sum(rate(outbox_relay_errors_total{%s}[$__rate_interval]))`, own), "errors")},
		}})
	}
	if a.Consumers {
		rows = append(rows, observability.Row{Title: "Consumers", Panels: []observability.Panel{
			{Title: "Events handled per second", Unit: "ops", Queries: q(fmt.Sprintf(`sum by (consumer, result) (rate(events_consumed_total{%s}[$__rate_interval]))`, own), "{{consumer}} {{result}}")},
			{Title: "Lag by partition", Queries: q(fmt.Sprintf(`max by (consumer, topic, partition) (kafka_consumer_lag{%s})`, own), "{{consumer}} {{topic}}/{{partition}}")},
			{Title: "Dead letters", Queries: q(fmt.Sprintf(`max by (consumer) (dead_letter_events{%s})`, own), "{{consumer}}")},
		}})
	}
	return observability.Dashboard{UID: dashboardUID(a.Name), Title: "Groundwork / " + a.Name, Tags: []string{"groundwork", "service"}, Rows: rows}
}

// dashboardUID is the dashboard's stable UID, within Grafana's 40 characters.
func dashboardUID(name string) string {
	uid := "svc-" + name
	if len(uid) <= 40 {
		return uid
	}
	sum := sha256.Sum256([]byte(name))
	return uid[:31] + "-" + hex.EncodeToString(sum[:4])
}

func (b *builder) grafanaDashboard() error {
	_, err := observability.NewDashboard(b.ctx, b.name+"-dashboard", b.args.Namespace, b.args.dashboard(), b.args.Labels, b.opts...)
	return err
}
