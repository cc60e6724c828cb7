// Command identity is the identity and access service: registration into provisioned tenants,
// password login (with TOTP for users who enabled MFA) that issues ES256 JWTs and single-use,
// revocable refresh tokens (throttled per account and per client in Redis), a JWKS
// for the gateway and every other service, roles and the permissions tenants grant to them.
// Events (topic identity.events): UserRegistered, UserAuthenticated, RoleAssigned,
// PermissionGranted, MFAEnabled, AnomalyDetected.
//
// Settings: JWT_SIGNING_KEY (required, secret: PEM PKCS#8 ECDSA P-256 private key),
// JWT_VERIFY_KEYS (PEM public keys of earlier signing keys, still accepted: rotation),
// JWT_ISSUER (default "groundwork-identity"), TOKEN_TTL (default 15m), BCRYPT_COST (default 12),
// REDIS_URL (required, secret: the shared Redis of the login throttle), LOGIN_MAX_FAILURES
// (per account, default 5), LOGIN_MAX_CLIENT_FAILURES (per client address, default 50),
// LOGIN_LOCKOUT (window and lockout, default 15m), TRUSTED_PROXY_HOPS (proxies appending to
// X-Forwarded-For in front of identity: the mesh gateway and Kong, default 2), PLATFORM_OPERATOR_EMAIL and
// PLATFORM_OPERATOR_PASSWORD (secret; together or neither: the platform operator's login in the
// reserved tenant "platform").
package main

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/mail"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "identity"

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup,
		Public: []string{"POST /v1/users", "POST /v1/tokens", "POST /v1/tokens/refresh", "GET /.well-known/jwks.json"}}
}

func setup(a *chassis.App, getenv func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	var errs []error
	keys, err := parseSigningKey(getenv("JWT_SIGNING_KEY"))
	if err != nil {
		errs = append(errs, err)
	}
	verify, err := parseVerifyKeys(getenv("JWT_VERIFY_KEYS"))
	if err != nil {
		errs = append(errs, err)
	}
	s := &api{app: a, keys: keys, issuer: chassis.DefaultIssuer, ttl: 15 * time.Minute, cost: 12,
		throttle: &throttle{window: 15 * time.Minute, accountLimit: 5, clientLimit: 50, proxies: 2}}
	if v := getenv("JWT_ISSUER"); v != "" {
		s.issuer = v
	}
	if v := getenv("TOKEN_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("TOKEN_TTL: %q must be a duration between 1m and 24h", v))
		}
		s.ttl = d
	}
	if v := getenv("BCRYPT_COST"); v != "" {
		c, err := strconv.Atoi(v)
		if err != nil || c < bcrypt.MinCost || c > 16 {
			errs = append(errs, fmt.Errorf("BCRYPT_COST: %q must be an integer from %d to 16", v, bcrypt.MinCost))
		}
		s.cost = c
	}
	limit := func(key string, dst *int64) {
		if v := getenv(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > 10000 {
				errs = append(errs, fmt.Errorf("%s: %q must be an integer from 1 to 10000", key, v))
			}
			*dst = n
		}
	}
	limit("LOGIN_MAX_FAILURES", &s.throttle.accountLimit)
	limit("LOGIN_MAX_CLIENT_FAILURES", &s.throttle.clientLimit)
	if v := getenv("TRUSTED_PROXY_HOPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			errs = append(errs, fmt.Errorf("TRUSTED_PROXY_HOPS: %q must be an integer from 1 to 5", v))
		}
		s.throttle.proxies = n
	}
	if v := getenv("LOGIN_LOCKOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("LOGIN_LOCKOUT: %q must be a duration between 1s and 24h", v))
		}
		s.throttle.window = d
	}
	if u := getenv("REDIS_URL"); u == "" {
		errs = append(errs, errors.New("REDIS_URL: required (redis://[:password@]host:6379/0): the login throttle counts in the shared Redis"))
	} else if opt, err := redis.ParseURL(u); err != nil {
		errs = append(errs, errors.New("REDIS_URL: not a redis:// or rediss:// URL (value not shown: it may hold a password)"))
	} else {
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, time.Second, time.Second
		s.throttle.rdb = redis.NewClient(opt)
	}
	opEmail, opPassword := getenv("PLATFORM_OPERATOR_EMAIL"), getenv("PLATFORM_OPERATOR_PASSWORD")
	switch {
	case opEmail == "" && opPassword == "":
	case opEmail == "" || opPassword == "":
		errs = append(errs, errors.New("PLATFORM_OPERATOR_EMAIL and PLATFORM_OPERATOR_PASSWORD: set both or neither"))
	default:
		if a, err := mail.ParseAddress(opEmail); err != nil || a.Address != opEmail {
			errs = append(errs, fmt.Errorf("PLATFORM_OPERATOR_EMAIL: %q is not a plain e-mail address", opEmail))
		}
		if len(opPassword) < 16 || len(opPassword) > 72 {
			errs = append(errs, errors.New("PLATFORM_OPERATOR_PASSWORD: 16 to 72 bytes (value not shown)"))
		}
		s.operatorEmail = opEmail
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.dummyHash, err = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), s.cost); err != nil {
		return nil, err
	}
	if s.operatorEmail != "" {
		if s.operatorHash, err = bcrypt.GenerateFromPassword([]byte(opPassword), s.cost); err != nil {
			return nil, err
		}
	}
	pubs := chassis.StaticKeys{keys.kid: &keys.private.PublicKey}
	s.published = []chassis.JWK{chassis.PublicJWK(&keys.private.PublicKey)}
	for _, k := range verify {
		pubs[chassis.KeyID(k)] = k
		s.published = append(s.published, chassis.PublicJWK(k))
	}
	a.Keys = pubs // identity verifies with its own keys, not over HTTP
	mux.Handle("POST /v1/users", chassis.RequireTenant(chassis.Handler(s.register)))
	mux.Handle("POST /v1/tokens", chassis.RequireTenant(chassis.Handler(s.login)))
	mux.Handle("GET /.well-known/jwks.json", chassis.Handler(s.jwks))
	mux.Handle("GET /v1/users/{id}", chassis.Handler(s.getUser))
	mux.Handle("POST /v1/users/{id}/roles", chassis.Handler(s.assignRole))
	mux.Handle("POST /v1/roles/{role}/permissions", chassis.Handler(s.grantPermission))
	mux.Handle("POST /v1/tokens/verify", chassis.Handler(s.verify))
	// A refresh token is its own credential: the access token may have expired.
	mux.Handle("POST /v1/tokens/refresh", chassis.RequireTenant(chassis.Handler(s.refresh)))
	mux.Handle("POST /v1/users/{id}/refresh-tokens/revoke", chassis.Handler(s.revokeRefreshTokens))
	mux.Handle("POST /v1/users/{id}/mfa", chassis.Handler(s.enrolMFA))
	mux.Handle("POST /v1/users/{id}/mfa/verify", chassis.Handler(s.verifyMFA))
	return []chassis.Consumer{{Name: "tenant-admins", Topics: []string{chassis.EventsTopic("tenant")}, Handle: s.onTenantEvent}}, nil
}

func main() { chassis.Main(service()) }
