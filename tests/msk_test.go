package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"

	"github.com/groundwork/groundwork/components/kafka"
)

func mskArgs() kafka.Args {
	return kafka.Args{
		Mode: kafka.ModeMSK, Namespace: "kafka", Brokers: 3,
		Zones:   []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		Network: testNetwork(), Tags: testTags,
		Topics: kafka.Topics(6, 3, 3*24*time.Hour), Users: kafkaUsers,
	}
}

func runMSK(t *testing.T, args kafka.Args) *mocks {
	t.Helper()
	t.Setenv(pulumi.EnvConfig, `{"aws:region":"eu-west-1"}`)
	m := newMocks("prod", "eu-west-1")
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := kafka.New(ctx, "kafka", args)
		return err
	}, pulumi.WithMocks(project, "prod", m))
	if err != nil {
		t.Fatal(err)
	}
	return m
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
	for _, want := range []string{"min.insync.replicas=2", "default.replication.factor=3", "auto.create.topics.enable=false"} {
		if !slices.Contains(strings.Split(props, "\n"), want) {
			t.Errorf("server properties lack %s:\n%s", want, props)
		}
	}
	// MSK rejects super.users; the admin gets ACLs instead (TestKafkaMSKAdminJob...).
	if strings.Contains(props, "super.users") {
		t.Errorf("server properties set super.users, which MSK does not take:\n%s", props)
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
		if !strings.HasPrefix(propStr(s.Inputs["namePrefix"]), "AmazonMSK_groundwork-prod-events_") || propStr(s.Inputs["kmsKeyId"]) == "" {
			t.Errorf("secret %s = %v; MSK takes only AmazonMSK_ secrets under a customer key", s.Name, s.Inputs["namePrefix"])
		}
	}
	if n, want := len(m.ofType("aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation")), len(kafkaUsers)+1; n != want {
		t.Errorf("%d SCRAM users associated; want %d (the services and the admin)", n, want)
	}
}

// mskCommand is one Kafka tool call of the admin Job's script.
type mskCommand struct {
	tool      string
	remove    bool
	principal string
	flags     map[string][]string
}

// parseAdminScript reads the tool calls of the admin script, in order.
func parseAdminScript(t *testing.T, script string) []mskCommand {
	t.Helper()
	var out []mskCommand
	for _, line := range strings.Split(script, "\n") {
		rest, ok := strings.CutPrefix(line, "tool ")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		c := mskCommand{tool: fields[0], flags: map[string][]string{}}
		for i := 1; i < len(fields); i++ {
			f := fields[i]
			if !strings.HasPrefix(f, "--") {
				t.Fatalf("unexpected word %q in %q", f, line)
			}
			if i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "--") {
				c.flags[f] = append(c.flags[f], strings.Trim(fields[i+1], "'"))
				i++
			} else {
				c.flags[f] = append(c.flags[f], "")
			}
		}
		c.remove = c.flags["--remove"] != nil
		if p := c.flags["--allow-principal"]; len(p) == 1 {
			c.principal = p[0]
		}
		out = append(out, c)
	}
	return out
}

func TestKafkaMSKAdminJobAppliesTopicsAndACLsFromInsideTheCluster(t *testing.T) {
	m := runMSK(t, mskArgs())
	if provs := m.ofType("pulumi:providers:kafka"); len(provs) != 0 {
		t.Errorf("a Kafka provider %v would run on the deploy host, outside the VPC the brokers are private to", names(provs))
	}
	jobs := m.ofType("kubernetes:batch/v1:Job")
	if len(jobs) != 1 {
		t.Fatalf("jobs = %v; want the admin Job", names(jobs))
	}
	job := jobs[0]
	if propStr(get(job.Inputs, "metadata.namespace")) != "kafka" {
		t.Errorf("admin job namespace = %v", get(job.Inputs, "metadata.namespace"))
	}
	if !m.dependsOn(job, "aws:msk/singleScramSecretAssociation:SingleScramSecretAssociation", "kafka-user-groundwork-admin") {
		t.Error("the admin Job may run before MSK knows the admin user")
	}
	ctr := get(job.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()
	env := map[string]resource.PropertyValue{}
	for _, e := range ctr["env"].ArrayValue() {
		env[propStr(e.ObjectValue()["name"])] = resource.NewObjectProperty(e.ObjectValue())
	}
	cluster := m.ofType("aws:msk/cluster:Cluster")[0]
	if got := propStr(get(env["BOOTSTRAP_SERVERS"].ObjectValue(), "value")); got != propStr(cluster.Outputs["bootstrapBrokersSaslScram"]) || !strings.Contains(got, ":9096") {
		t.Errorf("BOOTSTRAP_SERVERS = %q; want the cluster's SCRAM brokers", got)
	}
	if ref := get(env["ADMIN_PASSWORD"].ObjectValue(), "valueFrom.secretKeyRef.name"); propStr(ref) != "kafka-admin" {
		t.Errorf("ADMIN_PASSWORD comes from %v; want the kafka-admin Secret", ref)
	}
	if sec := m.byName(t, secretType, "kafka-admin"); !inputIsSecret(sec.Inputs, "stringData.password") {
		t.Error("the admin password is not a secret")
	}
	script := propStr(ctr["command"].ArrayValue()[2])
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("the admin script is not valid shell: %v\n%s", err, out)
	}
	cmds := parseAdminScript(t, script)

	// MSK has no super users: the admin's own grants come first, on every resource, so no
	// resource is ever without ACLs and every other principal is denied by default.
	firstTopic := slices.IndexFunc(cmds, func(c mskCommand) bool { return c.tool == "topics" })
	adminGrants := map[string]bool{}
	for _, c := range cmds[:firstTopic] {
		if c.tool != "acls" || c.remove || c.principal != "User:groundwork-admin" {
			t.Errorf("before the topics, only the admin's own grants: %+v", c)
		}
		for _, r := range []string{"--topic", "--group", "--transactional-id", "--delegation-token"} {
			if slices.Equal(c.flags[r], []string{"*"}) && slices.Equal(c.flags["--operation"], []string{"All"}) {
				adminGrants[r] = true
			}
		}
		if c.flags["--cluster"] != nil && slices.Contains(c.flags["--operation"], "Alter") {
			adminGrants["--cluster"] = true
		}
	}
	if len(adminGrants) != 5 {
		t.Errorf("admin grants = %v; want All on every topic, group, transactional ID and token, and Alter on the cluster", adminGrants)
	}

	// Every topic is created with its partitions, replication and retention.
	created := map[string]mskCommand{}
	for _, c := range cmds {
		if c.tool == "topics" && c.flags["--create"] != nil {
			created[c.flags["--topic"][0]] = c
		}
	}
	for _, topic := range kafka.DomainTopics {
		c, ok := created[topic]
		if !ok || c.flags["--partitions"][0] != "6" || c.flags["--replication-factor"][0] != "3" || !slices.Contains(c.flags["--config"], "retention.ms=259200000") {
			t.Errorf("topic %s created as %+v", topic, c)
		}
	}

	// What each service may do, as principal → resource → operations; what it may not is revoked.
	got := map[string][]string{}
	revoked := map[string][]string{}
	for _, c := range cmds[firstTopic:] {
		if c.tool != "acls" {
			continue
		}
		for _, op := range c.flags["--operation"] {
			res := map[string][]string{"Topic": c.flags["--topic"], "Group": c.flags["--group"]}
			pattern := "Literal"
			if slices.Contains(c.flags["--resource-pattern-type"], "prefixed") {
				pattern = "Prefixed"
			}
			for typ, names := range res {
				for _, n := range names {
					k := c.principal + " " + typ + ":" + n + ":" + pattern
					if c.remove {
						revoked[k] = append(revoked[k], op)
					} else {
						got[k] = append(got[k], op)
					}
				}
			}
		}
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
	// Every topic operation a user is not granted is revoked, so a grant dropped from
	// service.yaml goes away; nothing granted is revoked.
	for _, u := range kafkaUsers {
		for _, topic := range kafka.DomainTopics {
			k := "User:" + u.Name + " Topic:" + topic + ":Literal"
			for _, op := range []string{"Describe", "Read", "Write"} {
				if slices.Contains(got[k], op) == slices.Contains(revoked[k], op) {
					t.Errorf("%s %s: granted %v, revoked %v; want exactly one", k, op, got[k], revoked[k])
				}
			}
		}
	}
	// A service gets its credentials only once its topics and ACLs exist.
	for _, u := range kafkaUsers {
		c := m.byName(t, secretType, "kafka-client-"+u.Name)
		if !m.dependsOn(c, "kubernetes:batch/v1:Job", "kafka-admin") {
			t.Errorf("client secret of %s does not wait for the admin Job", u.Name)
		}
	}
}

// TestKafkaMSKAdminScriptOnlyGrowsPartitions runs the admin script against stand-in Kafka tools
// that report a topic's current partitions: it adds partitions where a topic has fewer than
// declared and leaves a topic alone that has them (Kafka cannot remove partitions).
func TestKafkaMSKAdminScriptOnlyGrowsPartitions(t *testing.T) {
	args := mskArgs()
	args.Topics = []kafka.Topic{{Name: "grows.events", Partitions: 6, ReplicationFactor: 3, Retention: time.Hour}, {Name: "stays.events", Partitions: 6, ReplicationFactor: 3, Retention: time.Hour}}
	args.Users = nil
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls.log")
	for _, tool := range []string{"topics", "configs", "acls"} {
		body := "#!/bin/sh\necho \"" + tool + " $*\" >> " + calls + "\n"
		if tool == "topics" {
			body += "case \"$*\" in *--describe*grows.events*) echo 'Topic: grows.events\tPartitionCount: 3\tReplicationFactor: 3';; " +
				"*--describe*stays.events*) echo 'Topic: stays.events\tPartitionCount: 6\tReplicationFactor: 3';; esac\n"
		}
		if err := os.WriteFile(filepath.Join(bin, "kafka-"+tool+".sh"), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.ReplaceAll(strings.ReplaceAll(kafka.AdminScript(args), "/opt/kafka/bin", bin), "/tmp/admin.properties", filepath.Join(bin, "admin.properties"))
	cmd := exec.Command("sh", "-ec", script)
	cmd.Env = append(os.Environ(), "BOOTSTRAP_SERVERS=b-1.example:9096", "ADMIN_PASSWORD=pw")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script failed: %v\n%s", err, out)
	}
	log, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	var alters []string
	for _, l := range strings.Split(string(log), "\n") {
		if strings.HasPrefix(l, "topics ") && strings.Contains(l, "--alter") {
			alters = append(alters, l)
		}
	}
	if len(alters) != 1 || !strings.Contains(alters[0], "--topic grows.events --partitions 6") {
		t.Errorf("partition changes = %q; want grows.events raised to 6 and nothing else", alters)
	}
	props, err := os.ReadFile(filepath.Join(bin, "admin.properties"))
	if err != nil || !strings.Contains(string(props), `username="groundwork-admin" password="pw"`) {
		t.Errorf("client properties = %q (%v); want the admin's SCRAM login", props, err)
	}
}

func TestKafkaMSKSecretsStaySecret(t *testing.T) {
	m := runMSK(t, mskArgs())
	assertNoPlaintext(t, m, m.secretStrings(t))
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

// TestKafkaMSKBrokersFillItsClientSubnetsEvenly: over any number of zones, MSK gets two or three
// private subnets in distinct zones, and the broker count the component accepts is a multiple of
// them; any other count fails before anything is created.
func TestKafkaMSKBrokersFillItsClientSubnetsEvenly(t *testing.T) {
	all := []string{"eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d", "eu-west-1e", "eu-west-1f"}
	for zones := 2; zones <= 6; zones++ {
		for brokers := 1; brokers <= 6; brokers++ {
			t.Run(fmt.Sprintf("%d zones %d brokers", zones, brokers), func(t *testing.T) {
				args := mskArgs()
				args.Zones, args.Brokers = all[:zones], brokers
				args.Topics = kafka.Topics(3, 1, time.Hour)
				args.MinInSyncReplicas = 1
				var subnets []string
				for i := range zones {
					subnets = append(subnets, fmt.Sprintf("subnet-%s", all[i]))
				}
				args.Network = testNetwork()
				args.Network.PrivateSubnetIDs = pulumi.ToStringArray(subnets).ToStringArrayOutput()
				want := min(zones, 3)
				if brokers%want != 0 {
					m := newMocks("prod", "eu-west-1")
					err := pulumi.RunErr(func(ctx *pulumi.Context) error {
						_, err := kafka.New(ctx, "kafka", args)
						return err
					}, pulumi.WithMocks(project, "prod", m))
					if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("so it wants a multiple of %d", want)) || len(m.resources) != 0 {
						t.Fatalf("error %v with %d resources; want the multiple-of-%d error before anything", err, len(m.resources), want)
					}
					return
				}
				m := runMSK(t, args)
				c := m.ofType("aws:msk/cluster:Cluster")[0]
				got := strs(get(c.Inputs, "brokerNodeGroupInfo.clientSubnets"))
				if !slices.Equal(got, subnets[:want]) {
					t.Errorf("client subnets = %v; want the first %d private subnets, one per zone", got, want)
				}
				if n := int(c.Inputs["numberOfBrokerNodes"].NumberValue()); n%len(got) != 0 {
					t.Errorf("%d brokers over %d subnets", n, len(got))
				}
			})
		}
	}
}
