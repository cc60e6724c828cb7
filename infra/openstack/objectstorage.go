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

// objectStorage makes a Swift container for each bucket the platform asks for, and EC2-style
// credentials of the deploy identity, which Swift's S3 API accepts. They reach the whole project,
// and a project user has nothing narrower: Swift's s3api authenticates only Keystone EC2
// credentials (https://docs.openstack.org/swift/latest/s3_compat.html), and Keystone refuses to
// create one from a restricted application credential, such as one with object-store
// access_rules (keystone/api/credentials.py, _check_unrestricted_application_credential,
// Launchpad bug 2142138). A user or project of its own would need an admin. So all buckets share
// them, and only the namespaces that use a store get the Secret.
func (b *builder) objectStorage() (map[string]*infra.ObjectStore, error) {
	a := b.args
	buckets := map[string]*infra.ObjectStore{}
	if len(a.Buckets) == 0 {
		return buckets, nil
	}
	cred, err := identity.NewEc2CredentialV3(b.ctx, b.name+"-s3", &identity.Ec2CredentialV3Args{},
		b.opts(pulumi.AdditionalSecretOutputs([]string{"secret"}),
			// Named after backups, its first use, before other buckets shared it: the alias keeps
			// the credential instead of replacing it.
			pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(b.name + "-backups")}}))...)
	if err != nil {
		return nil, err
	}
	for _, spec := range a.Buckets {
		// Swift has no lifecycle rules: the bucket's user deletes by its own retention
		// (Bucket.ExpireDays is not enforced here).
		opts := b.opts()
		if spec.Retain {
			opts = b.opts(pulumi.Protect(a.Protect))
		}
		c, err := objectstorage.NewContainer(b.ctx, b.name+"-"+spec.Name, &objectstorage.ContainerArgs{
			Name:       pulumi.String(a.ClusterName + "-" + spec.Name),
			Versioning: pulumi.Bool(spec.Versioned),
			// A retained container outlives a mistaken destroy: a non-empty one is not deleted.
			ForceDestroy: pulumi.Bool(!spec.Retain && !a.Protect),
			Metadata:     pulumi.Map{"owner": pulumi.String(a.Tags.Owner), "stack": pulumi.String(a.Tags.Stack)},
		}, opts...)
		if err != nil {
			return nil, err
		}
		buckets[spec.Name] = &infra.ObjectStore{
			Bucket:          c.Name,
			Endpoint:        a.S3Endpoint,
			Region:          s3Region,
			PathStyle:       true,
			AccessKeyID:     pulumi.ToSecret(cred.Access).(pulumi.StringOutput),
			SecretAccessKey: pulumi.ToSecret(cred.Secret).(pulumi.StringOutput),
		}
	}
	return buckets, nil
}
