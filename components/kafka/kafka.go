// Package kafka is the event backbone of the platform: Apache Kafka in the cluster through the
// Strimzi operator (KRaft, node pools), or Amazon MSK on AWS, with the domain event topics and one
// user per service whose ACLs allow writing only the topics it produces and reading only those it
// consumes.
package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/infra"
)

// Modes, the values of Args.Mode.
const (
	// ModeInCluster runs Kafka in the cluster with the Strimzi operator.
	ModeInCluster = "in-cluster"
	// ModeMSK runs Amazon MSK in the cluster's private subnets (AWS only).
	ModeMSK = "msk"
)

// DomainTopics are the event topics of the product brief, one per bounded context.
var DomainTopics = []string{
	"identity.events",
	"user.events",
	"subscription.events",
	"notification.events",
	"analytics.events",
	"tenant.events",
}

// Topic is one Kafka topic.
type Topic struct {
	// Name is the topic name (required): lowercase letters, digits, '.' and '-'.
	Name string
	// Partitions is the partition count (required, at least 1).
	Partitions int
	// ReplicationFactor is the number of replicas (required, 1..Brokers and at least
	// MinInSyncReplicas).
	ReplicationFactor int
	// Retention is how long records are kept (required, at least one minute).
	Retention time.Duration
}

// Topics returns the domain topics with the same partitions, replication factor and retention.
func Topics(partitions, replicationFactor int, retention time.Duration) []Topic {
	out := make([]Topic, len(DomainTopics))
	for i, n := range DomainTopics {
		out[i] = Topic{Name: n, Partitions: partitions, ReplicationFactor: replicationFactor, Retention: retention}
	}
	return out
}

// User is the Kafka identity of one service.
type User struct {
	// Name is the service name (required, a DNS label); the Kafka principal is User:<Name>.
	Name string
	// Namespace is where the service runs: its client Secret is written there (required).
	Namespace string
	// Produces are the topics the service may write (each one of Args.Topics).
	Produces []string
	// Consumes are the topics the service may read (each one of Args.Topics); it may also use
	// the consumer groups whose names start with its Name.
	Consumes []string
}

// MSKArgs size the MSK cluster (ModeMSK only).
type MSKArgs struct {
	// InstanceType is the broker instance type; default "kafka.m7g.large".
	InstanceType string
	// KafkaVersion is the MSK Kafka version; default DefaultMSKVersion.
	KafkaVersion string
	// VolumeSize is the EBS volume per broker in GiB; default 100.
	VolumeSize int
}

// Args configure the Kafka component. Plain values shape the graph; the Network's IDs are
// Outputs known once the base layer exists.
type Args struct {
	// After are resources every object of the component waits for, e.g. its namespace. A
	// component's own dependencies do not reach its children, so they are passed here.
	After []pulumi.Resource
	// Mode is ModeInCluster (default) or ModeMSK.
	Mode string
	// Namespace holds the operator, the Kafka cluster, its CA and the users' password Secrets
	// in-cluster, and the admin Job that applies topics and ACLs in ModeMSK (required; created
	// by the caller).
	Namespace string
	// ClusterName is the Kafka cluster's name; default "events".
	ClusterName string
	// Brokers is the number of brokers (required): 1 in dev, 3 in prod.
	Brokers int
	// Controllers is the number of KRaft controllers (in-cluster): default 1 with one broker,
	// 3 otherwise. Odd, so a quorum survives losing a minority.
	Controllers int
	// MinInSyncReplicas is min.insync.replicas; default 1 with fewer than 3 brokers, else 2.
	MinInSyncReplicas int
	// Zones are the cluster's zones; with two or more and more than one broker, brokers are
	// spread across them and replicas placed rack-aware (topology.kubernetes.io/zone). MSK
	// needs at least two, in the order of Network.PrivateSubnetIDs; it uses the first
	// MSKClientSubnets of them, and the broker count must be a multiple of that.
	Zones []string
	// StorageClass is the StorageClass of the brokers' volumes (required in-cluster).
	StorageClass string
	// StorageSize is the volume per broker and controller, e.g. "20Gi"; default "10Gi".
	StorageSize string
	// CPU and Memory are each broker's resource requests; defaults "500m" and "2Gi". Memory
	// is also the limit.
	CPU    string
	Memory string
	// CPULimit caps each broker's CPU; default "2".
	CPULimit string
	// Topics are the topics to create.
	Topics []Topic
	// Users are the services that produce or consume.
	Users []User
	// ChartSource is where the operator chart comes from; the zero value is chart.Remote.
	ChartSource chart.Source
	// ImageMirror, when set, replaces the registry of every image (air-gapped clusters).
	ImageMirror string

	// Network is the base layer's network (required in ModeMSK).
	Network *infra.Network
	// Tags are the ownership tags of AWS resources (ModeMSK).
	Tags infra.Tags
	// MSK sizes the MSK cluster (ModeMSK).
	MSK MSKArgs
}

// Client says where a service finds its Kafka credentials.
type Client struct {
	// SecretName is the Kubernetes Secret, in SecretNamespace, with the keys Key*.
	SecretName      string
	SecretNamespace string
}

// Keys of each service's client Secret.
const (
	KeyBootstrapServers = "bootstrap.servers"
	KeySecurityProtocol = "security.protocol"
	KeySASLMechanism    = "sasl.mechanism"
	KeyUsername         = "username"
	KeyPassword         = "password"
	// KeyCACert is the PEM CA certificate to trust (in-cluster only: MSK's brokers present
	// certificates from a public CA).
	KeyCACert = "ca.crt"
)

// Kafka is the event backbone.
type Kafka struct {
	pulumi.ResourceState
	after []pulumi.Resource

	// BootstrapServers is the comma-separated bootstrap list for SASL/SCRAM over TLS.
	BootstrapServers pulumi.StringOutput `pulumi:"bootstrapServers"`
	// Clients maps a service name to its client Secret.
	Clients map[string]Client
}

const (
	// DefaultMSKVersion is the MSK Kafka version used when none is given.
	DefaultMSKVersion = "3.8.x"
	defaultCluster    = "events"
)

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	topicName  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	quantity   = regexp.MustCompile(`^[1-9][0-9]*(Mi|Gi|Ti)$`)
	cpuRequest = regexp.MustCompile(`^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$`)
)

// withDefaults returns a copy of args with every default applied.
func (a Args) withDefaults() Args {
	if a.Mode == "" {
		a.Mode = ModeInCluster
	}
	if a.ChartSource.Kind == "" {
		a.ChartSource.Kind = chart.SourceRemote
	}
	if a.ClusterName == "" {
		a.ClusterName = defaultCluster
	}
	if a.Controllers == 0 {
		a.Controllers = 3
		if a.Brokers == 1 {
			a.Controllers = 1
		}
	}
	if a.MinInSyncReplicas == 0 {
		a.MinInSyncReplicas = 1
		if a.Brokers >= 3 {
			a.MinInSyncReplicas = 2
		}
	}
	if a.StorageSize == "" {
		a.StorageSize = "10Gi"
	}
	if a.CPU == "" {
		a.CPU = "500m"
	}
	if a.Memory == "" {
		a.Memory = "2Gi"
	}
	if a.CPULimit == "" {
		a.CPULimit = "2"
	}
	if a.MSK.InstanceType == "" {
		a.MSK.InstanceType = "kafka.m7g.large"
	}
	if a.MSK.KafkaVersion == "" {
		a.MSK.KafkaVersion = DefaultMSKVersion
	}
	if a.MSK.VolumeSize == 0 {
		a.MSK.VolumeSize = 100
	}
	return a
}

// validate returns every problem of args at once, each naming the field, the value and what is
// allowed.
func (a Args) validate() error {
	var errs []error
	bad := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	if a.Mode != ModeInCluster && a.Mode != ModeMSK {
		bad("kafka: mode %q is not supported; allowed: %s, %s", a.Mode, ModeInCluster, ModeMSK)
	}
	if !dnsLabel.MatchString(a.ClusterName) || len(a.ClusterName) > 40 {
		bad("kafka: clusterName %q is not a DNS label of at most 40 characters", a.ClusterName)
	}
	if a.Brokers < 1 {
		bad("kafka: brokers is %d; want at least 1", a.Brokers)
	}
	if a.Mode == ModeInCluster {
		if !dnsLabel.MatchString(a.Namespace) {
			bad("kafka: namespace %q is not a DNS label (lowercase letters, digits and '-')", a.Namespace)
		}
		if a.Controllers < 1 || a.Controllers%2 == 0 {
			bad("kafka: controllers is %d; want an odd number (1, 3 or 5) so the KRaft quorum survives a minority", a.Controllers)
		}
		if a.StorageClass == "" {
			bad("kafka: storageClass is empty; want the cluster's StorageClass name")
		}
		if !quantity.MatchString(a.StorageSize) {
			bad("kafka: storageSize %q is not a size like 10Gi (Mi, Gi or Ti)", a.StorageSize)
		}
		if !cpuRequest.MatchString(a.CPU) {
			bad("kafka: cpu %q is not a CPU quantity like 500m or 2", a.CPU)
		}
		if !cpuRequest.MatchString(a.CPULimit) {
			bad("kafka: cpuLimit %q is not a CPU quantity like 500m or 2", a.CPULimit)
		}
		if !quantity.MatchString(a.Memory) {
			bad("kafka: memory %q is not a size like 2Gi (Mi, Gi or Ti)", a.Memory)
		}
	}
	if a.Brokers >= 1 && (a.MinInSyncReplicas < 1 || a.MinInSyncReplicas > a.Brokers) {
		bad("kafka: minInSyncReplicas is %d; want 1..%d (the broker count)", a.MinInSyncReplicas, a.Brokers)
	}
	if a.Mode == ModeMSK {
		if a.Network == nil {
			bad("kafka: mode %s needs the base layer's network; the cloud gives none (use mode %s)", ModeMSK, ModeInCluster)
		}
		if !dnsLabel.MatchString(a.Namespace) {
			bad("kafka: namespace %q is not a DNS label; mode %s runs its admin Job there", a.Namespace, ModeMSK)
		}
		if len(a.Zones) < 2 {
			bad("kafka: mode %s needs at least 2 zones; have %v", ModeMSK, a.Zones)
		} else if n := MSKClientSubnets(len(a.Zones)); a.Brokers >= 1 && a.Brokers%n != 0 {
			bad("kafka: brokers is %d; MSK spreads brokers evenly over its %d client subnets (the first %d of the zones %v), so it wants a multiple of %d",
				a.Brokers, n, n, a.Zones, n)
		}
		if a.MSK.VolumeSize < 1 || a.MSK.VolumeSize > 16384 {
			bad("kafka: msk.volumeSize is %d GiB; allowed 1..16384", a.MSK.VolumeSize)
		}
	}
	seen := map[string]bool{}
	for _, t := range a.Topics {
		if !topicName.MatchString(t.Name) || len(t.Name) > 200 {
			bad("kafka: topic name %q is not allowed; want lowercase letters, digits, '.' and '-'", t.Name)
		}
		if seen[t.Name] {
			bad("kafka: topic %q is declared twice", t.Name)
		}
		seen[t.Name] = true
		if t.Partitions < 1 {
			bad("kafka: topic %q: partitions is %d; want at least 1", t.Name, t.Partitions)
		}
		if t.ReplicationFactor < 1 || (a.Brokers >= 1 && t.ReplicationFactor > a.Brokers) {
			bad("kafka: topic %q: replicationFactor is %d; want 1..%d (the broker count)", t.Name, t.ReplicationFactor, a.Brokers)
		} else if t.ReplicationFactor < a.MinInSyncReplicas {
			bad("kafka: topic %q: replicationFactor %d is below minInSyncReplicas %d, so no write with acks=all could succeed", t.Name, t.ReplicationFactor, a.MinInSyncReplicas)
		}
		if t.Retention < time.Minute {
			bad("kafka: topic %q: retention is %s; want at least 1m", t.Name, t.Retention)
		}
	}
	users := map[string]bool{}
	for _, u := range a.Users {
		if !dnsLabel.MatchString(u.Name) || len(u.Name) > 50 {
			bad("kafka: user name %q is not a DNS label of at most 50 characters", u.Name)
		}
		if users[u.Name] {
			bad("kafka: user %q is declared twice", u.Name)
		}
		users[u.Name] = true
		if !dnsLabel.MatchString(u.Namespace) {
			bad("kafka: user %q: namespace %q is not a DNS label", u.Name, u.Namespace)
		}
		for _, t := range u.Produces {
			if !seen[t] {
				bad("kafka: user %q produces %q, which is not one of the topics %v", u.Name, t, topicNames(a.Topics))
			}
		}
		for _, t := range u.Consumes {
			if !seen[t] {
				bad("kafka: user %q consumes %q, which is not one of the topics %v", u.Name, t, topicNames(a.Topics))
			}
		}
		if u.Name == adminUser {
			bad("kafka: user name %q is reserved for the platform's admin", u.Name)
		}
	}
	return errors.Join(errs...)
}

func topicNames(ts []Topic) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// New creates the Kafka cluster, its topics and its users. The Kubernetes provider comes in
// through opts (pulumi.Provider or pulumi.Providers); the namespace must exist.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Kafka, error) {
	args = args.withDefaults()
	if err := args.validate(); err != nil {
		return nil, err
	}
	k := &Kafka{Clients: map[string]Client{}, after: args.After}
	if err := ctx.RegisterComponentResource("groundwork:platform:Kafka", name, k, opts...); err != nil {
		return nil, err
	}
	var err error
	if args.Mode == ModeMSK {
		err = newMSK(ctx, name, args, k)
	} else {
		err = newStrimzi(ctx, name, args, k)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(k, pulumi.Map{"bootstrapServers": k.BootstrapServers}); err != nil {
		return nil, err
	}
	return k, nil
}

// acl is one permission of a user on a resource, in the vocabulary shared by Strimzi and the
// Kafka provider.
type acl struct {
	resourceType string // topic or group
	name         string
	prefix       bool
	operation    string
}

// acls derives a user's permissions: Write and Describe on the topics it produces, Read and
// Describe on those it consumes, and Read on its own consumer groups.
func (u User) acls() []acl {
	var out []acl
	for _, t := range sortedUnique(u.Produces) {
		out = append(out, acl{"topic", t, false, "Write"}, acl{"topic", t, false, "Describe"})
	}
	for _, t := range sortedUnique(u.Consumes) {
		if !slices.Contains(u.Produces, t) {
			out = append(out, acl{"topic", t, false, "Describe"})
		}
		out = append(out, acl{"topic", t, false, "Read"})
	}
	if len(u.Consumes) > 0 {
		out = append(out, acl{"group", u.Name, true, "Read"})
	}
	return out
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// adminUser is the platform's own Kafka identity where topics and ACLs are managed through the
// Kafka API (MSK).
const adminUser = "groundwork-admin"

// child is the option every object of the component is created with: parented to it, and
// waiting for what the component waits for.
func (k *Kafka) child() pulumi.ResourceOption {
	return pulumi.Composite(pulumi.Parent(k), chart.DependsOn(k.after))
}
