package tests

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/platform"
)

// stackCase is a stack file, with its cloud as written or flipped to the other one.
type stackCase struct {
	name, stack, cloud string
}

var stackCases = []stackCase{
	{"dev as written (openstack)", "dev", ""},
	{"dev flipped to aws", "dev", platform.CloudAWS},
	{"prod as written (aws)", "prod", ""},
	{"prod flipped to openstack", "prod", platform.CloudOpenStack},
}

func (c stackCase) config(t testing.TB) map[string]string {
	cfg := stackConfig(t, c.stack)
	if c.cloud != "" {
		cfg["groundwork:cloud"] = c.cloud
	}
	return cfg
}

// componentType is the ComponentResource each cloud's base layer registers.
var componentType = map[string]string{
	platform.CloudAWS:       "groundwork:infra:AwsCluster",
	platform.CloudOpenStack: "groundwork:infra:OpenStackCluster",
	platform.CloudExisting:  "groundwork:infra:ExistingCluster",
}

func TestStackFilesRunOnBothClouds(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config(t)
			m, err := run(t, tt.stack, cfg, nil, platform.Run)
			require.NoError(t, err)

			comps := m.ofType(componentType[cfg["groundwork:cloud"]])
			require.Len(t, comps, 1, "one base-layer component")
			root := comps[0]
			assert.Equal(t, "groundwork-"+tt.stack, root.Name)

			// Only Groundwork's components sit at the top of the stack; every resource hangs below
			// one of them, and the base layer's below its component.
			for _, r := range m.resources {
				if r.Parent == "" || resource.URN(r.Parent).QualifiedType() == resource.RootStackType {
					assert.Truef(t, strings.HasPrefix(r.Type, "groundwork:"), "%s %s is not parented under a component", r.Type, r.Name)
				}
				if strings.HasPrefix(r.Type, "aws:eks/") || strings.HasPrefix(r.Type, "openstack:") ||
					slices.Contains([]string{"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway"}, r.Type) {
					assert.Truef(t, isBelow(m, r, root.URN), "%s %s is not parented under the base layer", r.Type, r.Name)
				}
			}
			// Every Kubernetes object goes to the cluster's provider, never the ambient one.
			k8sProvider := m.byName(t, "pulumi:providers:kubernetes", root.Name+"-k8s")
			for _, r := range m.resources {
				if strings.HasPrefix(r.Type, "kubernetes:") {
					assert.Truef(t, strings.HasPrefix(r.Provider, k8sProvider.URN+"::"), "%s %s uses provider %q", r.Type, r.Name, r.Provider)
				}
			}
			// The provider's kubeconfig is a secret in its inputs, so it is encrypted in state.
			assert.True(t, k8sProvider.Inputs["kubeconfig"].IsSecret(), "kubeconfig input of the Kubernetes provider must be secret")
		})
	}
}

func isBelow(m *mocks, r Recorded, root string) bool {
	byURN := map[string]Recorded{}
	for _, x := range m.resources {
		byURN[x.URN] = x
	}
	for p := r.Parent; p != ""; p = byURN[p].Parent {
		if p == root {
			return true
		}
	}
	return false
}

func TestURNsAreStableAcrossRuns(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			first, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			second, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			assert.Equal(t, first.urns(), second.urns())
			assert.Equal(t, len(first.urns()), len(slicesCompact(first.urns())), "URNs must be unique")
		})
	}
}

func slicesCompact(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// clusterOf runs the base layer alone and hands the cluster to check, inside the program.
func clusterOf(t *testing.T, stack string, cfg map[string]string, secretKeys []string, check func(context.Context, infra.Cluster)) *mocks {
	t.Helper()
	m, err := run(t, stack, cfg, secretKeys, func(ctx *pulumi.Context) error {
		c, err := platform.Load(ctx)
		if err != nil {
			return err
		}
		cluster, err := platform.NewCluster(ctx, c, nil)
		if err != nil {
			return err
		}
		check(ctx.Context(), cluster)
		return nil
	})
	require.NoError(t, err)
	return m
}

func await(t *testing.T, ctx context.Context, o pulumi.Output) internals.UnsafeAwaitOutputResult {
	t.Helper()
	res, err := internals.UnsafeAwaitOutput(ctx, o)
	require.NoError(t, err)
	return res
}

func TestKubeconfigIsASecretOnEveryCloud(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			clusterOf(t, tt.stack, tt.config(t), nil, func(ctx context.Context, c infra.Cluster) {
				kc := await(t, ctx, c.Kubeconfig())
				assert.True(t, kc.Secret, "kubeconfig must be a secret")
				assert.Contains(t, kc.Value, "current-context")
			})
		})
	}
}

func TestAWSProdIsHighlyAvailableAndLockedDown(t *testing.T) {
	cfg := stackConfig(t, "prod")
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)

	// Three zones, picked in name order from what the region offers.
	subnets := m.ofType("aws:ec2/subnet:Subnet")
	var zones []string
	for _, s := range subnets {
		zones = append(zones, get(s.Inputs, "availabilityZone").StringValue())
	}
	assert.ElementsMatch(t, []string{"eu-west-1a", "eu-west-1a", "eu-west-1b", "eu-west-1b", "eu-west-1c", "eu-west-1c"}, zones)

	// A NAT gateway per zone, each private route table through its own zone's NAT.
	nats := m.ofType("aws:ec2/natGateway:NatGateway")
	assert.Len(t, nats, 3)
	natIDs := map[string]bool{}
	for _, rt := range m.ofType("aws:ec2/routeTable:RouteTable") {
		if strings.Contains(rt.Name, "-private-") {
			routes := get(rt.Inputs, "routes").ArrayValue()
			require.Len(t, routes, 1)
			natIDs[routes[0].ObjectValue()["natGatewayId"].StringValue()] = true
		}
	}
	assert.Len(t, natIDs, 3, "each zone routes through its own NAT gateway")

	eks := m.byName(t, "aws:eks/cluster:Cluster", "groundwork-prod-eks")
	in := eks.Inputs
	assert.Equal(t, "1.34", get(in, "version").StringValue())
	assert.True(t, get(in, "vpcConfig.endpointPrivateAccess").BoolValue(), "private endpoint on")
	assert.Equal(t, []string{"203.0.113.0/24"}, strs(get(in, "vpcConfig.publicAccessCidrs")))
	assert.Len(t, strs(get(in, "vpcConfig.subnetIds")), 3, "control plane ENIs in the three private subnets")
	enc := get(in, "encryptionConfig")
	assert.Equal(t, []string{"secrets"}, strs(enc.ObjectValue()["resources"]))
	key := m.ofType("aws:kms/key:Key")[0]
	assert.Equal(t, key.Outputs["arn"].StringValue(), get(in, "encryptionConfig.provider.keyArn").StringValue())
	assert.True(t, get(key.Inputs, "enableKeyRotation").BoolValue())
	assert.ElementsMatch(t, []string{"audit", "authenticator"}, strs(get(in, "enabledClusterLogTypes")), "the logs an incident review needs, not the chatty ones")
	assert.Equal(t, "API", get(in, "accessConfig.authenticationMode").StringValue())

	// IRSA: the OIDC provider is the cluster's issuer, and the CNI role trusts one service account.
	oidc := m.ofType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	require.Len(t, oidc, 1)
	assert.Contains(t, get(oidc[0].Inputs, "url").StringValue(), "https://oidc.eks.eu-west-1.amazonaws.com/id/")
	cni := m.byName(t, "aws:iam/role:Role", "groundwork-prod-vpc-cni")
	assert.Contains(t, get(cni.Inputs, "assumeRolePolicy").StringValue(), `"system:serviceaccount:kube-system:aws-node"`)
	node := m.byName(t, "aws:iam/role:Role", "groundwork-prod-node")
	var nodePolicies []string
	for _, a := range m.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if strings.HasPrefix(a.Name, node.Name+"-") {
			nodePolicies = append(nodePolicies, get(a.Inputs, "policyArn").StringValue())
		}
	}
	assert.ElementsMatch(t, []string{
		"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
	}, nodePolicies, "nodes hold only what they need; the CNI policy is on the CNI's own role")

	// Node groups span every zone through the private subnets, within their bounds.
	groups := m.ofType("aws:eks/nodeGroup:NodeGroup")
	require.Len(t, groups, 2)
	general := m.byName(t, "aws:eks/nodeGroup:NodeGroup", "groundwork-prod-general")
	assert.Len(t, strs(get(general.Inputs, "subnetIds")), 3)
	assert.Equal(t, 3.0, get(general.Inputs, "scalingConfig.minSize").NumberValue())
	assert.Equal(t, 12.0, get(general.Inputs, "scalingConfig.maxSize").NumberValue())
	burst := m.byName(t, "aws:eks/nodeGroup:NodeGroup", "groundwork-prod-burst")
	assert.Equal(t, "SPOT", get(burst.Inputs, "capacityType").StringValue())
	lt := m.byName(t, "aws:ec2/launchTemplate:LaunchTemplate", "groundwork-prod-general")
	ebs := get(lt.Inputs, "blockDeviceMappings").ArrayValue()[0].ObjectValue()["ebs"].ObjectValue()
	assert.Equal(t, "true", ebs["encrypted"].StringValue(), "node volumes encrypted")
	assert.Equal(t, "required", get(lt.Inputs, "metadataOptions.httpTokens").StringValue(), "IMDSv2 only")

	// The admin role and the deploying role get cluster-admin by access entry.
	var admins []string
	for _, a := range m.ofType("aws:eks/accessPolicyAssociation:AccessPolicyAssociation") {
		admins = append(admins, get(a.Inputs, "principalArn").StringValue())
	}
	assert.ElementsMatch(t, []string{"arn:aws:iam::123456789012:role/platform-admin", deployerRole}, admins)

	// No security group is open to the internet.
	for _, sg := range m.ofType("aws:ec2/securityGroup:SecurityGroup") {
		for _, rule := range get(sg.Inputs, "ingress").ArrayValue() {
			assert.NotContains(t, strs(rule.ObjectValue()["cidrBlocks"]), "0.0.0.0/0", sg.Name)
		}
	}

	// Prod keeps volumes when claims go: the default StorageClass retains, and is encrypted.
	sc := m.byName(t, "kubernetes:storage.k8s.io/v1:StorageClass", "groundwork-prod-gp3")
	assert.Equal(t, "Retain", get(sc.Inputs, "reclaimPolicy").StringValue())
	assert.Equal(t, "true", get(sc.Inputs, "parameters.encrypted").StringValue())
	assert.Equal(t, "true", get(sc.Inputs, "metadata.annotations").ObjectValue()["storageclass.kubernetes.io/is-default-class"].StringValue())
}

// taggable are the AWS resource types the program creates whose provider schema takes tags.
var taggable = []string{
	"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
	"aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway", "aws:ec2/routeTable:RouteTable",
	"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
	"aws:ec2/launchTemplate:LaunchTemplate", "aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup",
	"aws:iam/role:Role", "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:eks/cluster:Cluster",
	"aws:eks/addon:Addon", "aws:eks/nodeGroup:NodeGroup", "aws:eks/accessEntry:AccessEntry",
	"aws:ecr/repository:Repository",
}

func TestAWSTagsEveryTaggableResource(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:servicesDir"] = tempServices(t, "identity")
	cfg["groundwork:images"] = `{"version":"v1.4.2"}`
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	for _, typ := range taggable {
		rs := m.ofType(typ)
		assert.NotEmptyf(t, rs, "the prod stack creates a %s", typ)
		for _, r := range rs {
			tags := get(r.Inputs, "tags")
			require.Truef(t, tags.IsObject(), "%s %s has no tags", r.Type, r.Name)
			for k, want := range map[string]string{"project": "groundwork", "stack": "prod", "owner": "platform-team", "environment": "prod"} {
				assert.Equalf(t, want, tags.ObjectValue()[resource.PropertyKey(k)].StringValue(), "%s %s tag %s", r.Type, r.Name, k)
			}
			assert.Containsf(t, []string{"infra", "postgres", "kafka", "redis"}, tags.ObjectValue()["component"].StringValue(), "%s %s names its component", r.Type, r.Name)
		}
	}
}

func TestAWSDevUsesOneNatGatewayAndTwoZones(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = platform.CloudAWS
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)
	assert.Len(t, m.ofType("aws:ec2/natGateway:NatGateway"), 1)
	assert.Len(t, m.ofType("aws:ec2/subnet:Subnet"), 4)
	sc := m.byName(t, "kubernetes:storage.k8s.io/v1:StorageClass", "groundwork-dev-gp3")
	assert.Equal(t, "Delete", get(sc.Inputs, "reclaimPolicy").StringValue())
}

func TestAWSCreatesAnImmutableScannedRepositoryPerService(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:servicesDir"] = tempServices(t, "identity", "tenant")
	cfg["groundwork:images"] = `{"version":"v1.4.2"}`
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	repos := m.ofType("aws:ecr/repository:Repository")
	require.Len(t, repos, 2)
	for i, svc := range []string{"identity", "tenant"} {
		assert.Equal(t, "groundwork-prod/"+svc, get(repos[i].Inputs, "name").StringValue())
		assert.Equal(t, "IMMUTABLE", get(repos[i].Inputs, "imageTagMutability").StringValue())
		assert.True(t, get(repos[i].Inputs, "imageScanningConfiguration.scanOnPush").BoolValue())
		assert.False(t, get(repos[i].Inputs, "forceDelete").BoolValue(), "prod never deletes a repository holding images")
	}
	assert.Len(t, m.ofType("aws:ecr/lifecyclePolicy:LifecyclePolicy"), 2)
}

func TestAWSRegionWithTooFewZonesFailsBeforeAnyResource(t *testing.T) {
	cfg := stackConfig(t, "prod")
	m := newMocks("prod", "eu-west-1")
	m.zones = []string{"eu-west-1a", "eu-west-1b"}
	err := pulumi.RunErr(platform.Run, pulumi.WithMocks(project, "prod", m), func(ri *pulumi.RunInfo) { ri.Config = cfg })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "groundwork:aws.zoneCount 3 in eu-west-1: 3 zones asked, but the region has 2 available: eu-west-1a, eu-west-1b")
	assert.Empty(t, m.resources)
}

func TestOpenStackBuildsThreeNetworksAndMagnum(t *testing.T) {
	tests := []struct {
		stack      string
		masters    float64
		masterLB   bool
		routerHA   bool
		reclaim    string
		allowedAPI string
		dns        []string
	}{
		{stack: "dev", masters: 1, masterLB: false, routerHA: false, reclaim: "Delete", allowedAPI: "10.20.0.0/16,198.51.100.0/24", dns: []string{"1.1.1.1", "9.9.9.9"}},
		{stack: "prod", masters: 3, masterLB: true, routerHA: true, reclaim: "Retain", allowedAPI: "203.0.113.0/24", dns: []string{"9.9.9.9", "1.1.1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			cfg := stackConfig(t, tt.stack)
			cfg["groundwork:cloud"] = platform.CloudOpenStack
			m, err := run(t, tt.stack, cfg, nil, platform.Run)
			require.NoError(t, err)
			prefix := "groundwork-" + tt.stack

			nets := m.ofType("openstack:networking/network:Network")
			assert.Equal(t, []string{prefix + "-api", prefix + "-internal", prefix + "-management"}, names(nets))
			for _, s := range m.ofType("openstack:networking/subnet:Subnet") {
				assert.Equal(t, tt.dns, strs(get(s.Inputs, "dnsNameservers")), s.Name)
			}
			assert.Len(t, m.ofType("openstack:networking/routerInterface:RouterInterface"), 3)
			router := m.ofType("openstack:networking/router:Router")
			require.Len(t, router, 1)
			assert.Equal(t, uuid("net-public"), get(router[0].Inputs, "externalNetworkId").StringValue())
			assert.Equal(t, tt.routerHA, get(router[0].Inputs, "valueSpecs").IsObject() && get(router[0].Inputs, "valueSpecs.ha").StringValue() == "true")

			cluster := m.byName(t, "openstack:containerinfra/cluster:Cluster", prefix+"-magnum")
			assert.Equal(t, tt.masters, get(cluster.Inputs, "masterCount").NumberValue())
			tmpl := m.byName(t, "openstack:containerinfra/clusterTemplate:ClusterTemplate", prefix+"-template")
			assert.Equal(t, tt.masterLB, get(tmpl.Inputs, "masterLbEnabled").BoolValue())
			assert.Equal(t, uuid("image-fedora-coreos-40"), get(tmpl.Inputs, "image").StringValue())
			assert.Equal(t, "v1.34.2", get(tmpl.Inputs, "labels.kube_tag").StringValue())
			assert.Equal(t, tt.allowedAPI, get(tmpl.Inputs, "labels.master_lb_allowed_cidrs").StringValue())
			internal := m.byName(t, "openstack:networking/network:Network", prefix+"-internal")
			assert.Equal(t, internal.URN, dependencyOf(t, m, get(tmpl.Inputs, "fixedNetwork").StringValue()))

			sc := m.byName(t, "kubernetes:storage.k8s.io/v1:StorageClass", prefix+"-cinder")
			assert.Equal(t, "cinder.csi.openstack.org", get(sc.Inputs, "provisioner").StringValue())
			assert.Equal(t, tt.reclaim, get(sc.Inputs, "reclaimPolicy").StringValue())

			// Security groups: nothing open to the internet; SSH only from the named ranges.
			for _, r := range m.ofType("openstack:networking/secGroupRule:SecGroupRule") {
				assert.NotEqual(t, "0.0.0.0/0", get(r.Inputs, "remoteIpPrefix").StringValue(), r.Name)
			}
		})
	}
}

// dependencyOf maps an OpenStack ID the mocks handed out back to the URN of its resource.
func dependencyOf(t *testing.T, m *mocks, id string) string {
	t.Helper()
	for _, r := range m.resources {
		if uuid(r.Name) == id {
			return r.URN
		}
	}
	t.Fatalf("no resource has ID %s", id)
	return ""
}

func TestOpenStackProdExtraNodeGroupIsAMagnumNodeGroup(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:cloud"] = platform.CloudOpenStack
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	ng := m.byName(t, "openstack:containerinfra/nodeGroup:NodeGroup", "groundwork-prod-burst")
	assert.Equal(t, 0.0, get(ng.Inputs, "minNodeCount").NumberValue())
	assert.Equal(t, 9.0, get(ng.Inputs, "maxNodeCount").NumberValue())
	assert.Equal(t, "m1.xlarge", get(ng.Inputs, "flavorId").StringValue())
}

func TestOpenStackKubeconfigComesFromMagnum(t *testing.T) {
	cfg := stackConfig(t, "dev")
	clusterOf(t, "dev", cfg, nil, func(ctx context.Context, c infra.Cluster) {
		kc := await(t, ctx, c.Kubeconfig())
		assert.Equal(t, magnumKubeconfig("groundwork-dev", "https://203.0.113.40:6443"), kc.Value)
		ann := await(t, ctx, c.LoadBalancerAnnotations())
		assert.Equal(t, uuid("net-public"), ann.Value.(map[string]string)["loadbalancer.openstack.org/floating-network-id"])
		assert.Equal(t, "cinder", c.StorageClass())
		assert.Equal(t, []string{"nova"}, c.Zones())
	})
}
