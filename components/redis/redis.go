// Package redis is the platform's shared cache: one Redis with persistence and a password in the
// cluster, or an ElastiCache replication group on AWS. Each consuming namespace gets the same
// Secret and every service the same database.Endpoint, whichever way it runs.
package redis

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/database"
	"github.com/groundwork/groundwork/infra"
)

// Modes, the values of Args.Mode.
const (
	// ModeInCluster runs one Redis StatefulSet in the cluster.
	ModeInCluster = "in-cluster"
	// ModeElastiCache runs an ElastiCache replication group (AWS only).
	ModeElastiCache = "elasticache"
)

// Image is the official Redis image, pinned: upstream Redis Open Source 8.10.2 (Docker official
// image, Alpine variant).
const Image = "docker.io/library/redis:8.10.2-alpine"

// DefaultEngineVersion is the ElastiCache Redis OSS engine version.
const DefaultEngineVersion = "7.1"

// Port is Redis's port.
const Port = 6379

// ElastiCacheArgs size the replication group (ModeElastiCache).
type ElastiCacheArgs struct {
	// NodeType defaults to "cache.t4g.micro".
	NodeType string
	// Nodes is the number of cache nodes: 1 in dev; 2 or more in prod, which turns on
	// Multi-AZ with automatic failover to a replica in another zone.
	Nodes int
	// EngineVersion defaults to DefaultEngineVersion.
	EngineVersion string
	// SnapshotRetentionDays keeps daily snapshots (0..35); default 0 (a cache).
	SnapshotRetentionDays int
}

// Args configure the cache.
type Args struct {
	// After are resources every object of the component waits for, e.g. its namespace. A
	// component's own dependencies do not reach its children, so they are passed here.
	After []pulumi.Resource
	// Mode is ModeInCluster (default) or ModeElastiCache.
	Mode string
	// Namespace holds the in-cluster Redis (required in-cluster; created by the caller).
	Namespace string
	// Replicas is the number of in-cluster Redis pods (1..5); default 1. Pod 0 is the
	// primary clients use; the others are asynchronous read-only replicas on other nodes, a
	// warm copy of the data. Nothing promotes a replica automatically (no Sentinel): while
	// the primary is down the cache is unavailable.
	Replicas int
	// ClientNamespaces are the namespaces of the services that use the cache: each gets the
	// connection Secret (at least one).
	ClientNamespaces []string
	// StorageClass and StorageSize are the persistent volume of the in-cluster Redis
	// (StorageClass required in-cluster; size default "2Gi").
	StorageClass string
	StorageSize  string
	// CPU and Memory are the in-cluster requests; defaults "100m" and "256Mi". Memory is also
	// the limit; Redis evicts least-recently-used keys at 80% of it.
	CPU    string
	Memory string
	// CPULimit caps Redis's CPU; default "1" (Redis runs commands on one thread).
	CPULimit string
	// ImageMirror, when set, replaces the image's registry (air-gapped clusters).
	ImageMirror string

	// Network is the base layer's network (required in ModeElastiCache).
	Network *infra.Network
	// Tags are the ownership tags of AWS resources (ModeElastiCache).
	Tags infra.Tags
	// ElastiCache sizes the replication group (ModeElastiCache).
	ElastiCache ElastiCacheArgs
}

// Redis is the shared cache.
type Redis struct {
	pulumi.ResourceState
	after []pulumi.Resource

	// Endpoints maps a client namespace to the cache's endpoint there.
	Endpoints map[string]database.Endpoint
}

// SecretName is the connection Secret in each client namespace.
const SecretName = "redis"

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	memory     = regexp.MustCompile(`^([1-9][0-9]*)(Mi|Gi)$`)
	quantity   = regexp.MustCompile(`^[1-9][0-9]*(Mi|Gi|Ti)$`)
	cpuRequest = regexp.MustCompile(`^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$`)
)

func (a Args) withDefaults() Args {
	if a.Mode == "" {
		a.Mode = ModeInCluster
	}
	if a.StorageSize == "" {
		a.StorageSize = "2Gi"
	}
	if a.CPU == "" {
		a.CPU = "100m"
	}
	if a.Memory == "" {
		a.Memory = "256Mi"
	}
	if a.CPULimit == "" {
		a.CPULimit = "1"
	}
	if a.Replicas == 0 {
		a.Replicas = 1
	}
	if a.ElastiCache.NodeType == "" {
		a.ElastiCache.NodeType = "cache.t4g.micro"
	}
	if a.ElastiCache.Nodes == 0 {
		a.ElastiCache.Nodes = 1
	}
	if a.ElastiCache.EngineVersion == "" {
		a.ElastiCache.EngineVersion = DefaultEngineVersion
	}
	return a
}

func (a Args) validate() error {
	var errs []error
	bad := func(format string, v ...any) { errs = append(errs, fmt.Errorf(format, v...)) }
	switch a.Mode {
	case ModeInCluster:
		if !dnsLabel.MatchString(a.Namespace) {
			bad("redis: namespace %q is not a DNS label (lowercase letters, digits and '-')", a.Namespace)
		}
		if a.StorageClass == "" {
			bad("redis: storageClass is empty; want the cluster's StorageClass name")
		}
		if !quantity.MatchString(a.StorageSize) {
			bad("redis: storageSize %q is not a size like 2Gi (Mi, Gi or Ti)", a.StorageSize)
		}
		if !cpuRequest.MatchString(a.CPU) {
			bad("redis: cpu %q is not a CPU quantity like 100m or 1", a.CPU)
		}
		if !cpuRequest.MatchString(a.CPULimit) {
			bad("redis: cpuLimit %q is not a CPU quantity like 100m or 1", a.CPULimit)
		}
		if a.Replicas < 1 || a.Replicas > 5 {
			bad("redis: replicas is %d; allowed 1..5", a.Replicas)
		}
		if !memory.MatchString(a.Memory) {
			bad("redis: memory %q is not a size like 256Mi (Mi or Gi)", a.Memory)
		}
	case ModeElastiCache:
		if a.Network == nil {
			bad("redis: mode %s needs the base layer's network; the cloud gives none (use mode %s)", ModeElastiCache, ModeInCluster)
		}
		if !strings.HasPrefix(a.ElastiCache.NodeType, "cache.") {
			bad("redis: elastiCache.nodeType %q is not a node type like cache.t4g.micro", a.ElastiCache.NodeType)
		}
		if a.ElastiCache.Nodes < 1 || a.ElastiCache.Nodes > 6 {
			bad("redis: elastiCache.nodes is %d; allowed 1..6 (2 or more for Multi-AZ failover)", a.ElastiCache.Nodes)
		}
		if a.ElastiCache.SnapshotRetentionDays < 0 || a.ElastiCache.SnapshotRetentionDays > 35 {
			bad("redis: elastiCache.snapshotRetentionDays is %d; allowed 0..35", a.ElastiCache.SnapshotRetentionDays)
		}
	default:
		bad("redis: mode %q is not supported; allowed: %s, %s", a.Mode, ModeInCluster, ModeElastiCache)
	}
	if len(a.ClientNamespaces) == 0 {
		bad("redis: clientNamespaces is empty; want the namespaces of the services that use the cache")
	}
	for i, ns := range a.ClientNamespaces {
		if !dnsLabel.MatchString(ns) {
			bad("redis: clientNamespaces has %q, not a DNS label", ns)
		}
		if slices.Contains(a.ClientNamespaces[:i], ns) {
			bad("redis: clientNamespaces has %q twice", ns)
		}
	}
	return errors.Join(errs...)
}

// New creates the cache. The Kubernetes provider comes in through opts.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Redis, error) {
	args = args.withDefaults()
	if err := args.validate(); err != nil {
		return nil, err
	}
	r := &Redis{Endpoints: map[string]database.Endpoint{}, after: args.After}
	if err := ctx.RegisterComponentResource("groundwork:platform:Redis", name, r, opts...); err != nil {
		return nil, err
	}
	pw, err := random.NewRandomPassword(ctx, name+"-password", &random.RandomPasswordArgs{
		// ElastiCache auth tokens: 16..128 printable characters without @, " or /.
		Length:  pulumi.Int(32),
		Special: pulumi.Bool(false),
	}, r.child(), pulumi.AdditionalSecretOutputs([]string{"result"}))
	if err != nil {
		return nil, fmt.Errorf("redis password: %w", err)
	}
	password := pulumi.ToSecret(pw.Result).(pulumi.StringOutput)

	var host pulumi.StringOutput
	tls := false
	if args.Mode == ModeElastiCache {
		host, err = newElastiCache(ctx, name, args, password, r)
		tls = true
	} else {
		host, err = newStatefulSet(ctx, name, args, password, r)
	}
	if err != nil {
		return nil, err
	}
	scheme := "redis"
	if tls {
		scheme = "rediss"
	}
	for _, ns := range args.ClientNamespaces {
		if _, err := corev1.NewSecret(ctx, name+"-client-"+ns, &corev1.SecretArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(SecretName), Namespace: pulumi.String(ns), Labels: labels(args.Tags)},
			Type:     pulumi.String("Opaque"),
			StringData: pulumi.StringMap{
				database.KeyHost:     host,
				database.KeyPort:     pulumi.String(fmt.Sprint(Port)),
				database.KeyPassword: password,
				database.KeyURI:      pulumi.ToSecret(pulumi.Sprintf("%s://:%s@%s:%d/0", scheme, password, host, Port)).(pulumi.StringOutput),
				"tls":                pulumi.String(fmt.Sprint(tls)),
			},
		}, r.child()); err != nil {
			return nil, fmt.Errorf("redis client secret %s: %w", ns, err)
		}
		r.Endpoints[ns] = database.Endpoint{
			Host:            host,
			Port:            pulumi.Int(Port).ToIntOutput(),
			Database:        pulumi.String("").ToStringOutput(),
			SecretName:      pulumi.String(SecretName).ToStringOutput(),
			SecretNamespace: ns,
			TLS:             tls,
		}
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"host": host}); err != nil {
		return nil, err
	}
	return r, nil
}

func labels(tags infra.Tags) pulumi.StringMap {
	l := tags.Labels("redis")
	l["app.kubernetes.io/name"] = pulumi.String("redis")
	return l
}

// newStatefulSet runs Redis with append-only persistence and a password: a primary and
// Args.Replicas-1 replicas. Nothing fails over: a restart or a node loss of the primary makes
// the cache unavailable until the pod is back on its volume. Services must treat the cache as
// optional.
func newStatefulSet(ctx *pulumi.Context, name string, args Args, password pulumi.StringOutput, r *Redis) (pulumi.StringOutput, error) {
	ns := pulumi.String(args.Namespace)
	l := labels(args.Tags)
	selector := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("redis"), "app.kubernetes.io/instance": pulumi.String(name)}
	for k, v := range selector {
		l[k] = v
	}
	auth, err := corev1.NewSecret(ctx, name+"-auth", &corev1.SecretArgs{
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("redis-auth"), Namespace: ns, Labels: l},
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"password": password},
	}, r.child())
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis auth secret: %w", err)
	}
	m := memory.FindStringSubmatch(args.Memory)
	mb, _ := strconv.Atoi(m[1]) // digits only: the pattern was checked in validate
	if m[2] == "Gi" {
		mb *= 1024
	}
	maxMemory := fmt.Sprintf("%dmb", mb*8/10)
	passwordEnv := &corev1.EnvVarArgs{
		Name: pulumi.String("REDIS_PASSWORD"),
		ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
			Name: pulumi.String("redis-auth"), Key: pulumi.String("password"),
		}},
	}
	// redis-cli reads the password from REDISCLI_AUTH, so probes never put it on a command line.
	cliEnv := &corev1.EnvVarArgs{
		Name: pulumi.String("REDISCLI_AUTH"),
		ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
			Name: pulumi.String("redis-auth"), Key: pulumi.String("password"),
		}},
	}
	probe := func(initial int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			Exec:                &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"redis-cli", "ping"})},
			InitialDelaySeconds: pulumi.Int(initial),
			PeriodSeconds:       pulumi.Int(10),
			TimeoutSeconds:      pulumi.Int(3),
		}
	}
	headless, err := corev1.NewService(ctx, name+"-headless", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("redis-headless"), Namespace: ns, Labels: l},
		Spec: &corev1.ServiceSpecArgs{
			ClusterIP: pulumi.String("None"),
			Selector:  selector,
			Ports:     corev1.ServicePortArray{&corev1.ServicePortArgs{Name: pulumi.String("redis"), Port: pulumi.Int(Port), TargetPort: pulumi.String("redis")}},
		},
	}, r.child())
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis headless service: %w", err)
	}
	if _, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("redis"), Namespace: ns, Labels: l},
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:    pulumi.Int(args.Replicas),
			ServiceName: pulumi.String("redis-headless"),
			Selector:    &metav1.LabelSelectorArgs{MatchLabels: selector},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: l},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					// Keep the copies in different zones where there are several, and on different
					// nodes always, so one zone's or node's loss leaves a replica.
					Affinity: &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
						PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{
							&corev1.WeightedPodAffinityTermArgs{
								Weight: pulumi.Int(100),
								PodAffinityTerm: &corev1.PodAffinityTermArgs{
									TopologyKey:   pulumi.String("topology.kubernetes.io/zone"),
									LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
								},
							},
							&corev1.WeightedPodAffinityTermArgs{
								Weight: pulumi.Int(50),
								PodAffinityTerm: &corev1.PodAffinityTermArgs{
									TopologyKey:   pulumi.String("kubernetes.io/hostname"),
									LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: selector},
								},
							},
						},
					}},
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(999),
						RunAsGroup:     pulumi.Int(999),
						FsGroup:        pulumi.Int(999),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("redis"),
						Image: pulumi.String(mirrored(args.ImageMirror, Image)),
						// Pod 0 is the primary; the others replicate it. The password comes from
						// the environment, never from the pod spec.
						Command: pulumi.ToStringArray([]string{"sh", "-c", fmt.Sprintf(
							`if [ "${HOSTNAME##*-}" = 0 ]; then set --; else set -- --replicaof %s %d; fi; `+
								`exec redis-server --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD" `+
								`--appendonly yes --appendfsync everysec --dir /data --maxmemory %s --maxmemory-policy allkeys-lru "$@"`,
							primaryHost(args.Namespace), Port, maxMemory)}),
						Env:   corev1.EnvVarArray{passwordEnv, cliEnv},
						Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("redis"), ContainerPort: pulumi.Int(Port)}},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String(args.CPU), "memory": pulumi.String(args.Memory)},
							Limits:   pulumi.StringMap{"cpu": pulumi.String(args.CPULimit), "memory": pulumi.String(args.Memory)},
						},
						ReadinessProbe: probe(5),
						LivenessProbe:  probe(30),
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")}},
					}},
				},
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{&corev1.PersistentVolumeClaimTypeArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data")},
				Spec: &corev1.PersistentVolumeClaimSpecArgs{
					AccessModes:      pulumi.ToStringArray([]string{"ReadWriteOnce"}),
					StorageClassName: pulumi.String(args.StorageClass),
					Resources: &corev1.VolumeResourceRequirementsArgs{
						Requests: pulumi.StringMap{"storage": pulumi.String(args.StorageSize)},
					},
				},
			}},
		},
	}, r.child(), pulumi.DependsOn([]pulumi.Resource{auth, headless})); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis statefulset: %w", err)
	}
	primary := pulumi.StringMap{"statefulset.kubernetes.io/pod-name": pulumi.String("redis-0")}
	for k, v := range selector {
		primary[k] = v
	}
	if _, err := policyv1.NewPodDisruptionBudget(ctx, name, &policyv1.PodDisruptionBudgetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("redis"), Namespace: ns, Labels: l},
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: selector},
		},
	}, r.child()); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis disruption budget: %w", err)
	}
	// Clients reach the primary only: replicas are read-only copies.
	if _, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("redis"), Namespace: ns, Labels: l},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: primary,
			Ports:    corev1.ServicePortArray{&corev1.ServicePortArgs{Name: pulumi.String("redis"), Port: pulumi.Int(Port), TargetPort: pulumi.String("redis")}},
		},
	}, r.child()); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis service: %w", err)
	}
	return pulumi.Sprintf("redis.%s.svc", args.Namespace), nil
}

// mirrored moves an image reference under the mirror registry, keeping its path.
func mirrored(mirror, image string) string {
	i := strings.LastIndex(image, "/")
	return chart.Registry(mirror, image[:i]) + image[i:]
}

// newElastiCache creates a replication group in the private subnets, reachable only from the
// nodes, encrypted in transit and at rest, with the generated auth token.
func newElastiCache(ctx *pulumi.Context, name string, args Args, password pulumi.StringOutput, r *Redis) (pulumi.StringOutput, error) {
	net := args.Network
	subnets, err := elasticache.NewSubnetGroup(ctx, name+"-subnets", &elasticache.SubnetGroupArgs{
		Description: pulumi.String("Groundwork Redis: private subnets only"),
		SubnetIds:   net.PrivateSubnetIDs,
		Tags:        args.Tags.Map("redis", name+"-subnets"),
	}, r.child())
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis subnet group: %w", err)
	}
	sg, err := database.NodesOnlySecurityGroup(ctx, name+"-sg", net, args.Tags, "redis", "Redis", "Redis", Port, r.child())
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis security group: %w", err)
	}
	e := args.ElastiCache
	ha := e.Nodes > 1
	group, err := elasticache.NewReplicationGroup(ctx, name, &elasticache.ReplicationGroupArgs{
		Description:              pulumi.String("Groundwork shared cache"),
		Engine:                   pulumi.String("redis"),
		EngineVersion:            pulumi.String(e.EngineVersion),
		NodeType:                 pulumi.String(e.NodeType),
		NumCacheClusters:         pulumi.Int(e.Nodes),
		AutomaticFailoverEnabled: pulumi.Bool(ha),
		MultiAzEnabled:           pulumi.Bool(ha),
		Port:                     pulumi.Int(Port),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{sg.ID()},
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		TransitEncryptionEnabled: pulumi.Bool(true),
		AuthToken:                password,
		SnapshotRetentionLimit:   pulumi.Int(e.SnapshotRetentionDays),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		ApplyImmediately:         pulumi.Bool(false),
		Tags:                     args.Tags.Map("redis", name),
	}, r.child(), pulumi.AdditionalSecretOutputs([]string{"authToken"}))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis replication group: %w", err)
	}
	return group.PrimaryEndpointAddress, nil
}

// primaryHost is the stable DNS name of pod 0 behind the headless Service.
func primaryHost(namespace string) string {
	return "redis-0.redis-headless." + namespace + ".svc"
}

// child is the option every object of the component is created with: parented to it, and
// waiting for what the component waits for.
func (r *Redis) child() pulumi.ResourceOption {
	return pulumi.Composite(pulumi.Parent(r), pulumi.DependsOn(r.after))
}
