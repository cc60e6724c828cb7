package rules_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/policy/rules"
)

// The config files CI passes: dev advisory, prod mandatory, every policy known.
func TestShippedConfigFiles(t *testing.T) {
	for _, tt := range []struct {
		file string
		want map[rules.Level]bool
	}{
		{"config.dev.json", map[rules.Level]bool{rules.Advisory: true, rules.Disabled: true}},
		{"config.prod.json", map[rules.Level]bool{rules.Mandatory: true}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := rules.LoadConfigFile(filepath.Join("..", tt.file))
			require.NoError(t, err)
			require.Len(t, cfg, len(rules.Policies()))
			for name, s := range cfg {
				assert.Truef(t, tt.want[s.Level], "%s: %s is %s", tt.file, name, s.Level)
			}
		})
	}
}

func TestConfigFileSemantics(t *testing.T) {
	cfg, err := rules.ParseConfigFile([]byte(`{
		"all": "mandatory",
		"workload-replicas": {"enforcementLevel": "advisory", "minReplicas": 3},
		"image-pinned": "disabled",
		"required-tags": {"requiredLabels": ["team"]}
	}`))
	require.NoError(t, err)
	assert.Equal(t, rules.Advisory, cfg["workload-replicas"].Level, "a policy's own level beats all")
	assert.Equal(t, 3, cfg["workload-replicas"].Config.Int("minReplicas"))
	assert.Equal(t, rules.Disabled, cfg["image-pinned"].Level)
	assert.Equal(t, rules.Mandatory, cfg["required-tags"].Level, "settings without a level keep the all level")
	assert.Equal(t, []string{"team"}, cfg["required-tags"].Config.Strings("requiredLabels"))
	assert.Equal(t, rules.Mandatory, cfg["encryption-at-rest"].Level)

	// Evaluate applies the levels: the disabled policy reports nothing, the others at their level.
	bad := res(tDeployment, "orders", with(with(orders, "spec.replicas", 2), "spec.template.spec.containers.0.image", "nginx"))
	vs := rules.Evaluate([]rules.Resource{bad}, cfg)
	byPolicy := map[string]rules.Level{}
	for _, v := range vs {
		byPolicy[v.Policy] = v.Level
	}
	assert.Equal(t, rules.Advisory, byPolicy["workload-replicas"], "2 replicas is below the configured 3")
	assert.NotContains(t, byPolicy, "image-pinned")
	assert.Equal(t, rules.Mandatory, byPolicy["required-tags"], "the Deployment has no team label")
}

func TestConfigFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name, give, want string
	}{
		{"unknown policy", `{"workload-replica": "mandatory"}`, `unknown policy "workload-replica"`},
		{"unknown setting", `{"workload-replicas": {"minReplica": 2}}`, `policy workload-replicas: unknown setting "minReplica"; allowed: exemptChartObjects, exemptNames, exemptNamespaces, minReplicas`},
		{"wrong type", `{"workload-replicas": {"minReplicas": "two"}}`, `policy workload-replicas: setting minReplicas: two (string) is not an integer`},
		{"fraction", `{"workload-replicas": {"minReplicas": 2.5}}`, `2.5 is not an integer`},
		{"bad level", `{"all": "strict"}`, `enforcement level "strict" is not advisory, mandatory or disabled`},
		{"list of numbers", `{"network-ingress-restricted": {"allowedPublicPorts": [443]}}`, `[0]: 443 (float64) is not a string`},
		{"not JSON", `{`, `policy config: unexpected end of JSON input`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rules.ParseConfigFile([]byte(tt.give))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// The schema the engine validates config against carries the same defaults the rules apply.
func TestSchemaDefaultsAreTheRuleDefaults(t *testing.T) {
	for _, p := range rules.Policies() {
		props := map[string]any{}
		for name, s := range p.Schema() {
			require.Contains(t, s, "default", "%s.%s", p.Name, name)
			require.Contains(t, s, "type", "%s.%s", p.Name, name)
			props[name] = s["default"]
		}
		// JSON round trip: what the engine hands the pack is decoded JSON.
		raw, err := json.Marshal(map[string]any{p.Name: props})
		require.NoError(t, err)
		cfg, err := rules.ParseConfigFile(raw)
		require.NoError(t, err, p.Name)
		assert.Equal(t, rules.Default()[p.Name].Config, cfg[p.Name].Config, p.Name)
	}
}

func TestLoadConfigFileNamesTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"nope": "advisory"}`), 0o644))
	_, err := rules.LoadConfigFile(file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), file)
}

// Prod holds the program's own objects to every policy, and a chart's objects to the security
// ones: their shape (replicas, probes, spread, budgets, resources, labels, companions) is the
// chart's, set through its values and asserted by the program's tests.
func TestProdConfigChecksChartObjectsForSecurityOnly(t *testing.T) {
	cfg, err := rules.LoadConfigFile(filepath.Join("..", "config.prod.json"))
	require.NoError(t, err)
	single := with(with(orders, "spec.replicas", 1), "spec.template.spec.containers.0.securityContext.privileged", true)
	policiesOf := func(vs []rules.Violation) map[string]bool {
		out := map[string]bool{}
		for _, v := range vs {
			out[v.Policy] = true
		}
		return out
	}
	own := policiesOf(rules.Evaluate([]rules.Resource{res(tDeployment, "orders", single)}, cfg))
	assert.True(t, own["workload-replicas"], "the program's own Deployment is held to the replica floor")
	assert.True(t, own["container-security-context"])
	chart := policiesOf(rules.Evaluate([]rules.Resource{chartObject(res(tDeployment, "orders", single))}, cfg))
	assert.True(t, chart["container-security-context"], "a chart's privileged container is still a finding")
	for _, shape := range []string{"workload-replicas", "workload-probes", "workload-zone-spread", "workload-disruption-budget",
		"workload-resources", "autoscaler-range", "required-tags", "stack-deployment-companions"} {
		assert.False(t, chart[shape], "%s: a chart's Deployment is shaped by its values", shape)
	}
	cni := chartObject(res("kubernetes:apps/v1:DaemonSet", "istio-cni-node", with(with(single, "metadata.name", "istio-cni-node"), "metadata.namespace", "kube-system")))
	assert.Empty(t, rules.Evaluate([]rules.Resource{cni}, cfg),
		"the CNI node agent installs the mesh's plugin on the host (privileged by design), in kube-system, the cluster's own namespace")
}
