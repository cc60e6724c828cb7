package rules_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/policy/rules"
)

func TestPackServesEveryPolicyAtItsDefaultLevel(t *testing.T) {
	pack, err := rules.Pack(nil)
	require.NoError(t, err)
	assert.Equal(t, rules.PackName, pack.Name())
	served := map[string]policyx.Policy{}
	for _, p := range pack.Policies() {
		served[p.Name()] = p
	}
	require.Len(t, served, len(rules.Policies()))
	for _, p := range rules.Policies() {
		got := served[p.Name]
		want := map[rules.Level]policyx.EnforcementLevel{rules.Advisory: policyx.EnforcementLevelAdvisory, rules.Mandatory: policyx.EnforcementLevelMandatory}[p.Level]
		assert.Equal(t, want, got.EnforcementLevel(), p.Name)
		_, isStack := got.(policyx.StackValidationPolicy)
		assert.Equal(t, p.CheckStack != nil, isStack, p.Name)
	}
}

func TestPackFromEnvRejectsABadConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"namespace-default-deny": {"direction": ["Ingress"]}}`), 0o644))
	t.Setenv(rules.ConfigEnv, file)
	_, err := rules.PackFromEnv()
	require.Error(t, err)
	assert.Contains(t, err.Error(), rules.ConfigEnv)
	assert.Contains(t, err.Error(), `unknown setting "direction"`)
}
