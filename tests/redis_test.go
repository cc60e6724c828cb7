package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/groundwork/groundwork/components/redis"
)

const (
	statefulSetType = "kubernetes:apps/v1:StatefulSet"
	serviceType     = "kubernetes:core/v1:Service"
	replGroupType   = "aws:elasticache/replicationGroup:ReplicationGroup"
	deploymentType  = "kubernetes:apps/v1:Deployment"
	configMapType   = "kubernetes:core/v1:ConfigMap"
	pdbType         = "kubernetes:policy/v1:PodDisruptionBudget"
	hpaType         = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
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
		t.Errorf("replicas = %d; want the default single pod", *obj.Spec.Replicas)
	}
	pod := obj.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 1 {
		t.Fatalf("containers %v, init containers %v; want redis alone, its config written first", containerNames(pod.Containers), containerNames(pod.InitContainers))
	}
	c := pod.Containers[0]
	if c.Image != "docker.io/library/redis:8.10.2-alpine" || pod.InitContainers[0].Image != c.Image {
		t.Errorf("images = %q, %q; want the pinned official image", c.Image, pod.InitContainers[0].Image)
	}
	if !slices.Equal(c.Command, []string{"redis-server", "/config/redis.conf", "--dir", "/data"}) {
		t.Errorf("command = %q; want redis-server on the generated config, data on the volume", c.Command)
	}
	script := strings.Join(pod.InitContainers[0].Command, " ")
	for _, want := range []string{`requirepass "$REDIS_PASSWORD"`, "appendonly yes", "maxmemory 819mb", "maxmemory-policy allkeys-lru", `>"$CONFIG_DIR/redis.conf"`} {
		if !strings.Contains(script, want) {
			t.Errorf("init script %q lacks %q", script, want)
		}
	}
	for _, unwanted := range []string{"replicaof", "sentinel"} {
		if strings.Contains(script, unwanted) {
			t.Errorf("a single pod's init script mentions %q", unwanted)
		}
	}
	if c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().String() != "1Gi" {
		t.Errorf("limits = %v; want cpu and memory capped", c.Resources.Limits)
	}
	if i := slices.IndexFunc(pod.InitContainers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "REDIS_PASSWORD" }); i < 0 || pod.InitContainers[0].Env[i].ValueFrom == nil || pod.InitContainers[0].Env[i].ValueFrom.SecretKeyRef.Name != "redis-auth" {
		t.Errorf("REDIS_PASSWORD does not come from the redis-auth Secret: %+v", pod.InitContainers[0].Env)
	}
	if len(obj.Spec.VolumeClaimTemplates) != 1 || *obj.Spec.VolumeClaimTemplates[0].Spec.StorageClassName != "gp3" || !mounts(c, "data", "/data") {
		t.Errorf("no persistent volume on gp3 mounted at /data: %+v", obj.Spec.VolumeClaimTemplates)
	}
	for _, c := range append(pod.InitContainers, pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*pod.SecurityContext.RunAsNonRoot {
			t.Errorf("container %s is not locked down: %+v", c.Name, sc)
		}
	}
	if c.ReadinessProbe == nil || !slices.Equal(c.ReadinessProbe.Exec.Command, []string{"redis-cli", "-p", "6379", "ping"}) {
		t.Errorf("readiness probe = %+v", c.ReadinessProbe)
	}
	if !m.dependsOn(ss, secretType, "redis-auth") {
		t.Error("the StatefulSet may start before its password Secret exists")
	}
	if d := m.ofType(deploymentType); len(d) != 0 {
		t.Errorf("a single Redis runs a proxy: %v", names(d))
	}
	var svc corev1.Service
	strictDecode(t, m.byName(t, serviceType, "redis-service"), &svc)
	if !selects(svc.Spec.Selector, obj.Spec.Template.Labels) {
		t.Errorf("the redis Service selects %v; want the Redis pod %v", svc.Spec.Selector, obj.Spec.Template.Labels)
	}
	for _, s := range m.ofType(serviceType) {
		strictDecode(t, s, &corev1.Service{})
	}
	for _, s := range m.ofType(secretType) {
		strictDecode(t, s, &corev1.Secret{})
	}
}

func TestRedisSentinelFailsOverAndHAProxyFollowsTheMaster(t *testing.T) {
	for _, tt := range []struct {
		replicas, quorum int
	}{{3, 2}, {5, 3}} {
		t.Run(fmt.Sprint(tt.replicas), func(t *testing.T) {
			args := redisInClusterArgs()
			args.Replicas = tt.replicas
			m, _ := runRedis(t, args)
			var ss appsv1.StatefulSet
			strictDecode(t, m.byName(t, statefulSetType, "redis"), &ss)
			if *ss.Spec.Replicas != int32(tt.replicas) {
				t.Errorf("replicas = %d; want %d", *ss.Spec.Replicas, tt.replicas)
			}
			pod := ss.Spec.Template.Spec
			if got := containerNames(pod.Containers); !slices.Equal(got, []string{"redis", "sentinel"}) {
				t.Fatalf("containers = %v; want redis and sentinel", got)
			}
			sentinel := pod.Containers[1]
			if sentinel.Image != pod.Containers[0].Image || !slices.Equal(sentinel.Command, []string{"redis-server", "/config/sentinel.conf", "--sentinel"}) ||
				len(sentinel.Ports) != 1 || sentinel.Ports[0].ContainerPort != 26379 || sentinel.ReadinessProbe == nil || sentinel.LivenessProbe == nil {
				t.Errorf("sentinel container = %+v", sentinel)
			}
			if len(pod.InitContainers) != 1 || !mounts(pod.InitContainers[0], "config", "/config") || !mounts(pod.Containers[0], "config", "/config") || !mounts(sentinel, "config", "/config") {
				t.Fatalf("no init container writing the config the containers read: %+v", pod.InitContainers)
			}
			if i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "config" }); i < 0 || pod.Volumes[i].EmptyDir == nil || pod.Volumes[i].EmptyDir.Medium != corev1.StorageMediumMemory {
				t.Errorf("the config (it holds the password) is not in a memory emptyDir: %+v", pod.Volumes)
			}
			init := pod.InitContainers[0]
			script := strings.Join(init.Command, " ")
			for _, want := range []string{
				"SENTINEL get-master-addr-by-name redis", `replicaof $master 6379`, fmt.Sprintf("sentinel monitor redis $master 6379 %d", tt.quorum),
				`sentinel auth-pass redis "$REDIS_PASSWORD"`, "sentinel resolve-hostnames yes", "sentinel announce-hostnames yes", "sentinel announce-ip $REDIS_HOST",
				"replica-announce-ip $REDIS_HOST", "min-replicas-to-write 1", "min-replicas-max-lag 10",
			} {
				if !strings.Contains(script, want) {
					t.Errorf("init script lacks %q", want)
				}
			}
			peers := make([]string, tt.replicas)
			for i := range peers {
				peers[i] = fmt.Sprintf("redis-%d.redis-headless.data.svc.cluster.local", i)
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range init.Env {
				env[e.Name] = e
			}
			if env["REDIS_PEERS"].Value != strings.Join(peers, " ") {
				t.Errorf("REDIS_PEERS = %q; want every pod's name, pod 0 first", env["REDIS_PEERS"].Value)
			}
			if env["REDIS_HOST"].Value != "$(POD_NAME).redis-headless.data.svc.cluster.local" || env["POD_NAME"].ValueFrom == nil || env["POD_NAME"].ValueFrom.FieldRef.FieldPath != "metadata.name" {
				t.Errorf("the pod's own name does not come from the downward API: %+v %+v", env["REDIS_HOST"], env["POD_NAME"])
			}

			var headless corev1.Service
			strictDecode(t, m.byName(t, serviceType, "redis-headless"), &headless)
			if !headless.Spec.PublishNotReadyAddresses || headless.Spec.ClusterIP != "None" || len(headless.Spec.Ports) != 2 || headless.Spec.Ports[1].Port != 26379 {
				t.Errorf("headless Service = %+v; want not-ready pods' names published, with the Sentinel port", headless.Spec)
			}
			if keys := spreadKeys(pod); !slices.Equal(keys, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}) {
				t.Errorf("copies are not kept in different zones, then nodes: %v", keys)
			}
			if pdb := budget(t, m, "redis"); pdb.MaxUnavailable == nil || pdb.MaxUnavailable.IntValue() != 1 || !selects(pdb.Selector.MatchLabels, ss.Spec.Template.Labels) {
				t.Errorf("disruption budget = %+v", pdb)
			}

			// HAProxy: two pods, spread, budgeted, autoscaled, locked down, behind the redis Service.
			var d appsv1.Deployment
			strictDecode(t, m.byName(t, deploymentType, "redis-proxy"), &d)
			hp := d.Spec.Template.Spec
			if *d.Spec.Replicas != 2 || len(hp.Containers) != 1 || hp.Containers[0].Image != "docker.io/library/haproxy:3.2.24-alpine" {
				t.Fatalf("proxy = %d replicas of %+v; want 2 of the pinned HAProxy 3.2", *d.Spec.Replicas, hp.Containers)
			}
			h := hp.Containers[0]
			if h.ReadinessProbe == nil || h.LivenessProbe == nil || h.Resources.Requests.Cpu().IsZero() || h.Resources.Limits.Memory().IsZero() || h.Resources.Limits.Cpu().IsZero() {
				t.Errorf("proxy container lacks probes or resources: %+v", h)
			}
			if sc := h.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
				!*hp.SecurityContext.RunAsNonRoot || hp.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *hp.AutomountServiceAccountToken {
				t.Errorf("proxy is not locked down: %+v %+v", sc, hp.SecurityContext)
			}
			if keys := spreadKeys(hp); !slices.Contains(keys, "topology.kubernetes.io/zone") {
				t.Errorf("proxy pods are not spread across zones: %v", keys)
			}
			if pdb := budget(t, m, "redis-proxy"); pdb.MinAvailable == nil || pdb.MinAvailable.IntValue() != 1 || !selects(pdb.Selector.MatchLabels, d.Spec.Template.Labels) {
				t.Errorf("proxy disruption budget = %+v", pdb)
			}
			var hpa autoscalingv2.HorizontalPodAutoscaler
			strictDecode(t, m.byName(t, hpaType, "redis-proxy"), &hpa)
			if hpa.Spec.ScaleTargetRef.Name != d.Name || *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas <= 2 {
				t.Errorf("proxy autoscaler = %+v", hpa.Spec)
			}
			var svc corev1.Service
			strictDecode(t, m.byName(t, serviceType, "redis-service"), &svc)
			if !selects(svc.Spec.Selector, d.Spec.Template.Labels) || selects(svc.Spec.Selector, ss.Spec.Template.Labels) {
				t.Errorf("the redis Service selects %v; want the proxy pods %v only", svc.Spec.Selector, d.Spec.Template.Labels)
			}

			var cm corev1.ConfigMap
			strictDecode(t, m.byName(t, configMapType, "redis-proxy"), &cm)
			if i := slices.IndexFunc(hp.Volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name }); i < 0 || !mounts(h, hp.Volumes[i].Name, "/usr/local/etc/haproxy") {
				t.Errorf("the proxy does not read its ConfigMap: %+v", hp.Volumes)
			}
			cfg := cm.Data["haproxy.cfg"]
			for _, want := range []string{
				`tcp-check send "AUTH ${REDIS_PASSWORD}\r\n"`, `tcp-check send "INFO replication\r\n"`, "tcp-check expect string role:master",
				"parse-resolv-conf", "resolvers cluster", "init-addr none", "init-state down", "on-marked-down shutdown-sessions", "bind :6379",
			} {
				if !strings.Contains(cfg, want) {
					t.Errorf("haproxy.cfg lacks %q:\n%s", want, cfg)
				}
			}
			for _, p := range peers {
				if !strings.Contains(cfg, " "+p+":6379\n") {
					t.Errorf("haproxy.cfg has no server %s:6379", p)
				}
			}
			if i := slices.IndexFunc(h.Env, func(e corev1.EnvVar) bool { return e.Name == "REDIS_PASSWORD" }); i < 0 || h.Env[i].ValueFrom == nil || h.Env[i].ValueFrom.SecretKeyRef.Name != "redis-auth" {
				t.Errorf("the proxy's REDIS_PASSWORD does not come from the redis-auth Secret: %+v", h.Env)
			}
		})
	}
}

// TestRedisPasswordStaysInTheSecret: the password reaches the pods only through secretKeyRef,
// never in a command, an argument, a literal env value or the proxy's config.
func TestRedisPasswordStaysInTheSecret(t *testing.T) {
	for _, replicas := range []int{1, 3} {
		t.Run(fmt.Sprint(replicas), func(t *testing.T) {
			args := redisInClusterArgs()
			args.Replicas = replicas
			m, _ := runRedis(t, args)
			passwords := m.secretStrings(t)
			var pods []corev1.PodSpec
			var ss appsv1.StatefulSet
			strictDecode(t, m.byName(t, statefulSetType, "redis"), &ss)
			pods = append(pods, ss.Spec.Template.Spec)
			for _, r := range m.ofType(deploymentType) {
				var d appsv1.Deployment
				strictDecode(t, r, &d)
				pods = append(pods, d.Spec.Template.Spec)
			}
			holds := func(s string) bool {
				return slices.ContainsFunc(passwords, func(p string) bool { return strings.Contains(s, p) })
			}
			checked := 0
			for _, pod := range pods {
				for _, c := range append(pod.InitContainers, pod.Containers...) {
					for _, s := range append(slices.Clone(c.Command), c.Args...) {
						if holds(s) {
							t.Errorf("container %s has the password on its command line", c.Name)
						}
					}
					for _, e := range c.Env {
						if holds(e.Value) {
							t.Errorf("container %s has the password in env %s", c.Name, e.Name)
						}
						if strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "AUTH") {
							checked++
							if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "redis-auth" {
								t.Errorf("container %s gets %s other than from the redis-auth Secret", c.Name, e.Name)
							}
						}
					}
				}
			}
			if checked == 0 {
				t.Error("no container gets the password at all")
			}
			for _, r := range m.ofType(configMapType) {
				var cm corev1.ConfigMap
				strictDecode(t, r, &cm)
				for k, v := range cm.Data {
					if holds(v) {
						t.Errorf("ConfigMap %s key %s holds the password", cm.Name, k)
					}
				}
			}
			assertNoPlaintext(t, m, passwords)
		})
	}
}

func TestRedisImageFollowsTheMirror(t *testing.T) {
	args := redisInClusterArgs()
	args.Replicas = 3
	args.ImageMirror = "mirror.internal:5000"
	m, _ := runRedis(t, args)
	var obj appsv1.StatefulSet
	strictDecode(t, m.byName(t, statefulSetType, "redis"), &obj)
	for _, c := range append(obj.Spec.Template.Spec.InitContainers, obj.Spec.Template.Spec.Containers...) {
		if c.Image != "mirror.internal:5000/library/redis:8.10.2-alpine" {
			t.Errorf("container %s image = %q", c.Name, c.Image)
		}
	}
	var d appsv1.Deployment
	strictDecode(t, m.byName(t, deploymentType, "redis-proxy"), &d)
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "mirror.internal:5000/library/haproxy:3.2.24-alpine" {
		t.Errorf("proxy image = %q", got)
	}
}

// spreadKeys are the topology keys the pods prefer to be spread over, in order.
func spreadKeys(pod corev1.PodSpec) []string {
	if pod.Affinity == nil || pod.Affinity.PodAntiAffinity == nil {
		return nil
	}
	var keys []string
	for _, term := range pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		keys = append(keys, term.PodAffinityTerm.TopologyKey)
	}
	return keys
}

func budget(t *testing.T, m *mocks, name string) policyv1.PodDisruptionBudgetSpec {
	t.Helper()
	var pdb policyv1.PodDisruptionBudget
	strictDecode(t, m.byName(t, pdbType, name), &pdb)
	return pdb.Spec
}

func containerNames(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// mounts says whether the container mounts the volume at the path.
func mounts(c corev1.Container, volume, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == volume && m.MountPath == path })
}

// selects says whether a selector matches pods with the labels.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
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
		{"two replicas", redisInClusterArgs, func(a *redis.Args) { a.Replicas = 2 }, []string{"redis: replicas is 2; allowed 1, 3 or 5 (Sentinel needs a majority to fail over)"}},
		{"four replicas", redisInClusterArgs, func(a *redis.Args) { a.Replicas = 4 }, []string{"redis: replicas is 4; allowed 1, 3 or 5"}},
		{"six replicas", redisInClusterArgs, func(a *redis.Args) { a.Replicas = 6 }, []string{"redis: replicas is 6; allowed 1, 3 or 5"}},
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
