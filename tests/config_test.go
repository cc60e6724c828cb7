package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/infra/openstack"
	"github.com/groundwork/groundwork/platform"
)

func source(stack string, cfg map[string]string, secret ...string) platform.Source {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	return platform.Source{
		Stack:    stack,
		Get:      func(k string) (string, bool) { v, ok := cfg[k]; return v, ok },
		IsSecret: func(k string) bool { return slices.Contains(secret, k) },
		Keys:     keys,
	}
}

func TestStackFilesParse(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			cfg, err := platform.Parse(source(stack, stackConfig(t, stack)))
			require.NoError(t, err)
			assert.Equal(t, "groundwork-"+stack, cfg.ClusterName)
			assert.Equal(t, "services", cfg.ServicesDir)
		})
	}
}

func TestDefaultsDependOnTheEnvironment(t *testing.T) {
	tests := []struct {
		env                    string
		zones, masters, minSys int
		nat                    string
	}{
		{env: "dev", zones: 2, masters: 1, minSys: 1, nat: "single"},
		{env: "prod", zones: 3, masters: 3, minSys: 3, nat: "perZone"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			cfg, err := platform.Parse(source("s", map[string]string{
				"groundwork:cloud": "aws", "groundwork:environment": tt.env, "groundwork:owner": "team", "aws:region": "eu-west-1",
				"groundwork:data": `{"managed":true}`, "groundwork:aws": `{"publicAccessCidrs":["203.0.113.0/24"]}`,
				"groundwork:edge":     `{"domain":"api.example.com","tls":{"mode":"acme-http01","email":"oncall@example.com"}}`,
				"groundwork:alerting": `{"receivers":[{"name":"oncall","email":{"to":"oncall@example.com","from":"am@example.com","smarthost":"smtp.example.com:587"}}],"routes":{"critical":["oncall"]}}`,
			}))
			require.NoError(t, err)
			assert.Equal(t, "https://acme-v02.api.letsencrypt.org/directory", cfg.Edge.TLS.Server, "Let's Encrypt's production directory by default")
			assert.Equal(t, tt.zones, cfg.AWS.ZoneCount)
			assert.Equal(t, tt.nat, cfg.AWS.NatGateways)
			assert.Equal(t, tt.masters, cfg.OpenStack.MasterCount)
			assert.Equal(t, tt.minSys, *cfg.NodeGroups[0].MinSize)
			assert.Equal(t, []string{"10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"}[:tt.zones], cfg.AWS.PrivateSubnets)
			assert.Equal(t, []string{"10.0.192.0/22", "10.0.196.0/22", "10.0.200.0/22"}[:tt.zones], cfg.AWS.PublicSubnets)
			assert.Equal(t, platform.OpenStackNetworks{API: "10.0.0.0/24", Management: "10.0.1.0/24", Internal: "10.0.16.0/20"}, cfg.OpenStack.Networks)
			// The control plane stays on the pinned minor until the stack upgrades it, and keeps
			// the logs an incident review needs.
			assert.Equal(t, "EXTENDED", cfg.AWS.UpgradePolicy)
			assert.ElementsMatch(t, []string{"audit", "authenticator"}, cfg.AWS.ControlPlaneLogs)
			// Brokers fill every client subnet evenly; prod holds three replicas.
			assert.Zero(t, cfg.Data.MSK.Brokers%min(tt.zones, 3))
			if tt.env == "prod" {
				assert.GreaterOrEqual(t, cfg.Data.MSK.Brokers, 3)
				// Production data stores never run on burstable (t-family) instances.
				for _, class := range []string{cfg.Data.RDS.InstanceClass, cfg.Data.ElastiCache.NodeType, cfg.Data.MSK.InstanceType} {
					family := strings.SplitN(class, ".", 3)[1]
					assert.Falsef(t, strings.HasPrefix(family, "t"), "prod default %s is burstable", class)
				}
			}
		})
	}
}

// TestMSKBrokersAreAMultipleOfClientSubnetsForEveryZoneCount: MSK spreads brokers evenly over two
// or three client subnets, so a stack over any number of zones is accepted exactly when its
// broker count fills the subnets MSK uses evenly, and otherwise fails before anything is built.
func TestMSKBrokersAreAMultipleOfClientSubnetsForEveryZoneCount(t *testing.T) {
	for zones := 2; zones <= 6; zones++ {
		for brokers := 1; brokers <= 9; brokers++ {
			t.Run(fmt.Sprintf("%d zones %d brokers", zones, brokers), func(t *testing.T) {
				var pub, priv []string
				for i := range zones {
					priv = append(priv, fmt.Sprintf("10.0.%d.0/20", i*16))
					pub = append(pub, fmt.Sprintf("10.0.%d.0/24", 128+i))
				}
				awsCfg, _ := json.Marshal(map[string]any{"zoneCount": zones, "publicSubnets": pub, "privateSubnets": priv, "publicAccessCidrs": []string{"203.0.113.0/24"}})
				cfg, err := platform.Parse(source("s", map[string]string{
					"groundwork:cloud": "aws", "groundwork:environment": "dev", "groundwork:owner": "team", "aws:region": "eu-west-1",
					"groundwork:aws": string(awsCfg), "groundwork:data": fmt.Sprintf(`{"managed":true,"msk":{"brokers":%d}}`, brokers),
				}))
				subnets := min(zones, 3)
				if brokers%subnets == 0 {
					require.NoError(t, err)
					assert.Equal(t, brokers, cfg.Data.MSK.Brokers)
					return
				}
				require.EqualError(t, err, fmt.Sprintf("groundwork:data.msk.brokers: %d is not a multiple of the %d client subnets MSK spreads brokers over (the first %d of aws.zoneCount %d); allowed: %d, %d, %d, ...",
					brokers, subnets, subnets, zones, subnets, 2*subnets, 3*subnets))
			})
		}
	}
}

// allKeys is the list the unknown-key error names.
const allKeys = "cloud, environment, owner, clusterName, servicesDir, kubernetes, network, nodeGroups, aws, openstack, existing, registry, charts, images, data, observability, services, alerting, edge, kubeconfig"

func TestBadConfigGetsOneClearErrorPerProblem(t *testing.T) {
	tests := []struct {
		name   string
		stack  string
		change func(t *testing.T, c map[string]string)
		secret []string
		want   string
	}{
		{
			name:   "unknown cloud",
			change: func(t *testing.T, c map[string]string) { c["groundwork:cloud"] = "azure" },
			want:   `groundwork:cloud: "azure" is not allowed; allowed: aws, openstack, existing`,
		},
		{
			name:   "missing cloud",
			change: func(t *testing.T, c map[string]string) { delete(c, "groundwork:cloud") },
			want:   `groundwork:cloud: required; allowed: aws, openstack, existing`,
		},
		{
			name:   "not a CIDR",
			change: func(t *testing.T, c map[string]string) { setObject(t, c, "groundwork:network", "cidr", "10.0.0.0/33") },
			want:   `groundwork:network.cidr: "10.0.0.0/33" is not a CIDR`,
		},
		{
			name:   "host bits set",
			change: func(t *testing.T, c map[string]string) { setObject(t, c, "groundwork:network", "cidr", "10.20.0.1/16") },
			want:   `groundwork:network.cidr: "10.20.0.1/16" has host bits set; did you mean "10.20.0.0/16"?`,
		},
		{
			name: "overlapping OpenStack networks",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:openstack", "networks", map[string]string{"api": "10.20.0.0/24", "management": "10.20.0.128/25", "internal": "10.20.16.0/20"})
			},
			want: `groundwork:openstack.networks.management: "10.20.0.128/25" overlaps groundwork:openstack.networks.api "10.20.0.0/24"`,
		},
		{
			name: "OpenStack network outside the stack range",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:openstack", "networks", map[string]string{"api": "10.20.0.0/24", "management": "10.20.1.0/24", "internal": "10.99.0.0/20"})
			},
			want: `groundwork:openstack.networks.internal: "10.99.0.0/20" is outside network.cidr "10.20.0.0/16"`,
		},
		{
			name:  "overlapping AWS subnets",
			stack: "prod",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:aws", "publicSubnets", []string{"10.40.0.0/24", "10.40.1.0/24", "10.40.2.0/24"})
				setObject(t, c, "groundwork:aws", "privateSubnets", []string{"10.40.64.0/18", "10.40.128.0/18", "10.40.2.0/23"})
			},
			want: `groundwork:aws.privateSubnets[2]: "10.40.2.0/23" overlaps groundwork:aws.publicSubnets[2] "10.40.2.0/24"`,
		},
		{
			name:  "subnet count not one per zone",
			stack: "prod",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:aws", "publicSubnets", []string{"10.40.0.0/24", "10.40.1.0/24"})
				setObject(t, c, "groundwork:aws", "privateSubnets", []string{"10.40.64.0/18", "10.40.128.0/18", "10.40.192.0/18"})
			},
			want: `groundwork:aws.publicSubnets: has 2 entries; want one per zone (aws.zoneCount 3)`,
		},
		{
			name: "one zone on EKS",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:aws", "zoneCount", 1)
			},
			want: `groundwork:aws.zoneCount: 1 is out of range; EKS needs 2 to 6 zones`,
		},
		{
			name: "node counts out of order",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:nodeGroups"] = `[{"name":"general","minSize":3,"desiredSize":2,"maxSize":6}]`
			},
			want: `groundwork:nodeGroups[0]: minSize 3 <= desiredSize 2 <= maxSize 6 does not hold`,
		},
		{
			name:   "node group without bounds",
			change: func(t *testing.T, c map[string]string) { c["groundwork:nodeGroups"] = `[{"name":"general"}]` },
			want: "groundwork:nodeGroups[0]: minSize and maxSize are required (desiredSize defaults to minSize)\n" +
				"groundwork:nodeGroups: needs a node group without NoSchedule/NoExecute taints and minSize >= 1 for system pods",
		},
		{
			name:  "prod on AWS without HA: every problem at once",
			stack: "prod",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:nodeGroups"] = `[{"name":"general","minSize":1,"maxSize":6}]`
				setObject(t, c, "groundwork:aws", "zoneCount", 2)
				setObject(t, c, "groundwork:aws", "natGateways", "single")
				setObject(t, c, "groundwork:aws", "publicAccessCidrs", []string{"0.0.0.0/0"})
			},
			want: "groundwork:nodeGroups: prod needs a node group without NoSchedule/NoExecute taints and minSize >= 2, so system pods and replicas have nodes in every zone\n" +
				"groundwork:aws.zoneCount: 2: prod needs 3 zones or more for high availability\n" +
				`groundwork:aws.natGateways: "single": prod needs "perZone" so that losing a zone does not cut the others off` + "\n" +
				`groundwork:aws.publicAccessCidrs[0]: "0.0.0.0/0" opens the Kubernetes API to the whole internet; prod allows only named ranges (or none: private endpoint only)` + "\n" +
				// prod's 3 brokers no longer fill two client subnets evenly.
				`groundwork:data.msk.brokers: 3 is not a multiple of the 2 client subnets MSK spreads brokers over (the first 2 of aws.zoneCount 2); allowed: 2, 4, 6, ...`,
		},
		{
			name:  "prod on OpenStack without HA",
			stack: "prod",
			change: func(t *testing.T, c map[string]string) {
				onOpenStack(t, c)
				setObject(t, c, "groundwork:openstack", "masterCount", 1)
				setObject(t, c, "groundwork:openstack", "routerHA", false)
			},
			want: "groundwork:openstack.masterCount: 1: prod needs 3 or 5 control-plane nodes for an etcd quorum that survives a node loss\n" +
				"groundwork:openstack.routerHA: false: prod needs highly available routers so a network node failure does not cut the cluster off; a project cannot ask for one (Neutron's create_router:ha is admin-only): run prod on a cloud whose operator sets l3_ha = True and declare it with routerHA: true",
		},
		{
			name: "API floating IP admitting only the stack's own network",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:openstack", "apiAllowedCidrs", []string{"10.20.0.0/16"})
			},
			want: `groundwork:openstack.apiAllowedCidrs: "10.20.0.0/16": with apiAccess "floatingIp" the deploy host reaches the API through its floating IP, which admits only these ranges and network.cidr "10.20.0.0/16"; list the deploy host's (and the Magnum Cluster API management cluster's) ranges, or set apiAccess "internal" when the deploy host runs on the stack's networks`,
		},
		{
			name: "API floating IP with no allowed ranges",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:openstack", "apiAllowedCidrs", []string{})
			},
			want: `groundwork:openstack.apiAllowedCidrs: required with apiAccess "floatingIp": the ranges the deploy host (and the Magnum Cluster API management cluster) reach the API's floating IP from, e.g. ["198.51.100.0/24"]; or set apiAccess "internal" when the deploy host runs on the stack's networks`,
		},
		{
			name:   "unknown API access",
			change: func(t *testing.T, c map[string]string) { setObject(t, c, "groundwork:openstack", "apiAccess", "vpn") },
			want:   `groundwork:openstack.apiAccess: "vpn" is not allowed; allowed: floatingIp, internal`,
		},
		{
			name:   "network inside the Cluster API driver's pod and Service ranges",
			change: func(t *testing.T, c map[string]string) { c["groundwork:network"] = `{"cidr":"172.16.0.0/16"}` },
			want:   `groundwork:network.cidr: "172.16.0.0/16" overlaps 172.16.0.0/12, the pod and Service ranges of Magnum's Cluster API driver; use a range outside it, e.g. 10.0.0.0/16`,
		},
		{
			name: "Magnum labels the driver ignores or Groundwork derives",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:openstack", "labels", map[string]string{
					"kube_tag": "v1.34.2", "availability_zone": "az1", "api_master_lb_allowed_cidrs": "0.0.0.0/0", "octavia_provider": "ovn",
				})
			},
			want: `groundwork:openstack.labels.api_master_lb_allowed_cidrs: "0.0.0.0/0": Groundwork sets this label from groundwork:openstack.apiAllowedCidrs; set that instead` + "\n" +
				`groundwork:openstack.labels.availability_zone: "az1": Magnum's Cluster API driver places no node in a zone (it reads no zone label); the cloud's scheduler does` + "\n" +
				`groundwork:openstack.labels.kube_tag: "v1.34.2": not a label Magnum's Cluster API driver reads, so it would be ignored; allowed: ` + strings.Join(openstack.DriverLabels, ", "),
		},
		{
			name: "flannel, which the driver's chart does not install",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:openstack", "networkDriver", "flannel")
			},
			want: `groundwork:openstack.networkDriver: "flannel" is not allowed; allowed: calico, cilium`,
		},
		{
			name:   "even master count",
			change: func(t *testing.T, c map[string]string) { setObject(t, c, "groundwork:openstack", "masterCount", 2) },
			want:   "groundwork:openstack.masterCount: 2 is not allowed; allowed: 1, 3, 5",
		},
		{
			name: "missing kubeconfig secret for an existing cluster",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "existing"
				c["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/16"]}`
			},
			want: "groundwork:kubeconfig: missing: cloud existing needs the cluster's kubeconfig, either as a secret (`pulumi config set --secret groundwork:kubeconfig < kubeconfig.yaml`) or as a file (groundwork:existing.kubeconfigPath)",
		},
		{
			name: "kubeconfig in plain text",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "existing"
				c["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/16"]}`
				c["groundwork:kubeconfig"] = "apiVersion: v1\nkind: Config\n"
			},
			want: "groundwork:kubeconfig: is stored in plain text; set it with `pulumi config set --secret groundwork:kubeconfig < kubeconfig`",
		},
		{
			name:   "typo in an object field",
			change: func(t *testing.T, c map[string]string) { c["groundwork:network"] = `{"cidrr":"10.20.0.0/16"}` },
			want:   `groundwork:network: unknown field "cidrr" (did you mean "cidr"?); allowed: cidr`,
		},
		{
			name:   "typo in a key",
			change: func(t *testing.T, c map[string]string) { c["groundwork:netwrok"] = `{"cidr":"10.20.0.0/16"}` },
			want:   `groundwork:netwrok: unknown key (did you mean "network"?); Groundwork reads: ` + allKeys,
		},
		{
			name:   "wrong type",
			change: func(t *testing.T, c map[string]string) { setObject(t, c, "groundwork:aws", "zoneCount", "three") },
			want:   `groundwork:aws.zoneCount: got a JSON string, want an integer`,
		},
		{
			name:   "short Kubernetes version",
			change: func(t *testing.T, c map[string]string) { c["groundwork:kubernetes"] = `{"version":"1.34"}` },
			want:   `groundwork:kubernetes.version: "1.34" is not a full Kubernetes version like "1.34.2"`,
		},
		{
			name: "service range inside the network",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:kubernetes"] = `{"version":"1.34.2","serviceCidr":"10.20.128.0/20"}`
			},
			want: `groundwork:kubernetes.serviceCidr: "10.20.128.0/20" overlaps network.cidr "10.20.0.0/16"`,
		},
		{
			name: "bad taint and labels on Magnum",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:nodeGroups"] = `[{"name":"general","minSize":1,"maxSize":3},{"name":"gpu","minSize":0,"maxSize":2,"taints":[{"key":"gpu","effect":"NoScheduling"}]}]`
			},
			want: `groundwork:nodeGroups[1].taints[0].effect: "NoScheduling" is not allowed; allowed: NoSchedule, PreferNoSchedule, NoExecute` + "\n" +
				"groundwork:nodeGroups[1].minSize: 0: Magnum's Cluster API driver cannot scale a node group from zero; allowed on cloud openstack: 1 or more\n" +
				"groundwork:nodeGroups[1]: labels and taints are not supported by Magnum node groups; select nodes by the label the driver's chart sets, capi.stackhpc.com/node-group=gpu, instead",
		},
		{
			name:   "no registry on OpenStack",
			change: func(t *testing.T, c map[string]string) { delete(c, "groundwork:registry") },
			want:   `groundwork:registry.server: required on cloud openstack: the registry images of services/ are pushed to, e.g. "registry.example.com/groundwork"`,
		},
		{
			name: "EKS API unreachable from the deploy host",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:aws", "publicAccessCidrs", []string{})
			},
			want: "groundwork:aws.publicAccessCidrs: empty, and so is aws.privateAccessCidrs: the EKS API would be private, and the deploy host running `pulumi up` could not reach it to apply the platform; " +
				`set publicAccessCidrs to the deploy host's public range (e.g. ["203.0.113.10/32"]), or privateAccessCidrs to the network it deploys from inside or connected to the VPC (a runner in the VPC: network.cidr "10.20.0.0/16"), ` +
				"or kubernetes.renderTo to write the Kubernetes objects for a GitOps controller instead",
		},
		{
			name: "private access from everywhere",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:aws", "privateAccessCidrs", []string{"0.0.0.0/0"})
			},
			want: `groundwork:aws.privateAccessCidrs[0]: "0.0.0.0/0" is every address; name the connected networks (VPN, peered VPC) a deploy host runs in`,
		},
		{
			name: "control-plane log type and upgrade policy",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:aws", "controlPlaneLogs", []string{"audit", "audits", "audit"})
				setObject(t, c, "groundwork:aws", "upgradePolicy", "LTS")
			},
			want: `groundwork:aws.controlPlaneLogs[1]: "audits" is not an EKS control-plane log type; allowed: api, audit, authenticator, controllerManager, scheduler` + "\n" +
				`groundwork:aws.controlPlaneLogs[2]: "audit" is listed twice` + "\n" +
				`groundwork:aws.upgradePolicy: "LTS" is not allowed; allowed: EXTENDED, STANDARD`,
		},
		{
			name: "VPC CNI too old for network policies",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:aws", "addonVersions", map[string]string{"vpc-cni": "v1.13.4-eksbuild.1"})
			},
			want: `groundwork:aws.addonVersions.vpc-cni: "v1.13.4-eksbuild.1" is older than v1.14.0, the first VPC CNI that enforces NetworkPolicy objects; allowed: v1.14.0-eksbuild.1 or newer`,
		},
		{
			name:  "burstable managed data stores in prod",
			stack: "prod",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:data"] = `{"managed":true,"rds":{"instanceClass":"db.t4g.micro","allocatedStorage":10},"elastiCache":{"nodeType":"m7g.large"},"msk":{"instanceType":"kafka.t3.small","volumeSize":0}}`
			},
			want: `groundwork:data.rds.instanceClass: "db.t4g.micro" is burstable (t family): prod needs a class with sustained CPU, e.g. "db.m7g.large"` + "\n" +
				`groundwork:data.elastiCache.nodeType: "m7g.large" is not a type like "cache.m7g.large"` + "\n" +
				`groundwork:data.msk.instanceType: "kafka.t3.small" is burstable (t family): prod needs a class with sustained CPU, e.g. "kafka.m7g.large"` + "\n" +
				"groundwork:data.rds.allocatedStorage: 10 GiB is out of range; RDS gp3 allows 20 to 65536",
		},
		{
			name: "assumed role with an external ID",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				c["aws:assumeRole"] = `{"roleArn":"arn:aws:iam::123456789012:role/deployer","externalId":"x-1"}`
			},
			want: "groundwork:cloud: aws:assumeRole.externalId is set: the kubeconfig's `aws eks get-token --role-arn` cannot pass an external ID; " +
				"put role_arn and external_id in an AWS CLI profile and set aws:profile to it instead of aws:assumeRole",
		},
		{
			// The README's switch of prod to OpenStack: with the cloud alone, the one thing left
			// is the spot burst group's zero minimum (the README raises its desiredSize 0 with it,
			// as a desiredSize below minSize is refused).
			name:   "prod switched to OpenStack by its cloud alone",
			stack:  "prod",
			change: func(t *testing.T, c map[string]string) { c["groundwork:cloud"] = "openstack" },
			want:   "groundwork:nodeGroups[1].minSize: 0: Magnum's Cluster API driver cannot scale a node group from zero; allowed on cloud openstack: 1 or more",
		},
		{
			name: "a misspelt EKS add-on",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:aws", "addonVersions", map[string]string{"vpc_cni": "v1.19.0-eksbuild.1"})
			},
			want: `groundwork:aws.addonVersions.vpc_cni: names no add-on Groundwork installs (did you mean "vpc-cni"?); allowed: vpc-cni, kube-proxy, coredns, aws-ebs-csi-driver`,
		},
		{
			name: "a Service range outside EKS's private blocks",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:kubernetes", "serviceCidr", "100.64.0.0/16")
			},
			want: `groundwork:kubernetes.serviceCidr: "100.64.0.0/16": EKS takes a Service range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, between /24 and /12`,
		},
		{
			name: "a Service range smaller than EKS's /24",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				setObject(t, c, "groundwork:kubernetes", "serviceCidr", "172.20.0.0/26")
			},
			want: `groundwork:kubernetes.serviceCidr: "172.20.0.0/26": EKS takes a Service range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, between /24 and /12`,
		},
		{
			name:  "an AWS subnet smaller than /28",
			stack: "prod",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:aws", "publicSubnets", []string{"10.40.0.0/24", "10.40.1.0/24", "10.40.2.0/29"})
				setObject(t, c, "groundwork:aws", "privateSubnets", []string{"10.40.64.0/18", "10.40.128.0/18", "10.40.192.0/18"})
			},
			want: `groundwork:aws.publicSubnets[2]: "10.40.2.0/29": AWS subnets are between /16 and /28`,
		},
		{
			name: "an EKS taint key over 63 characters",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:cloud"] = "aws"
				c["groundwork:nodeGroups"] = `[{"name":"general","minSize":1,"maxSize":3},{"name":"gpu","minSize":0,"maxSize":2,"taints":[{"key":"nodes.platform.example.com/` + strings.Repeat("x", 40) + `","effect":"NoSchedule"}]}]`
			},
			want: `groundwork:nodeGroups[1].taints[0].key: "nodes.platform.example.com/` + strings.Repeat("x", 40) + `" has 67 characters; EKS takes taint keys of at most 63`,
		},
		{
			name: "a pod range, which no cloud takes",
			change: func(t *testing.T, c map[string]string) {
				setObject(t, c, "groundwork:kubernetes", "podCidr", "10.100.0.0/16")
			},
			want: `groundwork:kubernetes.podCidr: "10.100.0.0/16": no cloud takes a pod range (openstack: Magnum's Cluster API driver gives pods 172.16.0.0/13; ` +
				`aws: the VPC CNI gives pods VPC addresses; existing: the cluster's own); remove the key`,
		},
		{
			// pulumi config set --secret groundwork:registry <password>, without --path: the
			// error must not print the password into the preview's log.
			name:   "a secret object set as a bare string",
			change: func(t *testing.T, c map[string]string) { c["groundwork:registry"] = "hunter2-registry-password" },
			secret: []string{"groundwork:registry"},
			want: "groundwork:registry: the secret value (not shown) is not an object in JSON " +
				"(set its fields one by one: `pulumi config set --secret --path groundwork:registry.<field> <value>`)",
		},
		{
			name: "a Magnum node group named like the cluster's own",
			change: func(t *testing.T, c map[string]string) {
				c["groundwork:nodeGroups"] = `[{"name":"general","minSize":1,"maxSize":3},{"name":"default-worker","minSize":1,"maxSize":2},{"name":"master","minSize":1,"maxSize":2}]`
			},
			want: "groundwork:nodeGroups[1].name: \"default-worker\" is taken on cloud openstack: Magnum names the cluster's own groups default-master and default-worker, and creates no group of role master\n" +
				"groundwork:nodeGroups[2].name: \"master\" is taken on cloud openstack: Magnum names the cluster's own groups default-master and default-worker, and creates no group of role master",
		},
		{
			name:   "no region on AWS",
			change: func(t *testing.T, c map[string]string) { c["groundwork:cloud"] = "aws"; delete(c, "aws:region") },
			want:   "groundwork:cloud: aws needs the region: set aws:region (e.g. `pulumi config set aws:region eu-west-1`)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack := tt.stack
			if stack == "" {
				stack = "dev"
			}
			cfg := stackConfig(t, stack)
			tt.change(t, cfg)
			got, err := platform.Parse(source(stack, cfg, tt.secret...))
			require.Nil(t, got)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestExistingClusterTakesASecretKubeconfig(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = "existing"
	cfg["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/16"]}`
	cfg["groundwork:kubeconfig"] = magnumKubeconfig("kind-groundwork", "https://127.0.0.1:6443")
	m, err := run(t, "dev", cfg, []string{"groundwork:kubeconfig"}, platform.Run)
	require.NoError(t, err)
	p := m.byName(t, "pulumi:providers:kubernetes", "groundwork-dev-k8s")
	require.True(t, p.Inputs["kubeconfig"].IsSecret())
	assert.Equal(t, cfg["groundwork:kubeconfig"], p.Inputs["kubeconfig"].SecretValue().Element.StringValue())
	assert.Empty(t, m.ofType("kubernetes:storage.k8s.io/v1:StorageClass"), "an existing cluster keeps its own storage classes")
}

func TestExistingClusterKubeconfigFileMustExist(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = "existing"
	cfg["groundwork:existing"] = `{"kubeconfigPath":"/nonexistent/kubeconfig","nodeCidrs":["10.0.0.0/16"]}`
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "existing: kubeconfig: open /nonexistent/kubeconfig: no such file or directory")
	assert.Empty(t, m.resources, "nothing is created")
}

func TestBrokenServicesFolderFailsBeforeAnyResource(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:servicesDir"] = tempServices(t, "Billing_Service")
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Billing_Service\": a service name must be a DNS label")
	assert.Empty(t, m.resources)
}

func TestPulumiYAMLDeclaresEveryKeyGroundworkReads(t *testing.T) {
	var proj struct {
		Name    string `yaml:"name"`
		Runtime struct {
			Name    string `yaml:"name"`
			Options struct {
				BuildTarget string `yaml:"buildTarget"`
			} `yaml:"options"`
		} `yaml:"runtime"`
		Config map[string]any `yaml:"config"`
	}
	readYAML(t, "Pulumi.yaml", &proj)
	assert.Equal(t, "groundwork", proj.Name)
	assert.Equal(t, "go", proj.Runtime.Name)
	// The program's binary is kept between runs (go build then relinks it only after a change),
	// somewhere git does not track.
	target := proj.Runtime.Options.BuildTarget
	require.NotEmpty(t, target, "runtime.options.buildTarget")
	gitignore, err := os.ReadFile(".gitignore")
	require.NoError(t, err)
	dir, _, _ := strings.Cut(target, "/")
	assert.Contains(t, strings.Split(string(gitignore), "\n"), "/"+dir+"/", "git ignores %s", target)
	var declared []string
	for k := range proj.Config {
		declared = append(declared, k)
	}
	assert.ElementsMatch(t, platform.Keys(), declared)
}

// FuzzParse feeds arbitrary values to the loader: it returns a config or an error, never panics,
// and a config it returns is valid.
func FuzzParse(f *testing.F) {
	f.Add("aws", "prod", `{"cidr":"10.0.0.0/16"}`, `[{"name":"general","minSize":3,"maxSize":6}]`, `{"zoneCount":3}`, `{"masterCount":3}`)
	f.Add("openstack", "dev", `{"cidr":"10.0.0.1/33"}`, `[]`, `{"publicSubnets":["x"]}`, `{"networks":{"api":"10.0.0.0/24"}}`)
	f.Add("existing", "staging", `null`, `[{"minSize":-1}]`, `{"zoneCount":"3"}`, `{"masterLoadBalancer":null}`)
	f.Add("aws", "prod", `{"cidr":"10.0.0.0/8"}`, `[{"name":"a","minSize":1,"maxSize":1,"taints":[{}]}]`, `{"privateSubnets":["10.0.0.0/24"]}`, `[]`)
	f.Fuzz(func(t *testing.T, cloud, env, network, groups, aws, openstack string) {
		cfg := map[string]string{
			"groundwork:cloud": cloud, "groundwork:environment": env, "groundwork:owner": "team",
			"groundwork:network": network, "groundwork:nodeGroups": groups, "groundwork:aws": aws,
			"groundwork:openstack": openstack, "groundwork:registry": `{"server":"r.example.com/x"}`,
			"aws:region": "eu-west-1",
		}
		got, err := platform.Parse(source("fuzz", cfg))
		if err != nil {
			for _, e := range unwrapJoined(err) {
				if !strings.HasPrefix(e.Error(), "groundwork:") {
					t.Fatalf("error does not name its key: %q", e)
				}
			}
			return
		}
		require.NoError(t, got.Validate(), "a parsed config validates again")
		_, err = json.Marshal(got)
		require.NoError(t, err)
	})
}

func unwrapJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{errors.Unwrap(err), err}[1:]
}
