package tests

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork/groundwork/platform"
	"github.com/groundwork/groundwork/services/chassis"
)

// Rate limits count per tenant on routes that need a token (per IP on open ones), per Kong pod
// in dev and cluster-wide in the shared Redis in prod, whose password comes from its Secret.
func TestGatewayRateLimitsPerTenantClusterWideInProd(t *testing.T) {
	for _, tt := range []struct{ stack, policy string }{{"dev", "local"}, {"prod", "redis"}} {
		t.Run(tt.stack, func(t *testing.T) {
			m, err := run(t, tt.stack, stackConfig(t, tt.stack), nil, platform.Run)
			require.NoError(t, err)
			byHeader, byIP := 0, 0
			for _, p := range m.ofType("kubernetes:configuration.konghq.com/v1:KongPlugin") {
				if p.Inputs["plugin"].StringValue() != "rate-limiting" {
					continue
				}
				conf := p.Inputs["config"].ObjectValue()
				assert.Equal(t, tt.policy, conf["policy"].StringValue(), "policy of %s", get(p.Inputs, "metadata.name").StringValue())
				if v := conf["limit_by"]; v.IsString() && v.StringValue() == "header" {
					byHeader++
					assert.Equal(t, platform.TenantHeader, conf["header_name"].StringValue())
				} else {
					byIP++
				}
				if tt.policy == "redis" {
					redis := conf["redis"].ObjectValue()
					assert.NotEmpty(t, redis["host"], "redis host")
					assert.False(t, redis["password"].HasValue(), "no password in the plugin's config")
					patches := p.Inputs["configPatches"].ArrayValue()
					require.Len(t, patches, 1)
					patch := patches[0].ObjectValue()
					assert.Equal(t, "/redis/password", patch["path"].StringValue())
					assert.Equal(t, "redis", get(patch, "valueFrom.secretKeyRef.name").StringValue())
				} else {
					assert.False(t, p.Inputs["configPatches"].HasValue())
				}
			}
			assert.Positive(t, byHeader, "routes with a token counted per tenant")
			assert.Positive(t, byIP, "open routes (login, registration) counted per client")
		})
	}
}

// Kong removes identity headers a client sends and derives the tenant key first, on every route.
func TestGatewayStripsClientIdentityHeaders(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	var lua string
	for _, p := range m.ofType("kubernetes:configuration.konghq.com/v1:KongClusterPlugin") {
		if p.Inputs["plugin"].StringValue() == "pre-function" {
			lua = get(p.Inputs, "config").ObjectValue()["access"].ArrayValue()[0].StringValue()
		}
	}
	require.NotEmpty(t, lua, "a global pre-function plugin")
	for _, h := range append([]string{platform.TenantHeader}, platform.ClientIdentityHeaders...) {
		assert.Contains(t, lua, `"`+h+`"`, "strips %s", h)
	}
	assert.Contains(t, lua, "clear_header")
}

// Every service verifies tokens itself with identity's JWKS: it is told where, and identity's
// NetworkPolicy admits it. identity gets the operator's generated password as a Secret.
func TestEveryServiceVerifiesTokensWithIdentitysJWKS(t *testing.T) {
	m, err := run(t, "prod", stackConfig(t, "prod"), nil, platform.Run)
	require.NoError(t, err)
	for _, svc := range theServices {
		dep := m.byName(t, "kubernetes:apps/v1:Deployment", "svc-"+svc+"-stable")
		env := map[string]resource.PropertyValue{}
		for _, e := range get(dep.Inputs, "spec.template.spec.containers").ArrayValue()[0].ObjectValue()["env"].ArrayValue() {
			env[e.ObjectValue()["name"].StringValue()] = e.ObjectValue()["value"]
		}
		assert.Equal(t, "groundwork-identity", env["JWT_ISSUER"].StringValue(), svc)
		if svc == "identity" {
			assert.Equal(t, platform.OperatorEmail, env["PLATFORM_OPERATOR_EMAIL"].StringValue())
			assert.Contains(t, env, "PLATFORM_OPERATOR_PASSWORD")
			assert.False(t, env["PLATFORM_OPERATOR_PASSWORD"].HasValue(), "the operator's password comes from a Secret")
			continue
		}
		assert.Equal(t, "http://identity.services.svc.cluster.local:8080/.well-known/jwks.json", env["JWKS_URL"].StringValue(), svc)
	}
	var admitted []string
	for _, np := range m.ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy") {
		if get(np.Inputs, "metadata.name").StringValue() != "identity" {
			continue
		}
		for _, rule := range get(np.Inputs, "spec.ingress").ArrayValue() {
			for _, from := range rule.ObjectValue()["from"].ArrayValue() {
				if sel := get(from.ObjectValue(), "podSelector.matchLabels"); sel.IsObject() {
					if n := sel.ObjectValue()["app.kubernetes.io/name"]; n.IsString() {
						admitted = append(admitted, n.StringValue())
					}
				}
			}
		}
	}
	for _, svc := range theServices {
		if svc != "identity" {
			assert.Contains(t, admitted, svc, "identity admits %s (JWKS)", svc)
		}
	}
	sec := m.byName(t, "kubernetes:core/v1:Secret", "svc-identity-operator")
	require.True(t, sec.Inputs["stringData"].IsSecret(), "the operator's password stays a secret in state")
	pw := sec.Inputs["stringData"].SecretValue().Element.ObjectValue()["password"].StringValue()
	assert.Len(t, pw, 32)
	assert.False(t, strings.ContainsAny(pw, " \t"), "generated")
}

// Kong trusts identity's key by its kid (the credential's key), the same kid identity puts in
// its tokens' headers and its JWKS, so a rotated key is one more credential.
func TestKongJWTCredentialIsKeyedByTheKeysKid(t *testing.T) {
	m, err := run(t, "dev", stackConfig(t, "dev"), nil, platform.Run)
	require.NoError(t, err)
	cred := m.byName(t, "kubernetes:core/v1:Secret", "jwt-consumer-credential")
	sd := cred.Inputs["stringData"]
	if sd.IsSecret() {
		sd = sd.SecretValue().Element
	}
	data := sd.ObjectValue()
	block, _ := pem.Decode([]byte(data["rsa_public_key"].StringValue()))
	require.NotNil(t, block)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	assert.Equal(t, chassis.KeyID(pub.(*ecdsa.PublicKey)), data["key"].StringValue())
	for _, p := range m.ofType("kubernetes:configuration.konghq.com/v1:KongPlugin") {
		if p.Inputs["plugin"].StringValue() == "jwt" {
			assert.Equal(t, "kid", get(p.Inputs, "config.key_claim_name").StringValue())
		}
	}
}
