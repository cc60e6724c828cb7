// Package infra is the base layer of Groundwork: one interface, Cluster, that every cloud
// implementation satisfies (infra/aws, infra/openstack, infra/existing). The rest of the program
// consumes only this package; it never imports an implementation, except at the composition root.
package infra

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Cluster is a Kubernetes cluster ready for the platform layer, with everything about it that
// depends on the cloud underneath.
type Cluster interface {
	// Name is the cluster's name in its cloud (the EKS or Magnum cluster name).
	Name() pulumi.StringOutput
	// Kubeconfig is a kubeconfig for cluster-admin access. It is always a Pulumi secret.
	Kubeconfig() pulumi.StringOutput
	// Provider is a Kubernetes provider for the cluster. It becomes usable only once the
	// control plane and the node groups exist, so workloads created with it can schedule.
	Provider() *kubernetes.Provider
	// StorageClass is the name of the default StorageClass for persistent volumes.
	StorageClass() string
	// LoadBalancerAnnotations are the annotations a Service of type LoadBalancer needs on this
	// cloud to get a public load balancer (NLB on AWS, Octavia on OpenStack).
	LoadBalancerAnnotations() pulumi.StringMapOutput
	// Registry is where the images built from services/ are pushed and pulled from.
	Registry() Registry
	// Zones are the availability zones the nodes run in, in a stable order.
	Zones() []string
	// Network holds the facts that managed services outside the cluster (RDS, MSK,
	// ElastiCache) need. It is nil where Groundwork does not own the network (cloud existing).
	Network() *Network
	// ObjectStore is the bucket made for the Bucket of that name the base layer was asked for.
	// It is nil where the cloud gives no object storage (OpenStack without an S3 endpoint, an
	// existing cluster) or no such bucket was asked for.
	ObjectStore(name string) *ObjectStore
}

// Bucket asks the base layer for object storage for one purpose of the platform (log chunks,
// trace blocks), with the service accounts that use it. Buckets are made in the base layer
// because on AWS their access is an IAM role bound to the cluster's OIDC issuer.
type Bucket struct {
	// Name is the bucket's purpose, a DNS label unique in the stack ("logs", "traces"); the
	// cloud's bucket is named after the cluster and it.
	Name string
	// ExpireDays removes objects that many days after they were written (and, in a versioned
	// bucket, old versions that many days after they were replaced), where the cloud has
	// lifecycle rules (S3; Swift has none). The bucket's user should delete data sooner itself
	// (a compactor's or a backup tool's retention): this is the backstop that keeps a bucket
	// from growing forever. 0 keeps objects.
	ExpireDays int
	// Versioned keeps replaced and deleted objects as old versions (backups).
	Versioned bool
	// Retain keeps the bucket and its objects when the stack is destroyed: a destroy never
	// empties it, and in prod Pulumi refuses to delete it at all (backups).
	Retain bool
	// Users are the Kubernetes service accounts that read and write the bucket.
	Users []ServiceAccount
}

// ServiceAccount names a Kubernetes service account.
type ServiceAccount struct {
	Namespace, Name string
}

// ObjectStore is an S3-compatible bucket and how its users authenticate: an IAM role their
// service accounts assume (AWS), or keys (elsewhere).
type ObjectStore struct {
	// Bucket is the bucket's name; Endpoint the S3 API's URL; Region the region requests are
	// signed for.
	Bucket   pulumi.StringOutput
	Endpoint string
	Region   string
	// PathStyle addresses the bucket in the URL's path, as S3-compatible stores other than AWS
	// need, rather than in the host name.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are secrets, set where RoleARN is nil.
	AccessKeyID, SecretAccessKey pulumi.StringOutput
	// RoleARN, where not nil, is the IAM role the users assume through the
	// eks.amazonaws.com/role-arn annotation of their service account (IRSA); there are no keys.
	RoleARN *pulumi.StringOutput
}

// RoleAnnotation is the service-account annotation that makes a pod assume an IAM role (IRSA).
const RoleAnnotation = "eks.amazonaws.com/role-arn"

// Registry is a container registry with one repository per domain service.
type Registry struct {
	// URL is the registry host and path prefix, without a scheme, e.g.
	// "123456789012.dkr.ecr.eu-west-1.amazonaws.com" or "registry.example.com/groundwork".
	URL pulumi.StringOutput
	// Repositories maps a service name to the full repository its images go to.
	Repositories map[string]pulumi.StringOutput
	// Login is how the program logs in to push images. Nil: the registry takes pushes
	// without one (a local registry) or images are built elsewhere.
	Login *RegistryLogin
}

// RegistryLogin are push credentials; Password is always a secret.
type RegistryLogin struct {
	Server, Username, Password pulumi.StringOutput
}

// Network describes the network the cluster runs in.
type Network struct {
	// ID is the VPC ID on AWS, the internal network's ID on OpenStack.
	ID pulumi.StringOutput
	// CIDR is the address space of the whole network.
	CIDR string
	// PrivateSubnetIDs are the subnets without public addresses, one per zone, in Zones order.
	PrivateSubnetIDs pulumi.StringArrayOutput
	// NodeSecurityGroupID is the security group the nodes carry: a managed service opens its
	// port to this group only. Empty on OpenStack, where Magnum's driver makes the nodes'
	// groups and no managed service needs one.
	NodeSecurityGroupID pulumi.StringOutput
}

// NodeGroup is a pool of worker nodes with the same size and scheduling constraints.
type NodeGroup struct {
	Name        string
	MinSize     int
	DesiredSize int
	MaxSize     int
	// InstanceTypes are the EC2 instance types (AWS only).
	InstanceTypes []string
	// CapacityType is ON_DEMAND or SPOT (AWS only).
	CapacityType string
	// Flavor is the Nova flavor (OpenStack only).
	Flavor string
	// DiskSize is the root (AWS) or container (OpenStack) volume size in GiB.
	DiskSize int
	Labels   map[string]string
	Taints   []Taint
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Tags are the ownership tags every cloud resource carries.
type Tags struct {
	Project     string
	Stack       string
	Owner       string
	Environment string
}

// Map returns the tags as a map for one component of the platform, plus the resource's Name tag
// where name is not empty.
func (t Tags) Map(component, name string) pulumi.StringMap {
	m := pulumi.StringMap{
		"project":     pulumi.String(t.Project),
		"stack":       pulumi.String(t.Stack),
		"owner":       pulumi.String(t.Owner),
		"environment": pulumi.String(t.Environment),
		"component":   pulumi.String(component),
		"managed-by":  pulumi.String("pulumi"),
	}
	if name != "" {
		m["Name"] = pulumi.String(name)
	}
	return m
}

// List returns the tags as sorted "key=value" strings, the form OpenStack resources take.
func (t Tags) List(component string) pulumi.StringArray {
	plain := map[string]string{
		"project": t.Project, "stack": t.Stack, "owner": t.Owner,
		"environment": t.Environment, "component": component, "managed-by": "pulumi",
	}
	out := make(pulumi.StringArray, 0, len(plain))
	for _, k := range slices.Sorted(maps.Keys(plain)) {
		out = append(out, pulumi.String(k+"="+plain[k]))
	}
	return out
}

// Labels returns the tags as Kubernetes labels for one component of the platform.
func (t Tags) Labels(component string) pulumi.StringMap {
	return pulumi.ToStringMap(t.LabelMap(component))
}

// LabelMap is Labels as a plain map, for components that merge it with their own labels.
func (t Tags) LabelMap(component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/part-of":    t.Project,
		"app.kubernetes.io/managed-by": "pulumi",
		"app.kubernetes.io/component":  component,
		"groundwork.io/stack":          LabelValue(t.Stack),
		"groundwork.io/owner":          LabelValue(t.Owner),
		"groundwork.io/environment":    t.Environment,
	}
}

// WithLabels returns labels merged over base; labels win.
func WithLabels(base map[string]string, labels map[string]string) pulumi.StringMap {
	out := pulumi.ToStringMap(base)
	for k, v := range labels {
		out[k] = pulumi.String(v)
	}
	return out
}

var notLabelChar = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// LabelValue turns any string into a valid Kubernetes label value: at most 63 characters of
// letters, digits, '-', '_' and '.', starting and ending with a letter or digit.
func LabelValue(s string) string {
	v := notLabelChar.ReplaceAllString(s, "-")
	if len(v) > 63 {
		v = v[:63]
	}
	return strings.Trim(v, "-_.")
}

// StaticRegistry is a registry Groundwork does not create: each service's repository is the
// registry URL followed by the service name. login is optional.
func StaticRegistry(url string, services []string, login *RegistryLogin) Registry {
	r := Registry{URL: pulumi.String(url).ToStringOutput(), Repositories: map[string]pulumi.StringOutput{}, Login: login}
	for _, svc := range services {
		r.Repositories[svc] = pulumi.String(url + "/" + svc).ToStringOutput()
	}
	return r
}
