package observability

import (
	"encoding/json"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Grafana's dashboard sidecar (kube-prometheus-stack's grafana.sidecar.dashboards) loads every
// ConfigMap with this label, in any namespace.
const (
	DashboardLabel      = "grafana_dashboard"
	DashboardLabelValue = "1"
	// prometheusDatasource is the UID of the Prometheus datasource the chart provisions.
	prometheusDatasource = "prometheus"
)

// Dashboard is a Grafana dashboard of rows of panels, laid out top to bottom.
type Dashboard struct {
	UID, Title string
	Tags       []string
	Rows       []Row
}

// Row is a titled row of panels, side by side.
type Row struct {
	Title  string
	Panels []Panel
}

// Panel is a time series (or, with Stat, a single value) of PromQL queries.
type Panel struct {
	Title, Unit string
	Stat        bool
	Queries     []Query
}

// Query is one PromQL expression and its legend.
type Query struct{ Expr, Legend string }

// JSON is the dashboard in Grafana's JSON model (schema 39, Grafana 10 and later).
func (d Dashboard) JSON() (string, error) {
	var panels []any
	id, y := 1, 0
	ds := map[string]any{"type": "prometheus", "uid": prometheusDatasource}
	for _, r := range d.Rows {
		panels = append(panels, map[string]any{
			"id": id, "type": "row", "title": r.Title, "collapsed": false,
			"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y},
		})
		id, y = id+1, y+1
		if len(r.Panels) == 0 {
			continue
		}
		w := 24 / len(r.Panels)
		for i, p := range r.Panels {
			targets := make([]any, len(p.Queries))
			for j, q := range p.Queries {
				targets[j] = map[string]any{"refId": string(rune('A' + j)), "expr": q.Expr, "legendFormat": q.Legend, "datasource": ds}
			}
			kind := "timeseries"
			if p.Stat {
				kind = "stat"
			}
			panels = append(panels, map[string]any{
				"id": id, "type": kind, "title": p.Title, "datasource": ds, "targets": targets,
				"gridPos":     map[string]int{"h": 8, "w": w, "x": i * w, "y": y},
				"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.Unit}, "overrides": []any{}},
			})
			id++
		}
		y += 8
	}
	out, err := json.Marshal(map[string]any{
		"uid": d.UID, "title": d.Title, "tags": d.Tags, "schemaVersion": 39, "version": 1,
		"editable": false, "timezone": "browser", "refresh": "30s",
		"time":       map[string]string{"from": "now-6h", "to": "now"},
		"templating": map[string]any{"list": []any{}},
		"panels":     panels,
	})
	return string(out), err
}

// NewDashboard provisions a dashboard: a ConfigMap the Grafana sidecar picks up.
func NewDashboard(ctx *pulumi.Context, name, namespace string, d Dashboard, labels map[string]string, opts ...pulumi.ResourceOption) (*corev1.ConfigMap, error) {
	body, err := d.JSON()
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
	}
	l := pulumi.ToStringMap(labels)
	l[DashboardLabel] = pulumi.String(DashboardLabelValue)
	return corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String("dashboard-" + d.UID), Namespace: pulumi.String(namespace), Labels: l,
			// The sidecar files it under this Grafana folder.
			Annotations: pulumi.StringMap{"grafana_folder": pulumi.String("Groundwork")},
		},
		Data: pulumi.StringMap{d.UID + ".json": pulumi.String(body)},
	}, opts...)
}

// platformDashboard is the mesh-wide view: every service's golden signals and SLO burn, and
// the event pipeline of all of them.
func platformDashboard() Dashboard {
	istio := `reporter="destination",destination_service_namespace!=""`
	return Dashboard{
		UID: "groundwork-platform", Title: "Groundwork / Platform", Tags: []string{"groundwork"},
		Rows: []Row{
			{Title: "Golden signals by service", Panels: []Panel{
				{Title: "Requests per second", Unit: "reqps", Queries: []Query{{
					Expr: fmt.Sprintf(`sum by (destination_service_name) (rate(istio_requests_total{%s}[$__rate_interval]))`, istio), Legend: "{{destination_service_name}}"}}},
				{Title: "5xx ratio", Unit: "percentunit", Queries: []Query{{
					Expr:   fmt.Sprintf(`sum by (destination_service_name) (rate(istio_requests_total{%s,response_code=~"5.."}[$__rate_interval])) / sum by (destination_service_name) (rate(istio_requests_total{%s}[$__rate_interval]))`, istio, istio),
					Legend: "{{destination_service_name}}"}}},
				{Title: "p99 latency", Unit: "ms", Queries: []Query{{
					Expr:   fmt.Sprintf(`histogram_quantile(0.99, sum by (destination_service_name, le) (rate(istio_request_duration_milliseconds_bucket{%s}[$__rate_interval])))`, istio),
					Legend: "{{destination_service_name}}"}}},
			}},
			{Title: "SLO burn (1h; 1 spends the 30-day budget in 30 days)", Panels: []Panel{
				{Title: "Availability errors, 1h", Unit: "percentunit", Queries: []Query{{Expr: `max by (service) (slo:request_errors:ratio_rate1h)`, Legend: "{{service}}"}}},
				{Title: "Requests over the latency objective, 1h", Unit: "percentunit", Queries: []Query{{Expr: `max by (service) (slo:request_slow:ratio_rate1h)`, Legend: "{{service}}"}}},
			}},
			{Title: "Events", Panels: []Panel{
				{Title: "Outbox backlog", Queries: []Query{{Expr: `max by (service) (outbox_events_pending)`, Legend: "{{service}}"}}},
				{Title: "Oldest unpublished event", Unit: "s", Queries: []Query{{Expr: `max by (service) (outbox_oldest_pending_age_seconds)`, Legend: "{{service}}"}}},
				{Title: "Consumer lag", Queries: []Query{{Expr: `sum by (consumer) (max by (consumer, topic, partition) (kafka_consumer_lag))`, Legend: "{{consumer}}"}}},
				{Title: "Dead letters", Queries: []Query{{Expr: `max by (consumer) (dead_letter_events)`, Legend: "{{consumer}}"}}},
			}},
		},
	}
}
