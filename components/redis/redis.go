// Package redis is the platform's shared cache: Redis with persistence and a password in the
// cluster, or an ElastiCache replication group on AWS. In the cluster it is one pod, or three or
// five with Redis Sentinel failing over to a replica and HAProxy keeping the client endpoint on
// the master, so clients need not know Sentinel. Each consuming namespace gets the same Secret
// and every service the same database.Endpoint, whichever way it runs.
package redis

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
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
	// ModeInCluster runs a Redis StatefulSet in the cluster (with Sentinel and HAProxy when it
	// has several pods).
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
	// Replicas is the number of in-cluster Redis pods: 1 (default), 3 or 5. One pod is a
	// plain Redis: while it is down the cache is unavailable. With 3 or 5, one pod is the
	// master and the others asynchronous replicas on other nodes; Redis Sentinel in every pod
	// promotes a replica when the master fails (a majority of the pods must see it fail, hence
	// an odd count), and two HAProxy pods behind the redis Service send clients to whichever pod
	// is the master.
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
		if a.Replicas != 1 && a.Replicas != 3 && a.Replicas != 5 {
			bad("redis: replicas is %d; allowed 1, 3 or 5 (Sentinel needs a majority to fail over)", a.Replicas)
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

// newStatefulSet runs Redis with append-only persistence and a password, each pod on its own
// volume, and returns the host clients connect to.
//
// With one pod (Args.Replicas 1) that is all: the redis Service selects it, and a restart or a
// node loss makes the cache unavailable until the pod is back on its volume.
//
// With three or five pods, one is the master and the others replicate it asynchronously, and
// every pod also runs Redis Sentinel. When the master has not answered for 5 s, a majority of the
// Sentinels elects one of them to promote a replica and points the other replicas at it; a pod
// that comes back (its init container asks the peers' Sentinels) rejoins as a replica of the
// current master. Clients stay unaware of Sentinel: the redis Service selects HAProxy pods
// (newProxy) that send every connection to the pod that reports role:master, and cut the
// connections to a pod that stops passing that check, so clients reconnect to the new master.
// Writes that had not reached a replica when the master failed are lost (replication is
// asynchronous), and the cache is unavailable for the few seconds of the failover.
//
// Split brain: an old master cut off from the Sentinels but not from HAProxy still reports
// role:master until Sentinel demotes it once the partition heals, so for a while HAProxy may
// send clients to both masters. The pods run with min-replicas-to-write 1 and
// min-replicas-max-lag 10: a master without a replica that is at most 10 s behind refuses
// writes, so an isolated old master, which its replicas have left for the new one, stops taking
// writes within about 10 s; what it took until then is lost when it rejoins as a replica.
func newStatefulSet(ctx *pulumi.Context, name string, args Args, password pulumi.StringOutput, r *Redis) (pulumi.StringOutput, error) {
	ns := pulumi.String(args.Namespace)
	l := labels(args.Tags)
	selector := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("redis"), "app.kubernetes.io/instance": pulumi.String(name)}
	for k, v := range selector {
		l[k] = v
	}
	sentinel := useSentinel(args.Replicas)
	auth, err := corev1.NewSecret(ctx, name+"-auth", &corev1.SecretArgs{
		Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("redis-auth"), Namespace: ns, Labels: l},
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"password": password},
	}, r.child())
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis auth secret: %w", err)
	}
	fromSecret := func(env string) *corev1.EnvVarArgs {
		return &corev1.EnvVarArgs{
			Name: pulumi.String(env),
			ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
				Name: pulumi.String("redis-auth"), Key: pulumi.String("password"),
			}},
		}
	}
	// redis-cli reads the password from REDISCLI_AUTH, so probes never put it on a command line.
	cliEnv := fromSecret("REDISCLI_AUTH")
	probe := func(port, initial int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			Exec:                &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{"redis-cli", "-p", fmt.Sprint(port), "ping"})},
			InitialDelaySeconds: pulumi.Int(initial),
			PeriodSeconds:       pulumi.Int(10),
			TimeoutSeconds:      pulumi.Int(3),
		}
	}
	lockedDown := &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
	}
	configMount := &corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String(configDir)}
	ports := corev1.ServicePortArray{&corev1.ServicePortArgs{Name: pulumi.String("redis"), Port: pulumi.Int(Port), TargetPort: pulumi.String("redis")}}
	// The init container writes the configuration files: the password stays out of the pod spec
	// and off command lines.
	initEnv := corev1.EnvVarArray{
		fromSecret("REDIS_PASSWORD"),
		&corev1.EnvVarArgs{Name: pulumi.String("CONFIG_DIR"), Value: pulumi.String(configDir)},
	}
	containers := corev1.ContainerArray{&corev1.ContainerArgs{
		Name:    pulumi.String("redis"),
		Image:   pulumi.String(mirrored(args.ImageMirror, Image)),
		Command: pulumi.ToStringArray([]string{"redis-server", configDir + "/redis.conf", "--dir", "/data"}),
		Env:     corev1.EnvVarArray{cliEnv},
		Ports:   corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("redis"), ContainerPort: pulumi.Int(Port)}},
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.StringMap{"cpu": pulumi.String(args.CPU), "memory": pulumi.String(args.Memory)},
			Limits:   pulumi.StringMap{"cpu": pulumi.String(args.CPULimit), "memory": pulumi.String(args.Memory)},
		},
		ReadinessProbe:  probe(Port, 5),
		LivenessProbe:   probe(Port, 30),
		SecurityContext: lockedDown,
		VolumeMounts: corev1.VolumeMountArray{
			&corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")},
			configMount,
		},
	}}
	if sentinel {
		peers := make([]string, args.Replicas)
		for i := range peers {
			peers[i] = podHost(args.Namespace, i)
		}
		initEnv = append(initEnv,
			cliEnv,
			&corev1.EnvVarArgs{Name: pulumi.String("POD_NAME"), ValueFrom: &corev1.EnvVarSourceArgs{
				FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.name")},
			}},
			// Kubernetes expands $(POD_NAME): this pod's name under the headless Service.
			&corev1.EnvVarArgs{Name: pulumi.String("REDIS_HOST"), Value: pulumi.String("$(POD_NAME)." + headlessDomain(args.Namespace))},
			&corev1.EnvVarArgs{Name: pulumi.String("REDIS_PEERS"), Value: pulumi.String(strings.Join(peers, " "))},
		)
		containers = append(containers, &corev1.ContainerArgs{
			Name:    pulumi.String("sentinel"),
			Image:   pulumi.String(mirrored(args.ImageMirror, Image)),
			Command: pulumi.ToStringArray([]string{"redis-server", configDir + "/sentinel.conf", "--sentinel"}),
			Env:     corev1.EnvVarArray{cliEnv},
			Ports:   corev1.ContainerPortArray{&corev1.ContainerPortArgs{Name: pulumi.String("sentinel"), ContainerPort: pulumi.Int(SentinelPort)}},
			Resources: &corev1.ResourceRequirementsArgs{
				Requests: pulumi.StringMap{"cpu": pulumi.String("50m"), "memory": pulumi.String("64Mi")},
				Limits:   pulumi.StringMap{"cpu": pulumi.String("200m"), "memory": pulumi.String("64Mi")},
			},
			ReadinessProbe:  probe(SentinelPort, 5),
			LivenessProbe:   probe(SentinelPort, 30),
			SecurityContext: lockedDown,
			VolumeMounts:    corev1.VolumeMountArray{configMount},
		})
		ports = append(ports, &corev1.ServicePortArgs{Name: pulumi.String("sentinel"), Port: pulumi.Int(SentinelPort), TargetPort: pulumi.String("sentinel")})
	}
	headless, err := corev1.NewService(ctx, name+"-headless", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("redis-headless"), Namespace: ns, Labels: l},
		Spec: &corev1.ServiceSpecArgs{
			ClusterIP: pulumi.String("None"),
			Selector:  selector,
			// Each pod's name resolves while it starts, before it is ready: peers find each
			// other, and a starting pod finds the master.
			PublishNotReadyAddresses: pulumi.Bool(true),
			Ports:                    ports,
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
					Affinity: spreadApart(selector),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot:   pulumi.Bool(true),
						RunAsUser:      pulumi.Int(999),
						RunAsGroup:     pulumi.Int(999),
						FsGroup:        pulumi.Int(999),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					InitContainers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("config"),
						Image:   pulumi.String(mirrored(args.ImageMirror, Image)),
						Command: pulumi.ToStringArray([]string{"sh", "-c", initScript(args)}),
						Env:     initEnv,
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("10m"), "memory": pulumi.String("16Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("32Mi")},
						},
						SecurityContext: lockedDown,
						VolumeMounts:    corev1.VolumeMountArray{configMount},
					}},
					Containers: containers,
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{
						Name:     pulumi.String("config"),
						EmptyDir: &corev1.EmptyDirVolumeSourceArgs{Medium: pulumi.String("Memory"), SizeLimit: pulumi.String("1Mi")},
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
	}, r.child(), chart.DependsOn([]pulumi.Resource{auth, headless})); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("redis statefulset: %w", err)
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
	// Clients reach the master only: the single pod, or through HAProxy whichever pod Sentinel
	// made the master.
	target := selector
	if sentinel {
		if target, err = newProxy(ctx, name, args, labels(args.Tags), fromSecret("REDIS_PASSWORD"), r, auth); err != nil {
			return pulumi.StringOutput{}, err
		}
	}
	if _, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("redis"), Namespace: ns, Labels: l},
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: target,
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

// child is the option every object of the component is created with: parented to it, and
// waiting for what the component waits for.
func (r *Redis) child() pulumi.ResourceOption {
	return pulumi.Composite(pulumi.Parent(r), chart.DependsOn(r.after))
}
