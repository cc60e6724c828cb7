// Package chart installs pinned upstream Helm charts with Pulumi's client-side Helm support
// (helm/v3 Chart: `helm template` in the provider), from the official repositories, a local
// folder or an OCI mirror, rendered for a Kubernetes version and API versions the stack names,
// never for whatever cluster is reachable. Rendering on the client keeps every object of a chart
// visible to Pulumi: to render mode, which writes them as YAML, and to the policy pack; and the
// same inputs render the same objects, with or without a cluster.
package chart

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Spec pins one upstream chart. Components declare their Specs as package-level values, each
// with the upstream release it tracks.
type Spec struct {
	// Name is the chart's name in its repository, e.g. "istiod".
	Name string
	// Version is the exact chart version.
	Version string
	// Repo is the upstream repository: an https Helm repository, or an oci:// registry path
	// under which the chart is published.
	Repo string
}

func (s Spec) String() string { return s.Name + " " + s.Version }

// Source kinds, the prefixes of groundwork:charts.source.
const (
	SourceRemote = "remote"
	SourceDir    = "dir"
	SourceOCI    = "oci"
)

// Source is where charts come from: the official repositories, a folder of charts (air-gapped),
// or an OCI registry that mirrors them.
type Source struct {
	Kind string
	// Location is the folder (dir) or the registry path with its oci:// scheme (oci).
	Location string
	// KubeVersion is the Kubernetes version charts are rendered for (groundwork:kubernetes.version):
	// their kubeVersion constraints and Capabilities.KubeVersion read it. Required by Install.
	KubeVersion string
	// APIVersions are the API versions charts may rely on beyond Kubernetes' own, in both forms
	// charts test Capabilities.APIVersions for: "monitoring.coreos.com/v1" and
	// "monitoring.coreos.com/v1/ServiceMonitor".
	APIVersions []string
}

// For returns the source rendering for a Kubernetes version and the custom resources the
// platform installs, each given as group/version/Kind.
func (s Source) For(kubeVersion string, kinds []string) Source {
	s.KubeVersion = kubeVersion
	var v []string
	for _, k := range kinds {
		if i := strings.LastIndex(k, "/"); i > 0 {
			v = append(v, k[:i])
		}
		v = append(v, k)
	}
	slices.Sort(v)
	s.APIVersions = slices.Compact(v)
	return s
}

// Remote is the default source: the official repositories at the pinned versions.
var Remote = Source{Kind: SourceRemote}

// ParseSource reads a source as written in stack config: "remote", "dir:<path>" or
// "oci://<registry>/<path>".
func ParseSource(s string) (Source, error) {
	switch {
	case s == "" || s == SourceRemote:
		return Remote, nil
	case strings.HasPrefix(s, "dir:"):
		dir := strings.TrimPrefix(s, "dir:")
		if dir == "" {
			return Source{}, fmt.Errorf("%q names no folder; want dir:<path>", s)
		}
		return Source{Kind: SourceDir, Location: filepath.Clean(dir)}, nil
	case strings.HasPrefix(s, "oci://"):
		loc := strings.TrimRight(s, "/")
		if len(loc) <= len("oci://") || strings.ContainsAny(loc, " \t") {
			return Source{}, fmt.Errorf("%q is not an OCI registry path; want oci://<registry>/<path>", s)
		}
		return Source{Kind: SourceOCI, Location: loc}, nil
	}
	return Source{}, fmt.Errorf("%q is not a chart source; allowed: remote, dir:<path>, oci://<registry>/<path>", s)
}

// Ref is what helm needs to fetch one chart.
type Ref struct {
	// Chart is the chart name (with Repo), a local path, or an oci:// reference.
	Chart string
	// Version is empty for a local path (the folder holds one version).
	Version string
	// Repo is the https repository, empty otherwise.
	Repo string
}

// Resolve says where a pinned chart is fetched from. For a folder, it checks the chart is there,
// as a directory or an archive named <chart>-<version>, so a missing chart fails before anything
// is created.
func (s Source) Resolve(spec Spec) (Ref, error) {
	switch s.Kind {
	case SourceDir:
		for _, candidate := range []string{spec.Name + "-" + spec.Version, spec.Name + "-" + spec.Version + ".tgz"} {
			path := filepath.Join(s.Location, candidate)
			if _, err := os.Stat(path); err == nil {
				return Ref{Chart: path}, nil
			} else if !errors.Is(err, fs.ErrNotExist) {
				return Ref{}, fmt.Errorf("chart %s: %w", spec, err)
			}
		}
		return Ref{}, fmt.Errorf("chart %s is missing from %s: want the folder %s-%s or the archive %s-%s.tgz there",
			spec, s.Location, spec.Name, spec.Version, spec.Name, spec.Version)
	case SourceOCI:
		return Ref{Chart: s.Location + "/" + spec.Name, Version: spec.Version}, nil
	}
	if strings.HasPrefix(spec.Repo, "oci://") {
		return Ref{Chart: strings.TrimRight(spec.Repo, "/") + "/" + spec.Name, Version: spec.Version}, nil
	}
	return Ref{Chart: spec.Name, Version: spec.Version, Repo: spec.Repo}, nil
}

// Args are the per-install settings of a chart.
type Args struct {
	// Release is the Helm release name. Optional: the chart's name, as upstream documentation
	// assumes (e.g. istiod). It must be unique in the stack.
	Release string
	// Namespace is where the release's namespaced objects go.
	Namespace string
	// Values override the chart's values.yaml. Plain values render the chart at once, in every
	// preview, so the policy pack sees each of its objects; a value that is another resource's
	// output defers the render until it is known. Secrets never go in values: they go in Secrets
	// the program makes, which the values name (existingSecret and the like).
	Values pulumi.Map
	// Labels go on every object the chart renders, where the chart does not set the key itself
	// (ownership labels). Charts are not asked to add them through their own values: most
	// already set app.kubernetes.io/* keys, and a key given twice makes invalid YAML.
	Labels map[string]string
}

// Chart is one installed chart: a component holding the pinned chart's identity (what the
// policy pack checks) and, as children, every object the chart rendered.
type Chart struct {
	pulumi.ResourceState

	// Release is the Helm release name.
	Release string
	// Ready is the chart's release record, once registered: it waits for every object.
	Ready pulumi.ResourceArrayOutput
	// record is the release record where the chart was rendered at once.
	record pulumi.Resource
}

// DependsOn is pulumi.DependsOn in which a chart stands for its release record, which is created
// only after every object the chart rendered. The SDK expands a dependency on a component to the
// children it knows of when the dependent registers, and a child becomes known only as its own
// registration goes on concurrently: naming the record makes the wait certain, with one
// dependency where naming the objects took one per object (kube-prometheus-stack renders about
// 300, and every object of every service waited on each of them: 38,000 edges, a quarter of a
// prod stack's state, rewritten at each step of an update). A chart rendered only once other
// resources' outputs are known has its record in Ready, an output.
func DependsOn(rs []pulumi.Resource) pulumi.ResourceOption {
	var now []pulumi.Resource
	var later []pulumi.ResourceArrayOutput
	for _, r := range rs {
		c, ok := r.(*Chart)
		switch {
		case ok && c.record != nil:
			// Not the component too: the SDK would expand it to every object again.
			now = append(now, c.record)
		case ok:
			later = append(later, c.Ready)
		default:
			now = append(now, r)
		}
	}
	if len(later) == 0 {
		return pulumi.DependsOn(now)
	}
	opts := []pulumi.ResourceOption{pulumi.DependsOn(now)}
	for _, l := range later {
		opts = append(opts, pulumi.DependsOnInputs(l))
	}
	return pulumi.Composite(opts...)
}

// After is the option that makes a resource wait for every object of the chart, also where the
// chart is rendered only once other resources' outputs are known.
func (c *Chart) After() pulumi.ResourceOption { return pulumi.DependsOnInputs(c.Ready) }

// RecordSuffix ends the Pulumi name of a chart's release record: the chart's name plus it.
const RecordSuffix = "-release"

// RecordLabel marks a release record with its release's name.
const RecordLabel = "groundwork.io/release"

// record registers the release's record, as Helm keeps one per release (its sh.helm.release
// Secret): a ConfigMap in the release's namespace naming the pinned chart, its version and
// repository, and every object the release rendered, created after all of them. `kubectl get
// configmaps -A -l groundwork.io/release` lists what is installed, like `helm list -A`. It is the
// chart component's sibling, not its child: its children are exactly what the chart rendered.
func record(ctx *pulumi.Context, name, release string, spec Spec, args Args, objs []pulumi.Resource, inventory []string,
	opts []pulumi.ResourceOption) (pulumi.Resource, error) {
	labels := maps.Clone(args.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RecordLabel] = release
	md := &metav1.ObjectMetaArgs{Name: pulumi.String("groundwork-release-" + release), Labels: pulumi.ToStringMap(labels)}
	if args.Namespace != "" {
		md.Namespace = pulumi.String(args.Namespace)
	}
	r, err := corev1.NewConfigMap(ctx, name+RecordSuffix, &corev1.ConfigMapArgs{
		Metadata: md,
		Data: pulumi.StringMap{
			"chart":      pulumi.String(spec.Name),
			"version":    pulumi.String(spec.Version),
			"repository": pulumi.String(spec.Repo),
			"objects":    pulumi.String(strings.Join(inventory, "\n")),
		},
	}, append(slices.Clone(opts), pulumi.DependsOn(objs))...)
	if err != nil {
		return nil, fmt.Errorf("chart %s release record: %w", spec, err)
	}
	return r, nil
}

// ChartType is the type token of the component Install registers (policy/rules.ChartType).
const ChartType = "groundwork:chart:Chart"

// Install renders a pinned chart on the client, as `helm template` does, for the Kubernetes
// version and API versions of the source's target, and registers every object it renders.
//
// It uses the kubernetes provider's helm/v3 Chart (the kubernetes:helm:template invoke) rather
// than helm/v4: helm/v4 takes the Kubernetes version only from a reachable cluster and renders
// with a server-side dry run, so with no cluster (render mode, a PR preview) it renders at
// Kubernetes 1.20 and its lookups dial localhost:8080
// (pulumi-kubernetes provider/pkg/provider/helm/v4/chart.go, setKubeVersionAndAPIVersions).
// Hooks are rendered as plain objects, as helm/v3 Chart does.
func Install(ctx *pulumi.Context, name string, spec Spec, src Source, args Args, opts ...pulumi.ResourceOption) (*Chart, error) {
	ref, err := src.Resolve(spec)
	if err != nil {
		return nil, err
	}
	if src.KubeVersion == "" {
		return nil, fmt.Errorf("chart %s: the source names no Kubernetes version to render for", spec)
	}
	release := args.Release
	if release == "" {
		release = spec.Name
	}
	c := &Chart{Release: release}
	// What the policy pack checks: where the chart is fetched from, at which version.
	props := pulumi.Map{
		"chart":       pulumi.String(ref.Chart),
		"version":     pulumi.String(ref.Version),
		"repo":        pulumi.String(ref.Repo),
		"release":     pulumi.String(release),
		"kubeVersion": pulumi.String(src.KubeVersion),
		"values":      args.Values,
	}
	if args.Namespace != "" {
		props["namespace"] = pulumi.String(args.Namespace)
	}
	if err := ctx.RegisterComponentResourceV2(ChartType, name, props, c, opts...); err != nil {
		return nil, fmt.Errorf("chart %s: %w", spec, err)
	}
	// The chart's objects wait for what the chart waits for: a child does not inherit its
	// parent's dependencies, so without this a ServiceAccount annotated with an IAM role would
	// be created (and its pods started) before the role's policy exists, and an object in a
	// namespace the chart depends on could be sent before the namespace.
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("chart %s: options: %w", spec, err)
	}
	var waits []pulumi.ResourceOption
	if len(ro.DependsOn) > 0 {
		waits = append(waits, pulumi.DependsOn(ro.DependsOn))
	}
	for _, in := range ro.DependsOnInputs {
		waits = append(waits, pulumi.DependsOnInputs(in))
	}
	render := func(values map[string]any) (pulumi.Resource, error) {
		topts := templateOpts{
			ReleaseName: release,
			Namespace:   args.Namespace,
			Values:      values,
			KubeVersion: src.KubeVersion,
			APIVersions: src.APIVersions,
		}
		if ref.Version == "" {
			topts.Path = ref.Chart
		} else {
			topts.Chart, topts.Version, topts.Fetch.Repo = ref.Chart, ref.Version, ref.Repo
		}
		jsonOpts, err := json.Marshal(topts)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", spec, err)
		}
		var rendered struct {
			Result []map[string]any `pulumi:"result"`
		}
		if err := ctx.Invoke(TemplateToken, &struct {
			JSONOpts string `pulumi:"jsonOpts"`
		}{string(jsonOpts)}, &rendered, pulumi.Parent(c)); err != nil {
			return nil, fmt.Errorf("chart %s: helm template: %w", spec, err)
		}
		var transforms []yaml.Transformation
		if len(args.Labels) > 0 {
			transforms = append(transforms, ownedBy(args.Labels))
		}
		objs, err := yaml.ParseYamlObjects(ctx, rendered.Result, transforms, "", append(waits, pulumi.Parent(c))...)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", spec, err)
		}
		inventory := slices.Sorted(maps.Keys(objs))
		out := make([]pulumi.Resource, 0, len(objs))
		for _, k := range inventory {
			out = append(out, objs[k])
		}
		return record(ctx, name, release, spec, args, out, inventory, opts)
	}
	outs := pulumi.Map{"release": pulumi.String(release)}
	values, err := Plain(args.Values)
	switch {
	case err == nil:
		// Synchronous: the chart's objects are registered as the component's children before
		// Install returns, so whatever depends on the component waits for every one of them,
		// and a preview shows (and the policy pack checks) each of them.
		rec, err := render(values)
		if err != nil {
			return nil, err
		}
		c.Ready = pulumi.ResourceArray{pulumi.NewResourceInput(rec)}.ToResourceArrayOutput()
		c.record = rec
	case errors.Is(err, errOutput):
		// Values that name other resources' outputs (a bucket AWS names, a role's ARN) are
		// rendered once those are known, as helm/v3 Chart does: a first preview, before the
		// outputs exist, cannot show these objects.
		c.Ready = args.Values.ToMapOutput().ApplyT(func(v map[string]any) ([]pulumi.Resource, error) {
			rec, err := render(v)
			return []pulumi.Resource{rec}, err
		}).(pulumi.ResourceArrayOutput)
	default:
		return nil, fmt.Errorf("chart %s values: %w", spec, err)
	}
	return c, ctx.RegisterResourceOutputs(c, outs)
}

// TemplateToken is the kubernetes provider's client-side `helm template` invoke, the one its
// helm/v3 Chart calls (provider/pkg/provider/invoke_helm_template.go).
const TemplateToken = "kubernetes:helm:template"

// templateOpts are the invoke's options, as the provider reads them (HelmChartOpts there).
type templateOpts struct {
	Fetch       fetchOpts      `json:"fetch_opts,omitempty"`
	APIVersions []string       `json:"api_versions,omitempty"`
	Chart       string         `json:"chart,omitempty"`
	Namespace   string         `json:"namespace,omitempty"`
	Path        string         `json:"path,omitempty"`
	ReleaseName string         `json:"release_name,omitempty"`
	Values      map[string]any `json:"values,omitempty"`
	Version     string         `json:"version,omitempty"`
	KubeVersion string         `json:"kube_version,omitempty"`
}

type fetchOpts struct {
	// Repo is the repository URL (the provider refuses a URL in the top-level repo).
	Repo string `json:"repo,omitempty"`
}

// Plain turns chart values built from Pulumi inputs into plain Go values. It refuses a value
// that is an Output (another resource's attribute), naming its path.
func Plain(m pulumi.Map) (map[string]any, error) {
	v, err := plain(reflect.ValueOf(m), "")
	if err != nil {
		return nil, err
	}
	out, _ := v.(map[string]any)
	return out, nil
}

var outputType = reflect.TypeOf((*pulumi.Output)(nil)).Elem()

// errOutput marks a value that is another resource's output, known only once that exists.
var errOutput = errors.New("an output of another resource")

func plain(v reflect.Value, path string) (any, error) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	if v.Type().Implements(outputType) || reflect.PointerTo(v.Type()).Implements(outputType) {
		return nil, fmt.Errorf("%s: %w", orRoot(path), errOutput)
	}
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			e, err := plain(v.MapIndex(k), path+"."+k.String())
			if err != nil {
				return nil, err
			}
			out[k.String()] = e
		}
		return out, nil
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range v.Len() {
			e, err := plain(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: %s is not a chart value", orRoot(path), v.Type())
}

func orRoot(path string) string {
	if path == "" {
		return "values"
	}
	return "values" + path
}

// ownedBy adds labels to an object's metadata where the chart left the key unset.
func ownedBy(labels map[string]string) yaml.Transformation {
	return func(state map[string]any, _ ...pulumi.ResourceOption) {
		md, ok := state["metadata"].(map[string]any)
		if !ok {
			md = map[string]any{}
			state["metadata"] = md
		}
		have, ok := md["labels"].(map[string]any)
		if !ok {
			have = map[string]any{}
			md["labels"] = have
		}
		for k, v := range labels {
			if _, set := have[k]; !set {
				have[k] = v
			}
		}
	}
}

// Registry returns the registry a chart's images are pulled from: the mirror where one is set,
// upstream otherwise. Components set it in the chart values that choose the image registry.
func Registry(mirror, upstream string) string {
	if mirror == "" {
		return upstream
	}
	// Keep the upstream path under the mirror (docker.io/istio → mirror/istio), so one mirror
	// serves images of several upstream registries without collisions.
	_, path, found := strings.Cut(upstream, "/")
	if !found {
		return strings.TrimRight(mirror, "/")
	}
	return strings.TrimRight(mirror, "/") + "/" + path
}

// Value turns a plain Go value (maps, slices, strings, numbers, bools) into chart values, so a
// value built as plain Go data stays known and the chart renders at once.
func Value(v any) pulumi.Input {
	switch v := v.(type) {
	case map[string]any:
		m := pulumi.Map{}
		for k, e := range v {
			m[k] = Value(e)
		}
		return m
	case []any:
		a := pulumi.Array{}
		for _, e := range v {
			a = append(a, Value(e))
		}
		return a
	case []string:
		return pulumi.ToStringArray(v)
	case map[string]string:
		return pulumi.ToStringMap(v)
	case string:
		return pulumi.String(v)
	case bool:
		return pulumi.Bool(v)
	case int:
		return pulumi.Int(v)
	case float64:
		return pulumi.Float64(v)
	case pulumi.Input:
		return v
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		a := pulumi.Array{}
		for i := range rv.Len() {
			a = append(a, Value(rv.Index(i).Interface()))
		}
		return a
	case reflect.Map:
		m := pulumi.Map{}
		for _, k := range rv.MapKeys() {
			m[fmt.Sprint(k.Interface())] = Value(rv.MapIndex(k).Interface())
		}
		return m
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return pulumi.Int(int(rv.Int()))
	case reflect.Float32:
		return pulumi.Float64(rv.Float())
	}
	return pulumi.Any(v)
}
