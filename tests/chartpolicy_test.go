package tests

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
)

// withoutChartExemptions is a pack config file with every exemptChartObjects setting removed,
// and the policies that had one.
func withoutChartExemptions(t *testing.T, file string) (rules.Resolved, []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(data, &raw))
	var exempted []string
	for name, v := range raw {
		if m, ok := v.(map[string]any); ok {
			if _, ok := m["exemptChartObjects"]; ok {
				delete(m, "exemptChartObjects")
				exempted = append(exempted, name)
			}
		}
	}
	slices.Sort(exempted)
	data, err = json.Marshal(raw)
	require.NoError(t, err)
	cfg, err := rules.ParseConfigFile(data)
	require.NoError(t, err)
	return cfg, exempted
}

// TestProdChartExemptionsAreStillNeeded runs the prod pack over the rendered charts of prod on
// both clouds without its exemptChartObjects settings: each exemption prod keeps must still
// have a chart object it spares (else it hides nothing and goes), and every finding it spares
// is logged, so the reasons README.md gives are checked against what the charts render.
func TestProdChartExemptionsAreStillNeeded(t *testing.T) {
	cfg, exempted := withoutChartExemptions(t, "policy/config.prod.json")
	spared := map[string]int{}
	for _, tt := range stackCases {
		if tt.stack != "prod" {
			continue
		}
		rs, err := runForPolicy(t, tt.stack, tt.config(t), platform.Run)
		require.NoError(t, err)
		for _, v := range rules.Evaluate(rs, cfg) {
			if v.Level != rules.Mandatory {
				continue
			}
			if !rules.RenderedByChart(v.URN) || !slices.Contains(exempted, v.Policy) {
				continue // the program's own objects: TestPolicyPackOnWholeStacks holds them
			}
			spared[v.Policy]++
			t.Logf("%s: %s", tt.name, v)
		}
	}
	for _, p := range exempted {
		assert.NotZerof(t, spared[p], "%s: exemptChartObjects spares no chart object of prod: remove it from policy/config.prod.json", p)
	}
}
