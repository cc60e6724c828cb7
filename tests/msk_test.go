package tests

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"

	"github.com/groundwork/groundwork/components/kafka"
	"github.com/groundwork/groundwork/components/kafka/admin"
)

const kafkaSchemaPath = "../shared/reference/pulumi-kafka-schema.json"

func mskArgs() kafka.Args {
	return kafka.Args{
		Mode: kafka.ModeMSK, Namespace: "kafka", Brokers: 3,
		Zones:   []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		Network: testNetwork(), Tags: testTags,
		Topics: kafka.Topics(6, 3, 3*24*time.Hour), Users: kafkaUsers,
	}
}

// versionMocks records the plugin version each resource asks for, on top of the shared mocks.
type versionMocks struct {
	*mocks
	mu       sync.Mutex
	versions map[string]string // "type::name" → version
}

func (v *versionMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	v.mu.Lock()
	if args.RegisterRPC != nil {
		v.versions[args.TypeToken+"::"+args.Name] = args.RegisterRPC.GetVersion()
	}
	v.mu.Unlock()
	return v.mocks.NewResource(args)
}

func runMSK(t *testing.T, args kafka.Args) *versionMocks {
	t.Helper()
	t.Setenv(pulumi.EnvConfig, `{"aws:region":"eu-west-1"}`)
	vm := &versionMocks{mocks: newMocks("prod", "eu-west-1"), versions: map[string]string{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := kafka.New(ctx, "kafka", args)
		return err
	}, pulumi.WithMocks(project, "prod", vm))
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func TestKafkaMSKIsPrivateEncryptedAndSCRAMOnly(t *testing.T) {
	m := runMSK(t, mskArgs())
	cs := m.ofType("aws:msk/cluster:Cluster")
	if len(cs) != 1 {
		t.Fatalf("msk clusters = %v", names(cs))
	}
	in := cs[0].Inputs
	if got := propStr(in["clusterName"]); got != "groundwork-prod-events" {
		t.Errorf("cluster name = %q; want unique per project and stack", got)
	}
	if in["numberOfBrokerNodes"].NumberValue() != 3 {
		t.Errorf("brokers = %v", in["numberOfBrokerNodes"])
	}
	if got := strs(get(in, "brokerNodeGroupInfo.clientSubnets")); !slices.Equal(got, []string{"subnet-0aaa", "subnet-0bbb", "subnet-0ccc"}) {
		t.Errorf("client subnets = %v; want the private subnets", got)
	}
	if propStr(get(in, "encryptionInfo.encryptionInTransit.clientBroker")) != "TLS" || !get(in, "encryptionInfo.encryptionInTransit.inCluster").BoolValue() {
		t.Errorf("encryption in transit = %v", get(in, "encryptionInfo.encryptionInTransit"))
	}
	if key := m.ofType("aws:kms/key:Key"); len(key) != 1 || propStr(get(in, "encryptionInfo.encryptionAtRestKmsKeyArn")) != propStr(key[0].Outputs["arn"]) {
		t.Errorf("not encrypted at rest with the component's key: %v", get(in, "encryptionInfo"))
	}
	if !get(in, "clientAuthentication.sasl.scram").BoolValue() || get(in, "clientAuthentication.unauthenticated").BoolValue() {
		t.Errorf("client authentication = %v; want SCRAM only", in["clientAuthentication"])
	}
	props := propStr(m.ofType("aws:msk/configuration:Configuration")[0].Inputs["serverProperties"])
	for _, want := range []string{"min.insync.replicas=2", "default.replication.factor=3", "auto.create.topics.enable=false", "allow.everyone.if.no.acl.found=false"} {
		if !slices.Contains(strings.Split(props, "\n"), want) {
			t.Errorf("server properties lack %s:\n%s", want, props)
		}
	}
	sg := m.ofType("aws:ec2/securityGroup:SecurityGroup")
	rule := sg[0].Inputs["ingress"].ArrayValue()[0].ObjectValue()
	if got := strs(rule["securityGroups"]); len(sg) != 1 || len(sg[0].Inputs["ingress"].ArrayValue()) != 1 || len(got) != 1 || got[0] != "sg-0nodes0000000000" || rule["fromPort"].NumberValue() != 9096 {
		t.Errorf("ingress = %v; want 9096 from the nodes only", rule)
	}
	if len(m.ofType(chartType)) != 0 || len(m.ofType(kafkaType)) != 0 {
		t.Error("MSK mode also installs Strimzi")
	}
	for _, s := range m.ofType("aws:secretsmanager/secret:Secret") {
		if !strings.HasPrefix(propStr(s.Inputs["name"]), "AmazonMSK_groundwork-prod-events_") || propStr(s.Inputs["kmsKeyId"]) == "" {
			t.Errorf("secret %s = %v; MSK takes only AmazonMSK_ secrets under a customer key", s.Name, s.Inputs["name"])
		}
	}
	if n, want := len(m.ofType("aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation")), len(kafkaUsers)+1; n != want {
		t.Errorf("%d SCRAM users associated; want %d (the services and the admin)", n, want)
	}
}

func TestKafkaMSKTopicsAndACLsGoThroughThePinnedKafkaProvider(t *testing.T) {
	m := runMSK(t, mskArgs())
	provs := m.ofType("pulumi:providers:kafka")
	if len(provs) != 1 {
		t.Fatalf("kafka providers = %v", names(provs))
	}
	p := provs[0]
	if got := strs(p.Inputs["bootstrapServers"]); len(got) != 3 || !strings.HasSuffix(got[0], ":9096") {
		t.Errorf("provider bootstrap = %v; want the three SCRAM brokers", got)
	}
	if propStr(p.Inputs["saslMechanism"]) != "scram-sha512" || !p.Inputs["saslPassword"].IsSecret() || !p.Inputs["tlsEnabled"].BoolValue() {
		t.Errorf("provider = %v; want TLS, scram-sha512 and a secret password", p.Inputs)
	}
	if !m.dependsOn(p, "aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation", "kafka-user-groundwork-admin") {
		t.Error("the provider may connect before MSK knows the admin user")
	}
	topics := m.ofType("kafka:index/topic:Topic")
	if len(topics) != len(kafka.DomainTopics) {
		t.Fatalf("topics = %v", names(topics))
	}
	for _, tp := range topics {
		if !strings.HasPrefix(tp.Provider, p.URN+"::") {
			t.Errorf("topic %s uses provider %q", tp.Name, tp.Provider)
		}
		if tp.Inputs["partitions"].NumberValue() != 6 || tp.Inputs["replicationFactor"].NumberValue() != 3 {
			t.Errorf("topic %s = %v", tp.Name, tp.Inputs)
		}
		if got := propStr(tp.Inputs["config"].ObjectValue()["retention.ms"]); got != "259200000" {
			t.Errorf("topic %s retention.ms = %q", tp.Name, got)
		}
	}
	pinnedCount := 0
	for key, v := range m.versions {
		if strings.HasPrefix(key, "kafka:") || strings.HasPrefix(key, "pulumi:providers:kafka") {
			pinnedCount++
			if v != "3.13.0" {
				t.Errorf("%s asks for plugin %q; want 3.13.0", key, v)
			}
		}
	}
	if pinnedCount < len(topics)+1 {
		t.Errorf("only %d Kafka provider resources recorded a version", pinnedCount)
	}
	// What each service may do, as principal → resource → operations.
	got := map[string][]string{}
	for _, a := range m.ofType("kafka:index/acl:Acl") {
		in := a.Inputs
		if propStr(in["aclPermissionType"]) != "Allow" || propStr(in["aclHost"]) != "*" {
			t.Errorf("acl %s = %v", a.Name, in)
		}
		k := propStr(in["aclPrincipal"]) + " " + propStr(in["aclResourceType"]) + ":" + propStr(in["aclResourceName"]) + ":" + propStr(in["resourcePatternTypeFilter"])
		got[k] = append(got[k], propStr(in["aclOperation"]))
	}
	for k := range got {
		slices.Sort(got[k])
	}
	want := map[string][]string{
		"User:identity Topic:identity.events:Literal": {"Describe", "Write"},
		"User:identity Topic:tenant.events:Literal":   {"Describe", "Read"},
		"User:identity Group:identity:Prefixed":       {"Read"},
		"User:analytics Group:analytics:Prefixed":     {"Read"},
	}
	for _, topic := range kafka.DomainTopics {
		want["User:analytics Topic:"+topic+":Literal"] = []string{"Describe", "Read"}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("acls =\n%v\nwant\n%v", got, want)
	}
}

func TestKafkaMSKSecretsStaySecret(t *testing.T) {
	m := runMSK(t, mskArgs())
	assertNoPlaintext(t, m.mocks, m.secretStrings(t))
	for _, v := range m.ofType("aws:secretsmanager/secretVersion:SecretVersion") {
		if !v.Inputs["secretString"].IsSecret() {
			t.Errorf("%s secretString is not a secret", v.Name)
		}
	}
	for _, r := range m.ofType(secretType) {
		strictDecode(t, r, &corev1.Secret{})
	}
	c := m.byName(t, secretType, "kafka-client-identity")
	if !inputIsSecret(c.Inputs, "stringData.password") || !m.dependsOn(c, "aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation", "kafka-user-identity") {
		t.Errorf("client secret: password secret %v, waits for MSK %v", inputIsSecret(c.Inputs, "stringData.password"), c.Deps)
	}
}

// kafkaSchemaResource is one resource of the Kafka provider's schema.
type kafkaSchemaResource struct {
	InputProperties map[string]struct {
		Type string `json:"type"`
	} `json:"inputProperties"`
	Properties     map[string]json.RawMessage `json:"properties"`
	RequiredInputs []string                   `json:"requiredInputs"`
}

// kafkaSchema reads the provider schema the bindings follow; it skips where it is absent.
func kafkaSchema(t *testing.T) (map[string]kafkaSchemaResource, map[string]json.RawMessage) {
	t.Helper()
	data, err := os.ReadFile(kafkaSchemaPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("skipping: the Kafka provider schema is not at %s", kafkaSchemaPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Resources map[string]kafkaSchemaResource `json:"resources"`
		Provider  struct {
			InputProperties map[string]json.RawMessage `json:"inputProperties"`
		} `json:"provider"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s.Resources, s.Provider.InputProperties
}

func TestKafkaProviderBindingsMatchTheSchema(t *testing.T) {
	resources, provider := kafkaSchema(t)
	tests := []struct {
		token   string
		outputs any
	}{
		{"kafka:index/topic:Topic", admin.Topic{}},
		{"kafka:index/acl:Acl", admin.ACL{}},
		{"kafka:index/userScramCredential:UserScramCredential", admin.UserScramCredential{}},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			r, ok := resources[tt.token]
			if !ok {
				t.Fatalf("the schema has no %s", tt.token)
			}
			typ := reflect.TypeOf(tt.outputs)
			for i := range typ.NumField() {
				if tag := typ.Field(i).Tag.Get("pulumi"); tag != "" {
					if _, ok := r.Properties[tag]; !ok {
						t.Errorf("output %q is not in the schema's properties", tag)
					}
				}
			}
		})
	}

	// Register each binding once and compare what reaches the engine with the schema.
	t.Setenv(pulumi.EnvConfig, `{}`)
	vm := &versionMocks{mocks: newMocks("dev", "eu-west-1"), versions: map[string]string{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		p, err := admin.NewProvider(ctx, "external", &admin.ProviderArgs{
			BootstrapServers: pulumi.ToStringArray([]string{"kafka-0.example.internal:9093"}),
			TLSEnabled:       pulumi.Bool(true), SASLMechanism: pulumi.String("scram-sha512"),
			SASLUsername: pulumi.String("admin"), SASLPassword: pulumi.String("admin-password-0123456789"),
			KafkaVersion: pulumi.String("3.9.0"),
		})
		if err != nil {
			return err
		}
		if _, err := admin.NewTopic(ctx, "t", &admin.TopicArgs{Name: pulumi.String("orders"), Partitions: pulumi.Int(3), ReplicationFactor: pulumi.Int(3),
			Config: pulumi.StringMap{"retention.ms": pulumi.String("86400000")}}, pulumi.Provider(p)); err != nil {
			return err
		}
		if _, err := admin.NewACL(ctx, "a", &admin.ACLArgs{AclHost: pulumi.String("*"), AclOperation: pulumi.String("Read"), AclPermissionType: pulumi.String("Allow"),
			AclPrincipal: pulumi.String("User:orders"), AclResourceName: pulumi.String("orders"), AclResourceType: pulumi.String("Topic"),
			ResourcePatternTypeFilter: pulumi.String("Literal")}, pulumi.Provider(p)); err != nil {
			return err
		}
		_, err = admin.NewUserScramCredential(ctx, "u", &admin.UserScramCredentialArgs{Username: pulumi.String("orders"),
			ScramMechanism: pulumi.String("SCRAM-SHA-512"), Password: pulumi.String("orders-password-0123456789")}, pulumi.Provider(p))
		return err
	}, pulumi.WithMocks(project, "dev", vm))
	if err != nil {
		t.Fatal(err)
	}
	assertNoPlaintext(t, vm.mocks, []string{"admin-password-0123456789", "orders-password-0123456789"})
	for _, rec := range vm.resources {
		if vm.versions[rec.Type+"::"+rec.Name] != "3.13.0" {
			t.Errorf("%s does not pin plugin 3.13.0 (%q)", rec.Type, vm.versions[rec.Type+"::"+rec.Name])
		}
		if rec.Type == "pulumi:providers:kafka" {
			for k := range rec.Inputs {
				if _, ok := provider[string(k)]; !ok && k != "version" {
					t.Errorf("provider input %q is not in the schema", k)
				}
			}
			continue
		}
		r := resources[rec.Type]
		for k, v := range rec.Inputs {
			p, ok := r.InputProperties[string(k)]
			if !ok {
				t.Errorf("%s input %q is not in the schema", rec.Type, k)
				continue
			}
			for v.IsSecret() {
				v = v.SecretValue().Element
			}
			if kind := map[string]bool{"string": v.IsString(), "integer": v.IsNumber(), "object": v.IsObject(), "boolean": v.IsBool()}; !kind[p.Type] {
				t.Errorf("%s input %q is %v; the schema says %s", rec.Type, k, v.TypeString(), p.Type)
			}
		}
		for _, req := range r.RequiredInputs {
			if _, ok := rec.Inputs[resource.PropertyKey(req)]; !ok {
				t.Errorf("%s lacks required input %q", rec.Type, req)
			}
		}
	}
}
