package openstack

import (
	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/identity"
	"github.com/pulumi/pulumi-openstack/sdk/v3/go/openstack/objectstorage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// s3Region is the region Swift's s3api middleware answers for unless the cloud configures its
// `location` otherwise.
const s3Region = "us-east-1"

// objectStorage makes the project's EC2-style credentials, which Swift's S3 API accepts, a
// versioned Swift container for database backups, and a container for each bucket the platform
// asks for. Keystone's EC2 credentials reach every container of the project: Swift has no
// per-container keys, so all buckets share them.
func (b *builder) objectStorage() (backups *infra.ObjectStore, buckets map[string]*infra.ObjectStore, err error) {
	a := b.args
	cred, err := identity.NewEc2CredentialV3(b.ctx, b.name+"-s3", &identity.Ec2CredentialV3Args{},
		b.opts(pulumi.AdditionalSecretOutputs([]string{"secret"}),
			// Named after backups, its first use, before buckets shared it: the alias keeps the
			// credential instead of replacing it.
			pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(b.name + "-backups")}}))...)
	if err != nil {
		return nil, nil, err
	}
	store := func(container *objectstorage.Container) *infra.ObjectStore {
		return &infra.ObjectStore{
			Bucket:          container.Name,
			Endpoint:        a.S3Endpoint,
			Region:          s3Region,
			PathStyle:       true,
			AccessKeyID:     pulumi.ToSecret(cred.Access).(pulumi.StringOutput),
			SecretAccessKey: pulumi.ToSecret(cred.Secret).(pulumi.StringOutput),
		}
	}
	container, err := objectstorage.NewContainer(b.ctx, b.name+"-backups", &objectstorage.ContainerArgs{
		Name:       pulumi.String(a.ClusterName + "-backups"),
		Versioning: pulumi.Bool(true),
		// Backups outlive a mistaken destroy: a non-empty container is not deleted.
		ForceDestroy: pulumi.Bool(false),
		Metadata:     b.containerMetadata(),
	}, b.opts(pulumi.Protect(a.Protect))...)
	if err != nil {
		return nil, nil, err
	}
	backups = store(container)
	buckets = map[string]*infra.ObjectStore{}
	for _, spec := range a.Buckets {
		// Swift has no lifecycle rules: the bucket's user deletes by its own retention
		// (Bucket.ExpireDays is not enforced here).
		c, err := objectstorage.NewContainer(b.ctx, b.name+"-"+spec.Name, &objectstorage.ContainerArgs{
			Name:         pulumi.String(a.ClusterName + "-" + spec.Name),
			ForceDestroy: pulumi.Bool(!a.Protect),
			Metadata:     b.containerMetadata(),
		}, b.opts()...)
		if err != nil {
			return nil, nil, err
		}
		buckets[spec.Name] = store(c)
	}
	return backups, buckets, nil
}

func (b *builder) containerMetadata() pulumi.Map {
	return pulumi.Map{"owner": pulumi.String(b.args.Tags.Owner), "stack": pulumi.String(b.args.Tags.Stack)}
}
