package main

import (
	"crypto/elliptic"
	"net/http"
	"testing"
	"time"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// TestOtherServicesAcceptIdentitysTokensThroughItsJWKS: a token from a real login, signed with
// identity's own key (not the test key), is verified by another service that knows only
// identity's JWKS URL, and the tenant, subject and roles it sees are the token's. A key that
// identity only verifies (JWT_VERIFY_KEYS, rotation) is published too.
func TestOtherServicesAcceptIdentitysTokensThroughItsJWKS(t *testing.T) {
	previous := newKeyPEM(t, elliptic.P256())
	prevKey, err := parseSigningKey(previous)
	if err != nil {
		t.Fatal(err)
	}
	h := startIdentity(t, map[string]string{"JWT_SIGNING_KEY": newKeyPEM(t, elliptic.P256()), "JWT_VERIFY_KEYS": publicPEM(t, prevKey)})
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	code, admin, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"})
	if code != 201 {
		t.Fatalf("admin activation: %d", code)
	}
	_, tok, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	if code, jwks := h.DoAs(t, "GET", "/.well-known/jwks.json", "", "", nil); code != 200 || len(jwks["keys"].([]any)) != 2 {
		t.Fatalf("jwks: %d %v, want the signing key and the previous one", code, jwks)
	}

	echo := chassis.Service{Name: "echo", Setup: func(_ *chassis.App, _ func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
		mux.Handle("GET /v1/whoami", chassis.Handler(func(r *http.Request) (int, any, error) {
			c, _ := chassis.Caller(r.Context())
			return http.StatusOK, map[string]any{"tenant": c.Tenant, "sub": c.Subject, "roles": c.Roles}, nil
		}))
		return nil, nil
	}}
	other := servicetest.Start(t, echo, map[string]string{"JWKS_URL": h.URL + "/.well-known/jwks.json"})
	code, who := other.DoAs(t, "GET", "/v1/whoami", tok["access_token"].(string), "", nil)
	if code != 200 || who["tenant"] != "acme" || who["sub"] != admin["id"] || who["roles"].([]any)[0] != "admin" {
		t.Fatalf("another service with identity's token: %d %v", code, who)
	}
	// A token the previous key signed before the rotation is still good.
	old, err := (&api{keys: prevKey, issuer: chassis.DefaultIssuer, ttl: 15 * time.Minute}).issue(admin["id"].(string), "acme", []string{"admin"}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := other.DoAs(t, "GET", "/v1/whoami", old, "", nil); code != 200 {
		t.Fatalf("token of the previous key: %d, want 200", code)
	}
	// The harness's test key is not identity's: refused.
	if code, _ := other.DoAs(t, "GET", "/v1/whoami", servicetest.Token(t, "acme", "u1", chassis.RoleAdmin), "", nil); code != 401 {
		t.Fatalf("token of a key identity does not publish: %d, want 401", code)
	}
}
