package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
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
			cfg := tt.config(t)
			m, err := run(t, tt.base.stack, cfg, nil, platform.Run)
			require.NoError(t, err, "every chart renders")
			// With a registry mirror, every image is the one the same stack pulls without it,
			// moved to the mirror by the README's rule.
			var upstream map[string][]string
			var imageCfg map[string]any
			if v, ok := cfg["groundwork:images"]; ok {
				require.NoError(t, json.Unmarshal([]byte(v), &imageCfg))
			}
			if _, mirror := imageCfg["registryMirror"]; mirror {
				delete(imageCfg, "registryMirror")
				raw, err := json.Marshal(imageCfg)
				require.NoError(t, err)
				base := maps.Clone(cfg)
				base["groundwork:images"] = string(raw)
				bm, err := run(t, tt.base.stack, base, nil, platform.Run)
				require.NoError(t, err)
				upstream = map[string][]string{}
				for _, r := range bm.rendered {
					for _, obj := range r.Objects {
						upstream[objectKey(r, obj)] = images(obj)
					}
				}
			}
			require.Equal(t, len(m.templates), len(m.rendered), "every chart install was rendered")
			require.NotEmpty(t, m.rendered)
			for _, r := range m.rendered {
				chart := r.Opts.ReleaseName
				assert.Empty(t, r.Problems, "%s: its output must be valid for strict YAML readers", chart)
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
					if upstream != nil {
						want, ok := upstream[objectKey(r, obj)]
						require.Truef(t, ok, "%s: %s %v is rendered only with the mirror", chart, gvk.Kind, metaName(obj))
						var moved []string
						for _, img := range want {
							if img == "auto" {
								// Istio's injection placeholder: the injected proxy's image is
								// istiod's global.hub, which follows the mirror.
								moved = append(moved, img)
								continue
							}
							moved = append(moved, mirrored(testMirror, img))
						}
						slices.Sort(moved)
						assert.Equalf(t, moved, images(obj), "%s: %s %v pulls from the mirror what it pulls upstream, at the same path", chart, gvk.Kind, metaName(obj))
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

// objectKey names a rendered object within its stack: release, kind, namespace and name.
func objectKey(r *Rendered, obj map[string]any) string {
	return fmt.Sprintf("%s %v %v", r.Opts.ReleaseName, obj["kind"], metaName(obj))
}

// images are the images an object makes a node pull: its containers' and init containers', the
// image fields of operators' custom resources (a Prometheus' spec.image, a CloudNativePG
// Cluster's imageName), and the images an operator is told to run in its arguments
// (prometheus-operator's --prometheus-config-reloader). Sorted, so two renders compare.
func images(obj map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if img, ok := e.(string); ok && (k == "image" || k == "imageName") {
					out = append(out, img)
					continue
				}
				if k == "args" {
					for _, a := range asList(e) {
						if a, ok := a.(string); ok {
							if img, ok := strings.CutPrefix(a, "--prometheus-config-reloader="); ok {
								out = append(out, img)
							}
						}
					}
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
	slices.Sort(out)
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// mirrored is where the README's mirror rule puts an upstream image: the mirror, then the
// image's path in its registry (docker.io/istio/pilot:1 → <mirror>/istio/pilot:1; an image
// without a registry is Docker Hub's, an official one under library/).
func mirrored(mirror, upstream string) string {
	first, rest, ok := strings.Cut(upstream, "/")
	switch {
	case !ok:
		return mirror + "/library/" + upstream
	case strings.ContainsAny(first, ".:") || first == "localhost":
		return mirror + "/" + rest
	default:
		return mirror + "/" + upstream
	}
}
