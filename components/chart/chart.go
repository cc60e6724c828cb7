// Package chart installs pinned upstream Helm charts with Pulumi's client-side Helm support
// (helm/v4 Chart), from the official repositories, a local folder or an OCI mirror. Rendering on
// the client keeps every object of a chart visible to Pulumi: to render mode, which writes them
// as YAML, and to the policy pack.
package chart

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
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
	// assumes (e.g. istiod).
	Release string
	// Namespace is where the release's namespaced objects go.
	Namespace pulumi.StringInput
	// Values override the chart's values.yaml.
	Values pulumi.Map
}

// Install renders a pinned chart on the client and registers its objects, named with the Pulumi
// name as prefix.
func Install(ctx *pulumi.Context, name string, spec Spec, src Source, args Args, opts ...pulumi.ResourceOption) (*helmv4.Chart, error) {
	ref, err := src.Resolve(spec)
	if err != nil {
		return nil, err
	}
	release := args.Release
	if release == "" {
		release = spec.Name
	}
	ca := &helmv4.ChartArgs{
		Name:      pulumi.String(release),
		Chart:     pulumi.String(ref.Chart),
		Namespace: args.Namespace,
		Values:    args.Values,
	}
	if ref.Version != "" {
		ca.Version = pulumi.String(ref.Version)
	}
	if ref.Repo != "" {
		ca.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(ref.Repo)}
	}
	c, err := helmv4.NewChart(ctx, name, ca, opts...)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", spec, err)
	}
	return c, nil
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
