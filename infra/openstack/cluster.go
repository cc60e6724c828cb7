// Package openstack builds the base layer on OpenStack: the three logical networks of the seed
// brief (external API, management, internal) behind a router with the external gateway, and a
// Kubernetes cluster from Magnum's Cluster API Helm driver with its node groups. The driver makes
// the nodes' security groups and the API load balancer itself.
package openstack

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/images"
	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/networking"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// Networks are the CIDRs of the three logical networks.
type Networks struct {
	// API holds the public entry points: the public gateway's load balancer VIPs. (The
	// Kubernetes API's load balancer is the driver's, on the internal network.)
	API string
	// Management is for operators: SSH from named ranges, bastions, out-of-band tooling.
	Management string
	// Internal holds the Kubernetes nodes and east-west traffic.
	Internal string
}

// Args configures the OpenStack base layer. Every field is required unless it says otherwise;
// the composition root applies defaults and validates before calling New.
type Args struct {
	ClusterName string
	// KubernetesVersion is a full version ("1.34.2"); the image's kube_version must match it.
	KubernetesVersion string
	NetworkCIDR       string
	Networks          Networks
	// ExternalNetwork is the name of the provider network with internet access.
	ExternalNetwork string
	// Image is the Glance image name Magnum boots its nodes from: os_distro one of ImageDistros
	// and kube_version the Kubernetes version (the driver reads both from the image).
	Image        string
	MasterFlavor string
	// AvailabilityZones are the zones the cloud places the nodes in, reported to the platform.
	AvailabilityZones []string
	// DNSServers are handed out by DHCP on every subnet. Optional: Neutron's own when empty.
	DNSServers  []string
	MasterCount int
	// APIFloatingIP puts a floating IP on the API load balancer; without it the API is only
	// reachable from the cluster's networks.
	APIFloatingIP bool
	// Keypair is the Nova keypair for node SSH access. Optional.
	Keypair       string
	NetworkDriver string
	// APIAllowedCIDRs may reach the Kubernetes API load balancer, with the stack's network.
	APIAllowedCIDRs []string
	// Labels override Groundwork's Magnum labels. Optional.
	Labels map[string]string
	// NodeGroups: the first is the cluster's default worker group, the others Magnum node groups.
	NodeGroups []infra.NodeGroup
	// Registry is the registry host and path prefix images are pushed to.
	Registry string
	// RegistryLogin pushes to Registry. Optional.
	RegistryLogin *infra.RegistryLogin
	// Services are the domain services that get a repository each. Optional.
	Services []string
	Tags     infra.Tags
	// RenderTo writes the cluster's Kubernetes objects as YAML to this folder instead of
	// applying them. Optional.
	RenderTo string
	// S3Endpoint is the URL of the cloud's S3-compatible object storage API (Swift's s3api).
	// Optional: with it, a container is made for each of Buckets, with credentials.
	S3Endpoint string
	// Buckets are the containers the platform asks for. Optional; made only with S3Endpoint.
	Buckets []infra.Bucket
	// Protect retains volumes when their claims are deleted.
	Protect bool
}

// Cluster is the OpenStack base layer.
type Cluster struct {
	pulumi.ResourceState

	name         pulumi.StringOutput
	kubeconfig   pulumi.StringOutput
	provider     *kubernetes.Provider
	lbAnnotation pulumi.StringMapOutput
	registry     infra.Registry
	zones        []string
	network      *infra.Network
	buckets      map[string]*infra.ObjectStore
}

var _ infra.Cluster = (*Cluster)(nil)

// storageClassName is the default StorageClass, backed by the Cinder CSI driver.
const storageClassName = "cinder"

// New looks up the external network and the node image, then builds the networks, the security
// groups and the Magnum cluster.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if len(args.NodeGroups) == 0 {
		return nil, fmt.Errorf("openstack: no node groups")
	}
	ext, err := networking.LookupNetwork(ctx, &networking.LookupNetworkArgs{Name: &args.ExternalNetwork, External: pulumi.BoolRef(true)})
	if err != nil {
		return nil, fmt.Errorf("openstack: external network %q: %w", args.ExternalNetwork, err)
	}
	img, err := images.LookupImage(ctx, &images.LookupImageArgs{Name: &args.Image, MostRecent: pulumi.BoolRef(true)})
	if err != nil {
		return nil, fmt.Errorf("openstack: image %q: %w", args.Image, err)
	}
	if err := checkImage(args.Image, img.Properties, args.KubernetesVersion); err != nil {
		return nil, err
	}

	c := &Cluster{zones: args.AvailabilityZones}
	if err := ctx.RegisterComponentResource("groundwork:infra:OpenStackCluster", name, c, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: args, parent: c}
	net, err := b.network(ext.Id)
	if err != nil {
		return nil, fmt.Errorf("openstack network: %w", err)
	}
	mc, err := b.magnum(net, ext.Id, img.Id)
	if err != nil {
		return nil, fmt.Errorf("openstack magnum: %w", err)
	}

	c.name = mc.cluster.Name
	c.kubeconfig = pulumi.ToSecret(mc.cluster.Kubeconfig.MapIndex(pulumi.String("raw_config"))).(pulumi.StringOutput)
	c.provider, err = infra.NewProvider(ctx, name+"-k8s", infra.ProviderArgs{Kubeconfig: c.kubeconfig, RenderTo: args.RenderTo},
		pulumi.Parent(c), pulumi.DependsOn(mc.ready))
	if err != nil {
		return nil, fmt.Errorf("openstack kubernetes provider: %w", err)
	}
	reclaim := "Delete"
	if args.Protect {
		reclaim = "Retain"
	}
	if _, err := storagev1.NewStorageClass(ctx, name+"-"+storageClassName, &storagev1.StorageClassArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String(storageClassName),
			Annotations: pulumi.StringMap{"storageclass.kubernetes.io/is-default-class": pulumi.String("true")},
			Labels:      args.Tags.Labels("infra"),
		},
		Provisioner:          pulumi.String("cinder.csi.openstack.org"),
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		AllowVolumeExpansion: pulumi.Bool(true),
		ReclaimPolicy:        pulumi.String(reclaim),
	}, pulumi.Parent(c), pulumi.Provider(c.provider)); err != nil {
		return nil, fmt.Errorf("openstack storage class: %w", err)
	}

	// The cloud controller puts a public gateway's VIP on the API network, with a floating IP
	// from the external network.
	c.lbAnnotation = pulumi.StringMap{
		"loadbalancer.openstack.org/subnet-id":           net.subnets[roleAPI].ID(),
		"loadbalancer.openstack.org/floating-network-id": pulumi.String(ext.Id),
	}.ToStringMapOutput()
	c.registry = infra.StaticRegistry(args.Registry, args.Services, args.RegistryLogin)
	c.network = &infra.Network{
		ID:               net.networks[roleInternal].ID().ToStringOutput(),
		CIDR:             args.NetworkCIDR,
		PrivateSubnetIDs: pulumi.StringArray{net.subnets[roleInternal].ID()}.ToStringArrayOutput(),
		// The driver makes the nodes' security groups (the chart's manageSecurityGroups);
		// no managed service outside the cluster needs one here.
		NodeSecurityGroupID: pulumi.String("").ToStringOutput(),
	}
	if args.S3Endpoint != "" {
		if c.buckets, err = b.objectStorage(); err != nil {
			return nil, fmt.Errorf("openstack object storage: %w", err)
		}
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"clusterName": c.name,
		"kubeconfig":  c.kubeconfig,
		"networkId":   c.network.ID,
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
func (c *Cluster) StorageClass() string { return storageClassName }

// LoadBalancerAnnotations implements infra.Cluster.
func (c *Cluster) LoadBalancerAnnotations() pulumi.StringMapOutput { return c.lbAnnotation }

// Registry implements infra.Cluster.
func (c *Cluster) Registry() infra.Registry { return c.registry }

// Zones implements infra.Cluster.
func (c *Cluster) Zones() []string { return c.zones }

// Network implements infra.Cluster.
func (c *Cluster) Network() *infra.Network { return c.network }

type builder struct {
	ctx    *pulumi.Context
	name   string
	args   Args
	parent pulumi.Resource
}

func (b *builder) opts(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Parent(b.parent)}, extra...)
}

// ObjectStore implements infra.Cluster.
func (c *Cluster) ObjectStore(name string) *infra.ObjectStore { return c.buckets[name] }
