package tests

import (
	"context"
	"encoding/json"
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
	switch c.cloud {
	case "":
	case platform.CloudOpenStack:
		onOpenStack(t, cfg)
	default:
		cfg["groundwork:cloud"] = c.cloud
	}
	return cfg
}

// onOpenStack switches a stack to OpenStack as the README tells a user to: the cloud, and node
// groups that scale from zero (prod's spot burst group) raised to one node, since Magnum's
// Cluster API driver cannot scale a group from zero.
func onOpenStack(t testing.TB, cfg map[string]string) {
	t.Helper()
	cfg["groundwork:cloud"] = platform.CloudOpenStack
	var groups []map[string]any
	require.NoError(t, json.Unmarshal([]byte(cfg["groundwork:nodeGroups"]), &groups))
	for _, g := range groups {
		for _, k := range []string{"minSize", "desiredSize"} {
			if v, ok := g[k].(float64); ok && v < 1 {
				g[k] = 1
			}
		}
	}
	b, err := json.Marshal(groups)
	require.NoError(t, err)
	cfg["groundwork:nodeGroups"] = string(b)
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
		reclaim    string
		allowedAPI string
		dns        []string
	}{
		{stack: "dev", masters: 1, reclaim: "Delete", allowedAPI: "10.20.0.0/16,198.51.100.0/24", dns: []string{"1.1.1.1", "9.9.9.9"}},
		{stack: "prod", masters: 3, reclaim: "Retain", allowedAPI: "10.40.0.0/16,203.0.113.0/24", dns: []string{"9.9.9.9", "1.1.1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.stack, func(t *testing.T) {
			cfg := stackConfig(t, tt.stack)
			onOpenStack(t, cfg)
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

			cluster := m.byName(t, "openstack:containerinfra/cluster:Cluster", prefix+"-magnum")
			assert.Equal(t, tt.masters, get(cluster.Inputs, "masterCount").NumberValue())
			tmpl := m.byName(t, "openstack:containerinfra/clusterTemplate:ClusterTemplate", prefix+"-template")
			assert.Equal(t, uuid("image-ubuntu-jammy-kube-v1.34.2"), get(tmpl.Inputs, "image").StringValue())
			assert.Equal(t, tt.allowedAPI, get(tmpl.Inputs, "labels.api_master_lb_allowed_cidrs").StringValue())
			internal := m.byName(t, "openstack:networking/network:Network", prefix+"-internal")
			assert.Equal(t, internal.URN, dependencyOf(t, m, get(tmpl.Inputs, "fixedNetwork").StringValue()))

			sc := m.byName(t, "kubernetes:storage.k8s.io/v1:StorageClass", prefix+"-cinder")
			assert.Equal(t, "cinder.csi.openstack.org", get(sc.Inputs, "provisioner").StringValue())
			assert.Equal(t, tt.reclaim, get(sc.Inputs, "reclaimPolicy").StringValue())
		})
	}
}

// TestOpenStackBuildsNoSecurityGroupsOfItsOwn: the driver makes the nodes' security groups and
// the API load balancer; groups Groundwork made would be attached to nothing and limit nothing.
func TestOpenStackBuildsNoSecurityGroupsOfItsOwn(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		cfg := stackConfig(t, stack)
		onOpenStack(t, cfg)
		m, err := run(t, stack, cfg, nil, platform.Run)
		require.NoError(t, err)
		assert.Empty(t, m.ofType("openstack:networking/secGroup:SecGroup"), stack)
		assert.Empty(t, m.ofType("openstack:networking/secGroupRule:SecGroupRule"), stack)
	}
}

// TestOpenStackRouterLeavesHAToTheCloud: Neutron's default policy lets only admins set a
// router's ha attribute (create_router:ha); a project user asking for it gets 403.
func TestOpenStackRouterLeavesHAToTheCloud(t *testing.T) {
	cfg := stackConfig(t, "prod")
	onOpenStack(t, cfg)
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	router := m.byName(t, "openstack:networking/router:Router", "groundwork-prod-router")
	for _, admin := range []string{"valueSpecs", "distributed", "availabilityZoneHints"} {
		assert.False(t, has(router.Inputs, admin), "router sets %s", admin)
	}
}

// TestOpenStackAPIIsReachableFromTheDeployHost: Magnum's Cluster API driver always fronts the
// API with an Octavia load balancer; with apiAccess floatingIp it gets a floating IP that admits
// the deploy host's ranges and the nodes' network, and without it the API stays internal.
func TestOpenStackAPIIsReachableFromTheDeployHost(t *testing.T) {
	tests := []struct {
		name, access string
		floating     string
	}{
		{"floating IP", "floatingIp", "true"},
		{"internal", "internal", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			setObject(t, cfg, "groundwork:openstack", "apiAccess", tt.access)
			m, err := run(t, "dev", cfg, nil, platform.Run)
			require.NoError(t, err)
			tmpl := m.byName(t, "openstack:containerinfra/clusterTemplate:ClusterTemplate", "groundwork-dev-template")
			assert.True(t, get(tmpl.Inputs, "masterLbEnabled").BoolValue(), "the API has a load balancer even with one master")
			assert.Equal(t, tt.floating, get(tmpl.Inputs, "labels.master_lb_floating_ip_enabled").StringValue())
			allowed := strings.Split(get(tmpl.Inputs, "labels.api_master_lb_allowed_cidrs").StringValue(), ",")
			assert.Contains(t, allowed, "10.20.0.0/16", "the nodes reach the API through the load balancer")
			var stackCfg map[string]any
			require.NoError(t, json.Unmarshal([]byte(cfg["groundwork:openstack"]), &stackCfg))
			for _, c := range stackCfg["apiAllowedCidrs"].([]any) {
				assert.Contains(t, allowed, c, "the deploy host's range is admitted")
			}
		})
	}
}

// TestMagnumClusterSetsNoLabels: labels (and the other ForceNew fields of
// openstack_containerinfra_cluster_v1) replace the whole cluster when they change, so the
// cluster takes them all from its template.
func TestMagnumClusterSetsNoLabels(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		cfg := stackConfig(t, stack)
		onOpenStack(t, cfg)
		m, err := run(t, stack, cfg, nil, platform.Run)
		require.NoError(t, err)
		cluster := m.byName(t, "openstack:containerinfra/cluster:Cluster", "groundwork-"+stack+"-magnum")
		for _, forceNew := range []string{"labels", "mergeLabels", "flavor", "masterFlavor", "dockerVolumeSize", "keypair", "floatingIpEnabled", "masterLbEnabled"} {
			assert.False(t, has(cluster.Inputs, forceNew), "%s: cluster sets %s", stack, forceNew)
		}
	}
}

// TestMagnumChangesReachTheClusterOnlyThroughANewTemplate runs the dev stack, then again with
// one setting changed, and compares: the cluster's inputs differ only in cluster_template_id
// (updated in place by Magnum's upgrade action), and the template's name changes with its
// content, so the new template is made before the old one is deleted.
func TestMagnumChangesReachTheClusterOnlyThroughANewTemplate(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, cfg map[string]string)
	}{
		{"Kubernetes version bump", func(t *testing.T, cfg map[string]string) {
			cfg["groundwork:kubernetes"] = `{"version":"1.34.3"}`
			setObject(t, cfg, "groundwork:openstack", "image", "ubuntu-jammy-kube-v1.34.3")
		}},
		{"default node group bounds", func(t *testing.T, cfg map[string]string) {
			cfg["groundwork:nodeGroups"] = `[{"name":"general","minSize":2,"desiredSize":2,"maxSize":6,"flavor":"m1.large","diskSize":40}]`
		}},
		{"API allowed ranges", func(t *testing.T, cfg map[string]string) {
			setObject(t, cfg, "groundwork:openstack", "apiAllowedCidrs", []string{"198.51.100.0/24", "192.0.2.0/24"})
		}},
	}
	clusterType := "openstack:containerinfra/cluster:Cluster"
	templateType := "openstack:containerinfra/clusterTemplate:ClusterTemplate"
	base, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	before := base.byName(t, clusterType, "groundwork-dev-magnum")
	beforeTmpl := base.byName(t, templateType, "groundwork-dev-template")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			tt.change(t, cfg)
			m, err := run(t, "dev", cfg, nil, platform.Run)
			require.NoError(t, err)
			after := m.byName(t, clusterType, "groundwork-dev-magnum")
			afterTmpl := m.byName(t, templateType, "groundwork-dev-template")

			assert.NotEqual(t, get(beforeTmpl.Inputs, "name").StringValue(), get(afterTmpl.Inputs, "name").StringValue(), "a changed template gets a new name")
			assert.Contains(t, afterTmpl.ReplaceOnChanges, "name", "a new name replaces the template instead of editing one in use")
			assert.False(t, afterTmpl.DeleteBeforeReplace, "the new template exists before the old one is deleted")
			var changed []string
			for k := range before.Inputs.Mappable() {
				if !before.Inputs[resource.PropertyKey(k)].DeepEquals(after.Inputs[resource.PropertyKey(k)]) {
					changed = append(changed, k)
				}
			}
			assert.Equal(t, []string{"clusterTemplateId"}, changed, "only the template reference changes on the cluster")
		})
	}
}

// has says whether a resource sets an input.
func has(inputs resource.PropertyMap, key string) bool {
	v, ok := inputs[resource.PropertyKey(key)]
	return ok && !v.IsNull()
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
	onOpenStack(t, cfg)
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	ng := m.byName(t, "openstack:containerinfra/nodeGroup:NodeGroup", "groundwork-prod-burst")
	assert.Equal(t, 1.0, get(ng.Inputs, "minNodeCount").NumberValue(), "raised from 0: the driver cannot scale from zero")
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

// TestMagnumNodeGroupBoundsChangeInPlace: a Magnum node group's min and max update in place
// (resource_openstack_containerinfra_nodegroup_v1.go), so a new maximum for prod's burst group
// touches that group's bounds and nothing of the cluster or its template.
func TestMagnumNodeGroupBoundsChangeInPlace(t *testing.T) {
	record := func(maxSize int) *mocks {
		cfg := stackConfig(t, "prod")
		onOpenStack(t, cfg)
		var groups []map[string]any
		require.NoError(t, json.Unmarshal([]byte(cfg["groundwork:nodeGroups"]), &groups))
		groups[1]["maxSize"] = maxSize
		b, err := json.Marshal(groups)
		require.NoError(t, err)
		cfg["groundwork:nodeGroups"] = string(b)
		m, err := run(t, "prod", cfg, nil, platform.Run)
		require.NoError(t, err)
		return m
	}
	before, after := record(9), record(15)
	changed := func(typ, name string) []string {
		b, a := before.byName(t, typ, name), after.byName(t, typ, name)
		var keys []string
		for k := range b.Inputs.Mappable() {
			if !b.Inputs[resource.PropertyKey(k)].DeepEquals(a.Inputs[resource.PropertyKey(k)]) {
				keys = append(keys, k)
			}
		}
		return keys
	}
	assert.Equal(t, []string{"maxNodeCount"}, changed("openstack:containerinfra/nodeGroup:NodeGroup", "groundwork-prod-burst"))
	assert.Empty(t, changed("openstack:containerinfra/cluster:Cluster", "groundwork-prod-magnum"))
	assert.Empty(t, changed("openstack:containerinfra/clusterTemplate:ClusterTemplate", "groundwork-prod-template"))
}

// TestMagnumImageMustSuitTheDriverAndVersion: Magnum picks the driver by the image's os_distro
// and the Cluster API driver deploys the image's kube_version, so a Fedora CoreOS image (the
// Heat driver, which cannot run 1.34) or an image of another version fails before anything is
// created.
func TestMagnumImageMustSuitTheDriverAndVersion(t *testing.T) {
	tests := []struct {
		image, want string
	}{
		{"fedora-coreos-40", `groundwork:openstack.image: "fedora-coreos-40" has os_distro "fedora-coreos"; allowed: ubuntu, flatcar (Magnum's k8s_capi_helm_v1 driver) and kube_version ""; want "v1.34.2" (groundwork:kubernetes.version)`},
		{"ubuntu-jammy-kube-v1.33.5", `groundwork:openstack.image: "ubuntu-jammy-kube-v1.33.5" has kube_version "v1.33.5"; want "v1.34.2" (groundwork:kubernetes.version)`},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			setObject(t, cfg, "groundwork:openstack", "image", tt.image)
			m, err := run(t, "dev", cfg, nil, platform.Run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, m.resources, "nothing is created")
		})
	}
}
