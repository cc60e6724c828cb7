package platform

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/groundwork/groundwork/components/certmanager"
	"github.com/groundwork/groundwork/components/chart"
	"github.com/groundwork/groundwork/components/istio"
	"github.com/groundwork/groundwork/components/namespace"
	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/infra/aws"
)

// EdgeConfig is groundwork:edge: the public entry point, the ingress gateway's load balancer.
type EdgeConfig struct {
	// Domain is the public name clients use, e.g. "api.example.com": its DNS record points at
	// the load balancer, and the certificate is issued for it.
	Domain string `json:"domain"`
	// TLS is how the gateway gets its certificate. Without it the gateway serves plain HTTP on
	// port 80, which only dev and staging allow.
	TLS *TLSConfig `json:"tls"`
}

// TLS modes, the values of groundwork:edge.tls.mode.
const (
	// TLSACMEHTTP01 issues from an ACME CA (Let's Encrypt) that checks a token served on port 80.
	TLSACMEHTTP01 = "acme-http01"
	// TLSACMEDNS01 issues from an ACME CA that checks a TXT record at the DNS provider.
	TLSACMEDNS01 = "acme-dns01"
	// TLSSecret serves a certificate the user supplies.
	TLSSecret = "secret"
	// TLSSelfSigned issues a self-signed certificate: dev only, browsers warn.
	TLSSelfSigned = "self-signed"
	// TLSACM is an AWS Certificate Manager certificate on the load balancer, which terminates
	// TLS (groundwork:cloud aws only).
	TLSACM = "acm"
)

var tlsModes = []string{TLSACMEHTTP01, TLSACMEDNS01, TLSSecret, TLSSelfSigned, TLSACM}

// TLSConfig is groundwork:edge.tls.
type TLSConfig struct {
	Mode string `json:"mode"`
	// Email is the ACME account's contact, which the CA sends expiry notices to (acme-*).
	Email string `json:"email"`
	// Server is the ACME directory; default Let's Encrypt's production one. Let's Encrypt's
	// staging directory issues untrusted certificates under much higher rate limits.
	Server string `json:"server"`
	// DNS01 is the DNS provider of the domain's zone (acme-dns01).
	DNS01 *DNS01Config `json:"dns01"`
	// SecretName is a kubernetes.io/tls Secret made outside Groundwork in the gateway's
	// namespace (istio-ingress) (secret).
	SecretName string `json:"secretName"`
	// Certificate (PEM, the chain) and PrivateKey (PEM, a secret) are a certificate Groundwork
	// writes to the gateway's Secret (secret), the alternative to SecretName.
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"privateKey"`
	// CertificateARN is an ACM certificate for the domain, in the stack's region (acm).
	CertificateARN string `json:"certificateArn"`
}

// DNS01Config is groundwork:edge.tls.dns01: one DNS provider.
type DNS01Config struct {
	Cloudflare *CloudflareConfig `json:"cloudflare"`
	Route53    *Route53Config    `json:"route53"`
}

// Route53Config is an AWS Route53 hosted zone holding the domain (groundwork:cloud aws):
// cert-manager changes its TXT records with an IAM role of its own (IRSA), no static keys.
type Route53Config struct {
	HostedZoneID string `json:"hostedZoneID"`
	// Region is the AWS API client's region; default aws:region. Under IRSA cert-manager
	// prefers the AWS_REGION the EKS webhook injects (cert-manager
	// pkg/issuer/acme/dns/route53/route53.go, "Ignoring Issuer region"); Route53 is global.
	Region string `json:"region"`
}

// CloudflareConfig is an API token with Zone:DNS:Edit on the domain's zone, a secret.
type CloudflareConfig struct {
	APIToken string `json:"apiToken"`
}

// edgeSecretName is the Secret the gateway serves (credentialName), in its namespace.
const edgeSecretName = "edge-tls"

// hstsMaxAge is one year, the max-age HSTS preload lists and scanners ask for
// (https://hstspreload.org/#deployment-recommendations).
const hstsMaxAge = 31536000

func (e EdgeConfig) hasSecrets() bool {
	t := e.TLS
	return t != nil && (t.PrivateKey != "" || t.DNS01 != nil && t.DNS01.Cloudflare != nil && t.DNS01.Cloudflare.APIToken != "")
}

// certManager tells whether the stack runs cert-manager: to issue the edge's certificate.
func (c *Config) certManager() bool {
	t := c.Edge.TLS
	return t != nil && (t.Mode == TLSACMEHTTP01 || t.Mode == TLSACMEDNS01 || t.Mode == TLSSelfSigned)
}

func (c *Config) applyEdgeDefaults() {
	if t := c.Edge.TLS; t != nil && (t.Mode == TLSACMEHTTP01 || t.Mode == TLSACMEDNS01) {
		setDefault(&t.Server, certmanager.LetsEncrypt)
	}
	if r := c.route53(); r != nil {
		setDefault(&r.Region, c.AWSRegion)
	}
}

// route53 is groundwork:edge.tls.dns01.route53, or nil.
func (c *Config) route53() *Route53Config {
	if t := c.Edge.TLS; t != nil && t.DNS01 != nil {
		return t.DNS01.Route53
	}
	return nil
}

// hostedZoneID is a Route53 hosted zone ID, such as Z1D633PJN98FT9 (upper-case letters and
// digits; https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html).
var hostedZoneID = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)

var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// validateEdge checks groundwork:edge: one error per problem, naming the key.
func (c *Config) validateEdge(p *problems) {
	e := c.Edge
	prod := c.Environment == EnvProd
	if e.TLS == nil {
		if prod {
			p.add("edge", "prod serves its API over HTTPS only: set edge.domain (the public name, e.g. api.example.com) and edge.tls "+
				"(e.g. {mode: %s, email: oncall@example.com}; modes: %s)", TLSACMEHTTP01, join(tlsModes))
		}
		if e.Domain != "" && !certmanager.Domain(e.Domain) {
			p.add("edge.domain", "%q is not a DNS name such as \"api.example.com\" (lower-case labels, no wildcard)", e.Domain)
		}
		return
	}
	switch {
	case e.Domain == "":
		p.add("edge.domain", "required with edge.tls: the public name the certificate is for, e.g. \"api.example.com\"")
	case !certmanager.Domain(e.Domain):
		p.add("edge.domain", "%q is not a DNS name such as \"api.example.com\" (lower-case labels, no wildcard)", e.Domain)
	}
	t := e.TLS
	switch {
	case !slices.Contains(tlsModes, t.Mode):
		oneOf(p, "edge.tls.mode", t.Mode, tlsModes)
		return
	case t.Mode == TLSACM && c.Cloud != CloudAWS:
		// The certificate goes on the NLB that cloud-provider-aws makes for the gateway's
		// Service; on an existing cluster nothing says which controller serves LoadBalancers.
		p.add("edge.tls.mode", "%q (an ACM certificate on the AWS load balancer) needs groundwork:cloud %s, not %q; use %s, %s or %s",
			t.Mode, CloudAWS, c.Cloud, TLSACMEHTTP01, TLSACMEDNS01, TLSSecret)
		return
	case prod && t.Mode == TLSSelfSigned:
		p.add("edge.tls.mode", "%q in prod: clients cannot trust it; use %s, %s, %s or %s (on aws)", t.Mode, TLSACMEHTTP01, TLSACMEDNS01, TLSSecret, TLSACM)
	}
	acme := t.Mode == TLSACMEHTTP01 || t.Mode == TLSACMEDNS01
	// A setting of another mode would be ignored without a word: refuse it.
	for _, f := range []struct {
		key   string
		set   bool
		modes []string
	}{
		{"email", t.Email != "", []string{TLSACMEHTTP01, TLSACMEDNS01}},
		{"server", t.Server != "" && !acme, []string{TLSACMEHTTP01, TLSACMEDNS01}},
		{"dns01", t.DNS01 != nil, []string{TLSACMEDNS01}},
		{"secretName", t.SecretName != "", []string{TLSSecret}},
		{"certificate", t.Certificate != "", []string{TLSSecret}},
		{"privateKey", t.PrivateKey != "", []string{TLSSecret}},
		{"certificateArn", t.CertificateARN != "", []string{TLSACM}},
	} {
		if f.set && !slices.Contains(f.modes, t.Mode) {
			p.add("edge.tls."+f.key, "is not read in mode %q; it belongs to mode %s", t.Mode, join(f.modes))
		}
	}
	if acme {
		if a, err := mail.ParseAddress(t.Email); t.Email == "" {
			p.add("edge.tls.email", "required in mode %s: the ACME account's contact, where the CA sends expiry notices", t.Mode)
		} else if err != nil || a.Address != t.Email {
			p.add("edge.tls.email", "%q is not an e-mail address such as \"oncall@example.com\"", t.Email)
		}
		if u, err := url.Parse(t.Server); err != nil || u.Scheme != "https" || u.Host == "" {
			p.add("edge.tls.server", "%q is not an ACME directory URL such as %q", t.Server, certmanager.LetsEncrypt)
		}
	}
	switch t.Mode {
	case TLSACM:
		if err := checkACMCertificateARN(t.CertificateARN, c.AWSRegion); err != "" {
			p.add("edge.tls.certificateArn", "%s", err)
		}
	case TLSACMEDNS01:
		d := t.DNS01
		switch {
		case d != nil && d.Route53 != nil && d.Cloudflare != nil:
			p.add("edge.tls.dns01", "cloudflare and route53 are alternatives: name the one DNS provider of %q's zone", e.Domain)
		case d != nil && d.Route53 != nil:
			c.validateRoute53(p, d.Route53)
		case d == nil || d.Cloudflare == nil || d.Cloudflare.APIToken == "":
			p.add("edge.tls.dns01", "required in mode %s: the DNS provider, {cloudflare: {apiToken: (a secret)}} with a token allowed Zone:DNS:Edit on %q's zone, "+
				"or on aws {route53: {hostedZoneID: Z...}}", t.Mode, e.Domain)
		}
	case TLSSecret:
		switch {
		case t.SecretName != "" && (t.Certificate != "" || t.PrivateKey != ""):
			p.add("edge.tls", "secretName and certificate/privateKey are alternatives: name a Secret made outside Groundwork, or give the certificate and key")
		case t.SecretName != "":
			if !dnsSubdomain(t.SecretName) {
				p.add("edge.tls.secretName", "%q is not a Secret name", t.SecretName)
			}
		case t.Certificate == "" || t.PrivateKey == "":
			p.add("edge.tls", "mode secret needs secretName (a kubernetes.io/tls Secret in %s) or both certificate and privateKey (PEM; the key a secret)", NamespaceIngress)
		default:
			if err := checkCertificate(t.Certificate, e.Domain); err != "" {
				p.add("edge.tls.certificate", "%s", err)
			}
			if b, _ := pem.Decode([]byte(t.PrivateKey)); b == nil {
				p.add("edge.tls.privateKey", "is not a PEM private key")
			}
		}
	}
}

// validateRoute53 checks groundwork:edge.tls.dns01.route53.
func (c *Config) validateRoute53(p *problems, r *Route53Config) {
	if c.Cloud != CloudAWS {
		// The IAM role is assumed through the EKS cluster's OIDC provider, which only an aws
		// stack has.
		p.add("edge.tls.dns01.route53", "needs groundwork:cloud %s (cert-manager assumes an IAM role through the EKS cluster's OIDC provider), not %q; use cloudflare", CloudAWS, c.Cloud)
		return
	}
	switch {
	case r.HostedZoneID == "":
		p.add("edge.tls.dns01.route53.hostedZoneID", "required: the ID of the Route53 hosted zone holding edge.domain, e.g. Z1D633PJN98FT9 (`aws route53 list-hosted-zones-by-name`)")
	case !hostedZoneID.MatchString(r.HostedZoneID):
		p.add("edge.tls.dns01.route53.hostedZoneID", "%q is not a hosted zone ID such as \"Z1D633PJN98FT9\" (without /hostedzone/)", r.HostedZoneID)
	}
	if r.Region != "" && !awsRegion.MatchString(r.Region) {
		p.add("edge.tls.dns01.route53.region", "%q is not an AWS region such as \"eu-west-1\"", r.Region)
	}
}

// acmCertificateARN is an ACM certificate's ARN,
// arn:${Partition}:acm:${Region}:${Account}:certificate/${CertificateId}
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscertificatemanager.html#awscertificatemanager-resources-for-iam-policies),
// the ID a UUID.
var acmCertificateARN = regexp.MustCompile(`^arn:(aws(?:-[a-z]+)*):acm:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// checkACMCertificateARN reports why arn cannot be the certificate of a load balancer in
// region, or "".
func checkACMCertificateARN(arn, region string) string {
	const example = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	if arn == "" {
		return fmt.Sprintf("required in mode %s: the ARN of an ACM certificate for edge.domain, e.g. %q", TLSACM, example)
	}
	m := acmCertificateARN.FindStringSubmatch(arn)
	if m == nil {
		return fmt.Sprintf("%q is not an ACM certificate ARN such as %q", arn, example)
	}
	// ACM certificates are regional: Elastic Load Balancing uses only those of its own region
	// (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html).
	if region != "" && m[2] != region {
		return fmt.Sprintf("%q is in region %s, but the load balancer is in aws:region %s: request or import the certificate in %s", arn, m[2], region, region)
	}
	return ""
}

// checkCertificate reports why a PEM certificate chain cannot serve domain, or "".
func checkCertificate(chain, domain string) string {
	b, _ := pem.Decode([]byte(chain))
	if b == nil || b.Type != "CERTIFICATE" {
		return "is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "does not parse: " + err.Error()
	}
	if domain != "" && cert.VerifyHostname(domain) != nil {
		return "does not cover edge.domain " + quote(domain) + "; it is for " + join(cert.DNSNames)
	}
	return ""
}

// edge is what the mesh's gateway needs of groundwork:edge, or nil to serve plain HTTP.
func (c *Config) edge() *istio.Edge {
	t := c.Edge.TLS
	if t == nil {
		return nil
	}
	if t.Mode == TLSACM {
		return &istio.Edge{Domain: c.Edge.Domain, TLSAtLoadBalancer: true, HSTSMaxAge: hstsMaxAge}
	}
	e := &istio.Edge{Domain: c.Edge.Domain, CredentialName: edgeSecretName, HTTP01: t.Mode == TLSACMEHTTP01, HSTSMaxAge: hstsMaxAge}
	if t.Mode == TLSSecret {
		if t.SecretName != "" {
			e.CredentialName = t.SecretName
		} else {
			e.Certificate = pulumi.String(t.Certificate)
			e.PrivateKey = pulumi.ToSecret(pulumi.String(t.PrivateKey)).(pulumi.StringOutput)
		}
	}
	return e
}

// loadBalancerAnnotations are the gateway Service's annotations: the cloud's, and in mode acm
// those that make the AWS NLB terminate TLS with the ACM certificate.
func (c *Config) loadBalancerAnnotations(cloud pulumi.StringMapOutput) pulumi.StringMapOutput {
	t := c.Edge.TLS
	if t == nil || t.Mode != TLSACM {
		return cloud
	}
	tls := aws.TLSAnnotations(t.CertificateARN)
	return cloud.ApplyT(func(m map[string]string) map[string]string {
		out := maps.Clone(m)
		if out == nil {
			out = map[string]string{}
		}
		maps.Copy(out, tls)
		return out
	}).(pulumi.StringMapOutput)
}

// issuer is how cert-manager issues the edge's certificate.
func (c *Config) issuer() certmanager.Issuer {
	t := c.Edge.TLS
	if t.Mode == TLSSelfSigned {
		return certmanager.Issuer{SelfSigned: true}
	}
	a := &certmanager.ACME{Server: t.Server, Email: t.Email, HTTP01: t.Mode == TLSACMEHTTP01}
	if r := c.route53(); r != nil {
		a.DNS01 = &certmanager.DNS01{Route53: &certmanager.Route53{HostedZoneID: r.HostedZoneID, Region: r.Region}}
	} else if t.Mode == TLSACMEDNS01 {
		a.DNS01 = &certmanager.DNS01{CloudflareAPIToken: pulumi.ToSecret(pulumi.String(t.DNS01.Cloudflare.APIToken)).(pulumi.StringOutput)}
	}
	return certmanager.Issuer{ACME: a}
}

// NamespaceCertManager holds cert-manager where the stack runs it.
const NamespaceCertManager = "cert-manager"

// certManagerServiceAccount is the controller's service account: the chart names it after
// the release ("cert-manager", its fullname).
var certManagerServiceAccount = infra.ServiceAccount{Namespace: NamespaceCertManager, Name: "cert-manager"}

// dns01 is what the AWS base layer builds for Route53 DNS-01, or nil.
func (c *Config) dns01() *aws.DNS01 {
	if r := c.route53(); r != nil {
		return &aws.DNS01{HostedZoneID: r.HostedZoneID, ServiceAccount: certManagerServiceAccount}
	}
	return nil
}

// installEdge runs cert-manager and issues the edge's certificate where groundwork:edge.tls asks
// for one from it; the gateway serves the Secret it writes.
func installEdge(ctx *pulumi.Context, cfg *Config, src chart.Source, size sizing, cluster infra.Cluster, egress []string, tags infra.Tags, after []pulumi.Resource, on pulumi.ResourceOption) error {
	if !cfg.certManager() {
		return nil
	}
	var egressPorts []int
	if cfg.Edge.TLS.Mode == TLSACMEHTTP01 {
		// Before asking the CA to check, cert-manager fetches the challenge itself, from
		// http://<domain>/.well-known/acme-challenge/<token> through the public load balancer
		// (https://cert-manager.io/docs/troubleshooting/acme/#http01-troubleshooting).
		egressPorts = []int{80}
	}
	ns, err := namespace.New(ctx, "ns-"+NamespaceCertManager, namespace.Args{
		Name: NamespaceCertManager, PodSecurity: namespace.Restricted,
		Quota: size.quota, Defaults: size.defaults, Labels: tags.LabelMap("namespace"),
		// The API server calls the webhook on 10250 (the chart's webhook.securePort);
		// Prometheus scrapes the controller.
		AllowFrom: []string{NamespaceMonitoring}, OpenPorts: []int{10250},
		EgressCIDRs: egress, EgressPorts: egressPorts,
	}, on)
	if err != nil {
		return err
	}
	var role pulumi.StringInput
	if cfg.route53() != nil {
		a, ok := cluster.(*aws.Cluster)
		if !ok || a.DNS01RoleARN() == nil {
			// Validate allows route53 on aws only, and NewCluster makes the role there.
			return fmt.Errorf("edge: Route53 DNS-01 needs the AWS cluster's IAM role for cert-manager")
		}
		role = a.DNS01RoleARN()
	}
	cm, err := certmanager.New(ctx, "cert-manager", certmanager.Args{
		Namespace: NamespaceCertManager, Charts: src, ImageMirror: cfg.Images.RegistryMirror,
		HA: cfg.Environment == EnvProd, Zones: cluster.Zones(), AmbientRoleARN: role,
		Labels: tags.LabelMap("cert-manager"),
		After:  []pulumi.Resource{ns},
	}, on)
	if err != nil {
		return err
	}
	return cm.Certificate(ctx, "edge", certmanager.CertificateArgs{
		Namespace: NamespaceIngress, SecretName: edgeSecretName, DNSNames: []string{cfg.Edge.Domain},
		Issuer: cfg.issuer(), After: after,
	})
}
