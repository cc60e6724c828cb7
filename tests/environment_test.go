package tests

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
	"github.com/groundwork/groundwork/services"
)

// TestServiceScaleFollowsTheEnvironmentNotTheStackName runs the stack files under other stack
// names: a prod environment on a stack called prod-eu gets every service's prod replicas and HPA
// minimum and passes the prod policy pack; a dev environment on a stack called prod gets the
// default range. Only groundwork:environment decides.
func TestServiceScaleFollowsTheEnvironmentNotTheStackName(t *testing.T) {
	specs, err := services.Load("services")
	require.NoError(t, err)
	tests := []struct {
		name, stack, file, cloud, env string
	}{
		{"prod environment on stack prod-eu (aws)", "prod-eu", "prod", "", platform.EnvProd},
		{"prod environment on stack prod-eu (openstack)", "prod-eu", "prod", platform.CloudOpenStack, platform.EnvProd},
		{"dev environment on stack prod", "prod", "dev", "", platform.EnvDev},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, tt.file)
			if tt.cloud == platform.CloudOpenStack {
				onOpenStack(t, cfg)
			}
			require.Equal(t, tt.env, cfg["groundwork:environment"], "the stack file's environment")
			rs, err := runForPolicy(t, tt.stack, cfg, platform.Run)
			require.NoError(t, err)

			for _, s := range specs {
				want, ok := s.Replicas[tt.env]
				if !ok {
					want = s.Replicas["default"]
				}
				if tt.env == platform.EnvProd {
					require.True(t, ok, "%s: service.yaml has a prod range", s.Name)
					require.GreaterOrEqual(t, want.Min, 2, "%s: prod runs at least two replicas", s.Name)
				}
				hpa := resourceNamed(t, rs, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "svc-"+s.Name)
				assert.Equal(t, float64(want.Min), number(t, hpa.Properties, "spec", "minReplicas"), "%s: HPA minimum", s.Name)
				assert.Equal(t, float64(want.Max), number(t, hpa.Properties, "spec", "maxReplicas"), "%s: HPA maximum", s.Name)
				dep := resourceNamed(t, rs, "kubernetes:apps/v1:Deployment", "svc-"+s.Name+"-stable")
				assert.Equal(t, float64(want.Min), number(t, dep.Properties, "spec", "replicas"), "%s: Deployment replicas", s.Name)
			}
			if tt.env == platform.EnvProd {
				vs := rules.Evaluate(rs, packConfig(t, "prod"))
				assert.Empty(t, atLevel(vs, rules.Mandatory), "a prod stack of any name passes the prod policy pack")
			}
		})
	}
}

// TestServiceYAMLNamesTheStackEnvironments: service.yaml's replicas keys are the environments
// groundwork:environment accepts, so no environment falls back to the default range by a typo.
func TestServiceYAMLNamesTheStackEnvironments(t *testing.T) {
	assert.ElementsMatch(t, []string{platform.EnvDev, platform.EnvStaging, platform.EnvProd}, services.Environments)
}

func resourceNamed(t *testing.T, rs []rules.Resource, typ, name string) rules.Resource {
	t.Helper()
	for _, r := range rs {
		if r.Type == typ && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s %s", typ, name)
	return rules.Resource{}
}

// number reads a known number at a path of nested maps.
func number(t *testing.T, m property.Map, path ...string) float64 {
	t.Helper()
	v := property.New(m)
	for _, k := range path {
		require.True(t, v.IsMap(), "%v: not a map at %s", path, k)
		v = v.AsMap().Get(k)
	}
	require.True(t, v.IsNumber(), "%v: %v is not a number", path, v)
	return v.AsNumber()
}
