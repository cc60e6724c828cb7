package tests

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
	"github.com/groundwork/groundwork/services"
)

// grafanaDashboard is the part of Grafana's dashboard JSON model the checks read; unknown
// fields are allowed (Grafana has many), wrong types are not.
type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// Every service has a dashboard and the platform one, each valid dashboard JSON the chart's
// Grafana sidecar loads, whose every query reads series the chassis or Istio export, or that
// the stack's rules record.
func TestDashboardsAreValidAndReadSeriesThatExist(t *testing.T) {
	specs, err := services.Load("services")
	require.NoError(t, err)
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			m, err := run(t, stack, stackConfig(t, stack), nil, platform.Run)
			require.NoError(t, err)
			recorded := map[string]bool{}
			for _, r := range m.ofType(prometheusRuleType) {
				for _, rule := range rulesOf(r) {
					recorded[rule.record] = rule.record != ""
				}
			}
			// The sidecar loads ConfigMaps with this label from every namespace.
			sidecar := objectMap(get(m.byName(t, helmChartType, "observability").Inputs, "values.grafana.sidecar.dashboards"))
			assert.Equal(t, "ALL", sidecar["searchNamespace"])

			uids := map[string]bool{}
			rows := map[string][]string{}
			sources := scrapedSources(m)
			for _, hidden := range unscrapable {
				assert.Falsef(t, sources[hidden], "the stack monitors %s, which the cluster does not expose to Prometheus: its target is down for good and its Down alert fires", hidden)
			}
			chartDashboards := 0
			for _, cm := range m.ofType("kubernetes:core/v1:ConfigMap") {
				if objectMap(get(cm.Inputs, "metadata.labels"))[sidecar["label"]] != sidecar["labelValue"] {
					continue
				}
				data := objectMap(get(cm.Inputs, "data"))
				require.Len(t, data, 1, cm.Name)
				if rules.RenderedByChart(cm.URN) {
					// kube-prometheus-stack's own dashboards (the Kubernetes mixin): their
					// layout is upstream's; what they query must exist in this stack.
					for file, body := range data {
						uid := checkChartDashboard(t, cm.Name+"/"+file, body, recorded, sources)
						assert.False(t, uids[uid], "%s: UIDs are unique", uid)
						uids[uid] = true
					}
					chartDashboards++
					continue
				}
				for file, body := range data {
					var d grafanaDashboard
					require.NoError(t, json.Unmarshal([]byte(body), &d), "%s: %s is dashboard JSON", cm.Name, file)
					assert.Equal(t, d.UID+".json", file)
					assert.True(t, d.UID != "" && len(d.UID) <= 40, "%s: a UID of at most 40 characters", d.UID)
					assert.False(t, uids[d.UID], "%s: UIDs are unique", d.UID)
					uids[d.UID] = true
					assert.NotEmpty(t, d.Title)
					assert.GreaterOrEqual(t, d.SchemaVersion, 36)
					ids := map[int]bool{}
					for _, p := range d.Panels {
						assert.False(t, ids[p.ID], "%s: panel ids are unique", d.UID)
						ids[p.ID] = true
						assert.True(t, p.GridPos.W > 0 && p.GridPos.H > 0 && p.GridPos.X+p.GridPos.W <= 24, "%s/%s fits the 24-column grid", d.UID, p.Title)
						if p.Type == "row" {
							rows[d.UID] = append(rows[d.UID], p.Title)
							continue
						}
						assert.Contains(t, []string{"timeseries", "stat"}, p.Type)
						require.NotNil(t, p.Datasource, p.Title)
						assert.Equal(t, "prometheus", p.Datasource.UID, "the chart's Prometheus datasource")
						require.NotEmpty(t, p.Targets, "%s/%s has queries", d.UID, p.Title)
						for _, q := range p.Targets {
							names := metricNames(t, q.Expr)
							assert.NotEmpty(t, names, q.Expr)
							for _, n := range names {
								assert.True(t, exported(n) || recorded[n], "%s/%s reads %s, which nothing exports: %s", d.UID, p.Title, n, q.Expr)
							}
						}
					}
				}
			}
			assert.NotZero(t, chartDashboards, "the chart's Kubernetes dashboards are installed")
			require.Contains(t, uids, "groundwork-platform")
			for _, s := range specs {
				uid := "svc-" + s.Name
				require.Contains(t, uids, uid)
				all := strings.Join(rows[uid], "|")
				assert.Contains(t, all, "Golden signals")
				assert.Contains(t, all, "SLO")
				assert.Equal(t, s.Database != nil, strings.Contains(all, "Outbox"), "%s: an outbox row where it has one", s.Name)
				assert.Equal(t, s.Database != nil, strings.Contains(all, "Database"), "%s: a database row where it has one", s.Name)
				assert.Equal(t, len(s.Topics.Consumes) > 0, strings.Contains(all, "Consumers"), "%s: a consumers row where it consumes", s.Name)
			}
			assert.Len(t, uids, len(specs)+1+chartDashboards)
		})
	}
}

// A source is what exports a family of series, and whether this stack scrapes it: each is named
// by the ServiceMonitor (or PodMonitor) the stack deploys for it, as kube-prometheus-stack and its
// subcharts name theirs (<release>-<source>).
type seriesSource struct {
	monitor  string   // suffix of the monitor's name
	prefixes []string // series names it exports
}

// seriesSources are the exporters the chart's dashboards read, with the series families each
// exports (upstream's metric names: kube-state-metrics' docs/metrics, node_exporter's
// collectors, the kubelet's and cAdvisor's /metrics and /metrics/cadvisor, the control plane's
// component metrics). The process_, go_, rest_client_ and workqueue_ families every Kubernetes
// component exports are counted for the monitor the query's job selects.
var seriesSources = []seriesSource{
	{"kube-state-metrics", []string{"kube_"}},
	{"prometheus-node-exporter", []string{"node_"}},
	{"kubelet", []string{"container_", "kubelet_", "machine_", "storage_operation_", "volume_manager_", "csi_operations_", "prober_", "kubernetes_build_info"}},
	{"apiserver", []string{"apiserver_", "etcd_request_", "etcd_bookmark_", "aggregator_", "authentication_"}},
	{"coredns", []string{"coredns_"}},
	{"kube-scheduler", []string{"scheduler_"}},
	{"kube-controller-manager", []string{"node_collector_"}},
	{"kube-etcd", []string{"etcd_server_", "etcd_disk_", "etcd_network_", "etcd_mvcc_", "etcd_debugging_"}},
	{"kube-proxy", []string{"kubeproxy_"}},
	{"prometheus", []string{"prometheus_", "net_conntrack_"}},
	{"alertmanager", []string{"alertmanager_"}},
	{"grafana", []string{"grafana_"}},
}

// unscrapable are the control-plane components no cluster of the platform lets Prometheus
// scrape: EKS runs the scheduler, controller manager and etcd out of the cluster (their metrics
// only through the API server's metrics.eks.amazonaws.com endpoints), and kube-proxy's metrics
// listen on 127.0.0.1:10249; Magnum's Cluster API driver and kind (kubeadm) bind the scheduler,
// controller manager and kube-proxy metrics to 127.0.0.1 and etcd's to 127.0.0.1:2381.
var unscrapable = []string{"kube-scheduler", "kube-controller-manager", "kube-etcd", "kube-proxy"}

// shared are the families every Go component exports; a query reading them selects its job.
var sharedFamilies = []string{"up", "process_", "go_", "rest_client_", "workqueue_"}

// scrapedSources are the monitor name suffixes of the ServiceMonitors and PodMonitors the stack
// deploys.
func scrapedSources(m *mocks) map[string]bool {
	out := map[string]bool{}
	for _, typ := range []string{"kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "kubernetes:monitoring.coreos.com/v1:PodMonitor"} {
		for _, r := range m.ofType(typ) {
			name := get(r.Inputs, "metadata.name").StringValue()
			for _, src := range seriesSources {
				if strings.HasSuffix(name, "-"+src.monitor) {
					out[src.monitor] = true
				}
			}
		}
	}
	return out
}

// grafanaVariable is a dashboard variable as Grafana interpolates it: $name, ${name},
// ${name:format} or [[name]].
var grafanaVariable = regexp.MustCompile(`\$\{[^}]+\}|\$[A-Za-z_]\w*|\[\[[^\]]+\]\]`)

// interpolate replaces a query's dashboard variables as Grafana does before it sends the query:
// intervals by a duration, the rest (label values) by a word.
func interpolate(expr string) string {
	for _, d := range []string{"$__rate_interval", "${__rate_interval}", "$__interval", "${__interval}", "$__range", "${__range}"} {
		expr = strings.ReplaceAll(expr, d, "5m")
	}
	return grafanaVariable.ReplaceAllString(expr, "x")
}

// checkChartDashboard holds one of the chart's dashboards to what makes it useful in this stack:
// valid JSON with a UID and a title, every query valid PromQL once Grafana has interpolated it,
// and every series it reads recorded by a rule of the stack or exported by a source the stack
// scrapes. It returns the UID.
func checkChartDashboard(t *testing.T, name, body string, recorded, scraped map[string]bool) string {
	t.Helper()
	var d struct {
		UID    string           `json:"uid"`
		Title  string           `json:"title"`
		Panels []map[string]any `json:"panels"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &d), "%s is dashboard JSON", name)
	assert.True(t, d.UID != "" && len(d.UID) <= 40, "%s: a UID of at most 40 characters", name)
	assert.NotEmpty(t, d.Title, name)
	var panels []map[string]any
	var walk func(ps []map[string]any)
	walk = func(ps []map[string]any) {
		for _, p := range ps {
			panels = append(panels, p)
			raw, _ := json.Marshal(p["panels"]) // a collapsed row holds its panels
			var inner []map[string]any
			_ = json.Unmarshal(raw, &inner)
			walk(inner)
		}
	}
	walk(d.Panels)
	queries := 0
	for _, p := range panels {
		targets, _ := p["targets"].([]any)
		for _, tg := range targets {
			expr, _ := tg.(map[string]any)["expr"].(string)
			if expr == "" {
				continue
			}
			queries++
			for _, n := range metricNames(t, interpolate(expr)) {
				assert.Truef(t, recorded[n] || exportedBy(n, expr, scraped), "%s (%s) panel %q reads %s, which nothing this stack scrapes exports and no rule records: %s", name, d.Title, p["title"], n, expr)
			}
		}
	}
	assert.NotZero(t, queries, "%s (%s) queries something", name, d.Title)
	return d.UID
}

// exportedBy reports whether a series is exported by a source the stack scrapes: by its family,
// or for the families every component shares, by the job the query selects.
func exportedBy(series, expr string, scraped map[string]bool) bool {
	for _, f := range sharedFamilies {
		if series == f || (strings.HasSuffix(f, "_") && strings.HasPrefix(series, f)) {
			for _, src := range seriesSources {
				if strings.Contains(expr, `job="`+src.monitor+`"`) {
					return scraped[src.monitor]
				}
			}
			// Any job: some scraped source exports it.
			return len(scraped) > 0
		}
	}
	for _, src := range seriesSources {
		for _, p := range src.prefixes {
			if strings.HasPrefix(series, p) {
				return scraped[src.monitor]
			}
		}
	}
	return false
}
