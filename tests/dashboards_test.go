package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
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
			for _, cm := range m.ofType("kubernetes:core/v1:ConfigMap") {
				if objectMap(get(cm.Inputs, "metadata.labels"))[sidecar["label"]] != sidecar["labelValue"] {
					continue
				}
				data := objectMap(get(cm.Inputs, "data"))
				require.Len(t, data, 1, cm.Name)
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
			assert.Len(t, uids, len(specs)+1)
		})
	}
}
