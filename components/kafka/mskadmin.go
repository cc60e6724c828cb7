package kafka

import (
	"fmt"
	"slices"
	"strings"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// AdminImage runs the Kafka command-line tools of the MSK admin Job: the Apache Kafka project's
// official image, upstream Apache Kafka 3.9.1 (Docker Hub apache/kafka), whose clients speak to
// MSK's 3.8 brokers.
const AdminImage = "docker.io/apache/kafka:3.9.1"

// adminOperations are the admin's rights: every operation on topics, groups, transactional IDs
// and delegation tokens, and on the cluster what managing topics and ACLs needs. ClusterAction,
// the brokers' own right, is left alone (MSK's brokers are super users).
var adminClusterOperations = []string{"Alter", "AlterConfigs", "Create", "Describe", "DescribeConfigs"}

// topicOperations are the operations a service's grants are drawn from; any of them not granted
// to a user on a topic is revoked, so a grant removed from service.yaml goes on the next run.
var topicOperations = []string{"Describe", "Read", "Write"}

// newMSKAdmin applies the topics and ACLs with a Kubernetes Job in the cluster, the only place
// besides the brokers' own subnets that reaches the private brokers: the Job runs the Kafka
// tools as the admin user, first granting the admin its own ACLs (MSK has no super.users), then
// creating or updating every topic and granting each service exactly its operations. The script
// is idempotent, and any change to it replaces the Job, so every update that changes topics or
// grants runs it again. Pulumi waits for the Job's Complete condition before anything that
// depends on it (pulumi-kubernetes, sdk/go/kubernetes/batch/v1/job.go), and with
// pulumi.com/replaceUnready replaces a failed Job on the next update instead of keeping it.
func newMSKAdmin(ctx *pulumi.Context, name string, args Args, k *Kafka, bootstrap, adminPassword pulumi.StringOutput, after pulumi.Resource) (pulumi.Resource, error) {
	labels := args.labels()
	labels["app.kubernetes.io/name"] = pulumi.String("kafka-admin")
	secret, err := corev1.NewSecret(ctx, name+"-admin", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String("kafka-admin"), Namespace: pulumi.String(args.Namespace), Labels: labels,
		},
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"password": adminPassword},
	}, k.child())
	if err != nil {
		return nil, fmt.Errorf("kafka admin secret: %w", err)
	}
	image := mirrored(args.ImageMirror, AdminImage)
	job, err := batchv1.NewJob(ctx, name+"-admin", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Namespace: pulumi.String(args.Namespace), Labels: labels,
			// A Job that failed is replaced on the next update rather than left failed.
			Annotations: pulumi.StringMap{"pulumi.com/replaceUnready": pulumi.String("true")},
		},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(4),
			ActiveDeadlineSeconds: pulumi.Int(1800),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("OnFailure"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(1000), RunAsGroup: pulumi.Int(1000),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:    pulumi.String("kafka-admin"),
						Image:   pulumi.String(image),
						Command: pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-ec"), pulumi.String(AdminScript(args))},
						Env: corev1.EnvVarArray{
							&corev1.EnvVarArgs{Name: pulumi.String("BOOTSTRAP_SERVERS"), Value: bootstrap},
							&corev1.EnvVarArgs{Name: pulumi.String("ADMIN_PASSWORD"), ValueFrom: &corev1.EnvVarSourceArgs{
								SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String("kafka-admin"), Key: pulumi.String("password")},
							}},
							// The tools write nothing under /opt/kafka; the root file system is read-only.
							&corev1.EnvVarArgs{Name: pulumi.String("LOG_DIR"), Value: pulumi.String("/tmp/logs")},
							&corev1.EnvVarArgs{Name: pulumi.String("KAFKA_HEAP_OPTS"), Value: pulumi.String("-Xmx256m")},
						},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("384Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("1"), "memory": pulumi.String("384Mi")},
						},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							RunAsNonRoot:             pulumi.Bool(true),
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
						},
						VolumeMounts: corev1.VolumeMountArray{&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}},
					}},
					Volumes: corev1.VolumeArray{&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}},
				},
			},
		},
	}, k.child(), chart.DependsOn([]pulumi.Resource{secret, after}))
	if err != nil {
		return nil, fmt.Errorf("kafka admin job: %w", err)
	}
	return job, nil
}

// AdminScript is the POSIX shell script the MSK admin Job runs: the admin's own ACLs, then the
// topics, then each user's grants, adding what is declared and revoking what is not.
func AdminScript(args Args) string {
	var b strings.Builder
	line := func(format string, v ...any) { fmt.Fprintf(&b, format+"\n", v...) }
	line("umask 077")
	line("cat > /tmp/admin.properties <<EOF")
	line("security.protocol=SASL_SSL")
	line("sasl.mechanism=SCRAM-SHA-512")
	line(`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="${ADMIN_PASSWORD}";`, adminUser)
	line("EOF")
	line(`tool() { t=$1; shift; /opt/kafka/bin/kafka-$t.sh --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config /tmp/admin.properties "$@"; }`)

	line("# 1. The admin's own rights, while no ACL exists yet (allow.everyone.if.no.acl.found)")
	line("tool acls --add --allow-principal 'User:%s'%s --cluster", adminUser, flags("--operation", adminClusterOperations))
	line("tool acls --add --allow-principal 'User:%s' --operation All --topic '*' --group '*' --transactional-id '*' --delegation-token '*'", adminUser)

	line("# 2. Topics: created, or their settings and partitions brought up to date")
	topics := slices.Clone(args.Topics)
	slices.SortFunc(topics, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range topics {
		cfg := fmt.Sprintf("retention.ms=%d,min.insync.replicas=%d", t.Retention.Milliseconds(), min(args.MinInSyncReplicas, t.ReplicationFactor))
		line("tool topics --create --if-not-exists --topic '%s' --partitions %d --replication-factor %d%s",
			t.Name, t.Partitions, t.ReplicationFactor, flags("--config", strings.Split(cfg, ",")))
		line("tool configs --alter --entity-type topics --entity-name '%s' --add-config '%s'", t.Name, cfg)
		line(`n=$(tool topics --describe --topic '%s' | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)`, t.Name)
		line(`[ -n "$n" ] || { echo "kafka-admin: cannot read the partitions of %s" >&2; exit 1; }`, t.Name)
		line(`if [ "$n" -lt %d ]; then tool topics --alter --topic '%s' --partitions %d; fi`, t.Partitions, t.Name, t.Partitions)
	}

	line("# 3. Each service: exactly the operations it declares")
	all := topicNames(topics)
	for _, u := range args.Users {
		granted := map[string][]string{} // operation → topics
		for _, a := range u.acls() {
			switch {
			case a.resourceType == "group":
				line("tool acls --add --allow-principal 'User:%s' --operation %s --resource-pattern-type prefixed --group '%s'", u.Name, a.operation, a.name)
			default:
				granted[a.operation] = append(granted[a.operation], a.name)
			}
		}
		for _, op := range topicOperations {
			if len(granted[op]) > 0 {
				line("tool acls --add --allow-principal 'User:%s' --operation %s%s", u.Name, op, flags("--topic", granted[op]))
			}
			var revoke []string
			for _, t := range all {
				if !slices.Contains(granted[op], t) {
					revoke = append(revoke, t)
				}
			}
			if len(revoke) > 0 {
				line("tool acls --remove --force --allow-principal 'User:%s' --operation %s%s", u.Name, op, flags("--topic", revoke))
			}
		}
		if len(u.Consumes) == 0 {
			line("tool acls --remove --force --allow-principal 'User:%s' --operation Read --resource-pattern-type prefixed --group '%s'", u.Name, u.Name)
		}
	}
	line("echo 'kafka-admin: topics and ACLs applied'")
	return b.String()
}

// flags repeats a flag for each value, single-quoted: ` --topic 'a' --topic 'b'`. Values are
// topic names, operations and settings, validated to hold no quote.
func flags(flag string, values []string) string {
	var b strings.Builder
	for _, v := range values {
		fmt.Fprintf(&b, " %s '%s'", flag, v)
	}
	return b.String()
}

// mirrored replaces an image's registry with the mirror's, keeping its path.
func mirrored(mirror, image string) string {
	i := strings.LastIndex(image, "/")
	return chart.Registry(mirror, image[:i]) + image[i:]
}
