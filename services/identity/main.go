// Command identity is the identity and access service: user registration, password login that
// issues ES256 JWTs, token validation, a JWKS for the gateway, and role assignment.
// Events (topic identity.events): UserRegistered, UserAuthenticated, RoleAssigned.
//
// Settings: JWT_SIGNING_KEY (required, secret: PEM PKCS#8 ECDSA P-256 private key),
// JWT_ISSUER (default "groundwork-identity"), TOKEN_TTL (default 15m), BCRYPT_COST (default 12).
package main

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "identity"

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup}
}

func setup(a *chassis.App, getenv func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	var errs []error
	keys, err := parseSigningKey(getenv("JWT_SIGNING_KEY"))
	if err != nil {
		errs = append(errs, err)
	}
	s := &api{app: a, keys: keys, issuer: "groundwork-identity", ttl: 15 * time.Minute, cost: 12}
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.dummyHash, err = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), s.cost); err != nil {
		return nil, err
	}
	mux.Handle("POST /v1/users", chassis.RequireTenant(chassis.Handler(s.register)))
	mux.Handle("POST /v1/tokens", chassis.RequireTenant(chassis.Handler(s.login)))
	mux.Handle("POST /v1/users/{id}/roles", chassis.RequireTenant(chassis.Handler(s.assignRole)))
	mux.Handle("GET /v1/users/{id}", chassis.RequireTenant(chassis.Handler(s.getUser)))
	mux.Handle("POST /v1/tokens/verify", chassis.Handler(s.verify))
	mux.Handle("GET /.well-known/jwks.json", chassis.Handler(s.jwks))
	return nil, nil
}

func main() { chassis.Main(service()) }
