package database

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// NodesOnlySecurityGroup is the security group of a managed data store (RDS, MSK, ElastiCache):
// it admits the cluster's nodes on the store's port and nothing else. product names the store in
// the group's description ("PostgreSQL"), protocol what the port carries ("PostgreSQL",
// "Kafka SASL/SCRAM over TLS"); component is its tag.
func NodesOnlySecurityGroup(ctx *pulumi.Context, name string, net *infra.Network, tags infra.Tags, component, product, protocol string, port int, opts ...pulumi.ResourceOption) (*ec2.SecurityGroup, error) {
	return ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		Description: pulumi.String("Groundwork " + product + ": open to the cluster's nodes only"),
		VpcId:       net.ID,
		Ingress: ec2.SecurityGroupIngressArray{&ec2.SecurityGroupIngressArgs{
			Description:    pulumi.String(protocol + " from the cluster's nodes"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(port),
			ToPort:         pulumi.Int(port),
			SecurityGroups: pulumi.StringArray{net.NodeSecurityGroupID},
		}},
		Tags: tags.Map(component, name),
	}, opts...)
}
