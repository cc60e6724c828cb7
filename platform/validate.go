package platform

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/image"
	"github.com/groundwork/groundwork/components/observability"
	"github.com/groundwork/groundwork/infra/aws"
	"github.com/groundwork/groundwork/infra/openstack"
)

var (
	clouds       = []string{CloudAWS, CloudOpenStack, CloudExisting}
	environments = []string{EnvDev, EnvStaging, EnvProd}
	dnsLabel     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	k8sVersion   = regexp.MustCompile(`^1\.(\d+)\.(\d+)$`)
	subdomain    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	tagValue     = regexp.MustCompile(`^[\p{L}\p{N} _.:/=+@-]+$`)
	roleARN      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	registryRef  = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(/[a-z0-9._-]+)*$`)
	// logRetentions are the values CloudWatch Logs accepts.
	logRetentions = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
	taintEffects  = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
	capacityTypes = []string{"ON_DEMAND", "SPOT"}
	natLayouts    = []string{NatPerZone, NatSingle}
	// networkDrivers are the CNIs of the driver's chart (magnum-capi-helm passes the template's
	// network_driver as addons.cni.type; azimuth-cloud/capi-helm-charts cluster-addons).
	networkDrivers = []string{"calico", "cilium"}
	apiAccesses    = []string{APIAccessFloatingIP, APIAccessInternal}
	masterCounts   = []int{1, 3, 5}
)

// capiKubeNetwork holds the pod and Service ranges of Magnum's Cluster API driver.
var capiKubeNetwork = netip.MustParsePrefix("172.16.0.0/12")

// eksServiceBlocks are where EKS takes a Service range from, between /24 and /12 (EKS API
// Reference, KubernetesNetworkConfigRequest.serviceIpv4Cidr:
// https://docs.aws.amazon.com/eks/latest/APIReference/API_KubernetesNetworkConfigRequest.html).
var eksServiceBlocks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}

// minKubernetesMinor is the oldest Kubernetes minor Groundwork deploys (EKS standard support).
const minKubernetesMinor = 31

// problems collects validation errors, each prefixed with its full config key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s:%s: %s", Namespace, key, fmt.Sprintf(format, args...)))
}

// oneOf reports a value outside allowed; an empty value is reported as missing.
func oneOf[T comparable](p *problems, key string, got T, allowed []T) {
	if slices.Contains(allowed, got) {
		return
	}
	var zero T
	if got == zero {
		p.add(key, "required; allowed: %s", join(allowed))
		return
	}
	p.add(key, "%s is not allowed; allowed: %s", quote(got), join(allowed))
}

func join[T any](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// Validate checks the whole configuration and returns every problem at once, each naming the
// full key, the bad value and what is allowed.
func (c *Config) Validate() error {
	var p problems
	oneOf(&p, "cloud", c.Cloud, clouds)
	oneOf(&p, "environment", c.Environment, environments)
	switch {
	case c.Owner == "":
		p.add("owner", "required: the team that owns the stack, put in the owner tag of every resource")
	case !tagValue.MatchString(c.Owner) || len(c.Owner) > 128:
		p.add("owner", "%q is not a valid tag value (letters, digits, spaces and _.:/=+@-, at most 128)", c.Owner)
	}
	if !dnsLabel.MatchString(c.ClusterName) || len(c.ClusterName) > 40 {
		p.add("clusterName", "%q is not a DNS label of at most 40 characters (lower-case letters, digits, '-')", c.ClusterName)
	}
	if strings.TrimSpace(c.ServicesDir) == "" {
		p.add("servicesDir", "must not be blank")
	}
	network := parseCIDR(&p, "network.cidr", c.Network.CIDR)
	c.validateKubernetes(&p, network)
	c.validateNodeGroups(&p)
	switch c.Cloud {
	case CloudAWS:
		c.validateAWS(&p, network)
	case CloudOpenStack:
		c.validateOpenStack(&p, network)
	case CloudExisting:
		c.validateExisting(&p)
	}
	c.validateRender(&p)
	if _, err := chart.ParseSource(c.Charts.Source); err != nil {
		p.add("charts.source", "%v", err)
	}
	if d := c.Observability.LogRetentionDays; d < 1 || d > 365 {
		p.add("observability.logRetentionDays", "%d is out of range; allowed 1 to 365", d)
	}
	c.validateServiceSettings(&p)
	c.validateAlerting(&p)
	c.validateEdge(&p)
	if c.Images.Version != "" {
		if _, err := image.Prebuilt(pulumi.String("r"), c.Images.Version); err != nil {
			p.add("images.version", "%v", err)
		}
	}
	for _, svc := range sortedKeys(c.Images.Versions) {
		if _, err := image.Prebuilt(pulumi.String("r"), c.Images.Versions[svc]); err != nil {
			p.add("images.versions."+svc, "%v", err)
		}
	}
	if m := c.Images.RegistryMirror; m != "" && !registryRef.MatchString(m) {
		p.add("images.registryMirror", "%q is not a registry host and path without scheme, e.g. \"mirror.example.com/upstream\"", m)
	}
	if c.Cloud == CloudOpenStack || c.Cloud == CloudExisting {
		switch r := c.Registry.Server; {
		case r == "":
			p.add("registry.server", "required on cloud %s: the registry images of services/ are pushed to, e.g. \"registry.example.com/groundwork\"", c.Cloud)
		case !registryRef.MatchString(r):
			p.add("registry.server", "%q is not a registry host and path without scheme, e.g. \"registry.example.com/groundwork\"", r)
		}
		if (c.Registry.Username == "") != (c.Registry.Password == "") {
			p.add("registry", "username and password go together: set both to push with a login, or neither")
		}
	}
	return errors.Join(p...)
}

func (c *Config) validateKubernetes(p *problems, network netip.Prefix) {
	if m := k8sVersion.FindStringSubmatch(c.Kubernetes.Version); m == nil {
		p.add("kubernetes.version", "%q is not a full Kubernetes version like \"1.34.2\"", c.Kubernetes.Version)
	} else if minor, _ := strconv.Atoi(m[1]); minor < minKubernetesMinor {
		p.add("kubernetes.version", "%q is out of support; use 1.%d or newer", c.Kubernetes.Version, minKubernetesMinor)
	}
	service := parseCIDR(p, "kubernetes.serviceCidr", c.Kubernetes.ServiceCIDR)
	if network.IsValid() && service.IsValid() && network.Overlaps(service) {
		p.add("kubernetes.serviceCidr", "%q overlaps network.cidr %q", c.Kubernetes.ServiceCIDR, c.Network.CIDR)
	}
	if c.Cloud == CloudAWS && service.IsValid() {
		inside := slices.ContainsFunc(eksServiceBlocks, func(b netip.Prefix) bool { return b.Bits() <= service.Bits() && b.Contains(service.Addr()) })
		if !inside || service.Bits() < 12 || service.Bits() > 24 {
			p.add("kubernetes.serviceCidr", "%q: EKS takes a Service range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, between /24 and /12", c.Kubernetes.ServiceCIDR)
		}
	}
	// Magnum's Cluster API driver gives pods its chart's range, the VPC CNI gives pods VPC
	// addresses, an existing cluster has its own: no cloud takes a pod range from Groundwork.
	if c.Kubernetes.PodCIDR != "" {
		p.add("kubernetes.podCidr", "%q: no cloud takes a pod range (openstack: Magnum's Cluster API driver gives pods 172.16.0.0/13; aws: the VPC CNI gives pods VPC addresses; existing: the cluster's own); remove the key", c.Kubernetes.PodCIDR)
	}
	if c.Cloud == CloudOpenStack {
		// The driver's chart gives pods 172.16.0.0/13 and Services 172.24.0.0/13
		// (azimuth-cloud/capi-helm-charts, openstack-cluster values.yaml kubeNetwork);
		// magnum-capi-helm passes no other ranges.
		if network.IsValid() && network.Overlaps(capiKubeNetwork) {
			p.add("network.cidr", "%q overlaps %s, the pod and Service ranges of Magnum's Cluster API driver; use a range outside it, e.g. 10.0.0.0/16", c.Network.CIDR, capiKubeNetwork)
		}
	}
}

func (c *Config) validateNodeGroups(p *problems) {
	seen := map[string]bool{}
	schedulable := false
	for i, ng := range c.NodeGroups {
		key := fmt.Sprintf("nodeGroups[%d]", i)
		if !dnsLabel.MatchString(ng.Name) || len(ng.Name) > 30 {
			p.add(key+".name", "%q is not a DNS label of at most 30 characters", ng.Name)
		} else if seen[ng.Name] {
			p.add(key+".name", "%q is used by another node group; names must be unique", ng.Name)
		}
		seen[ng.Name] = true
		if ng.MinSize == nil || ng.MaxSize == nil {
			p.add(key, "minSize and maxSize are required (desiredSize defaults to minSize)")
			continue
		}
		lo, want, hi := *ng.MinSize, *ng.DesiredSize, *ng.MaxSize
		switch {
		case lo < 0:
			p.add(key+".minSize", "%d is negative", lo)
		case !(lo <= want && want <= hi):
			p.add(key, "minSize %d <= desiredSize %d <= maxSize %d does not hold", lo, want, hi)
		case hi < 1:
			p.add(key+".maxSize", "%d: a node group needs room for at least one node", hi)
		}
		if ng.DiskSize < 20 {
			p.add(key+".diskSize", "%d GiB is too small for node images and logs; at least 20", ng.DiskSize)
		}
		hard := false
		for j, t := range ng.Taints {
			oneOf(p, fmt.Sprintf("%s.taints[%d].effect", key, j), t.Effect, taintEffects)
			if t.Key == "" {
				p.add(fmt.Sprintf("%s.taints[%d].key", key, j), "required")
			}
			// EKS API Reference, Taint: key 1 to 63 characters, value at most 63
			// (https://docs.aws.amazon.com/eks/latest/APIReference/API_Taint.html).
			if c.Cloud == CloudAWS && len(t.Key) > 63 {
				p.add(fmt.Sprintf("%s.taints[%d].key", key, j), "%q has %d characters; EKS takes taint keys of at most 63", t.Key, len(t.Key))
			}
			if c.Cloud == CloudAWS && len(t.Value) > 63 {
				p.add(fmt.Sprintf("%s.taints[%d].value", key, j), "%q has %d characters; EKS takes taint values of at most 63", t.Value, len(t.Value))
			}
			hard = hard || t.Effect == "NoSchedule" || t.Effect == "NoExecute"
		}
		if !hard && lo >= c.minSystemNodes() {
			schedulable = true
		}
		switch c.Cloud {
		case CloudAWS:
			oneOf(p, key+".capacityType", ng.CapacityType, capacityTypes)
		case CloudOpenStack:
			if ng.Flavor == "" {
				p.add(key+".flavor", "required on cloud openstack (or set openstack.nodeFlavor)")
			}
			// https://opendev.org/openstack/magnum-capi-helm, driver.py
			// _validate_allowed_node_counts: Cluster API's OpenStack provider cannot scale a
			// group from zero.
			if lo < 1 {
				p.add(key+".minSize", "%d: Magnum's Cluster API driver cannot scale a node group from zero; allowed on cloud openstack: 1 or more", lo)
			}
			if len(ng.Labels) > 0 || len(ng.Taints) > 0 {
				p.add(key, "labels and taints are not supported by Magnum node groups; select nodes by the label the driver's chart sets, capi.stackhpc.com/node-group=%s, instead", ng.Name)
			}
			// The groups after the first are Magnum node groups named and with the role of their
			// name. Magnum names a cluster's own groups "default-" + role (conductor/utils.py),
			// names are unique per cluster (db/sqlalchemy/models.py, uniq_nodegroup0cluster_id0name),
			// and it refuses to create a group of role master (api/controllers/v1/nodegroup.py,
			// CreateMasterNodeGroup).
			if i > 0 && slices.Contains([]string{"default-master", "default-worker", "master"}, ng.Name) {
				p.add(key+".name", "%q is taken on cloud openstack: Magnum names the cluster's own groups default-master and default-worker, and creates no group of role master", ng.Name)
			}
		}
	}
	if len(c.NodeGroups) > 0 && !schedulable {
		if c.Environment == EnvProd {
			p.add("nodeGroups", "prod needs a node group without NoSchedule/NoExecute taints and minSize >= %d, so system pods and replicas have nodes in every zone", c.minSystemNodes())
		} else {
			p.add("nodeGroups", "needs a node group without NoSchedule/NoExecute taints and minSize >= 1 for system pods")
		}
	}
}

// minSystemNodes is the smallest minSize of the group that runs system pods: one node, and in
// prod two or one per zone, whichever is more.
func (c *Config) minSystemNodes() int {
	if c.Environment != EnvProd {
		return 1
	}
	if c.Cloud == CloudAWS {
		return max(2, c.AWS.ZoneCount)
	}
	return 2
}

func (c *Config) validateAWS(p *problems, network netip.Prefix) {
	a := c.AWS
	prod := c.Environment == EnvProd
	if c.AWSRegion == "" {
		p.add("cloud", "aws needs the region: set aws:region (e.g. `pulumi config set aws:region eu-west-1`)")
	}
	switch {
	case a.ZoneCount < 2 || a.ZoneCount > 6:
		p.add("aws.zoneCount", "%d is out of range; EKS needs 2 to 6 zones", a.ZoneCount)
	case prod && a.ZoneCount < 3:
		p.add("aws.zoneCount", "%d: prod needs 3 zones or more for high availability", a.ZoneCount)
	}
	oneOf(p, "aws.natGateways", a.NatGateways, natLayouts)
	if prod && !c.Data.Managed {
		p.add("data.managed", "false in prod on aws: in-cluster databases there would have no backup store; prod runs RDS, MSK and ElastiCache (managed: true)")
	}
	if prod && a.NatGateways == NatSingle {
		p.add("aws.natGateways", "%q: prod needs %q so that losing a zone does not cut the others off", a.NatGateways, NatPerZone)
	}
	if network.IsValid() && (network.Bits() < 16 || network.Bits() > 22) {
		p.add("network.cidr", "%q: the VPC range must be between /16 and /22 on aws", c.Network.CIDR)
	}
	if len(a.PublicSubnets) == 0 && len(a.PrivateSubnets) == 0 && a.ZoneCount > 3 {
		p.add("aws.zoneCount", "%d zones: give aws.publicSubnets and aws.privateSubnets; only up to 3 zones are carved automatically", a.ZoneCount)
	}
	var subnets []namedPrefix
	for _, list := range []struct {
		key   string
		cidrs []string
	}{{"aws.publicSubnets", a.PublicSubnets}, {"aws.privateSubnets", a.PrivateSubnets}} {
		if len(list.cidrs) != a.ZoneCount && (len(a.PublicSubnets)+len(a.PrivateSubnets) > 0) {
			p.add(list.key, "has %d entries; want one per zone (aws.zoneCount %d)", len(list.cidrs), a.ZoneCount)
		}
		for i, s := range list.cidrs {
			key := fmt.Sprintf("%s[%d]", list.key, i)
			if sp := parseCIDR(p, key, s); sp.IsValid() {
				subnets = append(subnets, namedPrefix{key, sp})
				// https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html: "The
				// allowed block size is between a /28 netmask and /16 netmask."
				if sp.Bits() < 16 || sp.Bits() > 28 {
					p.add(key, "%q: AWS subnets are between /16 and /28", s)
				}
			}
		}
	}
	checkInsideAndDisjoint(p, network, "network.cidr", subnets)
	for i, s := range a.PublicAccessCIDRs {
		key := fmt.Sprintf("aws.publicAccessCidrs[%d]", i)
		if sp := parseCIDR(p, key, s); sp.IsValid() && sp.Bits() == 0 && prod {
			p.add(key, "%q opens the Kubernetes API to the whole internet; prod allows only named ranges (or none: private endpoint only)", s)
		}
	}
	for i, s := range a.PrivateAccessCIDRs {
		key := fmt.Sprintf("aws.privateAccessCidrs[%d]", i)
		if sp := parseCIDR(p, key, s); sp.IsValid() && sp.Bits() == 0 {
			p.add(key, "%q is every address; name the connected networks (VPN, peered VPC) a deploy host runs in", s)
		}
	}
	// The program's own Kubernetes provider runs on the deploy host: with a private endpoint only
	// it must run inside the VPC or a network connected to it, or nothing after the cluster
	// applies (https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).
	if len(a.PublicAccessCIDRs) == 0 && len(a.PrivateAccessCIDRs) == 0 && c.Kubernetes.RenderTo == "" {
		p.add("aws.publicAccessCidrs", "empty, and so is aws.privateAccessCidrs: the EKS API would be private, and the deploy host running `pulumi up` "+
			"could not reach it to apply the platform; set publicAccessCidrs to the deploy host's public range (e.g. [\"203.0.113.10/32\"]), "+
			"or privateAccessCidrs to the network it deploys from inside or connected to the VPC (a runner in the VPC: network.cidr %q), "+
			"or kubernetes.renderTo to write the Kubernetes objects for a GitOps controller instead", c.Network.CIDR)
	}
	seenLog := map[string]bool{}
	for i, l := range a.ControlPlaneLogs {
		key := fmt.Sprintf("aws.controlPlaneLogs[%d]", i)
		switch {
		case !slices.Contains(aws.ControlPlaneLogTypes, l):
			p.add(key, "%q is not an EKS control-plane log type; allowed: %s", l, join(aws.ControlPlaneLogTypes))
		case seenLog[l]:
			p.add(key, "%q is listed twice", l)
		}
		seenLog[l] = true
	}
	oneOf(p, "aws.upgradePolicy", a.UpgradePolicy, []string{aws.UpgradeExtended, aws.UpgradeStandard})
	for _, name := range slices.Sorted(maps.Keys(a.AddonVersions)) {
		if !slices.Contains(aws.Addons, name) {
			p.add("aws.addonVersions."+name, "names no add-on Groundwork installs%s; allowed: %s", suggest(name, aws.Addons), join(aws.Addons))
		}
	}
	if v, ok := a.AddonVersions["vpc-cni"]; ok && !atLeast(v, 1, 14) {
		// https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html
		p.add("aws.addonVersions.vpc-cni", "%q is older than v1.14.0, the first VPC CNI that enforces NetworkPolicy objects; allowed: v1.14.0-eksbuild.1 or newer", v)
	}
	if r := c.AWSAssumeRole; r != nil && r.ExternalID != "" {
		p.add("cloud", "aws:assumeRole.externalId is set: the kubeconfig's `aws eks get-token --role-arn` cannot pass an external ID; "+
			"put role_arn and external_id in an AWS CLI profile and set aws:profile to it instead of aws:assumeRole")
	}
	if c.Data.Managed {
		c.validateManagedData(p)
	}
	for i, arn := range a.AdminRoleARNs {
		if !roleARN.MatchString(arn) {
			p.add(fmt.Sprintf("aws.adminRoleArns[%d]", i), "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", arn)
		}
	}
	if a.KMSDeletionWindowDays < 7 || a.KMSDeletionWindowDays > 30 {
		p.add("aws.kmsDeletionWindowDays", "%d is out of range; KMS allows 7 to 30", a.KMSDeletionWindowDays)
	}
	if !slices.Contains(logRetentions, a.LogRetentionDays) {
		p.add("aws.logRetentionDays", "%d is not a CloudWatch retention; allowed: %s", a.LogRetentionDays, join(logRetentions))
	}
	for i, ng := range c.NodeGroups {
		for j, it := range ng.InstanceTypes {
			if !strings.Contains(it, ".") {
				p.add(fmt.Sprintf("nodeGroups[%d].instanceTypes[%d]", i, j), "%q is not an EC2 instance type like \"m6i.large\"", it)
			}
		}
	}
}

// validateManagedData checks the sizes of RDS, ElastiCache and MSK.
func (c *Config) validateManagedData(p *problems) {
	d := c.Data
	prod := c.Environment == EnvProd
	for _, it := range []struct{ key, value, prefix, example string }{
		{"data.rds.instanceClass", d.RDS.InstanceClass, "db.", "db.m7g.large"},
		{"data.elastiCache.nodeType", d.ElastiCache.NodeType, "cache.", "cache.m7g.large"},
		{"data.msk.instanceType", d.MSK.InstanceType, "kafka.", "kafka.m7g.large"},
	} {
		family, _, _ := strings.Cut(strings.TrimPrefix(it.value, it.prefix), ".")
		switch {
		case !strings.HasPrefix(it.value, it.prefix) || !strings.Contains(strings.TrimPrefix(it.value, it.prefix), "."):
			p.add(it.key, "%q is not a type like %q", it.value, it.example)
		case prod && strings.HasPrefix(family, "t"):
			// Burstable classes run out of CPU credits under sustained load.
			p.add(it.key, "%q is burstable (t family): prod needs a class with sustained CPU, e.g. %q", it.value, it.example)
		}
	}
	if s := d.RDS.AllocatedStorage; s < 20 || s > 65536 {
		p.add("data.rds.allocatedStorage", "%d GiB is out of range; RDS gp3 allows 20 to 65536", s)
	}
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-msk-cluster-brokernodegroupinfo.html:
	// two or three client subnets, brokers spread evenly over them.
	subnets := mskClientSubnets(c.AWS.ZoneCount)
	switch b := d.MSK.Brokers; {
	case b < subnets || b%subnets != 0:
		p.add("data.msk.brokers", "%d is not a multiple of the %d client subnets MSK spreads brokers over (the first %d of aws.zoneCount %d); allowed: %d, %d, %d, ...",
			b, subnets, subnets, c.AWS.ZoneCount, subnets, 2*subnets, 3*subnets)
	case prod && b < 3:
		p.add("data.msk.brokers", "%d: prod replicates every topic three times and needs 3 brokers or more", b)
	}
	if v := d.MSK.VolumeSize; v < 1 || v > 16384 {
		p.add("data.msk.volumeSize", "%d GiB is out of range; MSK allows 1 to 16384", v)
	}
}

// atLeast tells whether an add-on version ("v1.20.4-eksbuild.1") is major.minor or newer.
func atLeast(version string, major, minor int) bool {
	m := addonVersion.FindStringSubmatch(version)
	if m == nil {
		return false
	}
	maj, _ := strconv.Atoi(m[1])
	mnr, _ := strconv.Atoi(m[2])
	return maj > major || (maj == major && mnr >= minor)
}

var addonVersion = regexp.MustCompile(`^v(\d+)\.(\d+)\.`)

func (c *Config) validateOpenStack(p *problems, network netip.Prefix) {
	o := c.OpenStack
	prod := c.Environment == EnvProd
	for _, req := range []struct{ key, val, what string }{
		{"openstack.externalNetwork", o.ExternalNetwork, "the name of the external (provider) network for routers and floating IPs"},
		{"openstack.image", o.Image, "the Glance image Magnum boots: os_distro ubuntu or flatcar with kube_version set, e.g. \"ubuntu-jammy-kube-v1.34.2\""},
		{"openstack.masterFlavor", o.MasterFlavor, "the Nova flavor of control-plane nodes"},
	} {
		if req.val == "" {
			p.add(req.key, "required: %s", req.what)
		}
	}
	oneOf(p, "openstack.masterCount", o.MasterCount, masterCounts)
	if prod && o.MasterCount < 3 {
		p.add("openstack.masterCount", "%d: prod needs 3 or 5 control-plane nodes for an etcd quorum that survives a node loss", o.MasterCount)
	}
	if prod && !o.RouterHA {
		// https://docs.openstack.org/neutron/latest/configuration/policy.html: create_router:ha
		// is admin-only, so Groundwork cannot make the router HA; the cloud does (l3_ha).
		p.add("openstack.routerHA", "false: prod needs highly available routers so a network node failure does not cut the cluster off; a project cannot ask for one (Neutron's create_router:ha is admin-only): run prod on a cloud whose operator sets l3_ha = True and declare it with routerHA: true")
	}
	oneOf(p, "openstack.apiAccess", o.APIAccess, apiAccesses)
	if o.APIAccess == APIAccessFloatingIP && c.Kubernetes.RenderTo == "" && network.IsValid() {
		outside := false
		for _, s := range o.APIAllowedCIDRs {
			if sp, err := netip.ParsePrefix(s); err == nil && !network.Contains(sp.Addr()) {
				outside = true
			}
		}
		switch {
		case len(o.APIAllowedCIDRs) == 0:
			p.add("openstack.apiAllowedCidrs", "required with apiAccess %q: the ranges the deploy host (and the Magnum Cluster API management cluster) reach the API's floating IP from, e.g. [\"198.51.100.0/24\"]; or set apiAccess %q when the deploy host runs on the stack's networks",
				APIAccessFloatingIP, APIAccessInternal)
		case !outside:
			p.add("openstack.apiAllowedCidrs", "%s: with apiAccess %q the deploy host reaches the API through its floating IP, which admits only these ranges and network.cidr %q; list the deploy host's (and the Magnum Cluster API management cluster's) ranges, or set apiAccess %q when the deploy host runs on the stack's networks",
				quote(strings.Join(o.APIAllowedCIDRs, ",")), APIAccessFloatingIP, c.Network.CIDR, APIAccessInternal)
		}
	}
	oneOf(p, "openstack.networkDriver", o.NetworkDriver, networkDrivers)
	// Labels the driver does not read would be ignored without a word; the ones Groundwork
	// derives from config would bypass its validation.
	derived := map[string]string{
		"api_master_lb_allowed_cidrs":   "openstack.apiAllowedCidrs",
		"master_lb_floating_ip_enabled": "openstack.apiAccess",
		"min_node_count":                "nodeGroups[0].minSize",
		"max_node_count":                "nodeGroups[0].maxSize",
		"boot_volume_size":              "nodeGroups[0].diskSize",
	}
	for _, k := range sortedKeys(o.Labels) {
		key := "openstack.labels." + k
		switch {
		case derived[k] != "":
			p.add(key, "%q: Groundwork sets this label from %s%s; set that instead", o.Labels[k], Namespace+":", derived[k])
		case k == "availability_zone":
			p.add(key, "%q: Magnum's Cluster API driver places no node in a zone (it reads no zone label); the cloud's scheduler does", o.Labels[k])
		case !slices.Contains(openstack.DriverLabels, k):
			p.add(key, "%q: not a label Magnum's Cluster API driver reads, so it would be ignored; allowed: %s", o.Labels[k], strings.Join(openstack.DriverLabels, ", "))
		}
	}
	switch u, err := url.Parse(o.S3Endpoint); {
	case o.S3Endpoint == "" && prod:
		p.add("openstack.s3Endpoint", "required in prod: the in-cluster databases back up to the cloud's S3-compatible object storage (e.g. \"https://object-store.example.com\")")
	case o.S3Endpoint != "" && (err != nil || u.Scheme != "https" || u.Host == ""):
		p.add("openstack.s3Endpoint", "%q is not an https URL", o.S3Endpoint)
	}
	for i, z := range o.AvailabilityZones {
		if strings.TrimSpace(z) == "" {
			p.add(fmt.Sprintf("openstack.availabilityZones[%d]", i), "must not be blank")
		}
	}
	for i, d := range o.DNSServers {
		if _, err := netip.ParseAddr(d); err != nil {
			p.add(fmt.Sprintf("openstack.dnsServers[%d]", i), "%q is not an IP address", d)
		}
	}
	if o.Networks == (OpenStackNetworks{}) {
		// Carving failed; say why unless network.cidr itself is already reported.
		if network.IsValid() {
			p.add("network.cidr", "%q: give a range between /16 and /20 to carve the three networks from, or set openstack.networks", c.Network.CIDR)
		}
	} else {
		var nets []namedPrefix
		for _, n := range []struct{ key, cidr string }{
			{"openstack.networks.api", o.Networks.API},
			{"openstack.networks.management", o.Networks.Management},
			{"openstack.networks.internal", o.Networks.Internal},
		} {
			if np := parseCIDR(p, n.key, n.cidr); np.IsValid() {
				nets = append(nets, namedPrefix{n.key, np})
			}
		}
		checkInsideAndDisjoint(p, network, "network.cidr", nets)
	}
	for i, s := range o.APIAllowedCIDRs {
		key := fmt.Sprintf("openstack.apiAllowedCidrs[%d]", i)
		if sp := parseCIDR(p, key, s); sp.IsValid() && sp.Bits() == 0 && prod {
			p.add(key, "%q opens the network to the whole internet; allow named ranges only", s)
		}
	}
}

// validateRender checks render mode: it writes manifests and talks to no cluster, so it takes
// no kubeconfig, and its folder must be a folder.
func (c *Config) validateRender(p *problems) {
	dir := c.Kubernetes.RenderTo
	if dir == "" {
		return
	}
	if strings.TrimSpace(dir) != dir {
		p.add("kubernetes.renderTo", "%q has leading or trailing blanks", dir)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		p.add("kubernetes.renderTo", "%q is a file; render mode needs a folder to write manifests into", dir)
	}
	if c.Cloud == CloudExisting && (c.Kubeconfig != "" || c.Existing.KubeconfigPath != "") {
		p.add("kubernetes.renderTo", "%q is set together with a kubeconfig: render mode contacts no cluster, so the kubeconfig would be ignored; unset groundwork:kubeconfig and groundwork:existing.kubeconfigPath, or renderTo", dir)
	}
}

func (c *Config) validateExisting(p *problems) {
	e := c.Existing
	switch {
	case c.Kubernetes.RenderTo != "":
		// Render mode needs no cluster; validateRender rejects a kubeconfig alongside it.
	case c.Kubeconfig == "" && e.KubeconfigPath == "":
		p.add("kubeconfig", "missing: cloud existing needs the cluster's kubeconfig, either as a secret (`pulumi config set --secret groundwork:kubeconfig < kubeconfig.yaml`) or as a file (groundwork:existing.kubeconfigPath)")
	case c.Kubeconfig != "" && e.KubeconfigPath != "":
		p.add("existing.kubeconfigPath", "%q is set together with the secret groundwork:kubeconfig; set only one", e.KubeconfigPath)
	}
	if !dnsSubdomain(e.StorageClass) {
		p.add("existing.storageClass", "%q is not a StorageClass name", e.StorageClass)
	}
	if len(e.NodeCIDRs) == 0 {
		p.add("existing.nodeCidrs", "missing: the address ranges of the cluster's nodes (the INTERNAL-IP column of `kubectl get nodes -o wide`), e.g. [\"10.0.0.0/16\"]; "+
			"the platform's network policies let Prometheus reach kubelets and node-exporters there, and nothing else")
	}
	for i, cidr := range e.NodeCIDRs {
		parseCIDR(p, fmt.Sprintf("existing.nodeCidrs[%d]", i), cidr)
	}
	seen := map[string]bool{}
	for i, z := range e.Zones {
		if !labelValue(z) || z == "" || seen[z] {
			p.add(fmt.Sprintf("existing.zones[%d]", i), "%q is not a distinct zone name as the nodes carry it in topology.kubernetes.io/zone", z)
		}
		seen[z] = true
	}
	if c.Environment == EnvProd && len(e.Zones) < 2 {
		// Without zones the charts and services get no zone spread, and prod's policy config
		// (workload-zone-spread, mandatory) refuses every workload with several replicas.
		p.add("existing.zones", "required in prod: two or more zones, as the nodes carry them in topology.kubernetes.io/zone "+
			"(`kubectl get nodes -L topology.kubernetes.io/zone`), so replicas are spread across them; has %d", len(e.Zones))
	}
	o := e.ObjectStorage
	if o == nil {
		if c.Environment == EnvProd {
			p.add("existing.objectStorage", "required in prod: %s are kept in S3-compatible object storage, in buckets made for them, e.g. "+
				"{endpoint: https://minio.example.com, accessKeyId: ..., secretAccessKey: (a secret), buckets: {%s}}",
				andList(bucketPurposes(c)), bucketExample(c))
		}
		return
	}
	switch u, err := url.Parse(o.Endpoint); {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		p.add("existing.objectStorage.endpoint", "%q is not an http(s) URL such as \"https://minio.example.com\"", o.Endpoint)
	case inCluster(u.Hostname()):
		// Pods reach other pods on any port.
	case u.Scheme != "https" || (u.Port() != "" && u.Port() != "443"):
		p.add("existing.objectStorage.endpoint", "%q: outside the cluster the platform's network policies let pods reach HTTPS on port 443 only; "+
			"use an https URL on 443, or an in-cluster Service (http://minio.storage.svc:9000)", o.Endpoint)
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		p.add("existing.objectStorage", "accessKeyId and secretAccessKey are both required")
	}
	for _, name := range bucketPurposes(c) {
		if o.Buckets[name] == "" {
			p.add("existing.objectStorage.buckets."+name, "missing: the name of the bucket made for %s", name)
		}
	}
	all := []string{observability.TracesBucket, observability.LogsBucket, BackupsBucket}
	for _, name := range sortedKeys(o.Buckets) {
		switch {
		case !slices.Contains(all, name):
			p.add("existing.objectStorage.buckets."+name, "unknown purpose; allowed: %s", strings.Join(all, ", "))
		case !s3Bucket.MatchString(o.Buckets[name]):
			p.add("existing.objectStorage.buckets."+name, "%q is not a bucket name (3 to 63 lowercase letters, digits, '.' and '-')", o.Buckets[name])
		}
	}
}

// andList joins words as prose: "a", "a and b", "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// inCluster tells whether a host name is a Kubernetes Service's.
func inCluster(host string) bool {
	return strings.HasSuffix(host, ".svc") || strings.HasSuffix(host, ".svc.cluster.local")
}

// s3Bucket is an S3 bucket name.
var s3Bucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// bucketExample is the buckets map a stack's config needs, as an example.
func bucketExample(c *Config) string {
	var parts []string
	for _, name := range bucketPurposes(c) {
		parts = append(parts, name+": groundwork-"+name)
	}
	return strings.Join(parts, ", ")
}

// labelValuePattern is a Kubernetes label value (k8s.io/apimachinery validation.IsValidLabelValue).
var labelValuePattern = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)

func labelValue(s string) bool {
	return len(s) <= 63 && labelValuePattern.MatchString(s)
}

func dnsSubdomain(s string) bool {
	return len(s) <= 253 && subdomain.MatchString(s)
}

type namedPrefix struct {
	key string
	p   netip.Prefix
}

// parseCIDR parses an IPv4 CIDR, reporting a bad one under key. It returns the zero Prefix on
// error so that follow-up checks skip it.
func parseCIDR(p *problems, key, s string) netip.Prefix {
	pr, err := netip.ParsePrefix(s)
	switch {
	case s == "":
		p.add(key, "required: an IPv4 CIDR such as \"10.0.0.0/16\"")
		return netip.Prefix{}
	case err != nil:
		p.add(key, "%q is not a CIDR", s)
		return netip.Prefix{}
	case !pr.Addr().Is4():
		p.add(key, "%q is not an IPv4 CIDR", s)
		return netip.Prefix{}
	case pr.Masked() != pr:
		p.add(key, "%q has host bits set; did you mean %q?", s, pr.Masked().String())
		return netip.Prefix{}
	}
	return pr
}

// checkInsideAndDisjoint reports subnets outside the parent range and subnets that overlap.
func checkInsideAndDisjoint(p *problems, parent netip.Prefix, parentKey string, subnets []namedPrefix) {
	for i, s := range subnets {
		if parent.IsValid() && !(parent.Contains(s.p.Addr()) && s.p.Bits() >= parent.Bits()) {
			p.add(s.key, "%q is outside %s %q", s.p, parentKey, parent)
		}
		for _, o := range subnets[:i] {
			if s.p.Overlaps(o.p) {
				p.add(s.key, "%q overlaps %s:%s %q", s.p, Namespace, o.key, o.p)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
