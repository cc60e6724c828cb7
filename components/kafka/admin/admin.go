// Package admin binds the Pulumi Kafka provider (pulumi-kafka) by hand, since its Go SDK is not
// available from the module proxy: topics, ACLs and SCRAM users managed through the Kafka admin
// API. Tokens, input and output names are those of the provider's schema at ProviderVersion, and
// every resource pins that plugin version.
package admin

import (
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ProviderVersion is the pinned pulumi-kafka provider plugin.
const ProviderVersion = "3.13.0"

func pinned(opts []pulumi.ResourceOption) []pulumi.ResourceOption {
	return append([]pulumi.ResourceOption{pulumi.Version(ProviderVersion)}, opts...)
}

// Provider is a configured Kafka provider (token pulumi:providers:kafka).
type Provider struct {
	pulumi.ProviderResourceState
}

// ProviderArgs are the provider settings Groundwork uses.
type ProviderArgs struct {
	// BootstrapServers is the list of brokers.
	BootstrapServers pulumi.StringArrayInput
	// TLSEnabled talks TLS to the brokers (the provider's default is true).
	TLSEnabled pulumi.BoolPtrInput
	// SASLMechanism is plain, scram-sha512, scram-sha256 or aws-iam.
	SASLMechanism pulumi.StringPtrInput
	SASLUsername  pulumi.StringPtrInput
	// SASLPassword is marked secret by NewProvider.
	SASLPassword pulumi.StringPtrInput
	// KafkaVersion is the protocol version, $MAJOR.$MINOR.$PATCH.
	KafkaVersion pulumi.StringPtrInput
}

type providerArgs struct {
	BootstrapServers []string `pulumi:"bootstrapServers"`
	TLSEnabled       *bool    `pulumi:"tlsEnabled"`
	SASLMechanism    *string  `pulumi:"saslMechanism"`
	SASLUsername     *string  `pulumi:"saslUsername"`
	SASLPassword     *string  `pulumi:"saslPassword"`
	KafkaVersion     *string  `pulumi:"kafkaVersion"`
}

// ElementType is the plain shape of ProviderArgs.
func (ProviderArgs) ElementType() reflect.Type { return reflect.TypeFor[providerArgs]() }

// NewProvider registers a Kafka provider.
func NewProvider(ctx *pulumi.Context, name string, args *ProviderArgs, opts ...pulumi.ResourceOption) (*Provider, error) {
	if args.SASLPassword != nil {
		args.SASLPassword = pulumi.ToSecret(args.SASLPassword.ToStringPtrOutput()).(pulumi.StringPtrOutput)
	}
	var p Provider
	if err := ctx.RegisterResource("pulumi:providers:kafka", name, args, &p, pinned(opts)...); err != nil {
		return nil, err
	}
	return &p, nil
}

// Topic is kafka:index/topic:Topic.
type Topic struct {
	pulumi.CustomResourceState

	Name              pulumi.StringOutput    `pulumi:"name"`
	Partitions        pulumi.IntOutput       `pulumi:"partitions"`
	ReplicationFactor pulumi.IntOutput       `pulumi:"replicationFactor"`
	Config            pulumi.StringMapOutput `pulumi:"config"`
}

// TopicArgs are the inputs of a Topic; Partitions and ReplicationFactor are required.
type TopicArgs struct {
	Name              pulumi.StringInput
	Partitions        pulumi.IntInput
	ReplicationFactor pulumi.IntInput
	Config            pulumi.StringMapInput
}

type topicArgs struct {
	Name              string            `pulumi:"name"`
	Partitions        int               `pulumi:"partitions"`
	ReplicationFactor int               `pulumi:"replicationFactor"`
	Config            map[string]string `pulumi:"config"`
}

// ElementType is the plain shape of TopicArgs.
func (TopicArgs) ElementType() reflect.Type { return reflect.TypeFor[topicArgs]() }

// NewTopic registers a topic.
func NewTopic(ctx *pulumi.Context, name string, args *TopicArgs, opts ...pulumi.ResourceOption) (*Topic, error) {
	var r Topic
	if err := ctx.RegisterResource("kafka:index/topic:Topic", name, args, &r, pinned(opts)...); err != nil {
		return nil, err
	}
	return &r, nil
}

// ACL is kafka:index/acl:Acl: one permission of one principal on one resource.
type ACL struct {
	pulumi.CustomResourceState

	AclHost                   pulumi.StringOutput `pulumi:"aclHost"`
	AclOperation              pulumi.StringOutput `pulumi:"aclOperation"`
	AclPermissionType         pulumi.StringOutput `pulumi:"aclPermissionType"`
	AclPrincipal              pulumi.StringOutput `pulumi:"aclPrincipal"`
	AclResourceName           pulumi.StringOutput `pulumi:"aclResourceName"`
	AclResourceType           pulumi.StringOutput `pulumi:"aclResourceType"`
	ResourcePatternTypeFilter pulumi.StringOutput `pulumi:"resourcePatternTypeFilter"`
}

// ACLArgs are the inputs of an ACL; all but ResourcePatternTypeFilter are required.
type ACLArgs struct {
	AclHost                   pulumi.StringInput
	AclOperation              pulumi.StringInput
	AclPermissionType         pulumi.StringInput
	AclPrincipal              pulumi.StringInput
	AclResourceName           pulumi.StringInput
	AclResourceType           pulumi.StringInput
	ResourcePatternTypeFilter pulumi.StringPtrInput
}

type aclArgs struct {
	AclHost                   string  `pulumi:"aclHost"`
	AclOperation              string  `pulumi:"aclOperation"`
	AclPermissionType         string  `pulumi:"aclPermissionType"`
	AclPrincipal              string  `pulumi:"aclPrincipal"`
	AclResourceName           string  `pulumi:"aclResourceName"`
	AclResourceType           string  `pulumi:"aclResourceType"`
	ResourcePatternTypeFilter *string `pulumi:"resourcePatternTypeFilter"`
}

// ElementType is the plain shape of ACLArgs.
func (ACLArgs) ElementType() reflect.Type { return reflect.TypeFor[aclArgs]() }

// NewACL registers an ACL.
func NewACL(ctx *pulumi.Context, name string, args *ACLArgs, opts ...pulumi.ResourceOption) (*ACL, error) {
	var r ACL
	if err := ctx.RegisterResource("kafka:index/acl:Acl", name, args, &r, pinned(opts)...); err != nil {
		return nil, err
	}
	return &r, nil
}

// UserScramCredential is kafka:index/userScramCredential:UserScramCredential: a SCRAM user
// created through the Kafka admin API (Apache Kafka, Strimzi; not MSK, which takes SCRAM users
// from AWS Secrets Manager).
type UserScramCredential struct {
	pulumi.CustomResourceState

	Username        pulumi.StringOutput `pulumi:"username"`
	ScramMechanism  pulumi.StringOutput `pulumi:"scramMechanism"`
	ScramIterations pulumi.IntOutput    `pulumi:"scramIterations"`
	Password        pulumi.StringOutput `pulumi:"password"`
}

// UserScramCredentialArgs are its inputs; Username and ScramMechanism are required.
type UserScramCredentialArgs struct {
	Username        pulumi.StringInput
	ScramMechanism  pulumi.StringInput
	ScramIterations pulumi.IntPtrInput
	// Password is marked secret by NewUserScramCredential.
	Password pulumi.StringPtrInput
}

type userScramCredentialArgs struct {
	Username        string  `pulumi:"username"`
	ScramMechanism  string  `pulumi:"scramMechanism"`
	ScramIterations *int    `pulumi:"scramIterations"`
	Password        *string `pulumi:"password"`
}

// ElementType is the plain shape of UserScramCredentialArgs.
func (UserScramCredentialArgs) ElementType() reflect.Type {
	return reflect.TypeFor[userScramCredentialArgs]()
}

// NewUserScramCredential registers a SCRAM user; its password stays secret in inputs and state.
func NewUserScramCredential(ctx *pulumi.Context, name string, args *UserScramCredentialArgs, opts ...pulumi.ResourceOption) (*UserScramCredential, error) {
	if args.Password != nil {
		args.Password = pulumi.ToSecret(args.Password.ToStringPtrOutput()).(pulumi.StringPtrOutput)
	}
	opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"password", "passwordWo"}))
	var r UserScramCredential
	if err := ctx.RegisterResource("kafka:index/userScramCredential:UserScramCredential", name, args, &r, pinned(opts)...); err != nil {
		return nil, err
	}
	return &r, nil
}
