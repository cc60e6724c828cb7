package observability

import (
	"maps"
	"strings"
	"unicode"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// goldenSignals are the alerts on the four golden signals of every service in the mesh, from the
// metrics the sidecars report (reporter="destination": what the service itself served).
var goldenSignals = []map[string]any{
	{
		"alert": "ServiceLatencyP99High",
		"expr":  `histogram_quantile(0.99, sum by (destination_service, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m]))) > 100`,
		"for":   "10m", "labels": map[string]string{"severity": "warning", "signal": "latency"},
		"annotations": map[string]string{"summary": "p99 latency of {{ $labels.destination_service }} is {{ $value }} ms, above the 100 ms target"},
	},
	{
		"alert": "ServiceErrorRateHigh",
		"expr": `sum by (destination_service) (rate(istio_requests_total{reporter="destination", response_code=~"5.."}[5m]))
  / sum by (destination_service) (rate(istio_requests_total{reporter="destination"}[5m])) > 0.05`,
		"for": "5m", "labels": map[string]string{"severity": "critical", "signal": "errors"},
		"annotations": map[string]string{"summary": "{{ $labels.destination_service }} answers {{ $value | humanizePercentage }} of requests with 5xx"},
	},
	{
		"alert": "ServiceTrafficStopped",
		"expr": `sum by (destination_service) (rate(istio_requests_total{reporter="destination"}[10m])) == 0
  and sum by (destination_service) (rate(istio_requests_total{reporter="destination"}[1h] offset 1d)) > 0.1`,
		"for": "15m", "labels": map[string]string{"severity": "warning", "signal": "traffic"},
		"annotations": map[string]string{"summary": "{{ $labels.destination_service }} received no requests for 15 minutes; it had traffic at this time yesterday"},
	},
	{
		"alert": "ContainerCPUThrottled",
		"expr": `sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{container!=""}[5m]))
  / sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{container!=""}[5m])) > 0.25`,
		"for": "15m", "labels": map[string]string{"severity": "warning", "signal": "saturation"},
		"annotations": map[string]string{"summary": "{{ $labels.namespace }}/{{ $labels.pod }} {{ $labels.container }} is CPU-throttled {{ $value | humanizePercentage }} of the time"},
	},
	{
		"alert": "ContainerMemoryNearLimit",
		"expr": `max by (namespace, pod, container) (container_memory_working_set_bytes{container!=""})
  / max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory"}) > 0.9`,
		"for": "10m", "labels": map[string]string{"severity": "warning", "signal": "saturation"},
		"annotations": map[string]string{"summary": "{{ $labels.namespace }}/{{ $labels.pod }} {{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory limit"},
	},
}

// RunbookSection is the anchor of an alert's section in the runbooks file: its name in words,
// "ServiceLatencyP99High" is "service-latency-p99-high".
func RunbookSection(alert string) string {
	r := []rune(alert)
	var b strings.Builder
	for i, c := range r {
		// A word starts at a capital after a lower-case letter or digit, or at the last capital
		// of an acronym ("CPUThrottled": cpu-throttled).
		if i > 0 && unicode.IsUpper(c) && (!unicode.IsUpper(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// meshMonitoring adds the golden-signal alerts and scrapes the metrics of every Istio proxy.
func meshMonitoring(ctx *pulumi.Context, name, namespace, runbooks string, labels map[string]string, opts ...pulumi.ResourceOption) error {
	rules := make([]any, len(goldenSignals))
	for i, r := range goldenSignals {
		rule := maps.Clone(r)
		if runbooks != "" {
			annotations := maps.Clone(r["annotations"].(map[string]string))
			annotations["runbook_url"] = runbooks + "#" + RunbookSection(r["alert"].(string))
			rule["annotations"] = annotations
		}
		rules[i] = rule
	}
	if _, err := apiextensions.NewCustomResource(ctx, name+"-golden-signals", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("PrometheusRule"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("golden-signals"), Namespace: pulumi.String(namespace), Labels: pulumi.ToStringMap(labels)},
		OtherFields: map[string]any{"spec": map[string]any{"groups": []any{
			map[string]any{"name": "golden-signals", "rules": rules},
		}}},
	}, opts...); err != nil {
		return err
	}
	// Every sidecar and gateway serves Envoy's metrics on its http-envoy-prom port.
	_, err := apiextensions.NewCustomResource(ctx, name+"-envoy-stats", &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("PodMonitor"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("envoy-stats"), Namespace: pulumi.String(namespace), Labels: pulumi.ToStringMap(labels)},
		OtherFields: map[string]any{"spec": map[string]any{
			"namespaceSelector": map[string]any{"any": true},
			"selector":          map[string]any{"matchExpressions": []any{map[string]any{"key": "istio-prom", "operator": "DoesNotExist"}}},
			"jobLabel":          "envoy-stats",
			"podMetricsEndpoints": []any{map[string]any{
				"path":     "/stats/prometheus",
				"interval": "15s",
				"relabelings": []any{
					map[string]any{"action": "keep", "sourceLabels": []string{"__meta_kubernetes_pod_container_port_name"}, "regex": ".*-envoy-prom"},
				},
			}},
		}},
	}, opts...)
	return err
}

// ServiceMonitorArgs scrapes one service's /metrics.
type ServiceMonitorArgs struct {
	Namespace string
	// Selector matches the labels of the Service to scrape.
	Selector map[string]string
	// Port is the name of the Service port that serves metrics.
	Port string
	Path string
	// Labels go on the ServiceMonitor (ownership labels).
	Labels map[string]string
}

// NewServiceMonitor is how a domain service gets scraped: a ServiceMonitor in its namespace,
// created after the monitoring stack (pass Observability.Ready in opts' DependsOn).
func NewServiceMonitor(ctx *pulumi.Context, name string, args ServiceMonitorArgs, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String("monitoring.coreos.com/v1"),
		Kind:       pulumi.String("ServiceMonitor"),
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(args.Namespace), Labels: pulumi.ToStringMap(args.Labels)},
		OtherFields: map[string]any{"spec": map[string]any{
			"selector":  map[string]any{"matchLabels": args.Selector},
			"endpoints": []any{map[string]any{"port": args.Port, "path": args.Path, "interval": "30s"}},
		}},
	}, opts...)
}
