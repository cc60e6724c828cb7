package aws

import (
	"encoding/json"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/infra"
)

// The annotations of cloud-provider-aws's service controller (the NLB the cluster's
// LoadBalancer Services get, see New), as read in kubernetes/cloud-provider-aws
// pkg/providers/v1/aws.go.
const (
	// AnnotationSSLCert is ServiceAnnotationLoadBalancerCertificate: an ACM (or IAM) certificate
	// ARN; with it, each port the SSL-ports annotation selects gets a TLS listener
	// (EnsureLoadBalancer, the isNLB branch: FrontendProtocol = ProtocolEnumTls).
	AnnotationSSLCert = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
	// AnnotationSSLPorts is ServiceAnnotationLoadBalancerSSLPorts: the port numbers or names
	// that get TLS listeners, comma-separated; unset, empty or "*" means every port
	// (getPortSets returns nil, which the isNLB branch reads as all ports).
	AnnotationSSLPorts = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"
	// AnnotationSSLNegotiationPolicy is ServiceAnnotationLoadBalancerSSLNegotiationPolicy: the
	// TLS listener's security policy (nlbPortMapping.SSLPolicy, set on the listener in
	// aws_loadbalancer.go); unset, ELB picks its API default, ELBSecurityPolicy-2016-08, which
	// still accepts TLS 1.0
	// (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html).
	AnnotationSSLNegotiationPolicy = "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"
	// AnnotationBackendProtocol is ServiceAnnotationLoadBalancerBEProtocol. On an NLB only "ssl"
	// changes anything (the target group speaks TLS to the pods); any other value, "tcp"
	// included, leaves the target group TCP: the listener decrypts and forwards plain bytes.
	AnnotationBackendProtocol = "service.beta.kubernetes.io/aws-load-balancer-backend-protocol"
)

// TLSPolicy is the NLB TLS listeners' security policy: TLS 1.3 and 1.2, nothing older, the
// one AWS recommends for TLS listeners
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html).
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// TLSAnnotations make the NLB terminate TLS on port 443 with an ACM certificate and forward
// the decrypted stream over TCP to the same Service port; port 80 stays a TCP listener.
func TLSAnnotations(certificateARN string) map[string]string {
	return map[string]string{
		AnnotationSSLCert:              certificateARN,
		AnnotationSSLPorts:             "443",
		AnnotationSSLNegotiationPolicy: TLSPolicy,
		AnnotationBackendProtocol:      "tcp",
	}
}

// DNS01 is the Route53 hosted zone cert-manager answers ACME DNS-01 challenges in, and the
// service account its controller runs as.
type DNS01 struct {
	HostedZoneID   string
	ServiceAccount infra.ServiceAccount
}

// dns01Policy lets cert-manager solve DNS-01 challenges in one hosted zone and nothing else:
// TXT records only in that zone, and reading the status of its changes. cert-manager's Route53
// guide lists these actions; ListHostedZonesByName is not needed with a hostedZoneID
// (https://cert-manager.io/docs/configuration/acme/dns01/route53/). Change IDs are not
// per-zone, so GetChange takes change/*.
func dns01Policy(partition, hostedZoneID string) string {
	// Maps of strings always marshal; the error is impossible here.
	doc, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			map[string]any{"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:" + partition + ":route53:::change/*"},
			map[string]any{
				"Effect":   "Allow",
				"Action":   []string{"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"},
				"Resource": "arn:" + partition + ":route53:::hostedzone/" + hostedZoneID,
				"Condition": map[string]any{"ForAllValues:StringEquals": map[string]any{
					"route53:ChangeResourceRecordSetsRecordTypes": []string{"TXT"},
				}},
			},
		},
	})
	return string(doc)
}

// dns01Role is the IAM role cert-manager's controller assumes through the cluster's OIDC
// provider (IRSA): no static keys.
func (b *builder) dns01Role(d DNS01, oidc *iam.OpenIdConnectProvider) (pulumi.StringOutput, error) {
	r, err := b.serviceAccountRole("cert-manager-dns01", oidc, d.ServiceAccount.Namespace, d.ServiceAccount.Name)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	if _, err := iam.NewRolePolicy(b.ctx, b.name+"-cert-manager-dns01", &iam.RolePolicyArgs{
		Role:   r.ID(),
		Policy: pulumi.String(dns01Policy(b.partition, d.HostedZoneID)),
	}, b.opts(pulumi.Parent(r.Role))...); err != nil {
		return pulumi.StringOutput{}, err
	}
	return r.Arn, nil
}

// DNS01RoleARN is the IAM role of Args.DNS01 for cert-manager's service account, or nil.
func (c *Cluster) DNS01RoleARN() pulumi.StringInput {
	if c.dns01Role == nil {
		return nil
	}
	return *c.dns01Role
}
