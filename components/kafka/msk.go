package kafka

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/msk"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/database"
	"github.com/groundwork/groundwork/components/kafka/admin"
)

// scramPort is MSK's SASL/SCRAM over TLS listener.
const scramPort = 9096

// newMSK creates an MSK cluster in the private subnets, reachable only from the nodes, encrypted
// in transit and at rest, with SCRAM users kept in Secrets Manager (the only way MSK takes them),
// and the topics and ACLs through the Kafka provider as the platform's admin user.
func newMSK(ctx *pulumi.Context, name string, args Args, k *Kafka) error {
	net := args.Network
	clusterName := mskName(args)

	// MSK reads SCRAM secrets only when they are encrypted with a customer managed key.
	key, err := kms.NewKey(ctx, name+"-key", &kms.KeyArgs{
		Description:          pulumi.String("Groundwork Kafka (MSK): data at rest and SCRAM secrets"),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Tags:                 args.Tags.Map("kafka", name+"-key"),
	}, k.child())
	if err != nil {
		return fmt.Errorf("kafka kms key: %w", err)
	}
	sg, err := database.NodesOnlySecurityGroup(ctx, name+"-sg", net, args.Tags, "kafka", "Kafka (MSK)", "Kafka SASL/SCRAM over TLS", scramPort, k.child())
	if err != nil {
		return fmt.Errorf("kafka security group: %w", err)
	}
	rf := min(args.Brokers, 3)
	cfg, err := msk.NewConfiguration(ctx, name+"-config", &msk.ConfigurationArgs{
		Name:          pulumi.String(clusterName),
		Description:   pulumi.String("Groundwork Kafka broker settings"),
		KafkaVersions: pulumi.StringArray{pulumi.String(args.MSK.KafkaVersion)},
		ServerProperties: pulumi.String(strings.Join([]string{
			"auto.create.topics.enable=false",
			fmt.Sprintf("default.replication.factor=%d", rf),
			fmt.Sprintf("min.insync.replicas=%d", args.MinInSyncReplicas),
			// With SCRAM and ACLs, no ACL means no access; the admin manages the ACLs.
			"allow.everyone.if.no.acl.found=false",
			"super.users=User:" + adminUser,
		}, "\n")),
	}, k.child())
	if err != nil {
		return fmt.Errorf("kafka msk configuration: %w", err)
	}
	cluster, err := msk.NewCluster(ctx, name, &msk.ClusterArgs{
		ClusterName:         pulumi.String(clusterName),
		KafkaVersion:        pulumi.String(args.MSK.KafkaVersion),
		NumberOfBrokerNodes: pulumi.Int(args.Brokers),
		BrokerNodeGroupInfo: &msk.ClusterBrokerNodeGroupInfoArgs{
			InstanceType:   pulumi.String(args.MSK.InstanceType),
			ClientSubnets:  net.PrivateSubnetIDs,
			SecurityGroups: pulumi.StringArray{sg.ID()},
			StorageInfo: &msk.ClusterBrokerNodeGroupInfoStorageInfoArgs{
				EbsStorageInfo: &msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs{
					VolumeSize: pulumi.Int(args.MSK.VolumeSize),
				},
			},
		},
		ClientAuthentication: &msk.ClusterClientAuthenticationArgs{
			Sasl:            &msk.ClusterClientAuthenticationSaslArgs{Scram: pulumi.Bool(true)},
			Unauthenticated: pulumi.Bool(false),
		},
		EncryptionInfo: &msk.ClusterEncryptionInfoArgs{
			EncryptionAtRestKmsKeyArn: key.Arn,
			EncryptionInTransit: &msk.ClusterEncryptionInfoEncryptionInTransitArgs{
				ClientBroker: pulumi.String("TLS"),
				InCluster:    pulumi.Bool(true),
			},
		},
		ConfigurationInfo: &msk.ClusterConfigurationInfoArgs{Arn: cfg.Arn, Revision: cfg.LatestRevision},
		Tags:              args.Tags.Map("kafka", clusterName),
	}, k.child())
	if err != nil {
		return fmt.Errorf("kafka msk cluster: %w", err)
	}
	k.BootstrapServers = cluster.BootstrapBrokersSaslScram

	// scramUser keeps a user's credentials in Secrets Manager and hands them to MSK.
	scramUser := func(user string) (pulumi.StringOutput, pulumi.Resource, error) {
		password, err := newPassword(ctx, name+"-user-"+user, k)
		if err != nil {
			return pulumi.StringOutput{}, nil, err
		}
		secret, err := secretsmanager.NewSecret(ctx, name+"-user-"+user, &secretsmanager.SecretArgs{
			// MSK only associates secrets whose name starts with AmazonMSK_.
			Name:                 pulumi.String("AmazonMSK_" + clusterName + "_" + user),
			KmsKeyId:             key.Arn,
			RecoveryWindowInDays: pulumi.Int(7),
			Tags:                 args.Tags.Map("kafka", user),
		}, k.child())
		if err != nil {
			return pulumi.StringOutput{}, nil, fmt.Errorf("kafka user %s secret: %w", user, err)
		}
		version, err := secretsmanager.NewSecretVersion(ctx, name+"-user-"+user, &secretsmanager.SecretVersionArgs{
			SecretId:     secret.ID(),
			SecretString: pulumi.ToSecret(pulumi.Sprintf(`{"username":%q,"password":"%s"}`, user, password)).(pulumi.StringOutput),
		}, k.child())
		if err != nil {
			return pulumi.StringOutput{}, nil, fmt.Errorf("kafka user %s secret version: %w", user, err)
		}
		assoc, err := msk.NewSingleScramSecretAssociation(ctx, name+"-user-"+user, &msk.SingleScramSecretAssociationArgs{
			ClusterArn: cluster.Arn,
			SecretArn:  secret.Arn,
		}, k.child(), pulumi.DependsOn([]pulumi.Resource{version}))
		if err != nil {
			return pulumi.StringOutput{}, nil, fmt.Errorf("kafka user %s association: %w", user, err)
		}
		return password, assoc, nil
	}

	adminPassword, adminAssoc, err := scramUser(adminUser)
	if err != nil {
		return err
	}
	provider, err := admin.NewProvider(ctx, name+"-admin", &admin.ProviderArgs{
		BootstrapServers: cluster.BootstrapBrokersSaslScram.ApplyT(func(s string) []string {
			return strings.Split(s, ",")
		}).(pulumi.StringArrayOutput),
		TLSEnabled:    pulumi.Bool(true),
		SASLMechanism: pulumi.String("scram-sha512"),
		SASLUsername:  pulumi.String(adminUser),
		SASLPassword:  adminPassword,
	}, k.child(), pulumi.DependsOn([]pulumi.Resource{adminAssoc}))
	if err != nil {
		return fmt.Errorf("kafka provider: %w", err)
	}
	asAdmin := []pulumi.ResourceOption{k.child(), pulumi.Provider(provider), pulumi.DependsOn([]pulumi.Resource{adminAssoc})}

	for _, t := range args.Topics {
		if _, err := admin.NewTopic(ctx, name+"-topic-"+t.Name, &admin.TopicArgs{
			Name:              pulumi.String(t.Name),
			Partitions:        pulumi.Int(t.Partitions),
			ReplicationFactor: pulumi.Int(t.ReplicationFactor),
			Config: pulumi.StringMap{
				"retention.ms":        pulumi.String(fmt.Sprint(t.Retention.Milliseconds())),
				"min.insync.replicas": pulumi.String(fmt.Sprint(min(args.MinInSyncReplicas, t.ReplicationFactor))),
			},
		}, asAdmin...); err != nil {
			return fmt.Errorf("kafka topic %s: %w", t.Name, err)
		}
	}
	for _, u := range args.Users {
		password, assoc, err := scramUser(u.Name)
		if err != nil {
			return err
		}
		for _, a := range u.acls() {
			resourceType, pattern := "Topic", "Literal"
			if a.resourceType == "group" {
				resourceType = "Group"
			}
			if a.prefix {
				pattern = "Prefixed"
			}
			if _, err := admin.NewACL(ctx, fmt.Sprintf("%s-acl-%s-%s-%s-%s", name, u.Name, a.resourceType, a.name, strings.ToLower(a.operation)), &admin.ACLArgs{
				AclPrincipal:              pulumi.String("User:" + u.Name),
				AclHost:                   pulumi.String("*"),
				AclOperation:              pulumi.String(a.operation),
				AclPermissionType:         pulumi.String("Allow"),
				AclResourceType:           pulumi.String(resourceType),
				AclResourceName:           pulumi.String(a.name),
				ResourcePatternTypeFilter: pulumi.String(pattern),
			}, asAdmin...); err != nil {
				return fmt.Errorf("kafka acl for %s: %w", u.Name, err)
			}
		}
		// The service gets its credentials once MSK accepts them.
		client, err := newClientSecret(ctx, name, args, u, cluster.BootstrapBrokersSaslScram, password, nil, k, pulumi.DependsOn([]pulumi.Resource{assoc}))
		if err != nil {
			return err
		}
		k.Clients[u.Name] = client
	}
	return nil
}

var notNameChar = regexp.MustCompile(`[^a-z0-9-]+`)

// mskName is the cluster's name in the account: unique per project and stack.
func mskName(args Args) string {
	parts := []string{}
	for _, p := range []string{args.Tags.Project, args.Tags.Stack, args.ClusterName} {
		if p = strings.Trim(notNameChar.ReplaceAllString(strings.ToLower(p), "-"), "-"); p != "" {
			parts = append(parts, p)
		}
	}
	n := strings.Join(parts, "-")
	if len(n) > 64 {
		n = n[:64]
	}
	return strings.Trim(n, "-")
}
