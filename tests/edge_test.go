package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/components/certmanager"
	"github.com/groundwork/groundwork/infra"
	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/policy/rules"
)

const (
	gatewayType      = "kubernetes:networking.istio.io/v1:Gateway"
	virtualSvcType   = "kubernetes:networking.istio.io/v1:VirtualService"
	issuerType       = "kubernetes:cert-manager.io/v1:Issuer"
	certificateType  = "kubernetes:cert-manager.io/v1:Certificate"
	ingressClassType = "kubernetes:networking.k8s.io/v1:IngressClass"
)

// edgeOf reads groundwork:edge of a stack's config.
func edgeOf(t *testing.T, cfg map[string]string) (domain, mode string) {
	t.Helper()
	var e struct {
		Domain string `json:"domain"`
		TLS    struct {
			Mode string `json:"mode"`
		} `json:"tls"`
	}
	require.NoError(t, json.Unmarshal([]byte(cfg["groundwork:edge"]), &e))
	return e.Domain, e.TLS.Mode
}

// server is the public Gateway's listener on a port.
func server(t *testing.T, m *mocks, port float64) resource.PropertyMap {
	t.Helper()
	gw := m.byName(t, gatewayType, "istio-public")
	for _, s := range get(gw.Inputs, "spec.servers").ArrayValue() {
		if get(s.ObjectValue(), "port.number").NumberValue() == port {
			return s.ObjectValue()
		}
	}
	t.Fatalf("the public Gateway has no server on port %v", port)
	return nil
}

func first(t *testing.T, v resource.PropertyValue) resource.PropertyMap {
	t.Helper()
	require.True(t, v.IsArray() && len(v.ArrayValue()) > 0, "want a non-empty list, got %v", v)
	return v.ArrayValue()[0].ObjectValue()
}

// TestEdgeServesHTTPSOnEveryStack holds every stack to what a client of the public API sees:
// HTTPS on 443 with the certificate cert-manager issues for the domain, port 80 redirecting to
// it (ACME challenges excepted where the CA checks them there), HSTS on every response; and the
// certificate's objects valid against the pinned cert-manager's CRDs.
func TestEdgeServesHTTPSOnEveryStack(t *testing.T) {
	for _, tt := range stackCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.config(t)
			domain, mode := edgeOf(t, cfg)
			require.NotEmpty(t, domain, "the stack file names its domain")
			m, err := run(t, tt.stack, cfg, nil, platform.Run)
			require.NoError(t, err)

			https := server(t, m, 443)
			assert.Equal(t, "HTTPS", get(https, "port.protocol").StringValue())
			assert.Equal(t, []string{domain}, strs(https["hosts"]))
			assert.Equal(t, "SIMPLE", get(https, "tls.mode").StringValue())
			assert.Equal(t, "TLSV1_2", get(https, "tls.minProtocolVersion").StringValue())
			credential := get(https, "tls.credentialName").StringValue()
			require.NotEmpty(t, credential)

			http := server(t, m, 80)
			assert.Equal(t, []string{domain}, strs(http["hosts"]))
			switch mode {
			case "acme-http01":
				// Challenges must reach the solver on 80: a route redirects the rest.
				assert.False(t, get(http, "tls.httpsRedirect").IsBool() && get(http, "tls.httpsRedirect").BoolValue(),
					"a Gateway-level redirect would send Let's Encrypt's challenge requests to 443, where the solver has no route")
				redirect := m.byName(t, virtualSvcType, "istio-https-redirect")
				assert.Equal(t, []string{domain}, strs(get(redirect.Inputs, "spec.hosts")), "the same virtual host as the solver's Ingress, so Istio merges them")
				route := first(t, get(redirect.Inputs, "spec.http"))
				assert.Equal(t, float64(80), get(first(t, route["match"]), "port").NumberValue())
				assert.Equal(t, "https", get(route, "redirect.scheme").StringValue())
				assert.Equal(t, float64(301), get(route, "redirect.redirectCode").NumberValue())
				class := m.byName(t, ingressClassType, "edge-ingress-class")
				assert.Equal(t, certmanager.IngressClass, get(class.Inputs, "metadata.name").StringValue())
				assert.Equal(t, "istio.io/ingress-controller", get(class.Inputs, "spec.controller").StringValue(), "Istio serves the solver's Ingress only for a class it controls")
			default:
				assert.True(t, get(http, "tls.httpsRedirect").BoolValue(), "port 80 answers with a redirect to https")
				assert.Empty(t, m.ofType(ingressClassType))
			}

			api := m.byName(t, virtualSvcType, "istio-to-api-gateway")
			assert.Equal(t, []string{domain}, strs(get(api.Inputs, "spec.hosts")))
			route := first(t, get(api.Inputs, "spec.http"))
			assert.Equal(t, float64(443), get(first(t, route["match"]), "port").NumberValue(), "the API is served on HTTPS only")
			hsts := get(route, "headers.response.set").ObjectValue()["Strict-Transport-Security"].StringValue()
			assert.Regexp(t, `^max-age=(\d{8,}); includeSubDomains$`, hsts)
			assert.GreaterOrEqual(t, hsts, "max-age=31536000", "HSTS for a year at least")
			assert.Equal(t, "kong-proxy.kong.svc.cluster.local", get(first(t, route["route"]), "destination.host").StringValue())

			// The load balancer forwards 443 to the gateway.
			gwChart := m.byName(t, helmChartType, "istio-gateway")
			var ports []float64
			for _, p := range get(gwChart.Inputs, "values.service.ports").ArrayValue() {
				ports = append(ports, get(p.ObjectValue(), "port").NumberValue())
			}
			assert.Contains(t, ports, float64(443))

			// The certificate is issued into the Secret the gateway serves, in its namespace.
			cert := m.byName(t, certificateType, "edge-certificate")
			issuer := m.byName(t, issuerType, "edge-issuer")
			gwNamespace := get(m.byName(t, gatewayType, "istio-public").Inputs, "metadata.namespace").StringValue()
			assert.Equal(t, gwNamespace, get(cert.Inputs, "metadata.namespace").StringValue())
			assert.Equal(t, gwNamespace, get(issuer.Inputs, "metadata.namespace").StringValue())
			assert.Equal(t, credential, get(cert.Inputs, "spec.secretName").StringValue())
			assert.Equal(t, []string{domain}, strs(get(cert.Inputs, "spec.dnsNames")))
			assert.Equal(t, "Issuer", get(cert.Inputs, "spec.issuerRef.kind").StringValue())
			assert.Equal(t, get(issuer.Inputs, "metadata.name").StringValue(), get(cert.Inputs, "spec.issuerRef.name").StringValue())
			switch mode {
			case "self-signed":
				assert.True(t, get(issuer.Inputs, "spec.selfSigned").IsObject())
			case "acme-http01":
				assert.Equal(t, certmanager.LetsEncrypt, get(issuer.Inputs, "spec.acme.server").StringValue(), "Let's Encrypt's production directory by default")
				assert.Contains(t, get(issuer.Inputs, "spec.acme.email").StringValue(), "@")
				solver := first(t, get(issuer.Inputs, "spec.acme.solvers"))
				assert.Equal(t, certmanager.IngressClass, get(solver, "http01.ingress.ingressClassName").StringValue())
				assert.Equal(t, []string{domain}, strs(get(solver, "selector.dnsNames")))
			default:
				t.Fatalf("the stack files use self-signed or acme-http01, not %q", mode)
			}
			assert.Equal(t, 2, checkCustomResources(t, m, issuerType, certificateType), "the Issuer and the Certificate match the pinned CRDs")

			// Both wait for cert-manager's CRDs and webhook, rendered from the pinned chart.
			cm := m.byName(t, helmChartType, "cert-manager")
			assert.True(t, m.waitsFor(issuer, cm))
			assert.True(t, m.waitsFor(cert, cm))
			assert.Equal(t, certmanager.Version, get(cm.Inputs, "version").StringValue())
			assertCertManagerRendered(t, m)

			replicas := map[string]float64{"dev": 1, "prod": 2}[tt.stack]
			for _, prefix := range []string{"values.", "values.webhook.", "values.cainjector."} {
				assert.Equal(t, replicas, get(cm.Inputs, prefix+"replicaCount").NumberValue(), prefix)
				assert.Equal(t, replicas >= 2, get(cm.Inputs, prefix+"podDisruptionBudget.enabled").BoolValue(), prefix)
				assert.True(t, get(cm.Inputs, prefix+"resources.limits.memory").IsString(), prefix)
			}
			assert.True(t, get(cm.Inputs, "values.crds.enabled").BoolValue())

			// cert-manager runs in a namespace of its own with the platform's guard rails; with
			// HTTP-01 its self-check reaches port 80 of the load balancer.
			allow := m.byName(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "ns-cert-manager-allow")
			var egressPorts []float64
			for _, rule := range get(allow.Inputs, "spec.egress").ArrayValue() {
				ports := rule.ObjectValue()["ports"]
				if !ports.IsArray() {
					continue
				}
				for _, p := range ports.ArrayValue() {
					egressPorts = append(egressPorts, get(p.ObjectValue(), "port").NumberValue())
				}
			}
			assert.Equal(t, mode == "acme-http01", containsFloat(egressPorts, 80), "egress to port 80: %v", egressPorts)
		})
	}
}

func containsFloat(list []float64, v float64) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// assertCertManagerRendered checks the pinned chart was rendered (not missing) with its CRDs.
func assertCertManagerRendered(t *testing.T, m *mocks) {
	t.Helper()
	for _, r := range m.rendered {
		if r.Opts.ReleaseName != "cert-manager" {
			continue
		}
		var crds, deployments []string
		for _, o := range r.Objects {
			switch o["kind"] {
			case "CustomResourceDefinition":
				crds = append(crds, servedKinds(o)...)
			case "Deployment":
				deployments = append(deployments, metaName(o))
			}
		}
		assert.ElementsMatch(t, certmanager.APIVersions, crds, "the CRDs the chart installs are the declared API versions")
		assert.ElementsMatch(t, []string{"cert-manager/cert-manager", "cert-manager/cert-manager-webhook", "cert-manager/cert-manager-cainjector"}, deployments)
		return
	}
	t.Fatal("no render of the cert-manager chart")
}

// testCertificate is a self-signed certificate and key for domain, as PEM.
func testCertificate(t *testing.T, domain string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

const cloudflareToken = "cf-t0k3n-n0t-pl41n-4bcd3f"

// TestEdgeTLSModes runs the dev stack with each way of getting the certificate: the gateway
// serves the right Secret, only the modes that need cert-manager install it, and keys and tokens
// stay Pulumi secrets.
func TestEdgeTLSModes(t *testing.T) {
	const domain = "api.dev.example.com"
	certPEM, keyPEM := testCertificate(t, domain)
	tests := []struct {
		name        string
		edge        map[string]any
		secret      bool
		credential  string // "" for plain HTTP
		certManager bool
		check       func(t *testing.T, m *mocks)
	}{
		{"acme dns-01 at cloudflare", map[string]any{"domain": domain, "tls": map[string]any{
			"mode": "acme-dns01", "email": "oncall@example.com", "server": certmanager.LetsEncryptStaging,
			"dns01": map[string]any{"cloudflare": map[string]any{"apiToken": cloudflareToken}},
		}}, true, "edge-tls", true, func(t *testing.T, m *mocks) {
			assertNoPlaintext(t, m, []string{cloudflareToken})
			sec := m.byName(t, secretType, "edge-dns01")
			assert.True(t, inputIsSecret(sec.Inputs, "stringData.api-token"), "the API token is a Pulumi secret")
			issuer := m.byName(t, issuerType, "edge-issuer")
			assert.Equal(t, certmanager.LetsEncryptStaging, get(issuer.Inputs, "spec.acme.server").StringValue())
			solver := first(t, get(issuer.Inputs, "spec.acme.solvers"))
			assert.Equal(t, get(sec.Inputs, "metadata.name").StringValue(), get(solver, "dns01.cloudflare.apiTokenSecretRef.name").StringValue())
			assert.Equal(t, get(issuer.Inputs, "metadata.namespace").StringValue(), get(sec.Inputs, "metadata.namespace").StringValue(),
				"an Issuer reads Secrets from its own namespace")
			assert.True(t, get(server(t, m, 80), "tls.httpsRedirect").BoolValue(), "DNS-01 needs nothing on port 80: every request is redirected")
			assert.Empty(t, m.ofType(ingressClassType))
			assert.Equal(t, 2, checkCustomResources(t, m, issuerType, certificateType))
		}},
		{"a certificate and key from config", map[string]any{"domain": domain, "tls": map[string]any{
			"mode": "secret", "certificate": certPEM, "privateKey": keyPEM,
		}}, true, "edge-tls", false, func(t *testing.T, m *mocks) {
			assertNoPlaintext(t, m, []string{strings.TrimSpace(strings.Split(keyPEM, "\n")[1])})
			sec := m.byName(t, secretType, "istio-edge-tls")
			assert.Equal(t, "kubernetes.io/tls", get(sec.Inputs, "type").StringValue())
			assert.Equal(t, "istio-ingress", get(sec.Inputs, "metadata.namespace").StringValue(), "the gateway reads credentials from its own namespace")
			data := sec.Inputs["stringData"]
			whole := data.IsSecret()
			for data.IsSecret() {
				data = data.SecretValue().Element
			}
			assert.True(t, whole || data.ObjectValue()["tls.key"].IsSecret(), "the key is a Pulumi secret")
			assert.Equal(t, certPEM, propStr(data.ObjectValue()["tls.crt"]))
		}},
		{"a Secret made outside", map[string]any{"domain": domain, "tls": map[string]any{"mode": "secret", "secretName": "wildcard-example-com"}},
			false, "wildcard-example-com", false, func(t *testing.T, m *mocks) {
				for _, s := range m.ofType(secretType) {
					assert.NotEqual(t, "wildcard-example-com", get(s.Inputs, "metadata.name").StringValue(), "the program does not own the user's Secret")
				}
			}},
		{"plain HTTP in dev", map[string]any{}, false, "", false, func(t *testing.T, m *mocks) {
			gw := m.byName(t, gatewayType, "istio-public")
			servers := get(gw.Inputs, "spec.servers").ArrayValue()
			require.Len(t, servers, 1)
			assert.Equal(t, []string{"*"}, strs(servers[0].ObjectValue()["hosts"]))
			assert.Equal(t, float64(80), get(servers[0].ObjectValue(), "port.number").NumberValue())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, "dev")
			cfg["groundwork:edge"] = configValue(t, tt.edge)
			var secrets []string
			if tt.secret {
				secrets = []string{"groundwork:edge"}
			}
			m, err := run(t, "dev", cfg, secrets, platform.Run)
			require.NoError(t, err)
			if tt.credential != "" {
				assert.Equal(t, tt.credential, get(server(t, m, 443), "tls.credentialName").StringValue())
			}
			var charts []string
			for _, c := range m.ofType(helmChartType) {
				charts = append(charts, c.Name)
			}
			assert.Equal(t, tt.certManager, containsString(charts, "cert-manager"), "cert-manager is installed only where it issues the certificate")
			assert.Equal(t, tt.certManager, len(m.ofType(certificateType)) == 1)
			if tt.certManager {
				assertCertManagerRendered(t, m)
			}
			tt.check(t, m)
		})
	}
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// acmARN is an ACM certificate's ARN in region.
func acmARN(region string) string {
	return "arn:aws:acm:" + region + ":123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
}

// TestEdgeACMOnAnExistingCluster refuses mode acm where Groundwork does not build the load
// balancer's cluster: one error, before any resource.
func TestEdgeACMOnAnExistingCluster(t *testing.T) {
	cfg := stackConfig(t, "dev")
	cfg["groundwork:cloud"] = "existing"
	cfg["groundwork:existing"] = `{"nodeCidrs":["10.0.0.0/16"]}`
	cfg["groundwork:edge"] = configValue(t, map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": acmARN("eu-west-1")}})
	m, err := run(t, "dev", cfg, nil, platform.Run)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `groundwork:edge.tls.mode: "acm" (an ACM certificate on the AWS load balancer) needs groundwork:cloud aws, not "existing"`)
	assert.True(t, strings.HasPrefix(err.Error(), "1 error occurred:"), "one clear error: %v", err)
	assert.Empty(t, m.resources, "nothing is created")
}

// TestEdgeValidation gives each bad groundwork:edge one clear error, before any resource.
func TestEdgeValidation(t *testing.T) {
	certPEM, keyPEM := testCertificate(t, "other.example.com")
	tests := []struct {
		name   string
		stack  string
		edge   any // nil removes groundwork:edge
		secret bool
		want   string
	}{
		{"prod without TLS", "prod", nil, false,
			"groundwork:edge: prod serves its API over HTTPS only: set edge.domain (the public name, e.g. api.example.com) and edge.tls (e.g. {mode: acme-http01, email: oncall@example.com}; modes: acme-http01, acme-dns01, secret, self-signed, acm)"},
		{"prod with a domain but no TLS", "prod", map[string]any{"domain": "api.example.com"}, false,
			"groundwork:edge: prod serves its API over HTTPS only: set edge.domain (the public name, e.g. api.example.com) and edge.tls (e.g. {mode: acme-http01, email: oncall@example.com}; modes: acme-http01, acme-dns01, secret, self-signed, acm)"},
		{"prod self-signed", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "self-signed"}}, false,
			`groundwork:edge.tls.mode: "self-signed" in prod: clients cannot trust it; use acme-http01, acme-dns01, secret or acm (on aws)`},
		{"TLS without a domain", "dev", map[string]any{"tls": map[string]any{"mode": "self-signed"}}, false,
			`groundwork:edge.domain: required with edge.tls: the public name the certificate is for, e.g. "api.example.com"`},
		{"a wildcard domain", "dev", map[string]any{"domain": "*.example.com", "tls": map[string]any{"mode": "self-signed"}}, false,
			`groundwork:edge.domain: "*.example.com" is not a DNS name such as "api.example.com" (lower-case labels, no wildcard)`},
		{"an unknown mode", "dev", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "letsencrypt"}}, false,
			`groundwork:edge.tls.mode: "letsencrypt" is not allowed; allowed: acme-http01, acme-dns01, secret, self-signed, acm`},
		{"no mode", "dev", map[string]any{"domain": "api.example.com", "tls": map[string]any{}}, false,
			`groundwork:edge.tls.mode: required; allowed: acme-http01, acme-dns01, secret, self-signed, acm`},
		{"acm without a certificate", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm"}}, false,
			`groundwork:edge.tls.certificateArn: required in mode acm: the ARN of an ACM certificate for edge.domain, e.g. "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"`},
		{"acm with an IAM server certificate", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": "arn:aws:iam::123456789012:server-certificate/api"}}, false,
			`groundwork:edge.tls.certificateArn: "arn:aws:iam::123456789012:server-certificate/api" is not an ACM certificate ARN such as "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"`},
		{"acm with a certificate ID that is not one", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"}}, false,
			`groundwork:edge.tls.certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/x" is not an ACM certificate ARN`},
		{"acm with a certificate of another region", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": acmARN("us-east-1")}}, false,
			`groundwork:edge.tls.certificateArn: "` + acmARN("us-east-1") + `" is in region us-east-1, but the load balancer is in aws:region eu-west-1: request or import the certificate in eu-west-1`},
		{"acm on openstack", "dev", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": acmARN("eu-west-1")}}, false,
			`groundwork:edge.tls.mode: "acm" (an ACM certificate on the AWS load balancer) needs groundwork:cloud aws, not "openstack"; use acme-http01, acme-dns01 or secret`},
		{"acm with an e-mail", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": acmARN("eu-west-1"), "email": "a@example.com"}}, false,
			`groundwork:edge.tls.email: is not read in mode "acm"; it belongs to mode acme-http01, acme-dns01`},
		{"acm with a Secret", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acm", "certificateArn": acmARN("eu-west-1"), "secretName": "edge"}}, false,
			`groundwork:edge.tls.secretName: is not read in mode "acm"; it belongs to mode secret`},
		{"a certificate ARN in another mode", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-http01", "email": "a@example.com", "certificateArn": acmARN("eu-west-1")}}, false,
			`groundwork:edge.tls.certificateArn: is not read in mode "acme-http01"; it belongs to mode acm`},
		{"ACME without an e-mail", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-http01"}}, false,
			`groundwork:edge.tls.email: required in mode acme-http01: the ACME account's contact, where the CA sends expiry notices`},
		{"ACME with a bad e-mail", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-http01", "email": "oncall"}}, false,
			`groundwork:edge.tls.email: "oncall" is not an e-mail address such as "oncall@example.com"`},
		{"ACME over http", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-http01", "email": "a@example.com", "server": "http://acme.example.com/dir"}}, false,
			`groundwork:edge.tls.server: "http://acme.example.com/dir" is not an ACME directory URL such as "https://acme-v02.api.letsencrypt.org/directory"`},
		{"DNS-01 without a provider", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com"}}, false,
			`groundwork:edge.tls.dns01: required in mode acme-dns01: the DNS provider, {cloudflare: {apiToken: (a secret)}} with a token allowed Zone:DNS:Edit on "api.example.com"'s zone, or on aws {route53: {hostedZoneID: Z...}}`},
		{"Route53 on openstack", "dev", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com",
			"dns01": map[string]any{"route53": map[string]any{"hostedZoneID": "Z1D633PJN98FT9"}}}}, false,
			`groundwork:edge.tls.dns01.route53: needs groundwork:cloud aws (cert-manager assumes an IAM role through the EKS cluster's OIDC provider), not "openstack"; use cloudflare`},
		{"Route53 without a zone", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com",
			"dns01": map[string]any{"route53": map[string]any{}}}}, false,
			"groundwork:edge.tls.dns01.route53.hostedZoneID: required: the ID of the Route53 hosted zone holding edge.domain, e.g. Z1D633PJN98FT9 (`aws route53 list-hosted-zones-by-name`)"},
		{"Route53 zone as a path", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com",
			"dns01": map[string]any{"route53": map[string]any{"hostedZoneID": "/hostedzone/Z1D633PJN98FT9"}}}}, false,
			`groundwork:edge.tls.dns01.route53.hostedZoneID: "/hostedzone/Z1D633PJN98FT9" is not a hosted zone ID such as "Z1D633PJN98FT9" (without /hostedzone/)`},
		{"Route53 in no region", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com",
			"dns01": map[string]any{"route53": map[string]any{"hostedZoneID": "Z1D633PJN98FT9", "region": "Ireland"}}}}, false,
			`groundwork:edge.tls.dns01.route53.region: "Ireland" is not an AWS region such as "eu-west-1"`},
		{"two DNS providers", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com",
			"dns01": map[string]any{"route53": map[string]any{"hostedZoneID": "Z1D633PJN98FT9"}, "cloudflare": map[string]any{"apiToken": cloudflareToken}}}}, true,
			`groundwork:edge.tls.dns01: cloudflare and route53 are alternatives: name the one DNS provider of "api.example.com"'s zone`},
		{"a DNS token in plain text", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-dns01", "email": "a@example.com",
			"dns01": map[string]any{"cloudflare": map[string]any{"apiToken": cloudflareToken}}}}, false,
			"groundwork:edge.tls: holds a private key or an API token in plain text; set it with `pulumi config set --secret --path 'groundwork:edge.tls.privateKey' < key.pem` (or 'groundwork:edge.tls.dns01.cloudflare.apiToken')"},
		{"a setting of another mode", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "secret", "secretName": "edge", "email": "a@example.com"}}, false,
			`groundwork:edge.tls.email: is not read in mode "secret"; it belongs to mode acme-http01, acme-dns01`},
		{"secret mode with nothing", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "secret"}}, false,
			"groundwork:edge.tls: mode secret needs secretName (a kubernetes.io/tls Secret in istio-ingress) or both certificate and privateKey (PEM; the key a secret)"},
		{"a certificate for another name", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "secret", "certificate": certPEM, "privateKey": keyPEM}}, true,
			`groundwork:edge.tls.certificate: does not cover edge.domain "api.example.com"; it is for other.example.com`},
		{"not a certificate", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "secret", "certificate": "hello", "privateKey": keyPEM}}, true,
			`groundwork:edge.tls.certificate: is not a PEM certificate (-----BEGIN CERTIFICATE-----)`},
		{"an unknown field", "prod", map[string]any{"domain": "api.example.com", "tls": map[string]any{"mode": "acme-http01", "emial": "a@example.com"}}, false,
			`unknown field "emial"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stackConfig(t, tt.stack)
			delete(cfg, "groundwork:edge")
			if tt.edge != nil {
				cfg["groundwork:edge"] = configValue(t, tt.edge)
			}
			var secrets []string
			if tt.secret {
				secrets = []string{"groundwork:edge"}
			}
			m, err := run(t, tt.stack, cfg, secrets, platform.Run)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "1 error occurred:"), "one clear error: %v", err)
			assert.Empty(t, m.resources, "nothing is created")
		})
	}
}

// annotations of a recorded Kubernetes object.
func annotationsOf(r Recorded) map[string]string {
	out := map[string]string{}
	for k, v := range get(r.Inputs, "metadata").ObjectValue()["annotations"].ObjectValue() {
		out[string(k)] = propStr(v)
	}
	return out
}

// withAnnotation returns props with one metadata annotation set, or removed for "".
func withAnnotation(props property.Map, key, value string) property.Map {
	md := props.Get("metadata").AsMap()
	a := map[string]property.Value{}
	if v := md.Get("annotations"); v.IsMap() {
		a = v.AsMap().AsMap()
	}
	if value == "" {
		delete(a, key)
	} else {
		a[key] = property.New(value)
	}
	return props.Set("metadata", property.New(md.Set("annotations", property.New(a))))
}

// TestEdgeACM runs prod (AWS) with mode acm: the NLB terminates TLS on 443 with the ACM
// certificate (TLS 1.2 minimum) and hands the gateway plain HTTP on 443, which the Gateway
// serves with HSTS while 80 redirects; nothing of cert-manager is installed; and the prod pack
// passes it, yet blocks the same stack without the certificate on the load balancer.
func TestEdgeACM(t *testing.T) {
	const domain = "api.example.com"
	arn := acmARN("eu-west-1")
	cfg := stackConfig(t, "prod")
	cfg["groundwork:edge"] = configValue(t, map[string]any{"domain": domain, "tls": map[string]any{"mode": "acm", "certificateArn": arn}})
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)

	// The gateway's Service, as the chart renders it.
	// The chart's objects are named <namespace>/<name> (the SDK's yaml.ParseYamlObjects).
	svc := m.byName(t, "kubernetes:core/v1:Service", "istio-ingress/istio-ingressgateway")
	assert.Equal(t, "LoadBalancer", get(svc.Inputs, "spec.type").StringValue())
	assert.Equal(t, map[string]string{
		"service.beta.kubernetes.io/aws-load-balancer-type":                              "nlb",
		"service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
		"service.beta.kubernetes.io/aws-load-balancer-ssl-cert":                          arn,
		"service.beta.kubernetes.io/aws-load-balancer-ssl-ports":                         "443",
		"service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy":            "ELBSecurityPolicy-TLS13-1-2-2021-06",
		"service.beta.kubernetes.io/aws-load-balancer-backend-protocol":                  "tcp",
	}, annotationsOf(svc), "an NLB with a TLS listener on 443 only (80 stays TCP, to redirect) and TCP to the pods")
	targets := map[float64]float64{}
	for _, p := range get(svc.Inputs, "spec.ports").ArrayValue() {
		targets[get(p.ObjectValue(), "port").NumberValue()] = get(p.ObjectValue(), "targetPort").NumberValue()
	}
	assert.Equal(t, map[float64]float64{80: 80, 443: 443}, targets, "the Gateway's port numbers resolve to these targetPorts")

	gw := m.byName(t, gatewayType, "istio-public")
	assert.Equal(t, "load-balancer", annotationsOf(gw)["groundwork.io/tls-termination"])
	https := server(t, m, 443)
	assert.Equal(t, "HTTP", get(https, "port.protocol").StringValue(), "TLS ends at the load balancer")
	assert.False(t, https["tls"].IsObject(), "no credential on the gateway: %v", https["tls"])
	assert.Equal(t, []string{domain}, strs(https["hosts"]))
	http := server(t, m, 80)
	assert.True(t, get(http, "tls.httpsRedirect").BoolValue(), "port 80 answers with a redirect to https")
	assert.Equal(t, []string{domain}, strs(http["hosts"]))

	api := m.byName(t, virtualSvcType, "istio-to-api-gateway")
	route := first(t, get(api.Inputs, "spec.http"))
	assert.Equal(t, float64(443), get(first(t, route["match"]), "port").NumberValue(), "the API is served on the TLS port only")
	assert.Equal(t, "max-age=31536000; includeSubDomains", get(route, "headers.response.set").ObjectValue()["Strict-Transport-Security"].StringValue())
	assert.Equal(t, "https", get(route, "headers.request.set").ObjectValue()["X-Forwarded-Proto"].StringValue())

	for _, typ := range []string{certificateType, issuerType, "kubernetes:cert-manager.io/v1:ClusterIssuer", ingressClassType} {
		assert.Empty(t, m.ofType(typ), typ)
	}
	for _, c := range m.ofType(helmChartType) {
		assert.NotEqual(t, "cert-manager", c.Name, "no cert-manager in mode acm")
	}
	for _, s := range m.ofType(secretType) {
		assert.NotEqual(t, "edge-tls", get(s.Inputs, "metadata.name").StringValue())
	}

	// The prod pack passes the stack, and blocks it when the load balancer loses the
	// certificate or the Gateway its declaration.
	rs, err := runForPolicy(t, "prod", cfg, platform.Run)
	require.NoError(t, err)
	pack := packConfig(t, "prod")
	vs := rules.Evaluate(rs, pack)
	for _, v := range atLevel(vs, rules.Mandatory) {
		t.Log(v)
	}
	require.Empty(t, atLevel(vs, rules.Mandatory), "prod with acm passes the pack")
	for _, tt := range []struct {
		name, urn, key, policy string
	}{
		{"no certificate on the load balancer", svc.URN, "service.beta.kubernetes.io/aws-load-balancer-ssl-cert", "edge-tls-at-load-balancer"},
		{"TLS on port 80 instead of 443", svc.URN, "service.beta.kubernetes.io/aws-load-balancer-ssl-ports", "edge-tls-at-load-balancer"},
		{"the default TLS 1.0 policy", svc.URN, "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy", "edge-tls-at-load-balancer"},
		{"no declaration on the Gateway", gw.URN, "groundwork.io/tls-termination", "encryption-in-transit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			broken := slices.Clone(rs)
			for i, r := range broken {
				if r.URN == tt.urn {
					value := ""
					if strings.HasSuffix(tt.key, "ssl-ports") {
						value = "80"
					}
					broken[i].Properties = withAnnotation(r.Properties, tt.key, value)
				}
			}
			var hits []string
			for _, v := range rules.Evaluate(broken, pack) {
				if v.Policy == tt.policy && v.URN == gw.URN && v.Level == rules.Mandatory {
					hits = append(hits, v.Message)
				}
			}
			assert.Len(t, hits, 1, "%s blocks it once, on the Gateway", tt.policy)
		})
	}
}

// TestEdgeDNS01Route53 runs prod (AWS) with DNS-01 at Route53: cert-manager's controller
// assumes an IAM role (IRSA, no keys) that only its service account may assume and that may
// change only TXT records of the one hosted zone; the Issuer's solver names the zone and no
// credentials; the prod pack passes.
func TestEdgeDNS01Route53(t *testing.T) {
	const domain, zone = "api.example.com", "Z1D633PJN98FT9"
	cfg := stackConfig(t, "prod")
	cfg["groundwork:edge"] = configValue(t, map[string]any{"domain": domain, "tls": map[string]any{
		"mode": "acme-dns01", "email": "oncall@example.com", "dns01": map[string]any{"route53": map[string]any{"hostedZoneID": zone}},
	}})
	m, err := run(t, "prod", cfg, nil, platform.Run)
	require.NoError(t, err)

	// The controller's service account, as the chart renders it, carries the role.
	sa := m.byName(t, "kubernetes:core/v1:ServiceAccount", "cert-manager/cert-manager")
	roleARN := annotationsOf(sa)[infra.RoleAnnotation]
	require.NotEmpty(t, roleARN, "the controller's service account names its IAM role")
	cm := m.byName(t, helmChartType, "cert-manager")
	assert.Equal(t, []string{"--issuer-ambient-credentials=true"}, strs(get(cm.Inputs, "values.extraArgs")), "a namespaced Issuer may use the controller's role")
	for _, d := range m.ofType("kubernetes:apps/v1:Deployment") {
		if get(d.Inputs, "metadata.name").StringValue() == "cert-manager" {
			args := strs(get(first(t, get(d.Inputs, "spec.template.spec.containers")), "args"))
			assert.Contains(t, args, "--issuer-ambient-credentials=true", "the rendered controller takes the flag")
		}
	}

	var role Recorded
	for _, r := range m.ofType("aws:iam/role:Role") {
		if r.Outputs["arn"].StringValue() == roleARN {
			role = r
		}
	}
	require.NotEmpty(t, role.Name, "the service account's role %q is a role of the stack", roleARN)
	var trust struct {
		Statement []struct {
			Action    string
			Condition map[string]map[string]any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(propStr(role.Inputs["assumeRolePolicy"])), &trust))
	require.Len(t, trust.Statement, 1)
	assert.Equal(t, "sts:AssumeRoleWithWebIdentity", trust.Statement[0].Action)
	var subjects []any
	for k, v := range trust.Statement[0].Condition["StringEquals"] {
		if strings.HasSuffix(k, ":sub") {
			subjects = append(subjects, v)
		}
	}
	assert.Equal(t, []any{"system:serviceaccount:cert-manager:cert-manager"}, subjects, "only cert-manager's controller assumes it")

	var policies []string
	for _, p := range m.ofType("aws:iam/rolePolicy:RolePolicy") {
		if propStr(p.Inputs["role"]) == role.Outputs["name"].StringValue() {
			policies = append(policies, propStr(p.Inputs["policy"]))
		}
	}
	attached := 0
	for _, a := range m.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if propStr(a.Inputs["role"]) == role.Outputs["name"].StringValue() {
			attached++
		}
	}
	assert.Zero(t, attached, "no managed policy")
	require.Len(t, policies, 1)
	assert.JSONEq(t, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"},
		{"Effect": "Allow", "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
		 "Resource": "arn:aws:route53:::hostedzone/`+zone+`",
		 "Condition": {"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}}}
	]}`, policies[0])

	issuer := m.byName(t, issuerType, "edge-issuer")
	solver := first(t, get(issuer.Inputs, "spec.acme.solvers"))
	assert.Equal(t, zone, get(solver, "dns01.route53.hostedZoneID").StringValue())
	assert.Equal(t, "eu-west-1", get(solver, "dns01.route53.region").StringValue(), "default aws:region")
	assert.Len(t, get(solver, "dns01.route53").ObjectValue(), 2, "no keys, no role to chain: the controller's own credentials")
	assert.Equal(t, []string{domain}, strs(get(solver, "selector.dnsNames")))
	for _, s := range m.ofType(secretType) {
		assert.NotEqual(t, "edge-dns01", get(s.Inputs, "metadata.name").StringValue(), "no static credentials")
	}
	assert.True(t, get(server(t, m, 80), "tls.httpsRedirect").BoolValue())
	assert.Equal(t, "HTTPS", get(server(t, m, 443), "port.protocol").StringValue())
	assert.Equal(t, 2, checkCustomResources(t, m, issuerType, certificateType))

	rs, err := runForPolicy(t, "prod", cfg, platform.Run)
	require.NoError(t, err)
	vs := rules.Evaluate(rs, packConfig(t, "prod"))
	for _, v := range atLevel(vs, rules.Mandatory) {
		t.Log(v)
	}
	assert.Empty(t, atLevel(vs, rules.Mandatory), "prod with Route53 DNS-01 passes the pack")
}

// TestEdgeDNS01Route53NeedsNoRoleElsewhere: the role is made only for Route53 DNS-01.
func TestEdgeDNS01Route53NeedsNoRoleElsewhere(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	for _, r := range m.ofType("aws:iam/role:Role") {
		assert.NotContains(t, r.Name, "dns01")
	}
	cm := m.byName(t, helmChartType, "cert-manager")
	assert.False(t, get(cm.Inputs, "values.extraArgs").IsArray(), "no ambient credentials for Issuers without it")
	assert.False(t, get(cm.Inputs, "values.serviceAccount").IsObject())
}
