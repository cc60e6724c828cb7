package tests

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
)

// packConfig is the policy pack config file CI passes for a stack.
func packConfig(t *testing.T, stack string) rules.Resolved {
	t.Helper()
	cfg, err := rules.LoadConfigFile(fmt.Sprintf("policy/config.%s.json", stack))
	require.NoError(t, err)
	return cfg
}

func atLevel(vs []rules.Violation, l rules.Level) []string {
	var out []string
	for _, v := range vs {
		if v.Level == l {
			out = append(out, v.String())
		}
	}
	return out
}

// devTradeOffs are what dev knowingly gives up for cost, which the pack must report (advisory).
// Dev on OpenStack has none the pack can see: the template pins no zone (the driver reads none).
var devTradeOffs = map[string][]string{}

// TestPolicyPackOnWholeStacks runs every stack file on both clouds under mocks, feeds every
// resource the program registers to every policy with the stack's pack config, and holds prod
// to zero mandatory violations. Dev is advisory: its findings are logged, never blocking.
func TestPolicyPackOnWholeStacks(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := runForPolicy(t, tt.stack, tt.config(t), platform.Run)
			require.NoError(t, err)
			require.NotEmpty(t, rs)
			vs := rules.Evaluate(rs, packConfig(t, tt.stack))
			for _, v := range vs {
				t.Log(v)
			}
			switch tt.stack {
			case "prod":
				assert.Empty(t, atLevel(vs, rules.Mandatory), "prod must pass the policy pack")
			case "dev":
				assert.Empty(t, atLevel(vs, rules.Mandatory), "dev runs the pack advisory only")
			}
			for _, policy := range devTradeOffs[tt.name] {
				assert.Truef(t, slices.ContainsFunc(vs, func(v rules.Violation) bool { return v.Policy == policy && v.Level == rules.Advisory }),
					"%s should report dev's trade-off as advisory", policy)
			}
		})
	}
}

// setProp returns a copy of m with the value at a dotted path replaced; numbers index arrays.
func setProp(t *testing.T, m property.Map, path string, v property.Value) property.Map {
	t.Helper()
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		if v.IsNull() {
			return m.Delete(head)
		}
		return m.Set(head, v)
	}
	cur := m.Get(head)
	switch {
	case cur.IsMap():
		return m.Set(head, property.New(setProp(t, cur.AsMap(), rest, v)))
	case cur.IsArray():
		idx, tail, _ := strings.Cut(rest, ".")
		i, err := strconv.Atoi(idx)
		require.NoError(t, err)
		elems := cur.AsArray().AsSlice()
		require.Less(t, i, len(elems), path)
		if tail == "" {
			elems[i] = v
		} else {
			elems[i] = property.New(setProp(t, elems[i].AsMap(), tail, v))
		}
		return m.Set(head, property.New(elems))
	}
	t.Fatalf("no %s under %s", rest, head)
	return m
}

// TestPolicyPackCatchesRegressionsInTheRealStacks breaks one property of a resource the real
// program registers and expects the prod pack to block it: the policies read the shapes the
// program actually produces, not only the hand-written ones of the table tests.
func TestPolicyPackCatchesRegressionsInTheRealStacks(t *testing.T) {
	strs := func(s ...string) property.Value {
		out := make([]property.Value, len(s))
		for i, e := range s {
			out[i] = property.New(e)
		}
		return property.New(out)
	}
	for _, tt := range []struct {
		name, cloud, typ, resource, path string
		value                            property.Value
		policy                           string
	}{
		{"EKS API opened to the internet", platform.CloudAWS, "aws:eks/cluster:Cluster", "groundwork-prod-eks", "vpcConfig.publicAccessCidrs", strs("0.0.0.0/0"), "cluster-api-restricted"},
		{"EKS private endpoint off", platform.CloudAWS, "aws:eks/cluster:Cluster", "groundwork-prod-eks", "vpcConfig.endpointPrivateAccess", property.New(false), "cluster-api-restricted"},
		{"node disks unencrypted", platform.CloudAWS, "aws:ec2/launchTemplate:LaunchTemplate", "groundwork-prod-general", "blockDeviceMappings.0.ebs.encrypted", property.New("false"), "encryption-at-rest"},
		{"EBS StorageClass unencrypted", platform.CloudAWS, "kubernetes:storage.k8s.io/v1:StorageClass", "groundwork-prod-gp3", "parameters.encrypted", property.New("false"), "encryption-at-rest"},
		{"VPC without owner tag", platform.CloudAWS, "aws:ec2/vpc:Vpc", "groundwork-prod-vpc", "tags.owner", property.Value{}, "required-tags"},
		{"node group in one subnet", platform.CloudAWS, "aws:eks/nodeGroup:NodeGroup", "groundwork-prod-general", "subnetIds", strs("subnet-0a"), "node-groups-span-zones"},
		{"Magnum autoscaler off", platform.CloudOpenStack, "openstack:containerinfra/clusterTemplate:ClusterTemplate", "groundwork-prod-template", "labels.auto_scaling_enabled", property.New("false"), "node-group-scaling"},
		{"Magnum API open to the internet", platform.CloudOpenStack, "openstack:containerinfra/clusterTemplate:ClusterTemplate", "groundwork-prod-template", "labels.api_master_lb_allowed_cidrs", property.New("0.0.0.0/0"), "cluster-api-restricted"},
		// The platform layer; "" picks the first resource of the type.
		{"mesh relaxed to PERMISSIVE", platform.CloudAWS, "kubernetes:security.istio.io/v1:PeerAuthentication", "", "spec.mtls.mode", property.New("PERMISSIVE"), "mesh-mtls-strict"},
		{"privileged platform container", platform.CloudAWS, "kubernetes:apps/v1:Deployment", "", "spec.template.spec.containers.0.securityContext.privileged", property.New(true), "container-security-context"},
		{"platform image on latest", platform.CloudAWS, "kubernetes:apps/v1:Deployment", "", "spec.template.spec.containers.0.image", property.New("busybox:latest"), "image-pinned"},
		{"Secret in plain text", platform.CloudAWS, "kubernetes:core/v1:Secret", "", "stringData", property.New(map[string]property.Value{"password": property.New("hunter2")}), "secrets-not-plaintext"},
		{"chart version dropped", platform.CloudAWS, chart.ChartType, "", "version", property.Value{}, "helm-chart-pinned"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg["groundwork:cloud"] = tt.cloud
			if tt.cloud == platform.CloudOpenStack {
				onOpenStack(t, cfg)
			}
			rs, err := runForPolicy(t, "prod", cfg, platform.Run)
			require.NoError(t, err)
			pack := packConfig(t, "prod")
			require.Empty(t, atLevel(rules.Evaluate(rs, pack), rules.Mandatory), "the stack passes before the change")

			target := ""
			for i, r := range rs {
				if r.Type == tt.typ && (r.Name == tt.resource || tt.resource == "" && target == "") {
					rs[i].Properties = setProp(t, r.Properties, tt.path, tt.value)
					target = r.URN
				}
			}
			require.NotEmpty(t, target, "no %s %s in the stack", tt.typ, tt.resource)
			var hits []rules.Violation
			for _, v := range rules.Evaluate(rs, pack) {
				if v.Policy == tt.policy && v.URN == target && v.Level == rules.Mandatory {
					hits = append(hits, v)
				}
			}
			assert.NotEmpty(t, hits, "%s did not block the change", tt.policy)
		})
	}
}

// Prod on a cluster the team already runs, rendered as the README's recipe does (no
// kubeconfig): with the zones its nodes carry, the prod pack passes as it does on the clouds
// Groundwork builds. (Without zones the stack is refused: TestExistingClusterObjectStorage.)
func TestPolicyPackOnProdOnAnExistingCluster(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:cloud"] = "existing"
	cfg["groundwork:data"] = `{"managed":false}`
	cfg["groundwork:kubernetes"] = `{"version":"1.34.2","renderTo":"` + t.TempDir() + `"}`
	cfg["groundwork:existing"] = `{"nodeCidrs":["10.40.16.0/20"],"zones":["zone-a","zone-b","zone-c"],` +
		`"objectStorage":{"endpoint":"https://minio.example.com","accessKeyId":"AKIAEXAMPLE","secretAccessKey":"s3cr3t",` +
		`"buckets":{"traces":"groundwork-traces","logs":"groundwork-logs","backups":"groundwork-backups"}}}`
	rs, err := runForPolicy(t, "prod", cfg, platform.Run, "groundwork:existing")
	require.NoError(t, err)
	vs := rules.Evaluate(rs, packConfig(t, "prod"))
	for _, v := range atLevel(vs, rules.Mandatory) {
		t.Log(v)
	}
	assert.Empty(t, atLevel(vs, rules.Mandatory), "prod on an existing cluster passes the pack")
}
