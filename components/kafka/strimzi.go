package kafka

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
)

// StrimziChart is the Strimzi cluster operator, upstream release Strimzi 1.2.0 (serves only
// kafka.strimzi.io/v1). The Kafka version is the operator's default for that release.
var StrimziChart = chart.Spec{
	Name:    "strimzi-kafka-operator",
	Version: "1.2.0",
	Repo:    "oci://quay.io/strimzi-helm",
}

const (
	strimziRegistry = "quay.io"
	apiVersion      = "kafka.strimzi.io/v1"
	zoneKey         = "topology.kubernetes.io/zone"
	// tlsPort is the internal listener: TLS, SCRAM-SHA-512 authentication.
	tlsPort = 9093
)

// newStrimzi installs the operator, then the Kafka cluster with its node pools, topics and users.
func newStrimzi(ctx *pulumi.Context, name string, args Args, k *Kafka) error {
	ns := pulumi.String(args.Namespace)
	operator, err := chart.Install(ctx, name+"-operator", StrimziChart, args.ChartSource, chart.Args{
		Namespace: args.Namespace,
		Labels:    args.Tags.LabelMap("kafka-operator"),
		Values: pulumi.Map{
			// Watch only the release namespace, where the Kafka cluster lives.
			"watchAnyNamespace":    pulumi.Bool(false),
			"defaultImageRegistry": pulumi.String(chart.Registry(args.ImageMirror, strimziRegistry)),
			"resources": pulumi.Map{
				"requests": pulumi.Map{"cpu": pulumi.String("200m"), "memory": pulumi.String("384Mi")},
				"limits":   pulumi.Map{"cpu": pulumi.String("1"), "memory": pulumi.String("384Mi")},
			},
		},
	}, k.child())
	if err != nil {
		return fmt.Errorf("kafka operator: %w", err)
	}
	afterOperator := chart.DependsOn([]pulumi.Resource{operator})

	ca, caSecrets, err := newClusterCA(ctx, name, args, k)
	if err != nil {
		return err
	}

	rackAware := args.Brokers > 1 && len(args.Zones) > 1
	kafkaSpec := pulumi.Map{
		"listeners": pulumi.Array{pulumi.Map{
			"name":           pulumi.String("tls"),
			"port":           pulumi.Int(tlsPort),
			"type":           pulumi.String("internal"),
			"tls":            pulumi.Bool(true),
			"authentication": pulumi.Map{"type": pulumi.String("scram-sha-512")},
		}},
		"authorization": pulumi.Map{"type": pulumi.String("simple")},
		"config":        brokerConfig(args),
	}
	if rackAware {
		kafkaSpec["rack"] = pulumi.Map{"type": pulumi.String("topology-label"), "topologyKey": pulumi.String(zoneKey)}
	}
	cluster, err := apiextensions.NewCustomResource(ctx, name+"-"+args.ClusterName, &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(apiVersion),
		Kind:       pulumi.String("Kafka"),
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(args.ClusterName),
			Namespace: ns,
			Labels:    args.labels(),
		},
		OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
			"kafka": kafkaSpec,
			// The topic and user operators reconcile KafkaTopic and KafkaUser objects.
			"entityOperator": pulumi.Map{"topicOperator": pulumi.Map{}, "userOperator": pulumi.Map{}},
			// The cluster CA is ours (newClusterCA), so its certificate can reach every
			// client namespace.
			"clusterCa": pulumi.Map{"generateCertificateAuthority": pulumi.Bool(false)},
		}},
	}, k.child(), chart.DependsOn(append([]pulumi.Resource{operator}, caSecrets...)))
	if err != nil {
		return fmt.Errorf("kafka cluster: %w", err)
	}

	for _, p := range args.pools() {
		if _, err := apiextensions.NewCustomResource(ctx, name+"-pool-"+p.name, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String(apiVersion),
			Kind:       pulumi.String("KafkaNodePool"),
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(p.name),
				Namespace: ns,
				Labels:    args.clusterLabels(),
			},
			OtherFields: kubernetes.UntypedArgs{"spec": p.spec(args)},
		}, k.child(), afterOperator); err != nil {
			return fmt.Errorf("kafka node pool %s: %w", p.name, err)
		}
	}

	afterCluster := chart.DependsOn([]pulumi.Resource{operator, cluster})
	for _, t := range args.Topics {
		if _, err := apiextensions.NewCustomResource(ctx, name+"-topic-"+t.Name, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String(apiVersion),
			Kind:       pulumi.String("KafkaTopic"),
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(t.Name),
				Namespace: ns,
				Labels:    args.clusterLabels(),
			},
			OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
				"topicName":  pulumi.String(t.Name),
				"partitions": pulumi.Int(t.Partitions),
				"replicas":   pulumi.Int(t.ReplicationFactor),
				"config": pulumi.Map{
					"retention.ms":        pulumi.Int(int(t.Retention.Milliseconds())),
					"min.insync.replicas": pulumi.Int(min(args.MinInSyncReplicas, t.ReplicationFactor)),
				},
			}},
		}, k.child(), afterCluster); err != nil {
			return fmt.Errorf("kafka topic %s: %w", t.Name, err)
		}
	}

	k.BootstrapServers = pulumi.Sprintf("%s-kafka-bootstrap.%s.svc:%d", args.ClusterName, args.Namespace, tlsPort)
	for _, u := range args.Users {
		password, err := newPassword(ctx, name+"-user-"+u.Name, k)
		if err != nil {
			return err
		}
		// The user operator reads the password from a Secret beside the KafkaUser.
		pwSecret := u.Name + "-kafka-password"
		if _, err := corev1.NewSecret(ctx, name+"-user-"+u.Name+"-password", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String(pwSecret), Namespace: ns, Labels: args.labels()},
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{KeyPassword: password},
		}, k.child()); err != nil {
			return fmt.Errorf("kafka user %s: %w", u.Name, err)
		}
		if _, err := apiextensions.NewCustomResource(ctx, name+"-user-"+u.Name, &apiextensions.CustomResourceArgs{
			ApiVersion: pulumi.String(apiVersion),
			Kind:       pulumi.String("KafkaUser"),
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(u.Name),
				Namespace: ns,
				Labels:    args.clusterLabels(),
			},
			OtherFields: kubernetes.UntypedArgs{"spec": pulumi.Map{
				"authentication": pulumi.Map{
					"type": pulumi.String("scram-sha-512"),
					"password": pulumi.Map{"valueFrom": pulumi.Map{"secretKeyRef": pulumi.Map{
						"name": pulumi.String(pwSecret), "key": pulumi.String(KeyPassword),
					}}},
				},
				"authorization": pulumi.Map{"type": pulumi.String("simple"), "acls": strimziACLs(u.acls())},
			}},
		}, k.child(), afterCluster); err != nil {
			return fmt.Errorf("kafka user %s: %w", u.Name, err)
		}
		client, err := newClientSecret(ctx, name, args, u, k.BootstrapServers, password, ca, k)
		if err != nil {
			return err
		}
		k.Clients[u.Name] = client
	}
	return nil
}

// newPassword generates a user's password; the random provider keeps it a secret.
func newPassword(ctx *pulumi.Context, name string, parent pulumi.Resource) (pulumi.StringOutput, error) {
	pw, err := random.NewRandomPassword(ctx, name, &random.RandomPasswordArgs{
		Length:  pulumi.Int(32),
		Special: pulumi.Bool(false),
	}, pulumi.Parent(parent), pulumi.AdditionalSecretOutputs([]string{"result"}))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("password %s: %w", name, err)
	}
	return pulumi.ToSecret(pw.Result).(pulumi.StringOutput), nil
}

// newClientSecret writes what a service needs to connect into its own namespace.
// caCert is the PEM CA clients must trust, or nil where the brokers' certificates chain to a
// public CA (MSK).
func newClientSecret(ctx *pulumi.Context, name string, args Args, u User, bootstrap, password pulumi.StringOutput, caCert pulumi.StringInput, parent pulumi.Resource, opts ...pulumi.ResourceOption) (Client, error) {
	c := Client{SecretName: u.Name + "-kafka", SecretNamespace: u.Namespace}
	data := pulumi.StringMap{
		KeyBootstrapServers: bootstrap,
		KeySecurityProtocol: pulumi.String("SASL_SSL"),
		KeySASLMechanism:    pulumi.String("SCRAM-SHA-512"),
		KeyUsername:         pulumi.String(u.Name),
		KeyPassword:         password,
	}
	if caCert != nil {
		data[KeyCACert] = caCert
	}
	if _, err := corev1.NewSecret(ctx, name+"-client-"+u.Name, &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(c.SecretName), Namespace: pulumi.String(u.Namespace), Labels: args.labels(),
		},
		Type:       pulumi.String("Opaque"),
		StringData: data,
	}, append([]pulumi.ResourceOption{pulumi.Parent(parent)}, opts...)...); err != nil {
		return Client{}, fmt.Errorf("kafka client secret %s: %w", u.Name, err)
	}
	return c, nil
}

// brokerConfig is the cluster-wide Kafka configuration: replication by broker count, no topics
// created behind the platform's back.
func brokerConfig(args Args) pulumi.Map {
	rf := min(args.Brokers, 3)
	return pulumi.Map{
		"default.replication.factor":               pulumi.Int(rf),
		"min.insync.replicas":                      pulumi.Int(args.MinInSyncReplicas),
		"offsets.topic.replication.factor":         pulumi.Int(rf),
		"transaction.state.log.replication.factor": pulumi.Int(rf),
		"transaction.state.log.min.isr":            pulumi.Int(args.MinInSyncReplicas),
		"auto.create.topics.enable":                pulumi.Bool(false),
	}
}

type pool struct {
	name     string
	replicas int
	roles    []string
	cpu      string
	cpuLimit string
	memory   string
}

// pools are the KRaft node pools: one dual-role node in a single-broker cluster, else separate
// controller and broker pools so a broker's load never starves the quorum.
func (a Args) pools() []pool {
	if a.Brokers == 1 && a.Controllers == 1 {
		return []pool{{name: "dual-role", replicas: 1, roles: []string{"controller", "broker"}, cpu: a.CPU, cpuLimit: a.CPULimit, memory: a.Memory}}
	}
	return []pool{
		{name: "controller", replicas: a.Controllers, roles: []string{"controller"}, cpu: "250m", cpuLimit: "1", memory: "1Gi"},
		{name: "broker", replicas: a.Brokers, roles: []string{"broker"}, cpu: a.CPU, cpuLimit: a.CPULimit, memory: a.Memory},
	}
}

func (p pool) spec(a Args) pulumi.Map {
	roles := pulumi.StringArray{}
	for _, r := range p.roles {
		roles = append(roles, pulumi.String(r))
	}
	spec := pulumi.Map{
		"replicas": pulumi.Int(p.replicas),
		"roles":    roles,
		"storage": pulumi.Map{
			"type":        pulumi.String("persistent-claim"),
			"size":        pulumi.String(a.StorageSize),
			"class":       pulumi.String(a.StorageClass),
			"deleteClaim": pulumi.Bool(false),
		},
		"resources": pulumi.Map{
			"requests": pulumi.Map{"cpu": pulumi.String(p.cpu), "memory": pulumi.String(p.memory)},
			"limits":   pulumi.Map{"cpu": pulumi.String(p.cpuLimit), "memory": pulumi.String(p.memory)},
		},
	}
	if p.replicas > 1 && len(a.Zones) > 1 {
		// At most one node more in any zone than in another: losing a zone loses at most
		// ceil(n/zones) nodes of the pool.
		spec["template"] = pulumi.Map{"pod": pulumi.Map{"topologySpreadConstraints": pulumi.Array{pulumi.Map{
			"maxSkew":           pulumi.Int(1),
			"topologyKey":       pulumi.String(zoneKey),
			"whenUnsatisfiable": pulumi.String("DoNotSchedule"),
			"labelSelector": pulumi.Map{"matchLabels": pulumi.StringMap{
				"strimzi.io/cluster":   pulumi.String(a.ClusterName),
				"strimzi.io/pool-name": pulumi.String(p.name),
			}},
		}}}}
	}
	return spec
}

// strimziACLs groups a user's permissions by resource, as KafkaUser rules.
func strimziACLs(acls []acl) pulumi.Array {
	type key struct{ typ, name string }
	var order []key
	ops := map[key]pulumi.StringArray{}
	prefix := map[key]bool{}
	for _, a := range acls {
		k := key{a.resourceType, a.name}
		if _, ok := ops[k]; !ok {
			order = append(order, k)
		}
		ops[k] = append(ops[k], pulumi.String(a.operation))
		prefix[k] = a.prefix
	}
	out := pulumi.Array{}
	for _, k := range order {
		pattern := "literal"
		if prefix[k] {
			pattern = "prefix"
		}
		out = append(out, pulumi.Map{
			"type": pulumi.String("allow"),
			"resource": pulumi.Map{
				"type": pulumi.String(k.typ), "name": pulumi.String(k.name), "patternType": pulumi.String(pattern),
			},
			"operations": ops[k],
			"host":       pulumi.String("*"),
		})
	}
	return out
}

func (a Args) labels() pulumi.StringMap {
	l := a.Tags.Labels("kafka")
	l["app.kubernetes.io/name"] = pulumi.String("kafka")
	l["app.kubernetes.io/instance"] = pulumi.String(a.ClusterName)
	return l
}

// clusterLabels are labels plus the one that ties a Strimzi object to its Kafka cluster.
func (a Args) clusterLabels() pulumi.StringMap {
	l := a.labels()
	l["strimzi.io/cluster"] = pulumi.String(a.ClusterName)
	return l
}

// CAValidity is how long the cluster CA certificate is valid; Pulumi renews it on the first
// update in its last CARenewal.
const (
	CAValidity = 5 * 365 * 24 // hours
	CARenewal  = 90 * 24      // hours
)

// newClusterCA makes the cluster CA that signs the brokers' certificates, as the two Secrets
// Strimzi reads when it does not generate the CA itself, and returns its certificate.
func newClusterCA(ctx *pulumi.Context, name string, args Args, k *Kafka) (pulumi.StringOutput, []pulumi.Resource, error) {
	key, err := tls.NewPrivateKey(ctx, name+"-cluster-ca", &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("RSA"),
		RsaBits:   pulumi.Int(4096),
	}, k.child(), pulumi.AdditionalSecretOutputs([]string{"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"}))
	if err != nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("kafka cluster ca key: %w", err)
	}
	cert, err := tls.NewSelfSignedCert(ctx, name+"-cluster-ca", &tls.SelfSignedCertArgs{
		PrivateKeyPem:       key.PrivateKeyPem,
		IsCaCertificate:     pulumi.Bool(true),
		ValidityPeriodHours: pulumi.Int(CAValidity),
		EarlyRenewalHours:   pulumi.Int(CARenewal),
		AllowedUses:         pulumi.ToStringArray([]string{"cert_signing", "crl_signing", "digital_signature", "key_encipherment"}),
		Subject: &tls.SelfSignedCertSubjectArgs{
			CommonName:   pulumi.String("cluster-ca " + args.ClusterName),
			Organization: pulumi.String("groundwork"),
		},
	}, k.child())
	if err != nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("kafka cluster ca certificate: %w", err)
	}
	meta := func(secret, generation string) *metav1.ObjectMetaArgs {
		l := args.clusterLabels()
		l["strimzi.io/kind"] = pulumi.String("Kafka")
		return &metav1.ObjectMetaArgs{
			Name: pulumi.String(args.ClusterName + secret), Namespace: pulumi.String(args.Namespace), Labels: l,
			Annotations: pulumi.StringMap{generation: pulumi.String("0")},
		}
	}
	certSecret, err := corev1.NewSecret(ctx, name+"-cluster-ca-cert", &corev1.SecretArgs{
		Metadata:   meta("-cluster-ca-cert", "strimzi.io/ca-cert-generation"),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{KeyCACert: cert.CertPem},
	}, k.child())
	if err != nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("kafka cluster ca cert secret: %w", err)
	}
	keySecret, err := corev1.NewSecret(ctx, name+"-cluster-ca-key", &corev1.SecretArgs{
		Metadata:   meta("-cluster-ca", "strimzi.io/ca-key-generation"),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{"ca.key": pulumi.ToSecret(key.PrivateKeyPemPkcs8).(pulumi.StringOutput)},
	}, k.child())
	if err != nil {
		return pulumi.StringOutput{}, nil, fmt.Errorf("kafka cluster ca key secret: %w", err)
	}
	return cert.CertPem, []pulumi.Resource{certSecret, keySecret}, nil
}

// APIVersions are the custom resources the Strimzi operator chart installs, as group/version/Kind: charts are
// rendered knowing they exist (chart.Source.For), with or without a cluster to ask. The render
// test checks the list against the CRDs the chart ships.
var APIVersions = []string{
	"core.strimzi.io/v1/StrimziPodSet",
	"kafka.strimzi.io/v1/Kafka",
	"kafka.strimzi.io/v1/KafkaBridge",
	"kafka.strimzi.io/v1/KafkaConnect",
	"kafka.strimzi.io/v1/KafkaConnector",
	"kafka.strimzi.io/v1/KafkaMirrorMaker2",
	"kafka.strimzi.io/v1/KafkaNodePool",
	"kafka.strimzi.io/v1/KafkaRebalance",
	"kafka.strimzi.io/v1/KafkaTopic",
	"kafka.strimzi.io/v1/KafkaUser",
}
