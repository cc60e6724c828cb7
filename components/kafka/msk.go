package kafka

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/msk"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/database"
)

// scramPort is MSK's SASL/SCRAM over TLS listener.
const scramPort = 9096

// MSKClientSubnets is how many of the cluster's private subnets (one per zone) MSK puts brokers
// in: MSK takes two or three client subnets in distinct zones and spreads the brokers evenly over
// them, so the broker count must be a multiple of this
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-msk-cluster-brokernodegroupinfo.html).
// A stack over more than three zones uses the first three.
func MSKClientSubnets(zones int) int { return min(max(zones, 2), 3) }

// newMSK creates an MSK cluster in the private subnets, reachable only from the nodes, encrypted
// in transit and at rest, with SCRAM users kept in Secrets Manager (the only way MSK takes them).
// Topics and ACLs are applied by a Kubernetes Job in the cluster (see newMSKAdmin): the brokers
// are private, so nothing outside the VPC, such as the deploy host, could reach them.
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
		// No name: Pulumi names it with a random suffix, so a change that replaces the
		// configuration (its Kafka versions) creates the new one before deleting the old.
		Description:      pulumi.String("Groundwork Kafka broker settings"),
		KafkaVersions:    pulumi.StringArray{pulumi.String(args.MSK.KafkaVersion)},
		ServerProperties: pulumi.String(mskServerProperties(rf, args.MinInSyncReplicas)),
	}, k.child())
	if err != nil {
		return fmt.Errorf("kafka msk configuration: %w", err)
	}
	subnets := MSKClientSubnets(len(args.Zones))
	cluster, err := msk.NewCluster(ctx, name, &msk.ClusterArgs{
		ClusterName:         pulumi.String(clusterName),
		KafkaVersion:        pulumi.String(args.MSK.KafkaVersion),
		NumberOfBrokerNodes: pulumi.Int(args.Brokers),
		BrokerNodeGroupInfo: &msk.ClusterBrokerNodeGroupInfoArgs{
			InstanceType: pulumi.String(args.MSK.InstanceType),
			ClientSubnets: net.PrivateSubnetIDs.ApplyT(func(ids []string) []string {
				return ids[:min(subnets, len(ids))]
			}).(pulumi.StringArrayOutput),
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
	}, k.child(),
		// The name is fixed per stack (clients and dashboards find the cluster by it): a
		// replacement, which loses the data anyway, deletes the old cluster first.
		pulumi.DeleteBeforeReplace(true))
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
			// MSK only associates secrets whose name starts with AmazonMSK_
			// (https://docs.aws.amazon.com/msk/latest/developerguide/msk-password-tutorial.html).
			// A prefix, not a name: a deleted secret's name stays taken for its recovery
			// window, so a replacement or a re-created stack needs a fresh one.
			NamePrefix:           pulumi.String(scramSecretPrefix(clusterName, user)),
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
		}, k.child(), chart.DependsOn([]pulumi.Resource{version}))
		if err != nil {
			return pulumi.StringOutput{}, nil, fmt.Errorf("kafka user %s association: %w", user, err)
		}
		return password, assoc, nil
	}

	adminPassword, adminAssoc, err := scramUser(adminUser)
	if err != nil {
		return err
	}
	job, err := newMSKAdmin(ctx, name, args, k, cluster.BootstrapBrokersSaslScram, adminPassword, adminAssoc)
	if err != nil {
		return err
	}
	for _, u := range args.Users {
		password, assoc, err := scramUser(u.Name)
		if err != nil {
			return err
		}
		// The service gets its credentials once MSK accepts them and its topics and ACLs exist.
		client, err := newClientSecret(ctx, name, args, u, cluster.BootstrapBrokersSaslScram, password, nil, k, chart.DependsOn([]pulumi.Resource{assoc, job}))
		if err != nil {
			return err
		}
		k.Clients[u.Name] = client
	}
	return nil
}

// mskServerProperties are the brokers' settings. MSK takes no super.users
// (https://docs.aws.amazon.com/msk/latest/developerguide/msk-configuration-properties.html), so
// allow.everyone.if.no.acl.found keeps MSK's default, true: with it off, nobody, the admin
// included, could create the first ACL. The admin Job's first step gives the admin ACLs on every
// topic, group, transactional ID and delegation token ("*") and on the cluster, after which no
// resource is without ACLs and every other principal is denied what it is not granted
// (https://docs.aws.amazon.com/msk/latest/developerguide/msk-acls.html).
func mskServerProperties(rf, minISR int) string {
	return strings.Join([]string{
		"auto.create.topics.enable=false",
		fmt.Sprintf("default.replication.factor=%d", rf),
		fmt.Sprintf("min.insync.replicas=%d", minISR),
		"allow.everyone.if.no.acl.found=true",
	}, "\n")
}

// scramSecretPrefix is the name prefix of a user's SCRAM secret: AmazonMSK_, the cluster and the
// user, within the 512 characters Secrets Manager allows less the 26 AWS appends.
func scramSecretPrefix(clusterName, user string) string {
	return "AmazonMSK_" + clusterName + "_" + user + "-"
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
