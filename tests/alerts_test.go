package tests

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
	"github.com/groundwork/groundwork/services"
	"github.com/groundwork/groundwork/services/chassis"
)

const prometheusRuleType = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"

// istioMetrics are Istio's standard metrics, which every sidecar exports
// (https://istio.io/latest/docs/reference/config/metrics/); the histograms add _bucket, _sum
// and _count.
var istioMetrics = []string{
	"istio_requests_total", "istio_request_duration_milliseconds", "istio_request_bytes", "istio_response_bytes",
	"istio_request_messages_total", "istio_response_messages_total",
	"istio_tcp_sent_bytes_total", "istio_tcp_received_bytes_total", "istio_tcp_connections_opened_total", "istio_tcp_connections_closed_total",
}

// exported reports whether name is a series the chassis (its registered collectors) or Istio
// exports.
func exported(name string) bool {
	known := append(chassis.NewMetrics().Names(), istioMetrics...)
	for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(known, base) {
			return true
		}
	}
	return false
}

// metricNames parses a PromQL expression with Prometheus's own parser and returns the series
// names its selectors read; an expression Prometheus would refuse fails the test. Grafana's
// $__rate_interval is replaced by a duration first, as Grafana does before it queries.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	e, err := parser.ParseExpr(strings.ReplaceAll(expr, "$__rate_interval", "5m"))
	if err != nil {
		t.Errorf("not PromQL: %v\n%s", err, expr)
		return nil
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}

func TestMetricNamesReadsPromQL(t *testing.T) {
	assert.Equal(t, []string{"a_total", "b_bucket", "slo:x:ratio_rate5m"},
		metricNames(t, `sum by (le, job) (rate(a_total{code=~"5..", x="and"}[5m])) / ignoring(x) histogram_quantile(0.99, sum by (le) (rate(b_bucket[$__rate_interval]))) > 1 and slo:x:ratio_rate5m offset 1d`))
}

type promRule struct {
	record, alert, expr string
	labels, annotations map[string]string
}

func rulesOf(r Recorded) []promRule {
	var out []promRule
	for _, g := range arr(get(r.Inputs, "spec.groups")) {
		for _, rv := range arr(get(g.ObjectValue(), "rules")) {
			o := rv.ObjectValue()
			out = append(out, promRule{
				record: stringOrEmpty(o["record"]), alert: stringOrEmpty(o["alert"]), expr: stringOrEmpty(o["expr"]),
				labels: objectMap(o["labels"]), annotations: objectMap(o["annotations"]),
			})
		}
	}
	return out
}

func stringOrEmpty(v resource.PropertyValue) string {
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// The burn-rate alerts are the Google SRE workbook's multi-window, multi-burn-rate policy for a
// 30-day SLO ("Alerting on SLOs", table 5-8), on each service's own objective.
func TestBurnRateAlertsFollowTheSREWorkbook(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	specs, err := services.Load("services")
	require.NoError(t, err)
	type policy struct{ long, short, severity, factor string }
	workbook := []policy{{"1h", "5m", "critical", "14.4"}, {"6h", "30m", "critical", "6"}, {"1d", "2h", "warning", "3"}, {"3d", "6h", "warning", "1"}}
	burn := regexp.MustCompile(`^(slo:request_\w+:ratio_rate)(\w+)\{service="([a-z-]+)"\} > \(([0-9.]+) \* ([0-9.e-]+)\) and (slo:request_\w+:ratio_rate)(\w+)\{service="([a-z-]+)"\} > \(([0-9.]+) \* ([0-9.e-]+)\)$`)
	window := regexp.MustCompile(`\[(\w+)\]`)
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			rules := rulesOf(m.byName(t, prometheusRuleType, "svc-"+s.Name+"-alerts"))
			recorded := map[string]promRule{}
			for _, r := range rules {
				if r.record != "" {
					recorded[r.record] = r
				}
			}
			budgets := map[string]float64{
				"ServiceAvailabilityBudgetBurn": (100 - s.SLO.Availability) / 100,
				"ServiceLatencyBudgetBurn":      0.01, // p99: 1% of requests may be slower
			}
			for alert, budget := range budgets {
				var got []policy
				for _, r := range rules {
					if r.alert != alert {
						continue
					}
					p := burn.FindStringSubmatch(r.expr)
					require.NotNil(t, p, "%s: %s", alert, r.expr)
					assert.Equal(t, p[1], p[6], "both windows read the same ratio")
					assert.Equal(t, []string{s.Name, s.Name}, []string{p[3], p[8]})
					assert.Equal(t, p[4:6], p[9:11], "one threshold for both windows")
					b, _ := strconv.ParseFloat(p[5], 64)
					assert.InDelta(t, budget, b, 1e-9, "%s: the error budget of %s", alert, s.Name)
					assert.Equal(t, s.Name, r.labels["service"])
					assert.Equal(t, []string{p[2], p[7]}, []string{r.labels["long_window"], r.labels["short_window"]})
					got = append(got, policy{p[2], p[7], r.labels["severity"], p[4]})
					// Each window's ratio is recorded over exactly that window.
					for _, w := range []string{p[2], p[7]} {
						rec, ok := recorded[p[1]+w]
						require.True(t, ok, "%s%s is recorded", p[1], w)
						for _, rw := range window.FindAllStringSubmatch(rec.expr, -1) {
							assert.Equal(t, w, rw[1], rec.record)
						}
						assert.Equal(t, s.Name, rec.labels["service"])
					}
				}
				assert.ElementsMatch(t, workbook, got, alert)
			}
			// The latency ratio counts requests above the service's objective, in Istio's buckets.
			le := strconv.FormatFloat(float64(s.SLO.LatencyP99.Milliseconds()), 'f', -1, 64)
			assert.Contains(t, recorded["slo:request_slow:ratio_rate5m"].expr, `le="`+le+`"`)
		})
	}
}

// Every series a rule reads is one the chassis (its registered collectors) or Istio's sidecars
// export, or one the same rule object records.
func TestServiceRulesReadSeriesThatExist(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	alerts := map[string]bool{}
	for _, svc := range theServices {
		rules := rulesOf(m.byName(t, prometheusRuleType, "svc-"+svc+"-alerts"))
		recorded := map[string]bool{}
		for _, r := range rules {
			recorded[r.record] = r.record != ""
		}
		for _, r := range rules {
			names := metricNames(t, r.expr)
			assert.NotEmpty(t, names, r.expr)
			for _, n := range names {
				assert.True(t, exported(n) || recorded[n], "%s: %s reads %s, which nothing exports", svc, r.alert+r.record, n)
			}
			if r.alert != "" {
				alerts[r.alert] = true
			}
		}
	}
	// Every service publishes through the outbox; all but identity consume events.
	for _, a := range []string{"OutboxEventsDelayed", "OutboxBacklogGrowing", "DeadLetters", "ConsumerLag", "DatabasePoolSaturated"} {
		assert.True(t, alerts[a], "an alert on %s", a)
	}
}

var heading = regexp.MustCompile(`(?m)^#{2,3} (.+)$`)

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		case c == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Every alert the program creates links a section that RUNBOOKS.md has.
func TestEveryAlertLinksARunbookSection(t *testing.T) {
	raw, err := os.ReadFile("platform/RUNBOOKS.md")
	require.NoError(t, err)
	var sections []string
	for _, h := range heading.FindAllStringSubmatch(string(raw), -1) {
		sections = append(sections, githubAnchor(h[1]))
	}
	for _, stack := range []string{"dev", "prod"} {
		m, err := run(t, stack, stackConfig(t, stack), nil, platform.Run)
		require.NoError(t, err)
		n := 0
		for _, r := range m.ofType(prometheusRuleType) {
			if rules.RenderedByChart(r.URN) {
				continue // kube-prometheus-stack's own rules link the upstream runbooks
			}
			for _, rule := range rulesOf(r) {
				if rule.alert == "" {
					continue
				}
				n++
				file, section, ok := strings.Cut(rule.annotations["runbook_url"], "#")
				assert.True(t, ok, "%s/%s has a runbook_url with a section", r.Name, rule.alert)
				assert.Equal(t, platform.DefaultRunbookURL, file)
				assert.Contains(t, sections, section, "%s/%s: RUNBOOKS.md has the section", r.Name, rule.alert)
			}
		}
		assert.Greater(t, n, 50, "the golden signals and every service's alerts")
	}
}
