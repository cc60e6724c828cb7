package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/semver"
	"gopkg.in/yaml.v3"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/services"
)

type workflowStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]any    `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

type workflowJob struct {
	Needs       any               `yaml:"needs"`
	Permissions map[string]string `yaml:"permissions"`
	Environment any               `yaml:"environment"`
	Strategy    struct {
		Matrix map[string]any `yaml:"matrix"`
	} `yaml:"strategy"`
	Env   map[string]string `yaml:"env"`
	Steps []workflowStep    `yaml:"steps"`
}

type workflow struct {
	On          map[string]any         `yaml:"on"`
	Permissions map[string]string      `yaml:"permissions"`
	Jobs        map[string]workflowJob `yaml:"jobs"`
	raw         string
	node        yaml.Node
}

func readWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(".github", "workflows", name))
	require.NoError(t, err)
	var w workflow
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(false)
	require.NoError(t, dec.Decode(&w), name)
	require.NoError(t, yaml.Unmarshal(raw, &w.node))
	w.raw = string(raw)
	return w
}

func (j workflowJob) needs() []string {
	switch n := j.Needs.(type) {
	case string:
		return []string{n}
	case []any:
		var out []string
		for _, e := range n {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

// after reports whether job waits, directly or not, for dep.
func (w workflow) after(job, dep string) bool {
	for _, n := range w.Jobs[job].needs() {
		if n == dep || w.after(n, dep) {
			return true
		}
	}
	return false
}

func (j workflowJob) uses(action string) []workflowStep {
	var out []workflowStep
	for _, s := range j.Steps {
		if strings.HasPrefix(s.Uses, action+"@") {
			out = append(out, s)
		}
	}
	return out
}

func (j workflowJob) runs() string {
	var b strings.Builder
	for _, s := range j.Steps {
		b.WriteString(s.Run + "\n")
	}
	return b.String()
}

var pinnedAction = regexp.MustCompile(`^[\w.-]+/[\w./-]+@[0-9a-f]{40}$`)

// usesNodes are every "uses:" value with the comment on its line (the release it tracks).
func usesNodes(n *yaml.Node, out *[]*yaml.Node) {
	for i := 0; i+1 < len(n.Content); i++ {
		if n.Kind == yaml.MappingNode && i%2 == 0 && n.Content[i].Value == "uses" {
			*out = append(*out, n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		usesNodes(c, out)
	}
}

var workflowFiles = []string{"preview.yml", "deliver.yml"}

// Every action is pinned to a commit, with the release it tracks beside it; the default token
// reads only; only the jobs that assume an AWS role through OIDC may ask for an ID token; no
// long-lived cloud key is used.
func TestWorkflowsArePinnedAndLeastPrivileged(t *testing.T) {
	for _, name := range workflowFiles {
		t.Run(name, func(t *testing.T) {
			w := readWorkflow(t, name)
			var uses []*yaml.Node
			usesNodes(&w.node, &uses)
			require.NotEmpty(t, uses)
			for _, u := range uses {
				assert.Regexp(t, pinnedAction, u.Value, "line %d: pinned to a commit", u.Line)
				assert.Regexp(t, `^# v\d+\.\d+\.\d+$`, u.LineComment, "line %d: %s names the release it tracks", u.Line, u.Value)
			}
			assert.Equal(t, map[string]string{"contents": "read"}, w.Permissions, "the default token only reads")
			for id, j := range w.Jobs {
				oidc := len(j.uses("aws-actions/configure-aws-credentials")) > 0
				assert.Equal(t, oidc, j.Permissions["id-token"] == "write", "%s: id-token: write exactly where an AWS role is assumed", id)
				for _, s := range j.uses("aws-actions/configure-aws-credentials") {
					assert.Contains(t, s.With, "role-to-assume", id)
					assert.NotContains(t, s.With, "aws-access-key-id", "%s: no long-lived keys", id)
				}
			}
			assert.NotContains(t, w.raw, "AWS_ACCESS_KEY_ID", "no long-lived AWS keys")
			assert.NotContains(t, w.raw, "AWS_SECRET_ACCESS_KEY", "no long-lived AWS keys")
		})
	}
}

// Pull requests: CI first, then a preview of every stack file with the policy pack and its
// stack's config, commented on the PR.
func TestPullRequestsRunCIThenPreviewEveryStack(t *testing.T) {
	w := readWorkflow(t, "preview.yml")
	require.Contains(t, w.On, "pull_request")
	assert.Contains(t, w.Jobs["ci"].runs(), "bash .ci/run")
	assert.True(t, w.after("preview", "ci"))
	p := w.Jobs["preview"]
	stacks, _ := filepath.Glob("Pulumi.*.yaml")
	var want []any
	for _, s := range stacks {
		want = append(want, strings.TrimSuffix(strings.TrimPrefix(s, "Pulumi."), ".yaml"))
	}
	assert.ElementsMatch(t, want, p.Strategy.Matrix["stack"], "every stack file is previewed")
	steps := p.uses("pulumi/actions")
	require.Len(t, steps, 1)
	with := steps[0].With
	assert.Equal(t, "preview", with["command"])
	assert.Equal(t, "policy", with["policyPacks"])
	assert.Equal(t, "policy/config.${{ matrix.stack }}.json", with["policyPackConfigs"], "prod's config makes every policy mandatory")
	assert.Equal(t, true, with["comment-on-pr"])
	assert.Equal(t, "write", p.Permissions["pull-requests"], "to comment")
	for _, s := range want {
		assert.FileExists(t, "policy/config."+s.(string)+".json")
	}
}

// Merges to main: CI, images built once from the one Dockerfile and scanned before they are
// pushed, dev deployed with them, then prod behind an approval.
func TestMergesBuildScanPushThenDeployDevThenProd(t *testing.T) {
	w := readWorkflow(t, "deliver.yml")
	push, ok := w.On["push"].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, []any{"main"}, push["branches"])
	assert.Contains(t, w.Jobs["ci"].runs(), "bash .ci/run")
	for _, order := range [][2]string{{"tags", "ci"}, {"images", "tags"}, {"deploy-dev", "images"}, {"deploy-prod", "deploy-dev"}} {
		assert.True(t, w.after(order[0], order[1]), "%s runs after %s", order[0], order[1])
	}

	img := w.Jobs["images"]
	assert.Contains(t, w.Jobs["tags"].runs(), "go run ./services/imagetags", "the program's content tags")
	assert.Equal(t, "${{ fromJSON(needs.tags.outputs.images) }}", img.Strategy.Matrix["image"], "one build per service")
	build := img.uses("docker/build-push-action")
	require.Len(t, build, 1)
	assert.Equal(t, "services/Dockerfile", build[0].With["file"])
	assert.Equal(t, "SERVICE=${{ matrix.image.service }}", build[0].With["build-args"])
	assert.Equal(t, false, build[0].With["push"], "nothing is pushed before the scan")
	scan := img.uses("aquasecurity/trivy-action")
	require.Len(t, scan, 1)
	assert.Equal(t, "CRITICAL", scan[0].With["severity"])
	assert.Equal(t, "1", scan[0].With["exit-code"], "a critical finding fails the job")
	stepIndex := func(match func(workflowStep) bool) int { return slices.IndexFunc(img.Steps, match) }
	scanAt := stepIndex(func(s workflowStep) bool { return strings.HasPrefix(s.Uses, "aquasecurity/trivy-action@") })
	pushAt := stepIndex(func(s workflowStep) bool { return strings.Contains(s.Run, "docker push") })
	assert.Greater(t, pushAt, scanAt, "pushed only after the scan passed")

	for stack, job := range map[string]string{"dev": "deploy-dev", "prod": "deploy-prod"} {
		j := w.Jobs[job]
		assert.Equal(t, "${{ vars.PULUMI_ORG }}/"+stack, j.Env["STACK"])
		runs := j.runs()
		assert.Contains(t, runs, `pulumi config set --path "groundwork:images.versions.$service" "$tag"`, "%s deploys the images just built", job)
		assert.Contains(t, runs, "pulumi up --yes --stack \"$STACK\" --policy-pack policy --policy-pack-config policy/config."+stack+".json")
		assert.Equal(t, "${{ needs.tags.outputs.images }}", j.Env["IMAGES"])
	}
	assert.Equal(t, "production", w.Jobs["deploy-prod"].Environment, "a reviewer approves prod")
	assert.Contains(t, w.Jobs["deploy-prod"].needs(), "deploy-dev", "prod only after dev is up")
}

// Every credential a workflow passes comes from the repository's secret store.
func TestWorkflowCredentialsComeFromTheSecretStore(t *testing.T) {
	credential := regexp.MustCompile(`(?i)password|token|secret`)
	fromStore := regexp.MustCompile(`^\$\{\{ secrets\.[A-Z_]+ \}\}$`)
	for _, name := range workflowFiles {
		w := readWorkflow(t, name)
		n := 0
		check := func(where, key string, v any) {
			if s, ok := v.(string); ok && credential.MatchString(key) && key != "github-token" {
				n++
				assert.Regexp(t, fromStore, s, "%s %s: %s", name, where, key)
			}
		}
		for id, j := range w.Jobs {
			for k, v := range j.Env {
				check(id, k, v)
			}
			for _, st := range j.Steps {
				for k, v := range st.Env {
					check(id, k, v)
				}
				for k, v := range st.With {
					check(id, k, v)
				}
			}
		}
		assert.Positive(t, n, "%s passes credentials", name)
	}
}

// engineGlob is how the engine reads a --target with wildcards (pulumi/pulumi
// pkg/resource/deploy/deployment.go, UrnTargets.getMatcher, v3.274.1): "**" is any text, "*" any
// text without a colon, everything else literal.
func engineGlob(glob string) *regexp.Regexp {
	segments := strings.Split(glob, "**")
	for i, seg := range segments {
		parts := strings.Split(seg, "*")
		for j, p := range parts {
			parts[j] = regexp.QuoteMeta(p)
		}
		segments[i] = strings.Join(parts, "[^:]*")
	}
	return regexp.MustCompile("^" + strings.Join(segments, ".*") + "$")
}

// The engine always includes the stack and providers in a targeted update
// (pkg/resource/deploy/step_generator.go: isImplicitlyTargetedResource).
func implicitlyTargeted(urn string) bool {
	return strings.Contains(urn, "::pulumi:pulumi:Stack::") || strings.Contains(urn, "::pulumi:providers:")
}

// The first delivery to prod: the prod stack makes its ECR repositories, so deploy-prod ups the
// cluster component first, then copies the images into them, then ups the whole stack. The
// targets must select every repository and everything it needs (an untargeted parent or
// dependency that does not exist yet fails the update with "untargeted create"), and none of
// the services that would wait for an image not copied yet.
func TestProdDeliveryMakesItsRegistryBeforeCopyingImages(t *testing.T) {
	j := readWorkflow(t, "deliver.yml").Jobs["deploy-prod"]
	at := func(match func(string) bool) int {
		return slices.IndexFunc(j.Steps, func(s workflowStep) bool { return match(s.Run) })
	}
	targetedAt := at(func(r string) bool { return strings.Contains(r, "pulumi up") && strings.Contains(r, "--target") })
	copyAt := at(func(r string) bool {
		return strings.Contains(r, `crane" copy "$DEV_REGISTRY/$image" "$PROD_REGISTRY/$image"`)
	})
	upAt := at(func(r string) bool { return strings.Contains(r, "pulumi up") && !strings.Contains(r, "--target") })
	require.True(t, targetedAt >= 0 && copyAt >= 0 && upAt >= 0, "deploy-prod has a targeted up, a copy and a full up")
	assert.Less(t, targetedAt, copyAt, "the repositories exist before the images are copied")
	assert.Less(t, copyAt, upAt, "the images are in prod's registry before the services are deployed")
	configAt := at(func(r string) bool { return strings.Contains(r, "groundwork:images.versions") })
	assert.Less(t, configAt, targetedAt, "both ups deploy the same config")

	var globs []*regexp.Regexp
	for _, m := range regexp.MustCompile(`--target '([^']+)'`).FindAllStringSubmatch(j.Steps[targetedAt].Run, -1) {
		globs = append(globs, engineGlob(m[1]))
	}
	require.NotEmpty(t, globs)
	selected := func(urn string) bool {
		return implicitlyTargeted(urn) || slices.ContainsFunc(globs, func(g *regexp.Regexp) bool { return g.MatchString(urn) })
	}

	for _, c := range []stackCase{{"prod as written (aws)", "prod", ""}, {"prod flipped to openstack", "prod", platform.CloudOpenStack}} {
		t.Run(c.name, func(t *testing.T) {
			m, err := run(t, c.stack, c.config(t), nil, platform.Run)
			require.NoError(t, err)
			var repos, policies, infraSelected int
			for _, r := range m.resources {
				sel := selected(r.URN)
				switch r.Type {
				case "aws:ecr/repository:Repository":
					repos++
					assert.True(t, sel, "%s is made by the targeted up", r.URN)
				case "aws:ecr/lifecyclePolicy:LifecyclePolicy":
					policies++
					assert.True(t, sel, "%s is made by the targeted up", r.URN)
				}
				if !sel {
					continue
				}
				if strings.Contains(r.URN, "groundwork:infra:") {
					infraSelected++
				}
				assert.NotContains(t, r.URN, "groundwork:services:", "no service is deployed before its image is copied")
				assert.NotContains(t, r.URN, "groundwork:platform:", "the platform layer waits for the full up")
				needs := append([]string{r.Parent}, r.Deps...)
				if r.Provider != "" {
					needs = append(needs, r.Provider[:strings.LastIndex(r.Provider, "::")])
				}
				for _, n := range needs {
					if n != "" {
						assert.True(t, selected(n), "%s needs %s, which the targets leave out", r.URN, n)
					}
				}
			}
			assert.Positive(t, infraSelected, "the targets select the cluster component")
			if c.cloud == "" {
				names, err := services.Discover("services")
				require.NoError(t, err)
				assert.Equal(t, len(names), repos, "a repository per service")
				assert.Equal(t, repos, policies)
			}
		})
	}
}

// The CLI the workflows install runs the program: it is no older than the Pulumi SDK in go.mod
// (README: the CLI must be at least the SDK's release).
func TestWorkflowsInstallACLIAsNewAsTheSDK(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	sdk := regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 (v[\d.]+)$`).FindSubmatch(mod)
	require.NotNil(t, sdk, "go.mod requires the Pulumi SDK")
	n := 0
	for _, name := range workflowFiles {
		for id, j := range readWorkflow(t, name).Jobs {
			for _, s := range j.uses("pulumi/actions") {
				v, ok := s.With["pulumi-version"].(string)
				require.True(t, ok, "%s %s: pulumi/actions pins pulumi-version", name, id)
				n++
				assert.GreaterOrEqual(t, semver.Compare("v"+v, string(sdk[1])), 0, "%s %s: CLI %s is older than SDK %s", name, id, v, sdk[1])
			}
		}
	}
	assert.Equal(t, 3, n, "preview, deploy-dev and deploy-prod install the CLI")
}
