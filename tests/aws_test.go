package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/platform"
)

// awsStacks are the stack files run on AWS: prod as written, dev flipped.
var awsStacks = []stackCase{
	{"dev flipped to aws", "dev", platform.CloudAWS},
	{"prod as written (aws)", "prod", ""},
}

// contains tells whether a property value holds the string s anywhere, secrets included.
func contains(v resource.PropertyValue, s string) bool {
	switch {
	case v.IsSecret():
		return contains(v.SecretValue().Element, s)
	case v.IsString():
		return v.StringValue() == s
	case v.IsArray():
		return slices.ContainsFunc(v.ArrayValue(), func(e resource.PropertyValue) bool { return contains(e, s) })
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if contains(e, s) {
				return true
			}
		}
	}
	return false
}

// TestAWSEveryIAMPolicyIsADependencyOfWhatAssumesItsRole: whatever uses an IAM role of the base
// layer (the control plane, the node groups, the add-ons, the autoscaler) waits for every policy
// of that role, so it never starts without its permissions and a destroy detaches them only
// after it is gone.
func TestAWSEveryIAMPolicyIsADependencyOfWhatAssumesItsRole(t *testing.T) {
	for _, tt := range awsStacks {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			root := m.ofType(componentType[platform.CloudAWS])[0].URN
			roles := map[string]Recorded{} // role name → role
			for _, r := range m.ofType("aws:iam/role:Role") {
				roles[r.Outputs["name"].StringValue()] = r
			}
			consumers := map[string]int{}
			for _, typ := range []string{"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy"} {
				for _, att := range m.ofType(typ) {
					role, ok := roles[propStr(att.Inputs["role"])]
					require.Truef(t, ok, "%s %s names no role of the stack", typ, att.Name)
					arn := role.Outputs["arn"].StringValue()
					for _, r := range m.resources {
						if r.URN == role.URN || r.URN == att.URN || !isBelow(m, r, root) || !contains(resource.NewObjectProperty(r.Inputs), arn) {
							continue
						}
						consumers[r.Type]++
						assert.Containsf(t, r.Deps, att.URN, "%s %s assumes role %s but does not wait for %s", r.Type, r.Name, role.Name, att.Name)
					}
				}
			}
			// The roles are really used: by the cluster, every node group, the IRSA add-ons and the
			// autoscaler's chart.
			assert.Positive(t, consumers["aws:eks/cluster:Cluster"])
			assert.Positive(t, consumers["aws:eks/nodeGroup:NodeGroup"])
			assert.Positive(t, consumers["aws:eks/addon:Addon"])
			assert.Positive(t, consumers[helmChartType])
		})
	}
}

// TestEKSEnforcesNetworkPolicies: the VPC CNI add-on runs its network policy agent, so the
// NetworkPolicies the platform writes are enforced on EKS.
func TestEKSEnforcesNetworkPolicies(t *testing.T) {
	for _, tt := range awsStacks {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			cni := m.byName(t, "aws:eks/addon:Addon", "groundwork-"+tt.stack+"-vpc-cni")
			var values map[string]any
			require.NoError(t, json.Unmarshal([]byte(propStr(cni.Inputs["configurationValues"])), &values), "vpc-cni configuration values are JSON")
			assert.Equal(t, "true", values["enableNetworkPolicy"], "the VPC CNI's network policy agent is on")
			assert.NotEmpty(t, m.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy"), "the platform writes network policies for it to enforce")
		})
	}
}

// TestEKSAPIIsReachableFromTheDeployHost: the program's Kubernetes provider runs on the deploy
// host, so the API admits it by configuration: from the internet for publicAccessCidrs only, or
// on the private endpoint from the named connected networks.
func TestEKSAPIIsReachableFromTheDeployHost(t *testing.T) {
	tests := []struct {
		name          string
		aws           map[string]any
		public        bool
		publicCIDRs   []string
		privateCIDRs  []string
		wantAPIIngres []string
	}{
		{"public ranges", map[string]any{"publicAccessCidrs": []string{"198.51.100.0/24"}}, true, []string{"198.51.100.0/24"}, nil, []string{"10.20.0.0/16"}},
		{"a runner in a connected network", map[string]any{"publicAccessCidrs": []string{}, "privateAccessCidrs": []string{"172.31.0.0/16"}}, false, nil, []string{"172.31.0.0/16"}, []string{"10.20.0.0/16", "172.31.0.0/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			cfg["groundwork:cloud"] = platform.CloudAWS
			for k, v := range tt.aws {
				setObject(t, cfg, "groundwork:aws", k, v)
			}
			m, err := run(t, "dev", cfg, nil, platform.Run)
			require.NoError(t, err)
			eks := m.byName(t, "aws:eks/cluster:Cluster", "groundwork-dev-eks")
			assert.True(t, get(eks.Inputs, "vpcConfig.endpointPrivateAccess").BoolValue())
			assert.Equal(t, tt.public, get(eks.Inputs, "vpcConfig.endpointPublicAccess").BoolValue())
			assert.Equal(t, tt.publicCIDRs, strs(get(eks.Inputs, "vpcConfig.publicAccessCidrs")))
			api := m.byName(t, "aws:ec2/securityGroup:SecurityGroup", "groundwork-dev-api")
			assert.Contains(t, strs(get(eks.Inputs, "vpcConfig.securityGroupIds")), fakeID("sg-", api.Name, 17), "the API security group is on the endpoint")
			var admitted []string
			for _, rule := range get(api.Inputs, "ingress").ArrayValue() {
				o := rule.ObjectValue()
				require.Equal(t, 443.0, o["fromPort"].NumberValue())
				admitted = append(admitted, strs(o["cidrBlocks"])...)
			}
			assert.ElementsMatch(t, tt.wantAPIIngres, admitted)
		})
	}
}

// TestRenderModeNeedsNoRouteToTheAPI: a private-only cluster is fine when the Kubernetes layer is
// rendered for a GitOps controller instead of applied.
func TestRenderModeNeedsNoRouteToTheAPI(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = platform.CloudAWS
	setObject(t, cfg, "groundwork:aws", "publicAccessCidrs", []string{})
	setObject(t, cfg, "groundwork:kubernetes", "renderTo", t.TempDir())
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.NoError(t, err)
	eks := m.byName(t, "aws:eks/cluster:Cluster", "groundwork-dev-eks")
	assert.False(t, get(eks.Inputs, "vpcConfig.endpointPublicAccess").BoolValue())
}

// TestAWSNoFixedNameBlocksAReplacement: a resource whose change can replace it either gets a
// generated name (a prefix) or, where a name must be fixed, is deleted before its replacement is
// created, so the two never collide on the name.
func TestAWSNoFixedNameBlocksAReplacement(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:servicesDir"] = "services"
	cfg["groundwork:images"] = `{"version":"v1.4.2"}`
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	// The name input of each type whose other inputs can force a replacement.
	nameInput := map[string]string{
		"aws:eks/cluster:Cluster":                                           "name",
		"aws:eks/nodeGroup:NodeGroup":                                       "nodeGroupName",
		"aws:msk/cluster:Cluster":                                           "clusterName",
		"aws:msk/configuration:Configuration":                               "name",
		"aws:secretsmanager/secret:Secret":                                  "name",
		"aws:rds/instance:Instance":                                         "identifier",
		"aws:elasticache/replicationGroup:ReplicationGroup":                 "replicationGroupId",
		"aws:launchTemplate:LaunchTemplate":                                 "name",
		"aws:ec2/launchTemplate:LaunchTemplate":                             "name",
		"aws:ec2/securityGroup:SecurityGroup":                               "name",
		"aws:rds/subnetGroup:SubnetGroup":                                   "name",
		"aws:elasticache/subnetGroup:SubnetGroup":                           "name",
		"aws:iam/role:Role":                                                 "name",
		"aws:s3/bucketV2:BucketV2":                                          "bucket",
		"aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation": "",
	}
	seen := map[string]int{}
	for _, r := range m.resources {
		field, ok := nameInput[r.Type]
		if !ok || field == "" {
			continue
		}
		seen[r.Type]++
		if propStr(r.Inputs[resource.PropertyKey(field)]) != "" {
			assert.Truef(t, r.DeleteBeforeReplace, "%s %s has the fixed name %q but is replaced create-first", r.Type, r.Name, propStr(r.Inputs[resource.PropertyKey(field)]))
		}
	}
	for _, typ := range []string{"aws:eks/nodeGroup:NodeGroup", "aws:msk/configuration:Configuration", "aws:secretsmanager/secret:Secret", "aws:rds/instance:Instance", "aws:eks/cluster:Cluster", "aws:msk/cluster:Cluster"} {
		assert.Positivef(t, seen[typ], "prod creates a %s", typ)
	}
	// MSK takes SCRAM secrets only under its prefix: the generated names keep it.
	for _, s := range m.ofType("aws:secretsmanager/secret:Secret") {
		assert.True(t, strings.HasPrefix(propStr(s.Outputs["name"]), "AmazonMSK_"), s.Name)
	}
}

// TestClusterAutoscalerScalesTheNodeGroups: the autoscaler is installed from a pinned chart whose
// release matches the cluster's Kubernetes minor, discovers exactly the tags the node groups
// carry, runs as a service account its IAM role trusts, and that role may resize only this
// cluster's groups.
func TestClusterAutoscalerScalesTheNodeGroups(t *testing.T) {
	for _, tt := range awsStacks {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			prefix := "groundwork-" + tt.stack
			eks := m.byName(t, "aws:eks/cluster:Cluster", prefix+"-eks")
			cluster := propStr(eks.Inputs["name"])
			ca := m.byName(t, helmChartType, prefix+"-cluster-autoscaler")
			assert.Equal(t, "cluster-autoscaler", propStr(ca.Inputs["chart"]))
			assert.Regexp(t, `^\d+\.\d+\.\d+$`, propStr(ca.Inputs["version"]), "an exact chart version")
			assert.Equal(t, "kube-system", propStr(ca.Inputs["namespace"]))
			v := get(ca.Inputs, "values")
			tag := propStr(get(v.ObjectValue(), "image.tag"))
			assert.Truef(t, strings.HasPrefix(tag, "v"+propStr(eks.Inputs["version"])+"."), "autoscaler %s does not match Kubernetes %s", tag, propStr(eks.Inputs["version"]))
			assert.Equal(t, cluster, propStr(get(v.ObjectValue(), "autoDiscovery.clusterName")))
			assert.Equal(t, "aws", propStr(get(v.ObjectValue(), "cloudProvider")))
			assert.Equal(t, "eu-west-1", propStr(get(v.ObjectValue(), "awsRegion")))
			if tt.stack == "prod" {
				// Two replicas (one leads), in two zones where they can: a zone's loss leaves one.
				assert.Equal(t, 2.0, get(v.ObjectValue(), "replicaCount").NumberValue())
				spread := get(v.ObjectValue(), "topologySpreadConstraints").ArrayValue()
				if assert.Len(t, spread, 1, "prod's autoscaler replicas spread over zones") {
					assert.Equal(t, "topology.kubernetes.io/zone", propStr(get(spread[0].ObjectValue(), "topologyKey")))
				}
			}

			// Scale-down is on and waits before removing a node.
			args := get(v.ObjectValue(), "extraArgs").ObjectValue()
			assert.Equal(t, "true", propStr(args["scale-down-enabled"]))
			assert.NotEmpty(t, propStr(args["scale-down-unneeded-time"]))
			assert.NotEmpty(t, propStr(args["scale-down-delay-after-add"]))

			// Its service account assumes the role whose trust names exactly that account.
			sa := propStr(get(v.ObjectValue(), "rbac.serviceAccount.name"))
			roleARN := propStr(get(v.ObjectValue(), "rbac.serviceAccount.annotations").ObjectValue()[infra.RoleAnnotation])
			var role Recorded
			for _, r := range m.ofType("aws:iam/role:Role") {
				if r.Outputs["arn"].StringValue() == roleARN {
					role = r
				}
			}
			require.NotEmpty(t, role.Name, "the service account's role %q is a role of the stack", roleARN)
			assert.Contains(t, propStr(role.Inputs["assumeRolePolicy"]), `"system:serviceaccount:kube-system:`+sa+`"`)

			// The role resizes only groups carrying the discovery tags with this cluster's name,
			// and every node group carries them.
			var policy struct {
				Statement []struct {
					Action    any
					Condition map[string]map[string]string
				}
			}
			for _, p := range m.ofType("aws:iam/rolePolicy:RolePolicy") {
				if propStr(p.Inputs["role"]) == role.Outputs["name"].StringValue() {
					require.NoError(t, json.Unmarshal([]byte(propStr(p.Inputs["policy"])), &policy))
				}
			}
			var resizeConditions map[string]string
			for _, s := range policy.Statement {
				if fmt.Sprint(s.Action) == "[autoscaling:SetDesiredCapacity autoscaling:TerminateInstanceInAutoScalingGroup]" {
					resizeConditions = s.Condition["StringEquals"]
				}
			}
			require.NotNil(t, resizeConditions, "the role may resize groups only under a condition")
			groups := m.ofType("aws:eks/nodeGroup:NodeGroup")
			require.NotEmpty(t, groups)
			for _, g := range groups {
				tags := get(g.Inputs, "tags").ObjectValue()
				for k, want := range resizeConditions {
					tagKey := strings.TrimPrefix(k, "aws:ResourceTag/")
					assert.Equalf(t, want, propStr(tags[resource.PropertyKey(tagKey)]), "node group %s tag %s", g.Name, tagKey)
				}
				assert.Equal(t, "owned", propStr(tags[resource.PropertyKey("k8s.io/cluster-autoscaler/"+cluster)]), g.Name)
				// The autoscaler owns the current size; Pulumi does not reset it.
				assert.Contains(t, g.IgnoreChanges, "scalingConfig.desiredSize", g.Name)
				assert.Containsf(t, ca.Deps, g.URN, "the autoscaler waits for node group %s", g.Name)
			}
		})
	}
}

// TestEKSAdminAccessHasOneEntryPerPrincipal: the deploying role and the admin roles each get one
// access entry, even when the deploying role is also listed as an admin, and the cluster makes
// no bootstrap entry that would collide with them.
func TestEKSAdminAccessHasOneEntryPerPrincipal(t *testing.T) {
	cfg := stackConfig(t, "prod")
	setObject(t, cfg, "groundwork:aws", "adminRoleArns", []string{"arn:aws:iam::123456789012:role/platform-admin", deployerRole})
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	eks := m.byName(t, "aws:eks/cluster:Cluster", "groundwork-prod-eks")
	assert.False(t, get(eks.Inputs, "accessConfig.bootstrapClusterCreatorAdminPermissions").BoolValue(), "no hidden bootstrap entry")
	var principals []string
	for _, e := range m.ofType("aws:eks/accessEntry:AccessEntry") {
		principals = append(principals, propStr(e.Inputs["principalArn"]))
	}
	assert.ElementsMatch(t, []string{"arn:aws:iam::123456789012:role/platform-admin", deployerRole}, principals, "one entry per principal; the deployer by its role, path included")
	// The Kubernetes provider acts as the deployer: it waits for the deployer's admin policy.
	provider := m.byName(t, "pulumi:providers:kubernetes", "groundwork-prod-k8s")
	for _, a := range m.ofType("aws:eks/accessPolicyAssociation:AccessPolicyAssociation") {
		if propStr(a.Inputs["principalArn"]) == deployerRole {
			assert.Contains(t, provider.Deps, a.URN)
		}
	}
}

// TestEKSKubeconfigSignsAsTheAWSProvider: the kubeconfig's token comes from the same profile and
// role the AWS provider deploys with, so it names the principal that holds the access entry.
func TestEKSKubeconfigSignsAsTheAWSProvider(t *testing.T) {
	tests := []struct {
		name        string
		profile     string
		assumeRole  string
		wantEnv     []any
		wantRoleArg bool
	}{
		{"default credentials", "", "", nil, false},
		{"profile and assumed role", "platform", `{"roleArn":"arn:aws:iam::123456789012:role/deploy/ci-deployer","sessionName":"pulumi"}`,
			[]any{map[string]any{"name": "AWS_PROFILE", "value": "platform"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			if tt.profile != "" {
				cfg["aws:profile"] = tt.profile
			}
			if tt.assumeRole != "" {
				cfg["aws:assumeRole"] = tt.assumeRole
			}
			clusterOf(t, "prod", cfg, nil, func(ctx context.Context, c infra.Cluster) {
				var kc struct {
					Users []struct {
						User struct {
							Exec struct {
								Command string
								Args    []string
								Env     []any
							}
						}
					}
				}
				require.NoError(t, json.Unmarshal([]byte(await(t, ctx, c.Kubeconfig()).Value.(string)), &kc))
				exec := kc.Users[0].User.Exec
				assert.Equal(t, "aws", exec.Command)
				assert.Equal(t, tt.wantEnv, exec.Env)
				i := slices.Index(exec.Args, "--role-arn")
				if !tt.wantRoleArg {
					assert.Equal(t, -1, i, "no role to assume")
					return
				}
				require.GreaterOrEqual(t, i, 0)
				assert.Equal(t, deployerRole, exec.Args[i+1])
			})
		})
	}
}

// TestAWSS3TrafficSkipsTheNATGateways: every private route table sends S3 (buckets, ECR layers)
// through the free gateway endpoint.
func TestAWSS3TrafficSkipsTheNATGateways(t *testing.T) {
	for _, tt := range awsStacks {
		t.Run(tt.name, func(t *testing.T) {
			m, err := run(t, tt.stack, tt.config(t), nil, platform.Run)
			require.NoError(t, err)
			eps := m.ofType("aws:ec2/vpcEndpoint:VpcEndpoint")
			require.Len(t, eps, 1)
			ep := eps[0]
			assert.Equal(t, "Gateway", propStr(ep.Inputs["vpcEndpointType"]))
			assert.Equal(t, "com.amazonaws.eu-west-1.s3", propStr(ep.Inputs["serviceName"]))
			var private []string
			for _, rt := range m.ofType("aws:ec2/routeTable:RouteTable") {
				if strings.Contains(rt.Name, "-private-") {
					private = append(private, fakeID("rtb-", rt.Name, 17))
				}
			}
			assert.NotEmpty(t, private)
			assert.ElementsMatch(t, private, strs(ep.Inputs["routeTableIds"]))
		})
	}
}

// TestEKSLogTypesAndUpgradePolicyFollowTheConfig: the control-plane logs kept are the configured
// ones, none when the list is empty, and the upgrade policy is the configured one.
func TestEKSLogTypesAndUpgradePolicyFollowTheConfig(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]any
		logs    []string
		upgrade string
	}{
		{"defaults", nil, []string{"audit", "authenticator"}, "EXTENDED"},
		{"every log, standard support", map[string]any{"controlPlaneLogs": []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}, "upgradePolicy": "STANDARD"},
			[]string{"api", "audit", "authenticator", "controllerManager", "scheduler"}, "STANDARD"},
		{"no logs", map[string]any{"controlPlaneLogs": []string{}}, nil, "EXTENDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			for k, v := range tt.set {
				setObject(t, cfg, "groundwork:aws", k, v)
			}
			m := clusterOf(t, "prod", cfg, nil, func(context.Context, infra.Cluster) {})
			eks := m.byName(t, "aws:eks/cluster:Cluster", "groundwork-prod-eks")
			assert.ElementsMatch(t, tt.logs, strs(get(eks.Inputs, "enabledClusterLogTypes")))
			assert.Equal(t, tt.upgrade, propStr(get(eks.Inputs, "upgradePolicy.supportType")))
		})
	}
}

// TestProdManagedDataSizesComeFromTheConfig: the sizes of RDS, ElastiCache and MSK are config
// keys, with production classes by default in prod.
func TestProdManagedDataSizesComeFromTheConfig(t *testing.T) {
	tests := []struct {
		name              string
		data              string
		rds, cache, kafka string
		brokers           float64
	}{
		{"prod defaults", `{"managed":true}`, "db.m7g.large", "cache.m7g.large", "kafka.m7g.large", 3},
		{"configured", `{"managed":true,"rds":{"instanceClass":"db.r7g.xlarge"},"elastiCache":{"nodeType":"cache.r7g.large"},"msk":{"instanceType":"kafka.m7g.xlarge","brokers":6}}`,
			"db.r7g.xlarge", "cache.r7g.large", "kafka.m7g.xlarge", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "prod")
			cfg["groundwork:data"] = tt.data
			cfg["groundwork:images"] = `{"version":"v1.4.2"}`
			m, err := run(t, "prod", cfg, nil, platform.Run)
			require.NoError(t, err)
			dbs := m.ofType("aws:rds/instance:Instance")
			require.NotEmpty(t, dbs)
			for _, db := range dbs {
				assert.Equal(t, tt.rds, propStr(db.Inputs["instanceClass"]), db.Name)
			}
			assert.Equal(t, tt.cache, propStr(m.ofType("aws:elasticache/replicationGroup:ReplicationGroup")[0].Inputs["nodeType"]))
			k := m.ofType("aws:msk/cluster:Cluster")[0]
			assert.Equal(t, tt.kafka, propStr(get(k.Inputs, "brokerNodeGroupInfo.instanceType")))
			assert.Equal(t, tt.brokers, k.Inputs["numberOfBrokerNodes"].NumberValue())
		})
	}
}

// rdsSnapshotName is a valid DB snapshot identifier: 1-255 letters, digits and hyphens, a letter
// first, no two hyphens in a row, no hyphen last (RDS API, CreateDBSnapshot).
var rdsSnapshotName = regexp.MustCompile(`^[A-Za-z](-?[A-Za-z0-9])*$`)

// TestRDSFollowsMinorUpgradesAndNamesEachFinalSnapshotAnew: RDS runs a major version and upgrades
// its minor itself, and the final snapshot's name changes whenever the instance is replaced, so
// a second delete never meets the first one's snapshot.
func TestRDSFollowsMinorUpgradesAndNamesEachFinalSnapshotAnew(t *testing.T) {
	cfg := stackConfig(t, "prod")
	cfg["groundwork:images"] = `{"version":"v1.4.2"}`
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)
	dbs := m.ofType("aws:rds/instance:Instance")
	require.NotEmpty(t, dbs)
	snapshots := map[string]bool{}
	for _, db := range dbs {
		assert.Regexp(t, `^\d+$`, propStr(db.Inputs["engineVersion"]), "%s pins a major only", db.Name)
		assert.True(t, db.Inputs["autoMinorVersionUpgrade"].BoolValue())
		snap := propStr(db.Inputs["finalSnapshotIdentifier"])
		assert.Falsef(t, db.Inputs["skipFinalSnapshot"].BoolValue(), "%s is deleted with a final snapshot", db.Name)
		assert.Regexp(t, rdsSnapshotName, snap)
		assert.LessOrEqual(t, len(snap), 255)
		assert.False(t, snapshots[snap], "snapshot names are unique")
		snapshots[snap] = true
		// The name's random part is made anew whenever an input that replaces the instance
		// changes: the random ID keeps exactly those inputs, with the instance's values.
		var id Recorded
		for _, r := range m.ofType("random:index/randomId:RandomId") {
			if strings.HasSuffix(snap, "-"+r.Outputs["hex"].StringValue()) {
				id = r
			}
		}
		require.NotEmptyf(t, id.Name, "%s's snapshot name %q carries no random ID", db.Name, snap)
		keepers := get(id.Inputs, "keepers").ObjectValue()
		for _, force := range []string{"engine", "dbName", "username", "storageEncrypted"} {
			assert.Equalf(t, fmt.Sprint(db.Inputs[resource.PropertyKey(force)].V), propStr(keepers[resource.PropertyKey(force)]), "%s keeper %s", db.Name, force)
		}
	}
}
