package aws

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
