package platform

import (
	"net/netip"
	"slices"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/infra/aws"
)

// Defaults Groundwork applies where a stack leaves a setting out. Each is documented in
// Pulumi.yaml and the README.
const (
	// DefaultKubernetesVersion tracks Kubernetes 1.34 (supported by EKS until 2027).
	DefaultKubernetesVersion = "1.34.2"
	DefaultNetworkCIDR       = "10.0.0.0/16"
	// DefaultServiceCIDR is the ClusterIP range; outside 10/8 so it cannot meet a 10.x VPC.
	DefaultServiceCIDR   = "172.20.0.0/16"
	DefaultServicesDir   = "services"
	DefaultInstanceType  = "m6i.large"
	DefaultDiskSizeGiB   = 50
	DefaultNetworkDriver = "calico"
	DefaultStorageClass  = "standard"
)

// How the deploy host reaches the Kubernetes API on OpenStack, the values of
// groundwork:openstack.apiAccess.
const (
	APIAccessFloatingIP = "floatingIp"
	APIAccessInternal   = "internal"
)

// NAT gateway layouts on AWS.
const (
	NatPerZone = "perZone"
	NatSingle  = "single"
)

// applyDefaults fills every unset setting. It runs once, before Validate, so that validation
// and the program see the same values.
func (c *Config) applyDefaults() {
	prod := c.Environment == EnvProd
	if c.ClusterName == "" {
		c.ClusterName = Namespace + "-" + c.Stack
	}
	if c.ServicesDir == "" {
		c.ServicesDir = DefaultServicesDir
	}
	setDefault(&c.Kubernetes.Version, DefaultKubernetesVersion)
	setDefault(&c.Kubernetes.ServiceCIDR, DefaultServiceCIDR)
	setDefault(&c.Network.CIDR, DefaultNetworkCIDR)

	if len(c.NodeGroups) == 0 {
		size := map[bool][3]int{false: {1, 2, 4}, true: {3, 3, 9}}[prod]
		c.NodeGroups = []NodeGroupConfig{{Name: "general", MinSize: &size[0], DesiredSize: &size[1], MaxSize: &size[2]}}
	}
	for i := range c.NodeGroups {
		ng := &c.NodeGroups[i]
		if ng.DesiredSize == nil && ng.MinSize != nil {
			desired := *ng.MinSize
			ng.DesiredSize = &desired
		}
		if len(ng.InstanceTypes) == 0 {
			ng.InstanceTypes = []string{DefaultInstanceType}
		}
		setDefault(&ng.CapacityType, "ON_DEMAND")
		setDefault(&ng.Flavor, c.OpenStack.NodeFlavor)
		if ng.DiskSize == 0 {
			ng.DiskSize = DefaultDiskSizeGiB
		}
	}

	a := &c.AWS
	if a.ZoneCount == 0 {
		a.ZoneCount = map[bool]int{false: 2, true: 3}[prod]
	}
	setDefault(&a.NatGateways, map[bool]string{false: NatSingle, true: NatPerZone}[prod])
	if a.KMSDeletionWindowDays == 0 {
		a.KMSDeletionWindowDays = 30
	}
	if a.LogRetentionDays == 0 {
		a.LogRetentionDays = 90
	}
	if a.ControlPlaneLogs == nil {
		a.ControlPlaneLogs = slices.Clone(aws.DefaultControlPlaneLogs)
	}
	// Extended support keeps the pinned minor running when its standard support ends, instead
	// of AWS upgrading the control plane behind the stack; it costs more only in that period.
	setDefault(&a.UpgradePolicy, aws.UpgradeExtended)

	d := &c.Data
	setDefault(&d.RDS.InstanceClass, map[bool]string{false: "db.t4g.micro", true: "db.m7g.large"}[prod])
	if d.RDS.AllocatedStorage == 0 {
		d.RDS.AllocatedStorage = map[bool]int{false: 20, true: 100}[prod]
	}
	setDefault(&d.ElastiCache.NodeType, map[bool]string{false: "cache.t4g.micro", true: "cache.m7g.large"}[prod])
	setDefault(&d.MSK.InstanceType, map[bool]string{false: "kafka.t3.small", true: "kafka.m7g.large"}[prod])
	if d.MSK.Brokers == 0 {
		// One per client subnet; in prod the smallest such count that holds three replicas.
		n := mskClientSubnets(a.ZoneCount)
		d.MSK.Brokers = n
		for prod && d.MSK.Brokers < 3 {
			d.MSK.Brokers += n
		}
	}
	if d.MSK.VolumeSize == 0 {
		d.MSK.VolumeSize = map[bool]int{false: 20, true: 1000}[prod]
	}
	if len(a.PublicSubnets) == 0 && len(a.PrivateSubnets) == 0 {
		a.PublicSubnets, a.PrivateSubnets = carveAWSSubnets(c.Network.CIDR, a.ZoneCount)
	}

	o := &c.OpenStack
	if len(o.AvailabilityZones) == 0 {
		o.AvailabilityZones = []string{"nova"}
	}
	if o.MasterCount == 0 {
		o.MasterCount = map[bool]int{false: 1, true: 3}[prod]
	}
	setDefault(&o.APIAccess, APIAccessFloatingIP)
	setDefault(&o.NetworkDriver, DefaultNetworkDriver)
	if o.Networks == (OpenStackNetworks{}) {
		o.Networks = carveOpenStackNetworks(c.Network.CIDR)
	}

	setDefault(&c.Existing.StorageClass, DefaultStorageClass)
	if o := c.Existing.ObjectStorage; o != nil {
		setDefault(&o.Region, "us-east-1")
		if o.PathStyle == nil {
			o.PathStyle = new(true)
		}
	}
	setDefault(&c.Charts.Source, chart.SourceRemote)
	setDefault(&c.Alerting.RunbookURL, DefaultRunbookURL)
	c.applyEdgeDefaults()
	if c.Observability.Logs == nil {
		// An incident in prod needs the logs of before it.
		c.Observability.Logs = new(prod)
	}
	if c.Observability.LogRetentionDays == 0 {
		c.Observability.LogRetentionDays = map[bool]int{false: 7, true: 30}[prod]
	}
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// carveAWSSubnets splits the VPC range: a private subnet of a quarter of the range per zone (pods
// take VPC addresses with the VPC CNI, so private subnets are large) and a small public subnet per
// zone, for load balancers and NAT gateways, from the last quarter. It returns nothing where
// the range cannot be carved; Validate then reports why.
func carveAWSSubnets(cidr string, zones int) (public, private []string) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() < 16 || p.Bits() > 22 || zones < 1 || zones > 3 {
		return nil, nil
	}
	for i := range zones {
		private = append(private, subnet(p, 2, i).String())
		public = append(public, subnet(p, 6, 48+i).String())
	}
	return public, private
}

// carveOpenStackNetworks splits the stack range into the three logical networks: small API and
// management networks and a larger internal network for the nodes.
func carveOpenStackNetworks(cidr string) OpenStackNetworks {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() < 16 || p.Bits() > 20 {
		return OpenStackNetworks{}
	}
	return OpenStackNetworks{
		API:        subnet(p, 8, 0).String(),
		Management: subnet(p, 8, 1).String(),
		Internal:   subnet(p, 4, 1).String(),
	}
}

// subnet is Terraform's cidrsubnet for IPv4: the num-th subnet of p that is newBits longer.
func subnet(p netip.Prefix, newBits, num int) netip.Prefix {
	base := p.Masked().Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	bits := p.Bits() + newBits
	v |= uint32(num) << (32 - bits)
	addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(addr, bits)
}

// mskClientSubnets is how many of the stack's private subnets MSK's brokers use: MSK takes two or
// three, so the first three of a stack over more zones.
func mskClientSubnets(zones int) int { return kafka.MSKClientSubnets(zones) }
