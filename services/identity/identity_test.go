package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func newKeyPEM(t *testing.T, curve elliptic.Curve) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestParseSigningKey(t *testing.T) {
	tests := []struct{ name, give, wantErr string }{
		{"valid", newKeyPEM(t, elliptic.P256()), ""},
		{"missing", "", "JWT_SIGNING_KEY: required"},
		{"not PEM", "c2VjcmV0LWtleS1tYXRlcmlhbA==", "JWT_SIGNING_KEY: not PEM"},
		{"wrong curve", newKeyPEM(t, elliptic.P384()), "must be an ECDSA P-256 key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSigningKey(tt.give)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
			if err != nil && tt.give != "" && strings.Contains(err.Error(), tt.give[:20]) {
				t.Fatal("error shows the key")
			}
		})
	}
}

func TestTokens(t *testing.T) {
	k, _ := parseSigningKey(newKeyPEM(t, elliptic.P256()))
	other, _ := parseSigningKey(newKeyPEM(t, elliptic.P256()))
	s := &api{keys: k, issuer: "groundwork-identity", ttl: 15 * time.Minute}
	now := time.Now()
	tok, err := s.issue("u1", "acme", []string{"admin"}, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.validate(tok, now.Add(time.Minute))
	if err != nil || c.Subject != "u1" || c.Tenant != "acme" || c.Roles[0] != "admin" {
		t.Fatalf("valid token: %v %+v", err, c)
	}
	forged, _ := (&api{keys: other, issuer: s.issuer, ttl: s.ttl}).issue("u1", "acme", []string{"admin"}, now)
	forged = strings.Replace(forged, other.kid, k.kid, 1) // header names our key, signature is another's
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "u1", "iss": s.issuer, "aud": "groundwork",
		"exp": now.Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	parts := strings.Split(tok, ".")
	tests := []struct{ name, give string }{
		{"expired", tok},
		{"other key", forged},
		{"alg none", unsigned},
		{"tampered payload", parts[0] + "." + parts[1] + "x." + parts[2]},
		{"garbage", "not.a.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := now.Add(time.Minute)
			if tt.name == "expired" {
				at = now.Add(16 * time.Minute)
			}
			if _, err := s.validate(tt.give, at); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRegisterLoginAndRoles(t *testing.T) {
	h := servicetest.Start(t, service(), map[string]string{"JWT_SIGNING_KEY": newKeyPEM(t, elliptic.P256()), "BCRYPT_COST": "4"})
	pw := "correct horse battery"
	code, first := h.Do(t, "POST", "/v1/users", "acme", map[string]string{"email": "Ada@Example.com", "password": pw})
	if code != http.StatusCreated || first["email"] != "ada@example.com" {
		t.Fatalf("register: %d %v", code, first)
	}
	if roles, _ := first["roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Fatalf("first user of a tenant is not its admin: %v", first["roles"])
	}
	if code, _ := h.Do(t, "POST", "/v1/users", "acme", map[string]string{"email": "ada@example.com", "password": pw}); code != http.StatusConflict {
		t.Fatalf("duplicate: %d, want 409", code)
	}
	if code, body := h.Do(t, "POST", "/v1/users", "acme", map[string]string{"email": "nope", "password": "short"}); code != 422 || len(body["fields"].(map[string]any)) != 2 {
		t.Fatalf("invalid: %d %v", code, body)
	}
	code, second := h.Do(t, "POST", "/v1/users", "acme", map[string]string{"email": "bob@example.com", "password": pw})
	if code != http.StatusCreated || len(second["roles"].([]any)) != 0 {
		t.Fatalf("second user: %d %v", code, second)
	}
	for _, bad := range []struct{ tenant, email, pw string }{{"acme", "ada@example.com", "wrong password!!"}, {"acme", "who@example.com", pw}, {"other", "ada@example.com", pw}} {
		if code, body := h.Do(t, "POST", "/v1/tokens", bad.tenant, map[string]string{"email": bad.email, "password": bad.pw}); code != 401 {
			t.Fatalf("login %v: %d %v, want 401", bad, code, body)
		}
	}
	code, tok := h.Do(t, "POST", "/v1/tokens", "acme", map[string]string{"email": "ada@example.com", "password": pw})
	if code != 200 || tok["token_type"] != "Bearer" {
		t.Fatalf("login: %d %v", code, tok)
	}
	access := tok["access_token"].(string)
	if code, v := h.Do(t, "POST", "/v1/tokens/verify", "", map[string]string{"token": access}); code != 200 || v["sub"] != first["id"] {
		t.Fatalf("verify: %d %v", code, v)
	}
	if code, _ := h.Do(t, "POST", "/v1/tokens/verify", "", map[string]string{"token": access + "x"}); code != 401 {
		t.Fatalf("verify tampered: %d, want 401", code)
	}
	if code, jwks := h.Do(t, "GET", "/.well-known/jwks.json", "", nil); code != 200 || len(jwks["keys"].([]any)) != 1 {
		t.Fatalf("jwks: %d %v", code, jwks)
	}

	assign := func(token, tenant string) int {
		req, _ := http.NewRequest("POST", h.URL+"/v1/users/"+second["id"].(string)+"/roles", strings.NewReader(`{"role":"billing"}`))
		req.Header.Set(chassis.HeaderTenant, tenant)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := assign("", "acme"); c != 401 {
		t.Fatalf("role without token: %d, want 401", c)
	}
	if c := assign(access, "other"); c != 403 {
		t.Fatalf("role from another tenant's admin: %d, want 403", c)
	}
	if c := assign(access, "acme"); c != 200 {
		t.Fatalf("role by admin: %d", c)
	}

	evs := h.Events(t, chassis.EventsTopic(name), 4)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	slices.Sort(types) // keyed by user: order holds per user, not across partitions
	if got := strings.Join(types, ","); got != "RoleAssigned,UserAuthenticated,UserRegistered,UserRegistered" {
		t.Fatalf("events: %s", got)
	}
	for _, e := range evs {
		if strings.Contains(string(e.Data), pw) || strings.Contains(string(e.Data), "$2a$") {
			t.Fatalf("event %s carries the password or its hash", e.Type)
		}
	}
}
