package aws

import (
	"encoding/json"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// kubeconfigAuth is the identity the kubeconfig's token is signed with: the AWS provider's, so
// the Kubernetes provider acts as the principal that holds the admin access entry.
type kubeconfigAuth struct {
	Region string
	// Profile is the AWS CLI profile (aws:profile). Optional.
	Profile string
	// RoleARN is the role the AWS provider assumes (aws:assumeRole.roleArn). Optional.
	RoleARN string
}

// kubeconfig renders a kubeconfig for an EKS cluster that authenticates with `aws eks get-token`,
// so it holds no long-lived credential. JSON is valid YAML, and kubectl reads it as is.
func kubeconfig(c *eks.Cluster, auth kubeconfigAuth) pulumi.StringOutput {
	return pulumi.All(c.Name, c.Endpoint, c.CertificateAuthority.Data().Elem()).ApplyT(func(v []any) string {
		name, endpoint, ca := v[0].(string), v[1].(string), v[2].(string)
		doc := map[string]any{
			"apiVersion":      "v1",
			"kind":            "Config",
			"current-context": name,
			"clusters": []any{map[string]any{
				"name":    name,
				"cluster": map[string]any{"server": endpoint, "certificate-authority-data": ca},
			}},
			"contexts": []any{map[string]any{
				"name":    name,
				"context": map[string]any{"cluster": name, "user": name},
			}},
			"users": []any{map[string]any{
				"name": name,
				"user": map[string]any{"exec": execAuth(name, auth)},
			}},
		}
		// Maps of strings always marshal; the error is impossible here.
		out, _ := json.Marshal(doc)
		return string(out)
	}).(pulumi.StringOutput)
}

// execAuth is the exec credential plugin: `aws eks get-token` with the provider's profile (as
// AWS_PROFILE) and assumed role (--role-arn), so the token names the same principal the AWS
// provider deploys as, not whatever the default credential chain finds
// (https://awscli.amazonaws.com/v2/documentation/api/latest/reference/eks/get-token.html).
func execAuth(cluster string, auth kubeconfigAuth) map[string]any {
	args := []string{"eks", "get-token", "--cluster-name", cluster, "--region", auth.Region, "--output", "json"}
	if auth.RoleARN != "" {
		args = append(args, "--role-arn", auth.RoleARN)
	}
	exec := map[string]any{
		"apiVersion":      "client.authentication.k8s.io/v1beta1",
		"command":         "aws",
		"args":            args,
		"interactiveMode": "Never",
	}
	if auth.Profile != "" {
		exec["env"] = []any{map[string]any{"name": "AWS_PROFILE", "value": auth.Profile}}
	}
	return exec
}
