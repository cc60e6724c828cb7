package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/groundwork/groundwork/components/certmanager"
	"github.com/groundwork/groundwork/components/istio"
	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/components/kong"
	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/components/postgres"
	"github.com/groundwork/groundwork/platform"
)

// renderCase is a stack the render test runs: the stack files on both clouds, and the settings
// that change what the charts get.
type renderCase struct {
	name   string
	base   stackCase
	change func(cfg map[string]string)
}

const testMirror = "mirror.example.com/upstream"

var renderCases = []renderCase{
	{"dev openstack", stackCases[0], nil},
	{"dev aws", stackCases[1], nil},
	{"prod aws", stackCases[2], nil},
	{"prod openstack", stackCases[3], nil},
	{"dev with logs", stackCases[0], func(c map[string]string) { c["groundwork:observability"] = `{"logs":true}` }},
	{"prod with a registry mirror", stackCases[2], func(c map[string]string) {
		c["groundwork:images"] = `{"registryMirror":"` + testMirror + `"}`
		c["groundwork:observability"] = `{"logs":true}`
	}},
}

func (c renderCase) config(t testing.TB) map[string]string {
	cfg := c.base.config(t)
	if c.change != nil {
		c.change(cfg)
	}
	return cfg
}

// knownMissing are charts the reference folder has no copy of, so no test renders them there: the
// cluster autoscaler (AWS only), pinned after the folder was made. A charts folder that holds
// cluster-autoscaler-9.53.0 renders it (GROUNDWORK_TEST_CHARTS; see withSiblingDependencies for
// why no test downloads it).
var knownMissing = []string{"cluster-autoscaler"}

// knownGaps are subcharts the reference chart folder lacks, so the render leaves them out
// there. A charts folder that holds them, in the chart or beside it as <name>-<version>, renders
// them with the chart.
var knownGaps = map[string][]string{
	"kube-prometheus-stack": {"grafana", "kube-state-metrics", "prometheus-node-exporter"},
}

// TestRenderEveryChartOfEveryStack renders every chart install each stack makes, with the exact
// values the program passes, as the provider's client-side template would, and checks what
// comes out: it renders, strict YAML readers accept it, built-in kinds decode strictly into
// their upstream Go types, and the API versions charts are rendered with cover the CRDs they
// install.
func TestRenderEveryChartOfEveryStack(t *testing.T) {
	needCharts(t)
	declared := slices.Concat(observability.APIVersions, observability.LogAPIVersions, istio.APIVersions, kong.APIVersions, kafka.APIVersions, postgres.APIVersions, certmanager.APIVersions)
	for _, tt := range renderCases {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.base.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err, "every chart renders")
			require.Equal(t, len(m.templates), len(m.rendered), "every chart install was rendered")
			require.NotEmpty(t, m.rendered)
			for _, r := range m.rendered {
				chart := r.Opts.ReleaseName
				if r.Missing {
					assert.Contains(t, knownMissing, r.Opts.name(), "%s: no copy of the chart to render", chart)
					continue
				}
				assert.Empty(t, r.Problems, "%s: its output must be valid for strict YAML readers", chart)
				assert.Subset(t, knownGaps[r.Opts.name()], r.Skipped, "%s: subcharts left out of the render", chart)
				assert.Equal(t, "1.34.2", r.Opts.KubeVersion, "%s renders for groundwork:kubernetes.version", chart)
				for _, obj := range r.Objects {
					gvk := schema.FromAPIVersionAndKind(fmt.Sprint(obj["apiVersion"]), fmt.Sprint(obj["kind"]))
					if gvk.Kind == "CustomResourceDefinition" {
						for _, k := range servedKinds(obj) {
							assert.Contains(t, declared, k, "%s installs %s: charts must be rendered knowing it exists", chart, k)
						}
					}
					if typed, err := scheme.Scheme.New(gvk); err == nil {
						raw, err := json.Marshal(obj)
						require.NoError(t, err)
						dec := json.NewDecoder(bytes.NewReader(raw))
						dec.DisallowUnknownFields()
						assert.NoError(t, dec.Decode(typed), "%s: %s %v does not match its upstream type", chart, gvk, metaName(obj))
					}
					if tt.change != nil && strings.Contains(tt.name, "mirror") {
						for _, img := range images(obj) {
							if img == "auto" {
								// Istio's injection placeholder: the injected proxy's image is
								// istiod's global.hub, which follows the mirror.
								continue
							}
							assert.Truef(t, strings.HasPrefix(img, testMirror+"/"), "%s: %s %v pulls %s, not from the mirror", chart, gvk.Kind, metaName(obj), img)
						}
					}
				}
			}
		})
	}
}

// TestRenderIsStable renders each chart install of the prod stack twice, with no cache: the same
// inputs must render the same objects, or every preview would show changes (a chart that makes
// random values in its templates must be given them).
func TestRenderIsStable(t *testing.T) {
	dir := needCharts(t)
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	for _, opts := range m.templates {
		a, err := renderChart(dir, opts)
		require.NoError(t, err)
		b, err := renderChart(dir, opts)
		require.NoError(t, err)
		for i := range a.Objects {
			if !reflect.DeepEqual(a.Objects[i], b.Objects[i]) {
				t.Errorf("%s: %v %v renders differently each time", a.Opts.ReleaseName, a.Objects[i]["kind"], metaName(a.Objects[i]))
			}
		}
	}
}

// TestKongChartRefusesABudgetAtOneReplica is the check the render test rests on: the chart
// itself refuses values that could not deploy, and the render surfaces it.
func TestKongChartRefusesABudgetAtOneReplica(t *testing.T) {
	dir := needCharts(t)
	opts := `{"chart":"kong","version":"3.4.1","release_name":"kong","namespace":"kong","kube_version":"1.34.2",` +
		`"values":{"autoscaling":{"enabled":true,"minReplicas":1,"maxReplicas":2},"podDisruptionBudget":{"enabled":true}}}`
	_, err := renderChart(dir, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PodDisruptionBudget")
}

func servedKinds(crd map[string]any) []string {
	spec, _ := crd["spec"].(map[string]any)
	names, _ := spec["names"].(map[string]any)
	versions, _ := spec["versions"].([]any)
	var out []string
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if served, _ := vm["served"].(bool); served {
			out = append(out, fmt.Sprintf("%v/%v/%v", spec["group"], vm["name"], names["kind"]))
		}
	}
	return out
}

func metaName(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v", md["namespace"], md["name"])
}

// images are the container images of a workload's pod template (or a pod's spec).
func images(obj map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if list, ok := e.([]any); ok && (k == "containers" || k == "initContainers") {
					for _, c := range list {
						if cm, ok := c.(map[string]any); ok {
							if img, ok := cm["image"].(string); ok {
								out = append(out, img)
							}
						}
					}
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(obj["spec"])
	return out
}
