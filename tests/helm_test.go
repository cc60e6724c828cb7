package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/action"
	helmchart "helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/groundwork/groundwork/components/chart"
)

// The charts the render tests use: upstream copies of every pinned chart, unpacked as
// `<chart>-<version>` folders with their dependencies vendored (the layout of
// groundwork:charts.source dir:<path>). On a machine with the internet, `helm pull --untar` of
// each pinned version (platform.Charts()) into a folder makes the same thing.
const chartsEnv = "GROUNDWORK_TEST_CHARTS"

func chartsDir() string {
	if d := os.Getenv(chartsEnv); d != "" {
		return d
	}
	return filepath.Join("..", "shared", "reference", "charts")
}

// needCharts returns the charts folder, or skips the test where there is none; under CI=true a
// missing folder fails, so CI never passes without rendering.
func needCharts(t testing.TB) string {
	t.Helper()
	dir := chartsDir()
	if _, err := os.Stat(dir); err != nil {
		msg := fmt.Sprintf("the upstream charts are not at %s (set %s to a folder of <chart>-<version> charts): %v", dir, chartsEnv, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("skipping: " + msg)
	}
	needDownloadedCharts(t)
	return dir
}

// templateOpts is what the program sends the kubernetes provider's helm template invoke; the
// fields are the provider's HelmChartOpts (provider/pkg/provider/invoke_helm_template.go).
type templateOpts struct {
	Fetch struct {
		Repo string `json:"repo"`
	} `json:"fetch_opts"`
	APIVersions              []string       `json:"api_versions"`
	Chart                    string         `json:"chart"`
	IncludeTestHookResources bool           `json:"include_test_hook_resources"`
	SkipCRDRendering         bool           `json:"skip_crd_rendering"`
	Namespace                string         `json:"namespace"`
	Path                     string         `json:"path"`
	ReleaseName              string         `json:"release_name"`
	Values                   map[string]any `json:"values"`
	Version                  string         `json:"version"`
	KubeVersion              string         `json:"kube_version"`
}

// name is the chart's name: the last element of a repository chart, an OCI reference or a path.
func (o templateOpts) name() string {
	ref := o.Chart
	if o.Path != "" {
		ref = o.Path
	}
	ref = strings.TrimSuffix(filepath.Base(ref), ".tgz")
	if o.Path != "" {
		// A folder of the dir source is <chart>-<version>.
		if i := strings.LastIndex(ref, "-"+o.Version); o.Version != "" && i > 0 {
			ref = ref[:i]
		}
	}
	return ref
}

// Rendered is one chart install the program made, rendered.
type Rendered struct {
	Opts templateOpts
	// Objects are the rendered objects, as the provider returns them.
	Objects []map[string]any
	// Problems are what a strict YAML reader refuses in the output (a key given twice).
	Problems []string
}

// missingDependencies are the subcharts a chart enables with these values (no condition, or a
// condition that is true) and does not hold, in its charts/ or beside it in the folder. Helm's
// library would render the chart without them, as if they were turned off: the render refuses
// that instead, so no test passes on a partial chart.
func missingDependencies(ch *helmchart.Chart, values map[string]any) ([]string, error) {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	merged, err := chartutil.CoalesceValues(ch, values)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if have[d.Name] {
			continue
		}
		if d.Condition != "" {
			path := strings.Split(d.Condition, ",")[0]
			if on, err := merged.PathValue(path); err != nil || on != true {
				continue // off
			}
		}
		missing = append(missing, d.Name+" "+d.Version)
	}
	slices.Sort(missing)
	return missing, nil
}

// renderer renders chart installs with the Helm Go library the way the provider's client-side
// template does: `helm install --dry-run --client-only` with the invoke's Kubernetes version and
// API versions, CRDs included, hooks as plain objects, test hooks left out.
type renderer struct {
	dir   string
	mu    sync.Mutex
	cache map[string]*Rendered
}

func newRenderer(dir string) *renderer {
	return &renderer{dir: dir, cache: map[string]*Rendered{}}
}

var sharedRenderer struct {
	once sync.Once
	r    *renderer
}

// renderers share one cache per charts folder: the same invoke renders the same objects.
func cachedRenderer(dir string) *renderer {
	sharedRenderer.once.Do(func() { sharedRenderer.r = newRenderer(dir) })
	return sharedRenderer.r
}

func (r *renderer) render(jsonOpts string) (*Rendered, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if got, ok := r.cache[jsonOpts]; ok {
		return got, nil
	}
	out, err := renderChart(r.dir, jsonOpts)
	if err != nil {
		return nil, err
	}
	r.cache[jsonOpts] = out
	return out, nil
}

func renderChart(dir, jsonOpts string) (*Rendered, error) {
	var o templateOpts
	dec := json.NewDecoder(strings.NewReader(jsonOpts))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("helm template options: %w", err)
	}
	// A chart from a folder (groundwork:charts.source dir:) is <chart>-<version> there: the
	// test's copy of that folder is the charts folder.
	folder := filepath.Join(dir, o.name()+"-"+o.Version)
	if o.Path != "" {
		folder = filepath.Join(dir, strings.TrimSuffix(filepath.Base(o.Path), ".tgz"))
	} else if f, ok, err := downloadedChart(o.name(), o.Version); ok {
		if err != nil {
			return nil, err
		}
		folder = f
	}
	if _, err := os.Stat(folder); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("chart %s %s: no copy at %s: every chart the program installs renders in the tests (%s)", o.name(), o.Version, folder, chartsEnv)
	}
	ch, err := loader.Load(folder)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", o.name(), o.Version, err)
	}
	if o.Version != "" && ch.Metadata.Version != o.Version {
		return nil, fmt.Errorf("chart %s: the folder %s holds version %s, not %s", o.name(), folder, ch.Metadata.Version, o.Version)
	}
	if err := withSiblingDependencies(dir, ch); err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", o.name(), o.Version, err)
	}
	missing, err := missingDependencies(ch, o.Values)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: values: %w", o.name(), o.Version, err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("chart %s %s: %s lacks the subcharts these values enable: %s", o.name(), o.Version, folder, strings.Join(missing, ", "))
	}
	values := o.Values
	in := action.NewInstall(&action.Configuration{Releases: storage.Init(driver.NewMemory())})
	in.ClientOnly, in.DryRun = true, true
	in.IncludeCRDs = !o.SkipCRDRendering
	in.Namespace = o.Namespace
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	in.ReleaseName, in.NameTemplate = o.ReleaseName, o.ReleaseName
	if o.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(o.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kube_version %q: %w", o.KubeVersion, err)
		}
		in.KubeVersion = kv
	}
	in.APIVersions = o.APIVersions
	rel, err := in.Run(ch, values)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s (release %s): %w", o.name(), o.Version, o.ReleaseName, err)
	}
	out := &Rendered{Opts: o}
	for _, doc := range splitManifest(manifest(rel, o.IncludeTestHookResources)) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			// yaml.v3 refuses a mapping key given twice, as strict readers do.
			out.Problems = append(out.Problems, fmt.Sprintf("%s: %v", firstLine(doc), err))
			obj = map[string]any{}
			if err := laxUnmarshal(doc, &obj); err != nil {
				return nil, fmt.Errorf("chart %s: %w", o.name(), err)
			}
		}
		if len(obj) == 0 {
			continue
		}
		out.Objects = append(out.Objects, obj)
	}
	return out, nil
}

var testHook = regexp.MustCompile(`"?helm.sh/hook"?:.*test`)

// manifest is the release's manifest and its hooks but test hooks, as the provider returns it.
func manifest(rel *release.Release, includeTestHooks bool) string {
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		if !includeTestHooks && testHook.MatchString(h.Manifest) {
			continue
		}
		b.WriteString("\n---\n")
		b.WriteString(h.Manifest)
	}
	return b.String()
}

var docSep = regexp.MustCompile(`(?m)^---.*$`)

func splitManifest(m string) []string {
	var out []string
	for _, d := range docSep.Split(m, -1) {
		if strings.TrimSpace(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

func firstLine(doc string) string {
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "# Source:") {
			return strings.TrimPrefix(l, "# ")
		}
	}
	return "a document"
}

// laxUnmarshal reads a document whose keys repeat, the last one winning, as the provider's
// YAML reader does.
func laxUnmarshal(doc string, into *map[string]any) error {
	var n yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader([]byte(doc))).Decode(&n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	dedupe(&n)
	return n.Decode(into)
}

func dedupe(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		var content []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if j, ok := seen[k]; ok {
				content[j+1] = n.Content[i+1]
				continue
			}
			seen[k] = len(content)
			content = append(content, n.Content[i], n.Content[i+1])
		}
		n.Content = content
	}
	for _, c := range n.Content {
		dedupe(c)
	}
}

// helmTemplate answers the program's helm template invoke: with a renderer, the chart's
// objects; without one, none (the chart's own objects are then not part of the test).
func (m *mocks) helmTemplate(jsonOpts string) ([]any, error) {
	m.mu.Lock()
	m.templates = append(m.templates, jsonOpts)
	r := m.renderer
	m.mu.Unlock()
	if r == nil {
		return []any{}, nil
	}
	out, err := r.render(jsonOpts)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.rendered = append(m.rendered, out)
	m.mu.Unlock()
	objs := make([]any, len(out.Objects))
	for i, o := range out.Objects {
		objs[i] = normalize(o)
	}
	return objs, nil
}

// normalize turns YAML's decoded values into the JSON-like values a provider returns.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case nil:
		return nil
	}
	return v
}

// chartTemplateToken is the invoke the chart component makes.
const chartTemplateToken = chart.TemplateToken
