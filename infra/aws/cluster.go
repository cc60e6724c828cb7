// Package aws builds the base layer on AWS: a VPC across the configured zones, an EKS cluster with
// encrypted secrets, managed node groups, IAM roles for service accounts and an ECR repository per
// domain service.
package aws

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// Args configures the AWS base layer. Every field is required unless it says otherwise; the
// composition root applies defaults and validates before calling New.
type Args struct {
	// ClusterName is the EKS cluster name; ECR repositories are prefixed with it.
	ClusterName string
	// Region is the AWS region of the default provider (aws:region).
	Region string
	// Zones are the availability zones to span, from Zones.
	Zones []string
	// KubernetesVersion is a full version ("1.34.2"); EKS runs its minor.
	KubernetesVersion string
	// ServiceCIDR is the ClusterIP range.
	ServiceCIDR string
	// VPCCIDR is the VPC range; PublicSubnets and PrivateSubnets hold one CIDR per zone.
	VPCCIDR        string
	PublicSubnets  []string
	PrivateSubnets []string
	// NatPerZone puts a NAT gateway in every zone; otherwise one serves all zones.
	NatPerZone bool
	// PublicAccessCIDRs may reach the API endpoint from the internet. Optional: empty keeps the
	// endpoint private.
	PublicAccessCIDRs []string
	// PrivateAccessCIDRs are networks connected to the VPC (VPN, peering, Transit Gateway) that
	// may reach the private endpoint, besides the VPC itself. Optional.
	PrivateAccessCIDRs []string
	// ControlPlaneLogs are the control-plane log types sent to CloudWatch (ControlPlaneLogTypes).
	// Optional: none.
	ControlPlaneLogs []string
	// UpgradePolicy is UpgradeStandard or UpgradeExtended.
	UpgradePolicy string
	// Profile and AssumeRoleARN are the AWS provider's profile and assumed role (aws:profile,
	// aws:assumeRole.roleArn): the kubeconfig's token is signed with the same identity. Optional.
	Profile       string
	AssumeRoleARN string
	// AdminRoleARNs are granted cluster-admin through access entries. Optional.
	AdminRoleARNs         []string
	KMSDeletionWindowDays int
	LogRetentionDays      int
	// AddonVersions pins EKS add-on versions by name. Optional: an add-on not named runs the
	// default version for the cluster's Kubernetes version.
	AddonVersions map[string]string
	NodeGroups    []infra.NodeGroup
	// Services are the domain services that get an ECR repository each. Optional.
	Services []string
	Tags     infra.Tags
	// RenderTo writes the cluster's Kubernetes objects as YAML to this folder instead of
	// applying them. Optional.
	RenderTo string
	// Buckets are the S3 buckets the platform asks for, each with an IAM role for its service
	// accounts. Optional.
	Buckets []infra.Bucket
	// Protect turns on what guards data in production: retained volumes, no forced deletion of
	// repositories holding images or of buckets holding objects.
	Protect bool
	// HA runs two cluster autoscaler replicas (one active by leader election).
	HA bool
	// ChartSource is where the cluster autoscaler's chart comes from; the zero value is
	// chart.Remote. ImageMirror, when set, replaces the registry of its image.
	ChartSource chart.Source
	ImageMirror string
	// DNS01 gets cert-manager an IAM role for ACME DNS-01 challenges in a Route53 hosted zone.
	// Optional.
	DNS01 *DNS01
}

// Cluster is the AWS base layer.
type Cluster struct {
	pulumi.ResourceState

	name         pulumi.StringOutput
	kubeconfig   pulumi.StringOutput
	provider     *kubernetes.Provider
	storageClass string
	lbAnnotation pulumi.StringMapOutput
	registry     infra.Registry
	zones        []string
	network      *infra.Network
	buckets      map[string]*infra.ObjectStore
	dns01Role    *pulumi.StringOutput
}

var _ infra.Cluster = (*Cluster)(nil)

// Zones returns the first count availability zones of the region in name order, so that a stack
// always lands on the same zones.
func Zones(ctx *pulumi.Context, count int) ([]string, error) {
	res, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		// Local Zones and Wavelength Zones are opt-in and lack EKS support.
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("availability zones: %w", err)
	}
	names := slices.Sorted(slices.Values(res.Names))
	if len(names) < count {
		return nil, fmt.Errorf("%d zones asked, but the region has %d available: %s", count, len(names), strings.Join(names, ", "))
	}
	return names[:count], nil
}

// New builds the VPC, the EKS cluster and its node groups, and the ECR repositories.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if n := len(args.Zones); n < 2 || len(args.PublicSubnets) != n || len(args.PrivateSubnets) != n {
		return nil, fmt.Errorf("aws: %d zones with %d public and %d private subnets: EKS needs two zones or more and one subnet of each kind per zone",
			n, len(args.PublicSubnets), len(args.PrivateSubnets))
	}
	if len(args.NodeGroups) == 0 {
		return nil, fmt.Errorf("aws: no node groups")
	}
	if args.UpgradePolicy != UpgradeStandard && args.UpgradePolicy != UpgradeExtended {
		return nil, fmt.Errorf("aws: upgrade policy %q; want %s or %s", args.UpgradePolicy, UpgradeStandard, UpgradeExtended)
	}
	if args.ChartSource.Kind == "" {
		args.ChartSource.Kind = chart.SourceRemote
	}
	identity, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("aws: caller identity: %w", err)
	}
	// An assumed role's session ARN (arn:aws:sts::…:assumed-role/name/session) is not an IAM
	// principal an access entry takes; its issuer, the role with its path, is
	// (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
	session, err := iam.GetSessionContext(ctx, &iam.GetSessionContextArgs{Arn: identity.Arn})
	if err != nil {
		return nil, fmt.Errorf("aws: deploying identity %s: %w", identity.Arn, err)
	}

	c := &Cluster{zones: args.Zones, storageClass: "gp3", buckets: map[string]*infra.ObjectStore{}}
	if err := ctx.RegisterComponentResource("groundwork:infra:AwsCluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, parent: c, partition: partitionOf(identity.Arn), deployer: session.IssuerArn}

	net, err := b.network()
	if err != nil {
		return nil, fmt.Errorf("aws network: %w", err)
	}
	eks, err := b.eks(net)
	if err != nil {
		return nil, fmt.Errorf("aws eks: %w", err)
	}
	reg, err := b.registry(identity.AccountId)
	if err != nil {
		return nil, fmt.Errorf("aws ecr: %w", err)
	}
	for _, spec := range args.Buckets {
		if c.buckets[spec.Name], err = b.bucket(spec, eks.oidc); err != nil {
			return nil, fmt.Errorf("aws bucket %s: %w", spec.Name, err)
		}
	}

	if args.DNS01 != nil {
		arn, err := b.dns01Role(*args.DNS01, eks.oidc)
		if err != nil {
			return nil, fmt.Errorf("aws cert-manager dns-01 role: %w", err)
		}
		c.dns01Role = &arn
	}

	c.name = eks.cluster.Name
	c.kubeconfig = pulumi.ToSecret(kubeconfig(eks.cluster, kubeconfigAuth{Region: args.Region, Profile: args.Profile, RoleARN: args.AssumeRoleARN})).(pulumi.StringOutput)
	c.provider, err = infra.NewProvider(ctx, name+"-k8s", infra.ProviderArgs{Kubeconfig: c.kubeconfig, RenderTo: args.RenderTo},
		pulumi.Parent(c), pulumi.DependsOn(eks.ready))
	if err != nil {
		return nil, fmt.Errorf("aws kubernetes provider: %w", err)
	}
	if err := b.storageClass(c.provider, c.storageClass, eks.ebsCSI); err != nil {
		return nil, fmt.Errorf("aws storage class: %w", err)
	}
	if err := b.autoscaler(c.provider, eks, identity.AccountId); err != nil {
		return nil, fmt.Errorf("aws cluster autoscaler: %w", err)
	}
	c.lbAnnotation = pulumi.StringMap{
		// The in-tree AWS service controller provisions a Network Load Balancer.
		"service.beta.kubernetes.io/aws-load-balancer-type":                              pulumi.String("nlb"),
		"service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": pulumi.String("true"),
	}.ToStringMapOutput()
	c.registry = reg
	c.network = &infra.Network{
		ID:                  net.vpc.ID().ToStringOutput(),
		CIDR:                args.VPCCIDR,
		PrivateSubnetIDs:    net.privateSubnetIDs(),
		NodeSecurityGroupID: eks.cluster.VpcConfig.ClusterSecurityGroupId().Elem(),
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName": c.name,
		"kubeconfig":  c.kubeconfig,
		"registryUrl": reg.URL,
		"vpcId":       c.network.ID,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name implements infra.Cluster.
func (c *Cluster) Name() pulumi.StringOutput { return c.name }

// Kubeconfig implements infra.Cluster.
func (c *Cluster) Kubeconfig() pulumi.StringOutput { return c.kubeconfig }

// Provider implements infra.Cluster.
func (c *Cluster) Provider() *kubernetes.Provider { return c.provider }

// StorageClass implements infra.Cluster.
func (c *Cluster) StorageClass() string { return c.storageClass }

// LoadBalancerAnnotations implements infra.Cluster.
func (c *Cluster) LoadBalancerAnnotations() pulumi.StringMapOutput { return c.lbAnnotation }

// Registry implements infra.Cluster.
func (c *Cluster) Registry() infra.Registry { return c.registry }

// Zones implements infra.Cluster.
func (c *Cluster) Zones() []string { return c.zones }

// Network implements infra.Cluster.
func (c *Cluster) Network() *infra.Network { return c.network }

// builder carries what every child resource of the cluster needs.
type builder struct {
	ctx       *pulumi.Context
	name      string
	args      Args
	parent    pulumi.Resource
	partition string
	// deployer is the IAM principal that runs the deployment (a role's ARN for an assumed role).
	deployer string
}

func (b *builder) opts(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.parent)}, extra...)
}

func (b *builder) tags(name string) pulumi.StringMap {
	return b.args.Tags.Map("infra", name)
}

// partitionOf reads the partition (aws, aws-cn, aws-us-gov) from an ARN.
func partitionOf(arn string) string {
	if parts := strings.SplitN(arn, ":", 3); len(parts) == 3 && parts[1] != "" {
		return parts[1]
	}
	return "aws"
}
