package aws

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// network is the VPC with a public and a private subnet in every zone.
type network struct {
	vpc     *ec2.Vpc
	public  []*ec2.Subnet
	private []*ec2.Subnet
	// privateRoutes are the private subnets' route tables, one per zone.
	privateRoutes []*ec2.RouteTable
}

func (n *network) privateSubnetIDs() pulumi.StringArrayOutput {
	ids := make(pulumi.StringArray, len(n.private))
	for i, s := range n.private {
		ids[i] = s.ID().ToStringOutput()
	}
	return ids.ToStringArrayOutput()
}

func (b *builder) network() (*network, error) {
	a := b.args
	vpc, err := ec2.NewVpc(b.ctx, b.name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(a.VPCCIDR),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               b.tags(b.name),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	// Adopting the default security group with no rules closes it: nothing can use it by
	// accident (CIS AWS 5.4).
	if _, err := ec2.NewDefaultSecurityGroup(b.ctx, b.name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
		Tags:  b.tags(b.name + "-default"),
	}, b.opts()...); err != nil {
		return nil, err
	}
	igw, err := ec2.NewInternetGateway(b.ctx, b.name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  b.tags(b.name),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}
	publicRT, err := ec2.NewRouteTable(b.ctx, b.name+"-public", &ec2.RouteTableArgs{
		VpcId:  vpc.ID(),
		Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()}},
		Tags:   b.tags(b.name + "-public"),
	}, b.opts()...)
	if err != nil {
		return nil, err
	}

	n := &network{vpc: vpc}
	clusterTag := "kubernetes.io/cluster/" + a.ClusterName
	var nats []*ec2.NatGateway
	for i, zone := range a.Zones {
		pubName := b.name + "-public-" + zone
		pubTags := b.tags(pubName)
		pubTags["kubernetes.io/role/elb"] = pulumi.String("1")
		pubTags[clusterTag] = pulumi.String("shared")
		pub, err := ec2.NewSubnet(b.ctx, pubName, &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(a.PublicSubnets[i]),
			AvailabilityZone: pulumi.String(zone),
			// Load balancers and NAT gateways get their addresses explicitly; instances never
			// get a public IP by accident.
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags:                pubTags,
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(b.ctx, pubName, &ec2.RouteTableAssociationArgs{
			SubnetId: pub.ID(), RouteTableId: publicRT.ID(),
		}, b.opts()...); err != nil {
			return nil, err
		}
		n.public = append(n.public, pub)

		if a.NatPerZone || i == 0 {
			natName := b.name + "-nat-" + zone
			eip, err := ec2.NewEip(b.ctx, natName, &ec2.EipArgs{Domain: pulumi.String("vpc"), Tags: b.tags(natName)}, b.opts()...)
			if err != nil {
				return nil, err
			}
			nat, err := ec2.NewNatGateway(b.ctx, natName, &ec2.NatGatewayArgs{
				AllocationId: eip.ID(),
				SubnetId:     pub.ID(),
				Tags:         b.tags(natName),
			}, b.opts(pulumi.DependsOn([]pulumi.Resource{igw}))...)
			if err != nil {
				return nil, err
			}
			nats = append(nats, nat)
		}

		privName := b.name + "-private-" + zone
		privTags := b.tags(privName)
		privTags["kubernetes.io/role/internal-elb"] = pulumi.String("1")
		privTags[clusterTag] = pulumi.String("shared")
		priv, err := ec2.NewSubnet(b.ctx, privName, &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(a.PrivateSubnets[i]),
			AvailabilityZone: pulumi.String(zone),
			Tags:             privTags,
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		nat := nats[len(nats)-1]
		rt, err := ec2.NewRouteTable(b.ctx, privName, &ec2.RouteTableArgs{
			VpcId:  vpc.ID(),
			Routes: ec2.RouteTableRouteArray{&ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: nat.ID()}},
			Tags:   b.tags(privName),
		}, b.opts()...)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(b.ctx, privName, &ec2.RouteTableAssociationArgs{
			SubnetId: priv.ID(), RouteTableId: rt.ID(),
		}, b.opts()...); err != nil {
			return nil, err
		}
		n.private = append(n.private, priv)
		n.privateRoutes = append(n.privateRoutes, rt)
	}
	if _, err := b.s3Endpoint(n); err != nil {
		return nil, err
	}
	return n, nil
}

// s3Endpoint routes the private subnets' S3 traffic through a gateway endpoint, which is free,
// instead of the NAT gateways, which bill every gigabyte: the buckets' objects and ECR's image
// layers, which ECR serves from S3
// (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html,
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html).
func (b *builder) s3Endpoint(n *network) (*ec2.VpcEndpoint, error) {
	routes := pulumi.StringArray{}
	for _, rt := range n.privateRoutes {
		routes = append(routes, rt.ID())
	}
	service := "com.amazonaws." + b.args.Region + ".s3"
	if b.partition == "aws-cn" {
		service = "cn." + service
	}
	return ec2.NewVpcEndpoint(b.ctx, b.name+"-s3", &ec2.VpcEndpointArgs{
		VpcId:           n.vpc.ID(),
		ServiceName:     pulumi.String(service),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   routes,
		Tags:            b.tags(b.name + "-s3"),
	}, b.opts()...)
}
