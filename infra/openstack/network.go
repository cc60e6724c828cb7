package openstack

import (
	"strings"

	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/networking"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The roles of the three logical networks, used in resource names.
const (
	roleAPI        = "api"
	roleManagement = "management"
	roleInternal   = "internal"
)

var roles = []string{roleAPI, roleManagement, roleInternal}

type network struct {
	networks map[string]*networking.Network
	subnets  map[string]*networking.Subnet
	groups   map[string]*networking.SecGroup
}

func (b *builder) network(externalNetworkID string) (*network, error) {
	a := b.args
	cidrs := map[string]string{roleAPI: a.Networks.API, roleManagement: a.Networks.Management, roleInternal: a.Networks.Internal}
	n := &network{networks: map[string]*networking.Network{}, subnets: map[string]*networking.Subnet{}, groups: map[string]*networking.SecGroup{}}

	router := &networking.RouterArgs{
		Name:              pulumi.String(a.ClusterName),
		Description:       pulumi.String("Edge router of " + a.ClusterName + ": the three networks and the external gateway"),
		ExternalNetworkId: pulumi.String(externalNetworkID),
		AdminStateUp:      pulumi.Bool(true),
		Tags:              a.Tags.List("infra"),
	}
	if a.RouterHA {
		// L3 HA: a standby router on another network node takes over by VRRP.
		router.ValueSpecs = pulumi.Map{"ha": pulumi.String("true")}
		router.AvailabilityZoneHints = pulumi.ToStringArray(a.AvailabilityZones)
	}
	r, err := networking.NewRouter(b.ctx, b.name+"-router", router, b.opts()...)
	if err != nil {
		return nil, err
	}

	for _, role := range roles {
		name := b.name + "-" + role
		net, err := networking.NewNetwork(b.ctx, name, &networking.NetworkArgs{
			Name:                pulumi.String(a.ClusterName + "-" + role),
			Description:         pulumi.String(description[role]),
			AdminStateUp:        pulumi.Bool(true),
			PortSecurityEnabled: pulumi.Bool(true),
			Tags:                a.Tags.List("infra"),
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		sub, err := networking.NewSubnet(b.ctx, name, &networking.SubnetArgs{
			Name:           pulumi.String(a.ClusterName + "-" + role),
			NetworkId:      net.ID(),
			Cidr:           pulumi.String(cidrs[role]),
			IpVersion:      pulumi.Int(4),
			EnableDhcp:     pulumi.Bool(true),
			DnsNameservers: pulumi.ToStringArray(a.DNSServers),
			Tags:           a.Tags.List("infra"),
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		if _, err := networking.NewRouterInterface(b.ctx, name, &networking.RouterInterfaceArgs{
			RouterId: r.ID(),
			SubnetId: sub.ID(),
		}, b.opts()...); err != nil {
			return nil, err
		}
		n.networks[role], n.subnets[role] = net, sub
	}
	return n, b.securityGroups(n, cidrs)
}

var description = map[string]string{
	roleAPI:        "External API network: load balancer VIPs of the public gateway and the Kubernetes API",
	roleManagement: "Management network: operator access and tooling",
	roleInternal:   "Internal network: Kubernetes nodes and east-west traffic",
}

// rule is one ingress rule of a security group: a TCP port range (both zero: any protocol) from
// a CIDR.
type rule struct {
	what     string
	from, to int
	cidr     string
}

// securityGroups creates the groups for the API entry points, the nodes, internal traffic and
// management access, each with only the ingress it needs.
func (b *builder) securityGroups(n *network, cidrs map[string]string) error {
	a := b.args
	groups := []struct {
		name, description string
		rules             []rule
	}{
		{"api", "Kubernetes API and public gateway from the allowed ranges", nil},
		{"nodes", "Kubernetes nodes: NodePorts from load balancers, kubelet from the internal network", []rule{
			{"nodeports-from-api-network", 30000, 32767, cidrs[roleAPI]},
			{"kubelet-from-internal", 10250, 10250, cidrs[roleInternal]},
		}},
		{"internal", "Any traffic between members of the internal network", []rule{
			{"any-from-internal", 0, 0, cidrs[roleInternal]},
		}},
		{"management", "SSH from the operators' ranges", nil},
	}
	for _, cidr := range a.APIAllowedCIDRs {
		groups[0].rules = append(groups[0].rules,
			rule{"https-from-" + cidr, 443, 443, cidr},
			rule{"kube-api-from-" + cidr, 6443, 6443, cidr})
	}
	for _, cidr := range a.ManagementAllowedCIDRs {
		groups[3].rules = append(groups[3].rules, rule{"ssh-from-" + cidr, 22, 22, cidr})
	}
	for _, g := range groups {
		name := b.name + "-sg-" + g.name
		sg, err := networking.NewSecGroup(b.ctx, name, &networking.SecGroupArgs{
			Name:        pulumi.String(a.ClusterName + "-" + g.name),
			Description: pulumi.String(g.description),
			Tags:        a.Tags.List("infra"),
		}, b.opts()...)
		if err != nil {
			return err
		}
		for _, r := range g.rules {
			args := &networking.SecGroupRuleArgs{
				Description:     pulumi.String(r.what),
				Direction:       pulumi.String("ingress"),
				Ethertype:       pulumi.String("IPv4"),
				RemoteIpPrefix:  pulumi.String(r.cidr),
				SecurityGroupId: sg.ID(),
			}
			if r.from != 0 {
				args.Protocol = pulumi.String("tcp")
				args.PortRangeMin = pulumi.Int(r.from)
				args.PortRangeMax = pulumi.Int(r.to)
			}
			ruleName := name + "-" + strings.NewReplacer("/", "-", ".", "-").Replace(r.what)
			if _, err := networking.NewSecGroupRule(b.ctx, ruleName, args, b.opts()...); err != nil {
				return err
			}
		}
		n.groups[g.name] = sg
	}
	return nil
}
