package openstack

import (
	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/identity"
	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/objectstorage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// backupStore makes a versioned Swift container for database backups and EC2-style credentials
// that Swift's S3 API accepts, so in-cluster databases back up off the cluster.
func (b *builder) backupStore() (*infra.ObjectStore, error) {
	a := b.args
	container, err := objectstorage.NewContainer(b.ctx, b.name+"-backups", &objectstorage.ContainerArgs{
		Name:       pulumi.String(a.ClusterName + "-backups"),
		Versioning: pulumi.Bool(true),
		// Backups outlive a mistaken destroy: a non-empty container is not deleted.
		ForceDestroy: pulumi.Bool(false),
		Metadata:     pulumi.Map{"owner": pulumi.String(a.Tags.Owner), "stack": pulumi.String(a.Tags.Stack)},
	}, b.opts(pulumi.Protect(a.Protect))...)
	if err != nil {
		return nil, err
	}
	cred, err := identity.NewEc2CredentialV3(b.ctx, b.name+"-backups", &identity.Ec2CredentialV3Args{},
		b.opts(pulumi.AdditionalSecretOutputs([]string{"secret"}))...)
	if err != nil {
		return nil, err
	}
	return &infra.ObjectStore{
		Bucket:          container.Name,
		Endpoint:        a.S3Endpoint,
		AccessKeyID:     pulumi.ToSecret(cred.Access).(pulumi.StringOutput),
		SecretAccessKey: pulumi.ToSecret(cred.Secret).(pulumi.StringOutput),
	}, nil
}
