package aws

import (
	"encoding/json"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// kubeconfig renders a kubeconfig for an EKS cluster that authenticates with `aws eks get-token`,
// so it holds no long-lived credential. JSON is valid YAML, and kubectl reads it as is.
func kubeconfig(c *eks.Cluster, region string) pulumi.StringOutput {
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
				"user": map[string]any{"exec": map[string]any{
					"apiVersion": "client.authentication.k8s.io/v1beta1",
					"command":    "aws",
					"args":       []string{"eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"},
				}},
			}},
		}
		// Maps of strings always marshal; the error is impossible here.
		out, _ := json.Marshal(doc)
		return string(out)
	}).(pulumi.StringOutput)
}
