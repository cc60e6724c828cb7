package tests

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/infra"
)

const (
	kafkaType     = "kubernetes:kafka.strimzi.io/v1:Kafka"
	nodePoolType  = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
	kafkaTopicTyp = "kubernetes:kafka.strimzi.io/v1:KafkaTopic"
	kafkaUserType = "kubernetes:kafka.strimzi.io/v1:KafkaUser"
	secretType    = "kubernetes:core/v1:Secret"
)

var kafkaUsers = []kafka.User{
	{Name: "identity", Namespace: "apps", Produces: []string{"identity.events"}, Consumes: []string{"tenant.events"}},
	{Name: "analytics", Namespace: "apps", Consumes: kafka.DomainTopics},
}

func kafkaDevArgs() kafka.Args {
	return kafka.Args{
		Namespace: "kafka", Brokers: 1, Zones: []string{"eu-west-1a"}, StorageClass: "gp3",
		Topics: kafka.Topics(3, 1, 7*24*time.Hour), Users: kafkaUsers,
	}
}

func kafkaProdArgs() kafka.Args {
	return kafka.Args{
		Namespace: "kafka", Brokers: 3, Zones: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		StorageClass: "gp3", StorageSize: "100Gi", CPU: "2", Memory: "8Gi",
		Topics: kafka.Topics(12, 3, 14*24*time.Hour), Users: kafkaUsers,
	}
}

func runKafka(t *testing.T, args kafka.Args) *mocks {
	t.Helper()
	args.ChartSource = forTestCluster(args.ChartSource)
	return mustRunComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
		_, err := kafka.New(ctx, "kafka", args, k8s)
		return err
	})
}

func TestKafkaDevIsOneDualRoleNodeWithTheDomainTopics(t *testing.T) {
	m := runKafka(t, kafkaDevArgs())

	pools := m.ofType(nodePoolType)
	if len(pools) != 1 || propStr(get(pools[0].Inputs, "metadata.name")) != "dual-role" {
		t.Fatalf("node pools = %v; want one dual-role pool", names(pools))
	}
	if got := strs(get(pools[0].Inputs, "spec.roles")); !slices.Equal(got, []string{"controller", "broker"}) {
		t.Errorf("dual-role pool roles = %v", got)
	}
	if n := propNum(get(pools[0].Inputs, "spec.replicas")); n != 1 {
		t.Errorf("dev replicas = %v; want 1", n)
	}
	k := m.byName(t, kafkaType, "kafka-events")
	if get(k.Inputs, "spec.kafka.rack").IsObject() {
		t.Error("a single broker is made rack-aware")
	}
	cfg := get(k.Inputs, "spec.kafka.config").ObjectValue()
	if cfg["min.insync.replicas"].NumberValue() != 1 || cfg["default.replication.factor"].NumberValue() != 1 {
		t.Errorf("dev config = %v; want min.insync.replicas 1 and replication 1", cfg)
	}
	if cfg["auto.create.topics.enable"].BoolValue() {
		t.Error("topics may be auto-created")
	}

	var topics []string
	for _, r := range m.ofType(kafkaTopicTyp) {
		topics = append(topics, propStr(get(r.Inputs, "spec.topicName")))
		if propNum(get(r.Inputs, "spec.partitions")) != 3 || propNum(get(r.Inputs, "spec.replicas")) != 1 {
			t.Errorf("topic %s: partitions/replicas = %v/%v", r.Name, get(r.Inputs, "spec.partitions"), get(r.Inputs, "spec.replicas"))
		}
		ret := r.Inputs["spec"].ObjectValue()["config"].ObjectValue()["retention.ms"]
		if ret.NumberValue() != float64((7 * 24 * time.Hour).Milliseconds()) {
			t.Errorf("topic %s: retention.ms = %v", r.Name, ret)
		}
	}
	slices.Sort(topics)
	want := slices.Sorted(slices.Values(kafka.DomainTopics))
	if !slices.Equal(topics, want) {
		t.Errorf("topics = %v; want the domain topics %v", topics, want)
	}
}

func TestKafkaProdSpreadsThreeBrokersAcrossZonesRackAware(t *testing.T) {
	m := runKafka(t, kafkaProdArgs())

	k := m.byName(t, kafkaType, "kafka-events")
	if got := propStr(get(k.Inputs, "spec.kafka.rack.topologyKey")); got != "topology.kubernetes.io/zone" {
		t.Errorf("rack topologyKey = %q; want topology.kubernetes.io/zone", got)
	}
	cfg := get(k.Inputs, "spec.kafka.config").ObjectValue()
	for key, want := range map[string]float64{
		"min.insync.replicas": 2, "default.replication.factor": 3, "offsets.topic.replication.factor": 3,
		"transaction.state.log.replication.factor": 3, "transaction.state.log.min.isr": 2,
	} {
		if got := cfg[resource.PropertyKey(key)].NumberValue(); got != want {
			t.Errorf("prod %s = %v; want %v", key, got, want)
		}
	}
	for _, pool := range []string{"controller", "broker"} {
		p := m.byName(t, nodePoolType, "kafka-pool-"+pool)
		if n := propNum(get(p.Inputs, "spec.replicas")); n != 3 {
			t.Errorf("%s pool replicas = %v; want 3", pool, n)
		}
		if propStr(get(p.Inputs, "spec.resources.limits.cpu")) == "" || propStr(get(p.Inputs, "spec.resources.limits.memory")) == "" {
			t.Errorf("%s pool limits = %v; want cpu and memory capped", pool, get(p.Inputs, "spec.resources.limits"))
		}
		if got := propStr(get(p.Inputs, "spec.storage.class")); got != "gp3" {
			t.Errorf("%s pool storage class = %q; want the cluster's gp3", pool, got)
		}
		tsc := get(p.Inputs, "spec.template.pod.topologySpreadConstraints")
		if !tsc.IsArray() || len(tsc.ArrayValue()) != 1 {
			t.Fatalf("%s pool has no zone spread: %v", pool, tsc)
		}
		c := tsc.ArrayValue()[0].ObjectValue()
		if c["topologyKey"].StringValue() != "topology.kubernetes.io/zone" || c["whenUnsatisfiable"].StringValue() != "DoNotSchedule" || c["maxSkew"].NumberValue() != 1 {
			t.Errorf("%s pool zone spread = %v", pool, c)
		}
	}
	for _, r := range m.ofType(kafkaTopicTyp) {
		if propNum(get(r.Inputs, "spec.replicas")) != 3 {
			t.Errorf("prod topic %s has %v replicas; want 3", r.Name, get(r.Inputs, "spec.replicas"))
		}
	}
}

func TestKafkaListensOnlyWithTLSAndSCRAM(t *testing.T) {
	m := runKafka(t, kafkaProdArgs())
	k := m.byName(t, kafkaType, "kafka-events")
	ls := get(k.Inputs, "spec.kafka.listeners").ArrayValue()
	if len(ls) != 1 {
		t.Fatalf("listeners = %v; want only the TLS one", ls)
	}
	l := ls[0].ObjectValue()
	if !l["tls"].BoolValue() || l["authentication"].ObjectValue()["type"].StringValue() != "scram-sha-512" {
		t.Errorf("listener = %v; want tls with scram-sha-512", l)
	}
	if propStr(get(k.Inputs, "spec.kafka.authorization.type")) != "simple" {
		t.Error("ACLs are not enforced (authorization.type simple)")
	}
}

func TestKafkaInstallsTheOperatorBeforeItsCustomObjects(t *testing.T) {
	m := runKafka(t, kafkaProdArgs())
	charts := m.ofType(chartType)
	if len(charts) != 1 {
		t.Fatalf("charts = %v; want the Strimzi operator only", names(charts))
	}
	c := charts[0]
	if propStr(c.Inputs["chart"]) != "oci://quay.io/strimzi-helm/strimzi-kafka-operator" || propStr(c.Inputs["version"]) != "1.2.0" {
		t.Errorf("operator chart = %v %v; want strimzi-kafka-operator 1.2.0 from quay.io", c.Inputs["chart"], c.Inputs["version"])
	}
	for _, typ := range []string{kafkaType, nodePoolType, kafkaTopicTyp, kafkaUserType} {
		for _, r := range m.ofType(typ) {
			if !m.dependsOn(r, chartType, "kafka-operator") {
				t.Errorf("%s %s does not depend on the operator chart (its CRDs); deps %v", typ, r.Name, r.Deps)
			}
		}
	}
	for _, typ := range []string{kafkaTopicTyp, kafkaUserType} {
		for _, r := range m.ofType(typ) {
			if !m.dependsOn(r, kafkaType, "kafka-events") {
				t.Errorf("%s %s does not wait for the Kafka cluster", typ, r.Name)
			}
		}
	}
}

func TestKafkaChildrenUseTheCallersProviderAndParent(t *testing.T) {
	m := runKafka(t, kafkaDevArgs())
	for _, r := range m.kubernetesObjects() {
		if !strings.Contains(r.Provider, "pulumi:providers:kubernetes::k8s::") {
			t.Errorf("%s %s uses provider %q; want the caller's k8s", r.Type, r.Name, r.Provider)
		}
	}
	for _, r := range m.resources {
		if r.Type == "groundwork:platform:Kafka" || r.Type == "pulumi:providers:kubernetes" || strings.HasPrefix(r.Type, "pulumi:pulumi:") {
			continue
		}
		// Directly, or below a chart of the component.
		if !strings.Contains(r.Parent, "groundwork:platform:Kafka::kafka") && !strings.Contains(r.Parent, "groundwork:platform:Kafka$"+chartType+"::kafka") {
			t.Errorf("%s %s is not parented to the component (parent %q)", r.Type, r.Name, r.Parent)
		}
	}
}

func TestKafkaImageMirrorAndChartSource(t *testing.T) {
	args := kafkaDevArgs()
	args.ImageMirror = "registry.internal:5000/mirror"
	args.ChartSource = chart.Source{Kind: chart.SourceOCI, Location: "oci://registry.internal:5000/charts"}
	m := runKafka(t, args)
	c := m.ofType(chartType)[0]
	if got := propStr(get(c.Inputs, "values.defaultImageRegistry")); got != "registry.internal:5000/mirror" {
		t.Errorf("defaultImageRegistry = %q; want the mirror", got)
	}
	if got := propStr(c.Inputs["chart"]); got != "oci://registry.internal:5000/charts/strimzi-kafka-operator" {
		t.Errorf("chart = %q; want it from the OCI mirror", got)
	}
}

func TestKafkaUserMayWriteOnlyWhatItProducesAndReadOnlyWhatItConsumes(t *testing.T) {
	m := runKafka(t, kafkaDevArgs())
	u := m.byName(t, kafkaUserType, "kafka-user-identity")
	got := map[string][]string{}
	for _, rule := range get(u.Inputs, "spec.authorization.acls").ArrayValue() {
		r := rule.ObjectValue()
		res := r["resource"].ObjectValue()
		key := res["type"].StringValue() + ":" + res["name"].StringValue() + ":" + res["patternType"].StringValue()
		ops := strs(r["operations"])
		slices.Sort(ops)
		got[key] = ops
		if r["type"].StringValue() != "allow" {
			t.Errorf("rule %s is %v", key, r["type"])
		}
	}
	want := map[string][]string{
		"topic:identity.events:literal": {"Describe", "Write"},
		"topic:tenant.events:literal":   {"Describe", "Read"},
		"group:identity:prefix":         {"Read"},
	}
	if len(got) != len(want) {
		t.Errorf("acls = %v; want %v", got, want)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("acl %s = %v; want %v", k, got[k], w)
		}
	}
	if propStr(get(u.Inputs, "spec.authentication.type")) != "scram-sha-512" {
		t.Error("user does not authenticate with SCRAM")
	}
}

func TestKafkaPasswordsStaySecretAndReachTheServiceNamespace(t *testing.T) {
	m := runKafka(t, kafkaProdArgs())
	assertNoPlaintext(t, m, m.secretStrings(t))

	c := m.byName(t, secretType, "kafka-client-identity")
	if ns := propStr(get(c.Inputs, "metadata.namespace")); ns != "apps" {
		t.Errorf("client secret namespace = %q; want the service's apps", ns)
	}
	if !inputIsSecret(c.Inputs, "stringData.password") {
		t.Error("client secret password is not a Pulumi secret")
	}
	sd := get(c.Inputs, "stringData")
	for sd.IsSecret() {
		sd = sd.SecretValue().Element
	}
	if got := propStr(sd.ObjectValue()["bootstrap.servers"]); got != "events-kafka-bootstrap.kafka.svc:9093" {
		t.Errorf("bootstrap.servers = %q", got)
	}
	// The KafkaUser takes its password from the Secret beside it, never inline.
	u := m.byName(t, kafkaUserType, "kafka-user-identity")
	if ref := propStr(get(u.Inputs, "spec.authentication.password.valueFrom.secretKeyRef.name")); ref != "identity-kafka-password" {
		t.Errorf("KafkaUser password ref = %q", ref)
	}
	pw := m.byName(t, secretType, "kafka-user-identity-password")
	if ns := propStr(get(pw.Inputs, "metadata.namespace")); ns != "kafka" {
		t.Errorf("password secret is in %q; want beside the KafkaUser in kafka", ns)
	}
}

func TestKafkaObjectsMatchTheStrimziCRDs(t *testing.T) {
	for name, args := range map[string]kafka.Args{"dev": kafkaDevArgs(), "prod": kafkaProdArgs()} {
		t.Run(name, func(t *testing.T) {
			m := runKafka(t, args)
			if n := checkCustomResources(t, m, kafkaType, nodePoolType, kafkaTopicTyp, kafkaUserType); n < 10 {
				t.Errorf("checked only %d custom objects", n)
			}
			for _, r := range m.ofType(secretType) {
				strictDecode(t, r, &corev1.Secret{})
			}
		})
	}
}

func TestKafkaInvalidArgsFailBeforeAnyResource(t *testing.T) {
	tests := []struct {
		name string
		give func(a *kafka.Args)
		want []string
	}{
		{"mode", func(a *kafka.Args) { a.Mode = "confluent" }, []string{`kafka: mode "confluent" is not supported; allowed: in-cluster, msk`}},
		{"namespace", func(a *kafka.Args) { a.Namespace = "Kafka_NS" }, []string{`kafka: namespace "Kafka_NS" is not a DNS label`}},
		{"brokers", func(a *kafka.Args) { a.Brokers = 0 }, []string{"kafka: brokers is 0; want at least 1"}},
		{"even controllers", func(a *kafka.Args) { a.Controllers = 2 }, []string{"kafka: controllers is 2; want an odd number"}},
		{"storage class", func(a *kafka.Args) { a.StorageClass = "" }, []string{"kafka: storageClass is empty"}},
		{"storage size", func(a *kafka.Args) { a.StorageSize = "10GB" }, []string{`kafka: storageSize "10GB" is not a size like 10Gi`}},
		{"memory", func(a *kafka.Args) { a.Memory = "8G" }, []string{`kafka: memory "8G" is not a size like 2Gi`}},
		{"cpu limit", func(a *kafka.Args) { a.CPULimit = "2 cores" }, []string{`kafka: cpuLimit "2 cores" is not a CPU quantity`}},
		{"min isr", func(a *kafka.Args) { a.MinInSyncReplicas = 4 }, []string{"kafka: minInSyncReplicas is 4; want 1..3"}},
		{"replication above brokers", func(a *kafka.Args) { a.Topics[0].ReplicationFactor = 5 }, []string{`kafka: topic "identity.events": replicationFactor is 5; want 1..3`}},
		{"replication below isr", func(a *kafka.Args) { a.Topics[0].ReplicationFactor = 1 }, []string{`kafka: topic "identity.events": replicationFactor 1 is below minInSyncReplicas 2`}},
		{"partitions", func(a *kafka.Args) { a.Topics[1].Partitions = 0 }, []string{`kafka: topic "user.events": partitions is 0; want at least 1`}},
		{"retention", func(a *kafka.Args) { a.Topics[2].Retention = time.Second }, []string{`kafka: topic "subscription.events": retention is 1s; want at least 1m`}},
		{"topic name", func(a *kafka.Args) { a.Topics[0].Name = "Identity Events" }, []string{`kafka: topic name "Identity Events" is not allowed`}},
		{"duplicate topic", func(a *kafka.Args) { a.Topics[1].Name = a.Topics[0].Name }, []string{`kafka: topic "identity.events" is declared twice`}},
		{"unknown produced topic", func(a *kafka.Args) { a.Users[0].Produces = []string{"orders"} }, []string{`kafka: user "identity" produces "orders", which is not one of the topics`}},
		{"unknown consumed topic", func(a *kafka.Args) { a.Users[0].Consumes = []string{"orders"} }, []string{`kafka: user "identity" consumes "orders", which is not one of the topics`}},
		{"duplicate user", func(a *kafka.Args) { a.Users[1].Name = "identity" }, []string{`kafka: user "identity" is declared twice`}},
		{"user namespace", func(a *kafka.Args) { a.Users[0].Namespace = "" }, []string{`kafka: user "identity": namespace "" is not a DNS label`}},
		{"msk without network", func(a *kafka.Args) { a.Mode = kafka.ModeMSK }, []string{"kafka: mode msk needs the base layer's network"}},
		{"msk brokers per zone", func(a *kafka.Args) {
			a.Mode, a.Network, a.Brokers, a.Topics = kafka.ModeMSK, &infra.Network{}, 4, kafka.Topics(3, 3, time.Hour)
		}, []string{"kafka: brokers is 4; MSK spreads brokers evenly over its 3 client subnets (the first 3 of the zones [eu-west-1a eu-west-1b eu-west-1c]), so it wants a multiple of 3"}},
		{"msk in one zone", func(a *kafka.Args) {
			a.Mode, a.Network, a.Zones = kafka.ModeMSK, &infra.Network{}, []string{"eu-west-1a"}
		}, []string{"kafka: mode msk needs at least 2 zones; have [eu-west-1a]"}},
		{"every problem at once", func(a *kafka.Args) { a.Brokers, a.StorageClass = 0, "" }, []string{"kafka: brokers is 0", "kafka: storageClass is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := kafkaProdArgs()
			args.Users = slices.Clone(kafkaUsers)
			tt.give(&args)
			m, err := runComponent(t, func(ctx *pulumi.Context, k8s pulumi.ResourceOption) error {
				_, err := kafka.New(ctx, "kafka", args, k8s)
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
			if n := len(m.resources); n > 2 { // the stack and the test's provider
				t.Errorf("%d resources were created before the error", n)
			}
		})
	}
}

func TestKafkaClientsTrustTheClusterCAThePlatformOwns(t *testing.T) {
	m := runKafka(t, kafkaProdArgs())
	k := m.byName(t, kafkaType, "kafka-events")
	if v := get(k.Inputs, "spec.clusterCa.generateCertificateAuthority"); !v.IsBool() || v.BoolValue() {
		t.Errorf("clusterCa.generateCertificateAuthority = %v; want false (the CA comes from Pulumi)", v)
	}
	cert := m.byName(t, secretType, "kafka-cluster-ca-cert")
	key := m.byName(t, secretType, "kafka-cluster-ca-key")
	for _, tt := range []struct {
		r          Recorded
		name, anno string
	}{{cert, "events-cluster-ca-cert", "strimzi.io/ca-cert-generation"}, {key, "events-cluster-ca", "strimzi.io/ca-key-generation"}} {
		if propStr(get(tt.r.Inputs, "metadata.name")) != tt.name || propStr(get(tt.r.Inputs, "metadata.namespace")) != "kafka" {
			t.Errorf("CA secret %s is %v/%v; Strimzi reads kafka/%s", tt.r.Name, get(tt.r.Inputs, "metadata.namespace"), get(tt.r.Inputs, "metadata.name"), tt.name)
		}
		labels := get(tt.r.Inputs, "metadata.labels").ObjectValue()
		annos := get(tt.r.Inputs, "metadata.annotations").ObjectValue()
		if labels["strimzi.io/cluster"].StringValue() != "events" || labels["strimzi.io/kind"].StringValue() != "Kafka" || annos[resource.PropertyKey(tt.anno)].StringValue() != "0" {
			t.Errorf("CA secret %s labels %v annotations %v", tt.r.Name, labels, annos)
		}
		if !m.dependsOn(k, secretType, tt.r.Name) {
			t.Errorf("the Kafka cluster may start before %s exists (Strimzi would make its own CA)", tt.r.Name)
		}
	}
	sd := get(key.Inputs, "stringData")
	if !sd.IsSecret() && !sd.ObjectValue()["ca.key"].IsSecret() {
		t.Error("the CA private key is not a Pulumi secret")
	}
	pem := propStr(m.ofType("tls:index/selfSignedCert:SelfSignedCert")[0].Outputs["certPem"])
	client := get(m.byName(t, secretType, "kafka-client-identity").Inputs, "stringData")
	for client.IsSecret() {
		client = client.SecretValue().Element
	}
	if got := propStr(client.ObjectValue()[kafka.KeyCACert]); got == "" || got != pem {
		t.Errorf("client ca.crt = %q; want the cluster CA certificate", got)
	}
	var keys []string
	for _, r := range m.ofType("tls:index/privateKey:PrivateKey") {
		keys = append(keys, strings.Split(propStr(r.Outputs["privateKeyPemPkcs8"]), "\n")[1])
	}
	assertNoPlaintext(t, m, keys)
}
