package microservice

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/services/slo"
)

// Names of the series the SLO rules record, per service and window: the share of requests that
// failed (5xx) and that were slower than the latency objective.
const (
	RecordErrorRatio = "slo:request_errors:ratio_rate"
	RecordSlowRatio  = "slo:request_slow:ratio_rate"
)

// sloWindows are every window the burn-rate alerts read, short and long.
func sloWindows() []string {
	var out []string
	seen := map[string]bool{}
	for _, b := range slo.BurnRates {
		for _, w := range []string{slo.Window(b.Short), slo.Window(b.Long)} {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// alertRules are the service's SLO recording rules and alerts (multi-window, multi-burn-rate,
// on the requests its sidecar served: Istio's standard metrics) and the alerts on its events
// (the chassis' outbox, dead-letter and consumer-lag series).
func (a Args) alertRules() []any {
	istio := fmt.Sprintf(`reporter="destination",destination_service_namespace=%q,destination_service_name=%q`, a.Namespace, a.Name)
	chassis := fmt.Sprintf(`namespace=%q,service=%q`, a.Namespace, a.Name)
	// Each alert links the runbooks' section named after it.
	runbook := func(alert string) string { return a.RunbookURL + "#" + observability.RunbookSection(alert) }
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{"service": a.Name}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	var rules []any
	for _, w := range sloWindows() {
		rules = append(rules,
			map[string]any{
				"record": RecordErrorRatio + w, "labels": with(map[string]string{"slo": "availability"}),
				"expr": fmt.Sprintf(`sum(rate(istio_requests_total{%s,response_code=~"5.."}[%s])) / sum(rate(istio_requests_total{%s}[%s]))`, istio, w, istio, w),
			},
			map[string]any{
				"record": RecordSlowRatio + w, "labels": with(map[string]string{"slo": "latency"}),
				"expr": fmt.Sprintf(`1 - sum(rate(istio_request_duration_milliseconds_bucket{%s,le=%q}[%s])) / sum(rate(istio_request_duration_milliseconds_count{%s}[%s]))`,
					istio, a.SLO.LatencyBucket(), w, istio, w),
			})
	}
	burn := func(alert, record, what string, budget float64) {
		for _, b := range slo.BurnRates {
			long, short := slo.Window(b.Long), slo.Window(b.Short)
			threshold := strconv.FormatFloat(b.Factor, 'f', -1, 64) + " * " + strconv.FormatFloat(budget, 'f', -1, 64)
			rules = append(rules, map[string]any{
				"alert": alert,
				"expr": fmt.Sprintf(`%s%s{service=%q} > (%s) and %s%s{service=%q} > (%s)`,
					record, long, a.Name, threshold, record, short, a.Name, threshold),
				"labels": with(map[string]string{"severity": b.Severity, "long_window": long, "short_window": short}),
				"annotations": map[string]string{
					"summary": fmt.Sprintf("%s burns its %s error budget %sx too fast (%s and %s windows)", a.Name, what, strconv.FormatFloat(b.Factor, 'f', -1, 64), long, short),
					"description": fmt.Sprintf("At this rate the 30-day budget of %s lasts %s. {{ $value | humanizePercentage }} of requests over %s.",
						what, budgetLasts(b.Factor), long),
					"runbook_url": runbook(alert),
				},
			})
		}
	}
	burn("ServiceAvailabilityBudgetBurn", RecordErrorRatio, fmt.Sprintf("availability (%v%%)", a.SLO.Availability), a.SLO.ErrorBudget())
	burn("ServiceLatencyBudgetBurn", RecordSlowRatio, fmt.Sprintf("latency (p99 under %s)", a.SLO.LatencyP99), slo.LatencyBudget)

	alert := func(name, severity, expr, forDur, summary string) {
		rules = append(rules, map[string]any{
			"alert": name, "expr": expr, "for": forDur,
			"labels":      with(map[string]string{"severity": severity}),
			"annotations": map[string]string{"summary": summary, "runbook_url": runbook(name)},
		})
	}
	if a.Outbox {
		alert("OutboxEventsDelayed", "warning", fmt.Sprintf(`max(outbox_oldest_pending_age_seconds{%s}) > 120`, chassis), "5m",
			a.Name+"'s oldest unpublished event is {{ $value | humanizeDuration }} old: the relay is not publishing")
		alert("OutboxEventsDelayed", "critical", fmt.Sprintf(`max(outbox_oldest_pending_age_seconds{%s}) > 900`, chassis), "5m",
			a.Name+"'s events have waited {{ $value | humanizeDuration }} in the outbox: other services do not see its changes")
		alert("OutboxBacklogGrowing", "warning", fmt.Sprintf(`max(outbox_events_pending{%s}) > 1000 and deriv(max(outbox_events_pending{%s})[15m:1m]) > 0`, chassis, chassis), "15m",
			a.Name+" has {{ $value }} unpublished events and the backlog keeps growing")
	}
	if a.Database {
		alert("DatabasePoolSaturated", "warning", fmt.Sprintf(`max by (pod) (db_pool_connections{%s,state="acquired"} / ignoring (state) db_pool_max_connections{%s}) > 0.9`, chassis, chassis), "10m",
			"{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its database connections: requests wait for one")
	}
	if a.Consumers {
		alert("DeadLetters", "warning", fmt.Sprintf(`max by (consumer) (dead_letter_events{%s}) > 0`, chassis), "5m",
			"{{ $labels.consumer }} has {{ $value }} events it could not apply, waiting in dead_letters")
		alert("ConsumerLag", "warning", fmt.Sprintf(`sum by (consumer, topic) (max by (consumer, topic, partition) (kafka_consumer_lag{%s})) > 1000`, chassis), "10m",
			"{{ $labels.consumer }} is {{ $value }} records behind on {{ $labels.topic }}")
		alert("ConsumerLag", "critical", fmt.Sprintf(`sum by (consumer, topic) (max by (consumer, topic, partition) (kafka_consumer_lag{%s})) > 10000`, chassis), "15m",
			"{{ $labels.consumer }} is {{ $value }} records behind on {{ $labels.topic }} and not catching up")
	}
	return rules
}

// budgetLasts is how long a 30-day error budget lasts at a burn rate.
func budgetLasts(factor float64) string {
	hours := 30 * 24 / factor
	if hours >= 48 {
		return fmt.Sprintf("%.0f days", hours/24)
	}
	return fmt.Sprintf("%.0f hours", hours)
}

// sloRules creates the service's PrometheusRule: Prometheus evaluates rules of every namespace.
func (b *builder) sloRules() error {
	a := b.args
	_, err := apiextensions.NewCustomResource(b.ctx, b.name+"-alerts", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("PrometheusRule"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(a.Name + "-alerts"), Namespace: pulumi.String(a.Namespace), Labels: b.labels(nil)},
		OtherFields: map[string]any{"spec": map[string]any{"groups": []any{
			map[string]any{"name": a.Name + ".slo", "interval": "30s", "rules": a.alertRules()},
		}}},
	}, b.opts...)
	return err
}
