package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// lifecycle keeps the last 100 tagged images of a service and drops untagged layers after two
// weeks, so a repository does not grow without bound.
const lifecycle = `{"rules":[` +
	`{"rulePriority":1,"description":"drop untagged images after 14 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}},` +
	`{"rulePriority":2,"description":"keep the last 100 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}}]}`

// registry creates an ECR repository per domain service: tags immutable, images scanned on push.
func (b *builder) registry(accountID string) (infra.Registry, error) {
	a := b.args
	token := ecr.GetAuthorizationTokenOutput(b.ctx, ecr.GetAuthorizationTokenOutputArgs{RegistryId: pulumi.String(accountID)})
	reg := infra.Registry{
		URL:          pulumi.Sprintf("%s.dkr.ecr.%s.amazonaws.com", accountID, a.Region),
		Repositories: map[string]pulumi.StringOutput{},
		// ECR's tokens last 12 hours; each deployment asks for a fresh one.
		Login: &infra.RegistryLogin{
			Server:   token.ProxyEndpoint(),
			Username: token.UserName(),
			Password: pulumi.ToSecret(token.Password()).(pulumi.StringOutput),
		},
	}
	for _, svc := range a.Services {
		name := b.name + "-ecr-" + svc
		repo, err := ecr.NewRepository(b.ctx, name, &ecr.RepositoryArgs{
			Name:                       pulumi.String(fmt.Sprintf("%s/%s", a.ClusterName, svc)),
			ImageTagMutability:         pulumi.String("IMMUTABLE"),
			ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
			EncryptionConfigurations:   ecr.RepositoryEncryptionConfigurationArray{&ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("KMS")}},
			ForceDelete:                pulumi.Bool(!a.Protect),
			Tags:                       b.tags(name),
		}, b.opts()...)
		if err != nil {
			return reg, fmt.Errorf("repository %s: %w", svc, err)
		}
		if _, err := ecr.NewLifecyclePolicy(b.ctx, name, &ecr.LifecyclePolicyArgs{
			Repository: repo.Name,
			Policy:     pulumi.String(lifecycle),
		}, b.opts()...); err != nil {
			return reg, fmt.Errorf("repository %s lifecycle: %w", svc, err)
		}
		reg.Repositories[svc] = repo.RepositoryUrl
	}
	return reg, nil
}
