package tests

import (
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/groundwork/groundwork/platform"
)

// Alertmanager's own configuration loader (module v0.28.1, test-only; the chart runs v0.34.0, which
// reads the same fields) accepts what the program generates, and its
// routing tree sends each severity where the stack says.
func TestAlertmanagerAcceptsTheConfigAndRoutesBySeverity(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:alerting"] = alertingConfig(t)
	m, err := run(t, "prod", cfg, []string{"groundwork:alerting"}, platform.Run)
	require.NoError(t, err)
	raw, err := yaml.Marshal(plainValue(get(m.byName(t, helmChartType, "observability").Inputs, "values.alertmanager.config")))
	require.NoError(t, err)
	am, err := amconfig.Load(string(raw))
	require.NoError(t, err, "Alertmanager refuses:\n%s", raw)
	assert.Len(t, am.InhibitRules, 3)

	tree := dispatch.NewRoute(am.Route, nil)
	for _, tt := range []struct {
		labels model.LabelSet
		want   []string
	}{
		{model.LabelSet{"alertname": "ServiceAvailabilityBudgetBurn", "service": "user", "severity": "critical"}, []string{"oncall", "team"}},
		{model.LabelSet{"alertname": "ConsumerLag", "service": "user", "severity": "warning"}, []string{"team", "ops-mail"}},
		{model.LabelSet{"alertname": "KubeletTooManyPods", "severity": "info"}, []string{"audit"}},
		{model.LabelSet{"alertname": "Watchdog", "severity": "none"}, []string{"null"}},
	} {
		var got []string
		for _, r := range tree.Match(tt.labels) {
			got = append(got, r.RouteOpts.Receiver)
		}
		assert.Equal(t, tt.want, got, "%v", tt.labels)
	}
}
