package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	helmchart "helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// withSiblingDependencies adds to a chart the dependencies its own folder lacks (no
// charts/<name>) from the charts folder itself, where a `<name>-<version>` folder of a version
// the chart accepts sits beside it: the layout `helm pull --untar` of every chart and of its
// dependencies gives. A dependency the chart enables and neither place holds fails the render
// (missingDependencies).
//
// The Go module proxy would be the pinned download CI reaches for these upstream charts (their
// repositories as modules at the release tags' commits), but it serves none of them here
// (refused for github.com/prometheus-community/helm-charts, github.com/grafana-community/helm-charts
// and k8s.io/autoscaler/cluster-autoscaler at the release commits), so no download is tried.
func withSiblingDependencies(dir string, ch *helmchart.Chart) error {
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, d := range ch.Metadata.Dependencies {
		if have[d.Name] || d.Repository == "" {
			continue // there, or part of the chart itself
		}
		folder, err := siblingChart(dir, d.Name, d.Version)
		if err != nil || folder == "" {
			return err
		}
		sub, err := loader.Load(folder)
		if err != nil {
			return fmt.Errorf("dependency %s of %s: %w", d.Name, ch.Name(), err)
		}
		if sub.Name() != d.Name {
			return fmt.Errorf("dependency %s of %s: %s holds chart %s", d.Name, ch.Name(), folder, sub.Name())
		}
		ch.AddDependency(sub)
		have[d.Name] = true
	}
	return nil
}

// siblingChart is the folder `<name>-<version>` in dir of the newest version the constraint
// accepts ("8.4.0", "0.12.*"), or "" where there is none.
func siblingChart(dir, name, constraint string) (string, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", fmt.Errorf("dependency %s: version %q: %w", name, constraint, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []*semver.Version
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), name+"-")
		if !ok {
			continue
		}
		v, err := semver.StrictNewVersion(rest)
		if err != nil || !c.Check(v) {
			continue // another chart whose name starts the same, or another version
		}
		found = append(found, v)
	}
	if len(found) == 0 {
		return "", nil
	}
	newest := slices.MaxFunc(found, func(a, b *semver.Version) int { return a.Compare(b) })
	return filepath.Join(dir, name+"-"+newest.Original()), nil
}
