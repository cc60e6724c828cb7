package chassis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Identity and authorization: every service verifies the caller's ES256 JWT itself, with the
// keys of identity's JWKS, and takes tenant, subject, roles and permissions from the verified
// claims only. A client-sent X-Tenant-ID is at most a cross-check: one that disagrees is 403.

// Audience is the aud claim of every access token.
const Audience = "groundwork"

// DefaultIssuer is the iss claim identity signs with unless JWT_ISSUER says otherwise.
const DefaultIssuer = "groundwork-identity"

// OperatorTenant is the reserved tenant of the platform's own operators. No tenant can be
// provisioned with this ID, nobody can register into it, and RolePlatformOperator counts only in
// its tokens: no tenant admin can grant it to themselves.
const OperatorTenant = "platform"

// Roles every service knows.
const (
	RoleAdmin            = "admin"             // a tenant's administrator: every tenant permission
	RolePlatformOperator = "platform-operator" // operators of the platform, only in OperatorTenant
)

// Permissions checked by the services' routes. Tenants grant them to their roles (identity's
// Permission aggregate, PermissionGranted); PermOperateTenants is never grantable.
const (
	PermUsersManage    = "users.manage"    // others' accounts, profiles, preferences, sessions, deactivation
	PermRolesManage    = "roles.manage"    // assign roles, grant permissions to roles
	PermBillingManage  = "billing.manage"  // plans, others' subscriptions, payments
	PermReportsRead    = "reports.read"    // analytics reports
	PermNotifyManage   = "notify.manage"   // notification templates and sending
	PermTenantRead     = "tenant.read"     // the caller's own tenant record
	PermOperateTenants = "tenants.operate" // provision, suspend, quotas, features (platform operators)
)

// TenantPermissions are the permissions a tenant may grant to its roles; the admin role holds all.
var TenantPermissions = []string{PermUsersManage, PermRolesManage, PermBillingManage, PermReportsRead, PermNotifyManage, PermTenantRead}

// BuiltinPermissions are the permissions a built-in role carries in tenant, before any grant.
func BuiltinPermissions(tenant string, roles []string) []string {
	var out []string
	if slices.Contains(roles, RoleAdmin) {
		out = append(out, TenantPermissions...)
	}
	if tenant == OperatorTenant && slices.Contains(roles, RolePlatformOperator) {
		out = append(out, PermOperateTenants)
	}
	return out
}

// Claims are the claims of an access token; Subject is the user ID.
type Claims struct {
	Tenant string   `json:"tenant"`
	Roles  []string `json:"roles"`
	Perms  []string `json:"perms,omitempty"`
	jwt.RegisteredClaims
}

// Principal is the verified caller of a request.
type Principal struct {
	Tenant, Subject string
	Roles, Perms    []string
}

type principalKey struct{}

// Caller returns the verified caller of ctx; ok is false on public routes and in consumers.
func Caller(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithCaller returns ctx with p as its verified caller and p.Tenant as its tenant.
func WithCaller(ctx context.Context, p Principal) context.Context {
	return WithTenant(context.WithValue(ctx, principalKey{}, p), p.Tenant)
}

// Can reports whether p holds perm. PermOperateTenants counts only for the operator tenant, so a
// forged grant in another tenant's token would not open the operators' routes.
func (p Principal) Can(perm string) bool {
	if perm == PermOperateTenants {
		return p.Tenant == OperatorTenant && slices.Contains(p.Roles, RolePlatformOperator)
	}
	return slices.Contains(p.Perms, perm) || slices.Contains(BuiltinPermissions(p.Tenant, p.Roles), perm)
}

// Require returns nil when the caller of ctx holds perm, else an ErrForbidden (ErrUnauthorized
// without a caller).
func Require(ctx context.Context, perm string) error {
	p, ok := Caller(ctx)
	if !ok {
		return fmt.Errorf("%w: a bearer token is required", ErrUnauthorized)
	}
	if !p.Can(perm) {
		return fmt.Errorf("%w: needs the %s permission", ErrForbidden, perm)
	}
	return nil
}

// RequireSelfOr lets the caller act on user subject when it is the caller itself, or when the
// caller holds perm: users act on themselves unless they hold the role.
func RequireSelfOr(ctx context.Context, subject, perm string) error {
	if p, ok := Caller(ctx); ok && p.Subject == subject {
		return nil
	}
	return Require(ctx, perm)
}

// KeyID is the kid of an ES256 public key: the first 8 bytes of the SHA-256 of its PKIX DER,
// base64url. Identity and its JWKS use it.
func KeyID(pub *ecdsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:8])
}

// JWK is one key of a JWKS (RFC 7517), EC P-256 only.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	Kid string `json:"kid"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// PublicJWK is pub in JWK form.
func PublicJWK(pub *ecdsa.PublicKey) JWK {
	raw, _ := pub.Bytes() // uncompressed point: 0x04 || X || Y; a valid P-256 key always encodes
	return JWK{Kty: "EC", Crv: "P-256", Alg: "ES256", Use: "sig", Kid: KeyID(pub),
		X: base64.RawURLEncoding.EncodeToString(raw[1:33]), Y: base64.RawURLEncoding.EncodeToString(raw[33:65])}
}

// parseJWK turns an EC P-256 JWK into a public key; anything else is refused.
func parseJWK(k JWK) (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") || (k.Use != "" && k.Use != "sig") {
		return nil, fmt.Errorf("jwk %q: only EC P-256 ES256 signing keys are accepted", k.Kid)
	}
	x, err1 := base64.RawURLEncoding.DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("jwk %q: bad coordinates", k.Kid)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil { // refuses points not on the curve
		return nil, fmt.Errorf("jwk %q: not a point on P-256", k.Kid)
	}
	if KeyID(pub) != k.Kid {
		return nil, fmt.Errorf("jwk %q: kid does not match the key", k.Kid)
	}
	return pub, nil
}

// KeySource finds the public key a token names by kid.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error)
}

// StaticKeys is a fixed set of keys by kid; identity verifies with its own keys.
type StaticKeys map[string]*ecdsa.PublicKey

// PublicKey implements KeySource.
func (s StaticKeys) PublicKey(_ context.Context, kid string) (*ecdsa.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown key id %q", kid)
}

// JWKS fetches and caches identity's key set over HTTP. Keys are refreshed every TTL and, when a
// token names an unknown kid (a new signing key after rotation), at most once per MinRefetch.
// A failed refresh keeps the keys it had.
type JWKS struct {
	URL        string
	TTL        time.Duration
	MinRefetch time.Duration
	Client     *http.Client

	mu      sync.Mutex
	keys    map[string]*ecdsa.PublicKey
	fetched time.Time
}

// NewJWKS returns a key source for url with a 5-minute TTL.
func NewJWKS(u string) *JWKS {
	return &JWKS{URL: u, TTL: 5 * time.Minute, MinRefetch: 5 * time.Second, Client: &http.Client{Timeout: 5 * time.Second}}
}

// PublicKey implements KeySource.
func (j *JWKS) PublicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k, ok := j.keys[kid]
	age := time.Since(j.fetched)
	if (!ok && age >= j.MinRefetch) || age >= j.TTL {
		if err := j.fetch(ctx); err != nil && !ok {
			return nil, err
		}
		k, ok = j.keys[kid]
	}
	if !ok {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return k, nil
}

func (j *JWKS) fetch(ctx context.Context) error {
	j.fetched = time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return err
	}
	resp, err := j.Client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks: %s answered %d", j.URL, resp.StatusCode)
	}
	var set struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range set.Keys {
		if pub, err := parseJWK(k); err == nil {
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return fmt.Errorf("jwks: %s holds no EC P-256 signing key", j.URL)
	}
	j.keys = keys
	return nil
}

// Verifier checks access tokens: ES256 only (alg confusion refused), a kid its key source
// knows, iss, aud, exp required, nbf and iat not in the future. A token verified once is
// remembered (by its exact bytes, until it expires, at most a minute) so a client that reuses
// its token does not cost a signature check per request.
type Verifier struct {
	Keys   KeySource
	Issuer string
	Now    func() time.Time

	seen cache[string, *Claims]
}

// Verify returns the claims of raw, or why it is not a valid access token now.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if c, ok := v.seen.get(raw, now()); ok && c.ExpiresAt != nil && now().Before(c.ExpiresAt.Time) {
		return c, nil
	}
	c, err := v.verify(ctx, raw, now)
	if err == nil {
		until := now().Add(time.Minute)
		if c.ExpiresAt.Time.Before(until) {
			until = c.ExpiresAt.Time
		}
		v.seen.put(raw, c, until)
	}
	return c, err
}

func (v *Verifier) verify(ctx context.Context, raw string, now func() time.Time) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no key id")
		}
		return v.Keys.PublicKey(ctx, kid)
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(v.Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(now), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if !ValidTenant(c.Tenant) || c.Subject == "" {
		return nil, errors.New("token: tenant and sub claims required")
	}
	return &c, nil
}

// authSettings reads JWKS_URL and JWT_ISSUER; a service that set its own key source (identity)
// needs no JWKS_URL.
func authSettings(getenv func(string) string, keys KeySource) (*Verifier, error) {
	v := &Verifier{Keys: keys, Issuer: DefaultIssuer}
	if s := getenv("JWT_ISSUER"); s != "" {
		v.Issuer = s
	}
	if keys != nil {
		return v, nil
	}
	u := getenv("JWKS_URL")
	if pu, err := url.Parse(u); u == "" || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("JWKS_URL: %q must be the http(s) URL of identity's key set, e.g. http://identity.services:8080/.well-known/jwks.json", u)
	}
	v.Keys = NewJWKS(u)
	return v, nil
}

// cache is a small map with expiry, bounded: when full it starts over (no eviction order to
// keep, no unbounded growth from many tokens or users).
type cache[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v     V
	until time.Time
}

const cacheMax = 10000

func (c *cache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *cache[K, V]) put(k K, v V, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheMax {
		c.m = make(map[K]cacheEntry[V])
	}
	c.m[k] = cacheEntry[V]{v, until}
}

// bearer returns the token of an "Authorization: Bearer" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate lets public routes, health and unmatched paths through and requires every other
// request to carry a valid access token of an active tenant and user; the verified claims become
// the request's caller and tenant.
func (a *App) authenticate(mux *http.ServeMux, public []string) http.Handler {
	open := map[string]bool{"GET /healthz": true, "GET /readyz": true}
	for _, p := range public {
		open[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == "" || open[pattern] {
			mux.ServeHTTP(w, r)
			return
		}
		r.Pattern = pattern // for the access log and metrics of refused requests
		refuse := func(status int, msg string) {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="groundwork"`)
			}
			WriteError(w, status, msg)
		}
		raw := bearer(r)
		if raw == "" {
			refuse(http.StatusUnauthorized, "a bearer token is required")
			return
		}
		c, err := a.verifier.Verify(r.Context(), raw)
		if err != nil {
			Logger(r.Context()).Info("token refused", "err", err)
			refuse(http.StatusUnauthorized, "invalid or expired token")
			return
		}
		if h := r.Header.Get(HeaderTenant); h != "" && h != c.Tenant {
			refuse(http.StatusForbidden, HeaderTenant+" does not match the token's tenant")
			return
		}
		status, deactivated, err := a.lifecycle(r.Context(), c.Tenant, c.Subject)
		if err != nil {
			Logger(r.Context()).Error("lifecycle check", "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
			refuse(http.StatusServiceUnavailable, "temporarily unavailable")
			return
		}
		switch {
		case status == "suspended":
			refuse(http.StatusForbidden, "tenant is suspended")
			return
		case deactivated:
			refuse(http.StatusForbidden, "user is deactivated")
			return
		}
		p := Principal{Tenant: c.Tenant, Subject: c.Subject, Roles: c.Roles, Perms: c.Perms}
		ctx := WithLogger(WithCaller(r.Context(), p), Logger(r.Context()).With("tenant", c.Tenant, "sub", c.Subject))
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RetryLater is a refusal the caller may retry after Wait: 429 for a lockout, 503 when a store
// the request needs is down. Handler answers Status with a Retry-After header.
type RetryLater struct {
	Status int
	Wait   time.Duration
	Msg    string
}

func (e *RetryLater) Error() string { return e.Msg }

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int(max(1, (d+time.Second-1)/time.Second)))
}
