package tests

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/platform"
)

// Each chart's release record is created after every object the chart rendered, lists them, and
// is what the rest of the stack waits on: one dependency instead of one per chart object. A
// resource naming a chart's objects one by one (38,000 edges in a prod render before the
// records) makes every step of an update rewrite them all in the state.
func TestChartReleaseRecordsStandForTheirObjects(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)

			chartOf := map[string]string{} // object URN -> its chart's URN
			for _, c := range m.ofType(helmChartType) {
				var objects []string
				for _, r := range m.resources {
					if r.Parent == c.URN {
						objects = append(objects, r.URN)
						// What waits for Kafka or PostgreSQL waits for the whole component, and
						// the SDK expands a component to every resource below it, its operator
						// chart's objects among them: those are not counted below.
						if !strings.Contains(c.URN, "groundwork:platform:Kafka$") && !strings.Contains(c.URN, "groundwork:platform:Postgres$") {
							chartOf[r.URN] = c.URN
						}
					}
				}
				rec := m.byName(t, configMapType, c.Name+chart.RecordSuffix)
				assert.Equal(t, c.Parent, rec.Parent, "%s: the record is the chart's sibling", c.Name)
				for _, o := range objects {
					assert.Containsf(t, rec.Deps, o, "%s: the record waits for %s", c.Name, o)
				}
				labels := get(rec.Inputs, "metadata.labels")
				require.Truef(t, labels.IsObject(), "%s: the record has labels", c.Name)
				assert.NotEmpty(t, propStr(labels.ObjectValue()[resource.PropertyKey(chart.RecordLabel)]), "%s: the record is labelled with its release", c.Name)
				var listed []string
				if l := propStr(get(rec.Inputs, "data.objects")); l != "" {
					listed = strings.Split(l, "\n")
				}
				assert.Lenf(t, listed, len(objects), "%s: the record lists each object once", c.Name)
				assert.NotEmpty(t, propStr(get(rec.Inputs, "data.version")), "%s: the record names the chart version", c.Name)
			}
			for _, r := range m.resources {
				if r.Type == configMapType && strings.HasSuffix(r.Name, chart.RecordSuffix) {
					continue
				}
				perChart := map[string]int{}
				for _, d := range r.Deps {
					if c, ok := chartOf[d]; ok && chartOf[r.URN] != c {
						perChart[c]++
					}
				}
				for c, n := range perChart {
					assert.Zerof(t, n, "%s depends on %d objects of %s one by one: depend on its release record", r.URN, n, c)
				}
			}
		})
	}
}
