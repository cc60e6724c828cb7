package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
)

// TestPlatformRender runs platform.Run, the dev stack file, through the built engine with no
// cluster: cloud existing with kubernetes.renderTo, so the kubernetes provider writes every object
// as YAML. preview, up, and a second preview without changes. Opt-in (GROUNDWORK_E2E_RENDER=1):
// about 11 minutes on 2 cores (2026-12-07, two runs: preview 81-98 s, 571 to create; up 8.5-9 min;
// preview again 28-60 s, 571 unchanged).
// Charts from GROUNDWORK_TEST_CHARTS, by default ../shared/reference/charts beside the clone, as
// the stack tests read them.
func TestPlatformRender(t *testing.T) {
	if os.Getenv("GROUNDWORK_E2E_RENDER") == "" {
		t.Skip("opt-in, about 11 minutes: GROUNDWORK_E2E_RENDER=1")
	}
	e := Require(t)
	charts := os.Getenv("GROUNDWORK_TEST_CHARTS")
	if charts == "" {
		charts = filepath.Join(RepoRoot(), "..", "shared", "reference", "charts")
	}
	if _, err := os.Stat(charts); err != nil {
		t.Fatalf("no charts folder (GROUNDWORK_TEST_CHARTS): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	render := t.TempDir()
	stack, err := e.Stack(ctx, t, Options{Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	err = SetStackFileConfig(ctx, stack, filepath.Join(RepoRoot(), "Pulumi.dev.yaml"), map[string]auto.ConfigValue{
		"groundwork:cloud":                 {Value: "existing"},
		"groundwork:existing.nodeCidrs[0]": {Value: "10.0.0.0/16"},
		"groundwork:kubernetes.renderTo":   {Value: render},
		"groundwork:charts.source":         {Value: "dir:" + charts},
		// CI-built images by tag: no image builds (the docker provider is not built here).
		"groundwork:images.version":  {Value: "v1.0.0"},
		"groundwork:registry.server": {Value: "registry.example.com/groundwork"},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pre, err := stack.Preview(ctx)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	t.Logf("preview %s: %v", time.Since(start).Round(time.Second), pre.ChangeSummary)
	start = time.Now()
	up, err := stack.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("up %s: %v", time.Since(start).Round(time.Second), up.Summary.ResourceChanges)
	start = time.Now()
	again, err := stack.Preview(ctx, optpreview.ExpectNoChanges())
	if err != nil {
		t.Fatalf("second preview: %v", err)
	}
	t.Logf("second preview %s: %v", time.Since(start).Round(time.Second), again.ChangeSummary)
}
