package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/groundwork/groundwork/components/redis"
)

const (
	statefulSetType = "kubernetes:apps/v1:StatefulSet"
	serviceType     = "kubernetes:core/v1:Service"
	replGroupType   = "aws:elasticache/replicationGroup:ReplicationGroup"
)

func redisInClusterArgs() redis.Args {
	return redis.Args{Namespace: "data", ClientNamespaces: []string{"apps", "jobs"}, StorageClass: "gp3", Memory: "1Gi"}
}

func redisElastiCacheArgs(nodes int) redis.Args {
	return redis.Args{
		Mode: redis.ModeElastiCache, ClientNamespaces: []string{"apps"}, Network: testNetwork(), Tags: testTags,
		ElastiCache: redis.ElastiCacheArgs{Nodes: nodes},
	}
}

func runRedis(t *testing.T, args redis.Args) (*mocks, *redis.Redis) {
	t.Helper()
	var r *redis.Redis
	m := mustRunComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
		var err error
		r, err = redis.New(ctx, "redis", args, k8s)
		return err
	})
	return m, r
}

func TestRedisInClusterPersistsAndRequiresAPassword(t *testing.T) {
	m, _ := runRedis(t, redisInClusterArgs())
	ss := m.byName(t, statefulSetType, "redis")
	var obj appsv1.StatefulSet
	strictDecode(t, ss, &obj)
	if *obj.Spec.Replicas != 1 {
		t.Errorf("replicas = %d; a single primary (no failover) is what this component claims", *obj.Spec.Replicas)
	}
	c := obj.Spec.Template.Spec.Containers[0]
	if c.Image != "docker.io/library/redis:8.10.2-alpine" {
		t.Errorf("image = %q; want the pinned official image", c.Image)
	}
	script := strings.Join(c.Command, " ")
	for _, want := range []string{`--requirepass "$REDIS_PASSWORD"`, "--appendonly yes", "--dir /data", "--maxmemory 819mb", "--maxmemory-policy allkeys-lru",
		"--replicaof redis-0.redis-headless.data.svc 6379"} {
		if !strings.Contains(script, want) {
			t.Errorf("command %q lacks %q", script, want)
		}
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("limits = %v; want cpu and memory capped", c.Resources.Limits)
	}
	if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "REDIS_PASSWORD" }); i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.SecretKeyRef.Name != "redis-auth" {
		t.Errorf("REDIS_PASSWORD does not come from the redis-auth Secret: %+v", c.Env)
	}
	if len(obj.Spec.VolumeClaimTemplates) != 1 || *obj.Spec.VolumeClaimTemplates[0].Spec.StorageClassName != "gp3" || c.VolumeMounts[0].MountPath != "/data" {
		t.Errorf("no persistent volume on gp3 mounted at /data: %+v", obj.Spec.VolumeClaimTemplates)
	}
	sc := c.SecurityContext
	if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*obj.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("container is not locked down: %+v", sc)
	}
	if c.ReadinessProbe == nil || !slices.Equal(c.ReadinessProbe.Exec.Command, []string{"redis-cli", "ping"}) {
		t.Errorf("readiness probe = %+v", c.ReadinessProbe)
	}
	if !m.dependsOn(ss, secretType, "redis-auth") {
		t.Error("the StatefulSet may start before its password Secret exists")
	}
	for _, s := range m.ofType(serviceType) {
		strictDecode(t, s, &corev1.Service{})
	}
	for _, s := range m.ofType(secretType) {
		strictDecode(t, s, &corev1.Secret{})
	}
}

func TestRedisReplicasCopyThePrimaryWhichAloneServesClients(t *testing.T) {
	args := redisInClusterArgs()
	args.Replicas = 3
	m, _ := runRedis(t, args)
	var ss appsv1.StatefulSet
	strictDecode(t, m.byName(t, statefulSetType, "redis"), &ss)
	if *ss.Spec.Replicas != 3 {
		t.Errorf("replicas = %d; want 3", *ss.Spec.Replicas)
	}
	aff := ss.Spec.Template.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil {
		t.Fatalf("copies are not kept apart: %+v", aff)
	}
	var keys []string
	for _, term := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		keys = append(keys, term.PodAffinityTerm.TopologyKey)
	}
	if !slices.Equal(keys, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}) {
		t.Errorf("copies are not kept in different zones, then nodes: %v", keys)
	}
	var svc corev1.Service
	strictDecode(t, m.byName(t, serviceType, "redis-service"), &svc)
	if svc.Spec.Selector["statefulset.kubernetes.io/pod-name"] != "redis-0" {
		t.Errorf("the redis Service selects %v; want the primary redis-0 only (replicas are read-only)", svc.Spec.Selector)
	}
	var pdb policyv1.PodDisruptionBudget
	strictDecode(t, m.byName(t, "kubernetes:policy/v1:PodDisruptionBudget", "redis"), &pdb)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "redis" {
		t.Errorf("disruption budget = %+v", pdb.Spec)
	}
}

func TestRedisImageFollowsTheMirror(t *testing.T) {
	args := redisInClusterArgs()
	args.ImageMirror = "mirror.internal:5000"
	m, _ := runRedis(t, args)
	var obj appsv1.StatefulSet
	strictDecode(t, m.byName(t, statefulSetType, "redis"), &obj)
	if got := obj.Spec.Template.Spec.Containers[0].Image; got != "mirror.internal:5000/library/redis:8.10.2-alpine" {
		t.Errorf("image = %q", got)
	}
}

func TestRedisEachClientNamespaceGetsTheSameEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		args     redis.Args
		wantHost string
		tls      bool
	}{
		{"in-cluster", redisInClusterArgs(), "redis.data.svc", false},
		{"elasticache", redisElastiCacheArgs(2), ".cache.amazonaws.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, r := runRedis(t, tt.args)
			for _, ns := range tt.args.ClientNamespaces {
				e := r.Endpoints[ns]
				host, _ := awaitOutput(t, e.Host).Value.(string)
				if !strings.HasSuffix(host, tt.wantHost) || e.TLS != tt.tls || e.SecretNamespace != ns || awaitOutput(t, e.SecretName).Value != "redis" {
					t.Errorf("endpoint in %s = %s tls %v secret %v/%v", ns, host, e.TLS, e.SecretNamespace, awaitOutput(t, e.SecretName).Value)
				}
				s := m.byName(t, secretType, "redis-client-"+ns)
				strictDecode(t, s, &corev1.Secret{})
				if !inputIsSecret(s.Inputs, "stringData.password") || !inputIsSecret(s.Inputs, "stringData.uri") {
					t.Errorf("client secret in %s holds the password outside a Pulumi secret", ns)
				}
			}
			assertNoPlaintext(t, m, m.secretStrings(t))
		})
	}
}

func TestRedisElastiCacheIsEncryptedPrivateAndFailsOverInProd(t *testing.T) {
	tests := []struct {
		name  string
		nodes int
		ha    bool
	}{
		{"dev", 1, false},
		{"prod", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := runRedis(t, redisElastiCacheArgs(tt.nodes))
			gs := m.ofType(replGroupType)
			if len(gs) != 1 {
				t.Fatalf("replication groups = %v", names(gs))
			}
			in := gs[0].Inputs
			if !in["atRestEncryptionEnabled"].BoolValue() || !in["transitEncryptionEnabled"].BoolValue() {
				t.Errorf("encryption at rest %v in transit %v", in["atRestEncryptionEnabled"], in["transitEncryptionEnabled"])
			}
			if !in["authToken"].IsSecret() {
				t.Error("auth token is not a secret")
			}
			if in["numCacheClusters"].NumberValue() != float64(tt.nodes) || in["automaticFailoverEnabled"].BoolValue() != tt.ha || in["multiAzEnabled"].BoolValue() != tt.ha {
				t.Errorf("nodes %v failover %v multiAz %v; want %d %v %v", in["numCacheClusters"], in["automaticFailoverEnabled"], in["multiAzEnabled"], tt.nodes, tt.ha, tt.ha)
			}
			sg := m.ofType("aws:ec2/securityGroup:SecurityGroup")
			rule := sg[0].Inputs["ingress"].ArrayValue()[0].ObjectValue()
			if got := strs(rule["securityGroups"]); len(sg) != 1 || len(got) != 1 || got[0] != "sg-0nodes0000000000" || rule["fromPort"].NumberValue() != 6379 || len(strs(rule["cidrBlocks"])) != 0 {
				t.Errorf("ingress = %v; want 6379 from the nodes only", rule)
			}
			if sub := m.ofType("aws:elasticache/subnetGroup:SubnetGroup"); len(sub) != 1 || propStr(in["subnetGroupName"]) != propStr(sub[0].Outputs["name"]) {
				t.Errorf("not in the private subnet group: %v", in["subnetGroupName"])
			}
			if len(m.ofType(statefulSetType)) != 0 {
				t.Error("ElastiCache mode also runs Redis in the cluster")
			}
		})
	}
}

func TestRedisInvalidArgsFailBeforeAnyResource(t *testing.T) {
	tests := []struct {
		name string
		base func() redis.Args
		give func(a *redis.Args)
		want []string
	}{
		{"mode", redisInClusterArgs, func(a *redis.Args) { a.Mode = "memcached" }, []string{`redis: mode "memcached" is not supported; allowed: in-cluster, elasticache`}},
		{"namespace", redisInClusterArgs, func(a *redis.Args) { a.Namespace = "Data" }, []string{`redis: namespace "Data" is not a DNS label`}},
		{"storage class", redisInClusterArgs, func(a *redis.Args) { a.StorageClass = "" }, []string{"redis: storageClass is empty"}},
		{"storage size", redisInClusterArgs, func(a *redis.Args) { a.StorageSize = "2GB" }, []string{`redis: storageSize "2GB" is not a size like 2Gi`}},
		{"memory", redisInClusterArgs, func(a *redis.Args) { a.Memory = "1Ti" }, []string{`redis: memory "1Ti" is not a size like 256Mi (Mi or Gi)`}},
		{"cpu", redisInClusterArgs, func(a *redis.Args) { a.CPU = "-1" }, []string{`redis: cpu "-1" is not a CPU quantity`}},
		{"replicas", redisInClusterArgs, func(a *redis.Args) { a.Replicas = 6 }, []string{"redis: replicas is 6; allowed 1..5"}},
		{"cpu limit", redisInClusterArgs, func(a *redis.Args) { a.CPULimit = "lots" }, []string{`redis: cpuLimit "lots" is not a CPU quantity`}},
		{"no clients", redisInClusterArgs, func(a *redis.Args) { a.ClientNamespaces = nil }, []string{"redis: clientNamespaces is empty"}},
		{"client namespace", redisInClusterArgs, func(a *redis.Args) { a.ClientNamespaces = []string{"apps", "Apps"} }, []string{`redis: clientNamespaces has "Apps", not a DNS label`}},
		{"duplicate client namespace", redisInClusterArgs, func(a *redis.Args) { a.ClientNamespaces = []string{"apps", "apps"} }, []string{`redis: clientNamespaces has "apps" twice`}},
		{"elasticache without network", func() redis.Args { return redisElastiCacheArgs(1) }, func(a *redis.Args) { a.Network = nil }, []string{"redis: mode elasticache needs the base layer's network"}},
		{"node type", func() redis.Args { return redisElastiCacheArgs(1) }, func(a *redis.Args) { a.ElastiCache.NodeType = "t4g.micro" }, []string{`redis: elastiCache.nodeType "t4g.micro" is not a node type`}},
		{"nodes", func() redis.Args { return redisElastiCacheArgs(1) }, func(a *redis.Args) { a.ElastiCache.Nodes = 7 }, []string{"redis: elastiCache.nodes is 7; allowed 1..6"}},
		{"snapshots", func() redis.Args { return redisElastiCacheArgs(1) }, func(a *redis.Args) { a.ElastiCache.SnapshotRetentionDays = 36 }, []string{"redis: elastiCache.snapshotRetentionDays is 36; allowed 0..35"}},
		{"every problem at once", redisInClusterArgs, func(a *redis.Args) { a.StorageClass, a.ClientNamespaces = "", nil }, []string{"redis: storageClass is empty", "redis: clientNamespaces is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.base()
			tt.give(&args)
			m, err := runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
				_, err := redis.New(ctx, "redis", args, k8s)
				return err
			})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if n := len(m.resources); n > 2 {
				t.Errorf("%d resources were created before the error", n)
			}
		})
	}
}
