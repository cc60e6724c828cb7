package chassis_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// keySet serves a JWKS whose keys the test changes, counting fetches.
type keySet struct {
	mu      sync.Mutex
	keys    []*ecdsa.PublicKey
	fetches atomic.Int32
}

func (k *keySet) set(keys ...*ecdsa.PublicKey) { k.mu.Lock(); k.keys = keys; k.mu.Unlock() }

func (k *keySet) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		k.fetches.Add(1)
		k.mu.Lock()
		defer k.mu.Unlock()
		var jwks []chassis.JWK
		for _, p := range k.keys {
			jwks = append(jwks, chassis.PublicJWK(p))
		}
		chassis.WriteJSON(w, 200, map[string]any{"keys": jwks})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, k *ecdsa.PrivateKey, kid string, c chassis.Claims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifierRefusesWhatIsNotAValidAccessToken(t *testing.T) {
	key, other := newKey(t), newKey(t)
	ks := &keySet{}
	ks.set(&key.PublicKey)
	v := &chassis.Verifier{Keys: chassis.NewJWKS(ks.serve(t)), Issuer: chassis.DefaultIssuer}
	kid := chassis.KeyID(&key.PublicKey)
	good := servicetest.Claims("acme", "u1", "admin")
	with := func(f func(c *chassis.Claims)) chassis.Claims {
		c := servicetest.Claims("acme", "u1", "admin")
		f(&c)
		return c
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	valid := sign(t, key, kid, good)
	parts := strings.Split(valid, ".")
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, good)
	hs.Header["kid"] = kid
	confused, _ := hs.SignedString(pubDER) // alg confusion: HMAC keyed with the public key
	none := jwt.NewWithClaims(jwt.SigningMethodNone, good)
	none.Header["kid"] = kid
	unsigned, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	tests := []struct{ name, give string }{
		{"expired", sign(t, key, kid, with(func(c *chassis.Claims) { c.ExpiresAt = jwt.NewNumericDate(past) }))},
		{"no exp", sign(t, key, kid, with(func(c *chassis.Claims) { c.ExpiresAt = nil }))},
		{"not yet valid", sign(t, key, kid, with(func(c *chassis.Claims) { c.NotBefore = jwt.NewNumericDate(future) }))},
		{"issued in the future", sign(t, key, kid, with(func(c *chassis.Claims) { c.IssuedAt = jwt.NewNumericDate(future) }))},
		{"other issuer", sign(t, key, kid, with(func(c *chassis.Claims) { c.Issuer = "someone-else" }))},
		{"other audience", sign(t, key, kid, with(func(c *chassis.Claims) { c.Audience = jwt.ClaimStrings{"kong"} }))},
		{"bad tenant claim", sign(t, key, kid, with(func(c *chassis.Claims) { c.Tenant = "Evil Corp" }))},
		{"no subject", sign(t, key, kid, with(func(c *chassis.Claims) { c.Subject = "" }))},
		{"no kid", sign(t, key, "", good)},
		{"unknown kid", sign(t, other, chassis.KeyID(&other.PublicKey), good)},
		{"other key under our kid", sign(t, other, kid, good)},
		{"alg confusion HS256", confused},
		{"alg none", unsigned},
		{"tampered payload", parts[0] + "." + parts[1] + "x." + parts[2]},
		{"garbage", "not.a.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := v.Verify(context.Background(), tt.give); err == nil {
				t.Fatalf("accepted: %+v", c)
			}
		})
	}
	c, err := v.Verify(context.Background(), valid)
	if err != nil || c.Tenant != "acme" || c.Subject != "u1" || c.Roles[0] != "admin" {
		t.Fatalf("valid token: %v %+v", err, c)
	}
}

func TestJWKSCachesAndFollowsKeyRotation(t *testing.T) {
	old, next := newKey(t), newKey(t)
	ks := &keySet{}
	ks.set(&old.PublicKey)
	jwks := chassis.NewJWKS(ks.serve(t))
	jwks.MinRefetch = 0
	v := &chassis.Verifier{Keys: jwks, Issuer: chassis.DefaultIssuer}
	byOld := sign(t, old, chassis.KeyID(&old.PublicKey), servicetest.Claims("acme", "u1"))
	byNext := sign(t, next, chassis.KeyID(&next.PublicKey), servicetest.Claims("acme", "u1"))
	for range 3 {
		if _, err := v.Verify(context.Background(), byOld); err != nil {
			t.Fatal(err)
		}
	}
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for one key, want 1 (cached)", n)
	}
	if _, err := v.Verify(context.Background(), byNext); err == nil {
		t.Fatal("token of a key not yet published accepted")
	}
	// Rotation: identity publishes the new key beside the old one.
	ks.set(&next.PublicKey, &old.PublicKey)
	for _, tok := range []string{byNext, byOld} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
	// A JWKS outage keeps the cached keys working.
	jwks.URL = "http://127.0.0.1:1/jwks"
	jwks.TTL = 0
	if _, err := v.Verify(context.Background(), byOld); err != nil {
		t.Fatalf("cached key during a JWKS outage: %v", err)
	}
}

func TestRememberedTokenStillExpires(t *testing.T) {
	key := newKey(t)
	now := time.Now()
	v := &chassis.Verifier{Keys: chassis.StaticKeys{chassis.KeyID(&key.PublicKey): &key.PublicKey}, Issuer: chassis.DefaultIssuer,
		Now: func() time.Time { return now }}
	c := servicetest.Claims("acme", "u1")
	c.ExpiresAt = jwt.NewNumericDate(now.Add(30 * time.Second))
	tok := sign(t, key, chassis.KeyID(&key.PublicKey), c)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	now = now.Add(40 * time.Second) // past exp and the 5s leeway
	if _, err := v.Verify(context.Background(), tok); err == nil {
		t.Fatal("an expired token was accepted because it had been verified before")
	}
}

// The chassis closes every route a service does not declare public: no token 401 with a
// WWW-Authenticate challenge, a tenant header that disagrees with the token 403; health,
// readiness, declared public routes and unknown paths need none.
func TestEveryRouteButThePublicOnesNeedsAToken(t *testing.T) {
	svc := chassis.Service{Name: "svc", Public: []string{"POST /v1/open"}, Setup: func(_ *chassis.App, _ func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
		ok := chassis.Handler(func(r *http.Request) (int, any, error) {
			c, _ := chassis.Caller(r.Context())
			return http.StatusOK, map[string]string{"tenant": chassis.Tenant(r.Context()), "sub": c.Subject}, nil
		})
		mux.Handle("POST /v1/open", ok)
		mux.Handle("GET /v1/closed", ok)
		mux.Handle("DELETE /v1/closed/{id}", ok)
		return nil, nil
	}}
	h := servicetest.Start(t, svc, nil)
	tok := servicetest.Token(t, "acme", "u1")
	tests := []struct {
		name, method, path, token, tenant string
		want                              int
	}{
		{"health", "GET", "/healthz", "", "", 200},
		{"readiness", "GET", "/readyz", "", "", 200},
		{"declared public", "POST", "/v1/open", "", "acme", 200},
		{"unknown path", "GET", "/v1/nothing", "", "", 404},
		{"closed, no token", "GET", "/v1/closed", "", "acme", 401},
		{"closed, other method, no token", "DELETE", "/v1/closed/1", "", "", 401},
		{"closed, garbage token", "GET", "/v1/closed", "garbage", "", 401},
		{"closed, header of another tenant", "GET", "/v1/closed", tok, "globex", 403},
		{"closed, header of a bad form", "GET", "/v1/closed", tok, "Not A Label", 400},
		{"closed, token", "GET", "/v1/closed", tok, "", 200},
		{"closed, token and its tenant", "GET", "/v1/closed", tok, "acme", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, h.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.tenant != "" {
				req.Header.Set(chassis.HeaderTenant, tt.tenant)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}
