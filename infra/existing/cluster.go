// Package existing adopts a Kubernetes cluster Groundwork did not build (kind, k3d, a cluster
// another team runs) from its kubeconfig, so the platform layer runs without a cloud account.
package existing

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// Args configures an existing cluster. Exactly one of Kubeconfig, KubeconfigPath and RenderTo
// is set.
type Args struct {
	// RenderTo writes every Kubernetes object as YAML to this folder instead of applying it; no
	// kubeconfig and no cluster are needed.
	RenderTo string
	// Kubeconfig is the kubeconfig's content, from a secret config value.
	Kubeconfig pulumi.StringInput
	// KubeconfigPath is a kubeconfig file, read when the program starts.
	KubeconfigPath string
	// Context is the kubeconfig context to use. Optional: the current context.
	Context string
	// StorageClass is the name of the cluster's default StorageClass.
	StorageClass string
	// Zones are the zones the nodes carry in topology.kubernetes.io/zone. Optional.
	Zones []string
	// LoadBalancerAnnotations go on the gateway's LoadBalancer Service. Optional.
	LoadBalancerAnnotations map[string]string
	// Registry is the registry host and path prefix images are pushed to.
	Registry string
	// RegistryLogin pushes to Registry. Optional.
	RegistryLogin *infra.RegistryLogin
	// Services are the domain services that get a repository each. Optional.
	Services []string
	// ObjectStorage is S3-compatible storage the cluster's owners run, with buckets they made.
	// Optional: without it the platform has no object storage here.
	ObjectStorage *ObjectStorage
}

// ObjectStorage is S3-compatible storage Groundwork does not create (MinIO, Ceph RGW, a cloud's
// S3): its endpoint, keys, and a bucket per purpose (infra.Bucket.Name) the platform asks for.
type ObjectStorage struct {
	Endpoint  string
	Region    string
	PathStyle bool
	// AccessKeyID and SecretAccessKey sign requests; SecretAccessKey is a secret.
	AccessKeyID, SecretAccessKey pulumi.StringOutput
	// Buckets maps a purpose ("traces", "logs") to the name of the bucket made for it.
	Buckets map[string]string
}

// Cluster is a cluster that exists already.
type Cluster struct {
	pulumi.ResourceState

	name       pulumi.StringOutput
	kubeconfig pulumi.StringOutput
	provider   *kubernetes.Provider
	args       Args
	registry   infra.Registry
}

var _ infra.Cluster = (*Cluster)(nil)

// New reads the kubeconfig and creates a Kubernetes provider for it.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	kubeconfig := args.Kubeconfig
	if args.KubeconfigPath != "" {
		// Read here, not by the provider, so a missing file fails before anything is created,
		// and so the content is stored as a secret rather than a path valid on one laptop.
		data, err := os.ReadFile(args.KubeconfigPath)
		if err != nil {
			return nil, fmt.Errorf("existing: kubeconfig: %w", err)
		}
		kubeconfig = pulumi.String(data)
	}
	if kubeconfig == nil && args.RenderTo == "" {
		return nil, fmt.Errorf("existing: no kubeconfig: set the secret groundwork:kubeconfig or groundwork:existing.kubeconfigPath")
	}
	if kubeconfig == nil {
		// Render mode reaches no cluster; the kubeconfig output stays an empty secret.
		kubeconfig = pulumi.String("")
	}

	c := &Cluster{args: args}
	if err := ctx.RegisterComponentResource("groundwork:infra:ExistingCluster", name, c, opts...); err != nil {
		return nil, err
	}
	c.name = pulumi.String(name).ToStringOutput()
	c.kubeconfig = pulumi.ToSecret(kubeconfig).(pulumi.StringOutput)
	var err error
	c.provider, err = infra.NewProvider(ctx, name+"-k8s", infra.ProviderArgs{
		Kubeconfig: c.kubeconfig, Context: args.Context, RenderTo: args.RenderTo,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("existing kubernetes provider: %w", err)
	}
	c.registry = infra.StaticRegistry(args.Registry, args.Services, args.RegistryLogin)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"kubeconfig": c.kubeconfig}); err != nil {
		return nil, err
	}
	return c, nil
}

// Name implements infra.Cluster: the stack's cluster name, as the cluster has no name of its own
// that Groundwork can read.
func (c *Cluster) Name() pulumi.StringOutput { return c.name }

// Kubeconfig implements infra.Cluster.
func (c *Cluster) Kubeconfig() pulumi.StringOutput { return c.kubeconfig }

// Provider implements infra.Cluster.
func (c *Cluster) Provider() *kubernetes.Provider { return c.provider }

// StorageClass implements infra.Cluster.
func (c *Cluster) StorageClass() string { return c.args.StorageClass }

// LoadBalancerAnnotations implements infra.Cluster.
func (c *Cluster) LoadBalancerAnnotations() pulumi.StringMapOutput {
	return pulumi.ToStringMap(c.args.LoadBalancerAnnotations).ToStringMapOutput()
}

// Registry implements infra.Cluster.
func (c *Cluster) Registry() infra.Registry { return c.registry }

// Zones implements infra.Cluster.
func (c *Cluster) Zones() []string { return c.args.Zones }

// Network implements infra.Cluster: nil, as Groundwork does not own this cluster's network.
func (c *Cluster) Network() *infra.Network { return nil }

// ObjectStore implements infra.Cluster: the configured bucket for that purpose, or nil.
func (c *Cluster) ObjectStore(name string) *infra.ObjectStore {
	o := c.args.ObjectStorage
	if o == nil || o.Buckets[name] == "" {
		return nil
	}
	return &infra.ObjectStore{
		Bucket:   pulumi.String(o.Buckets[name]).ToStringOutput(),
		Endpoint: o.Endpoint, Region: o.Region, PathStyle: o.PathStyle,
		AccessKeyID: o.AccessKeyID, SecretAccessKey: pulumi.ToSecret(o.SecretAccessKey).(pulumi.StringOutput),
	}
}
