package openstack

import (
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
}

func (b *builder) network(externalNetworkID string) (*network, error) {
	a := b.args
	cidrs := map[string]string{roleAPI: a.Networks.API, roleManagement: a.Networks.Management, roleInternal: a.Networks.Internal}
	n := &network{networks: map[string]*networking.Network{}, subnets: map[string]*networking.Subnet{}}

	router := &networking.RouterArgs{
		Name:              pulumi.String(a.ClusterName),
		Description:       pulumi.String("Edge router of " + a.ClusterName + ": the three networks and the external gateway"),
		ExternalNetworkId: pulumi.String(externalNetworkID),
		AdminStateUp:      pulumi.Bool(true),
		Tags:              a.Tags.List("infra"),
	}
	// No "ha" attribute: creating an HA router is admin-only in Neutron's default policy
	// (create_router:ha, https://docs.openstack.org/neutron/latest/configuration/policy.html;
	// neutron/conf/policies/router.py: check_str base.ADMIN),
	// so a project user would get 403. Routers are HA when the cloud's operator sets l3_ha in
	// neutron.conf; the stack declares that (groundwork:openstack.routerHA).
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
	return n, nil
}

var description = map[string]string{
	roleAPI:        "External API network: load balancer VIPs of the public gateway",
	roleManagement: "Management network: operator access and tooling",
	roleInternal:   "Internal network: Kubernetes nodes and east-west traffic",
}
