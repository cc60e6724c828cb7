package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/groundwork/groundwork/services/chassis"
)

type api struct {
	app       *chassis.App
	keys      signingKey
	published []chassis.JWK // the JWKS: the signing key and the earlier ones still accepted
	issuer    string
	ttl       time.Duration
	cost      int
	throttle  *throttle
	// dummyHash is compared against when the email is unknown, so a login takes as long
	// whether or not the account exists.
	dummyHash []byte
	// operatorEmail and operatorHash are the platform operator's login in OperatorTenant.
	operatorEmail string
	operatorHash  []byte
}

var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// credentials is the body of POST /v1/users and POST /v1/tokens.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// SetupCode, at registration only, is the one-time code provisioning returned for the
	// tenant's first admin: with it the admin sets their password.
	SetupCode string `json:"setup_code,omitempty"`
	// OTP, at login only, is the current TOTP code of a user who enabled MFA.
	OTP string `json:"otp,omitempty"`
}

func (c *credentials) validate() error {
	p := chassis.Problems{}
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	a, err := mail.ParseAddress(c.Email)
	p.Add(err != nil || a.Address != c.Email || len(c.Email) > 254, "email", "a plain e-mail address such as ada@example.com")
	// bcrypt reads at most 72 bytes; refuse longer rather than silently ignore the rest.
	p.Add(len(c.Password) < 12 || len(c.Password) > 72, "password", "12 to 72 bytes")
	p.Add(len(c.SetupCode) > 100, "setup_code", "at most 100 bytes")
	p.Add(len(c.OTP) > 10, "otp", "a 6-digit code")
	return p.Err()
}

func (s *api) emit(ctx context.Context, tx pgx.Tx, typ, key string, data any) error {
	e, err := chassis.NewEvent(chassis.EventsTopic(name), typ, chassis.Tenant(ctx), key, data)
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, e)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// register creates a member of an active, provisioned tenant, within its users quota. Its
// answer is the same whether or not the e-mail is already registered (202, nothing revealed);
// nobody becomes admin by registering: the first admin is named at provisioning and sets a
// password here with the setup code.
func (s *api) register(r *http.Request) (int, any, error) {
	var in credentials
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	ctx, tenant := r.Context(), chassis.Tenant(r.Context())
	status, quotas, err := chassis.TenantStatus(ctx, s.app.DB, tenant)
	if err != nil {
		return 0, nil, err
	}
	// TenantProvisioned reaches two consumers here: the lifecycle projection (the tenant is
	// active) and onTenantEvent (its first admin's account). Until the second has run, the
	// tenant is not open: a registration in between would take the admin's e-mail as a member
	// and leave the tenant with no admin. Roles are only ever added, so once open it stays open.
	var admin bool
	if status == "active" {
		err = s.app.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND $2 = ANY(roles))`,
			tenant, chassis.RoleAdmin).Scan(&admin)
		if err != nil {
			return 0, nil, err
		}
	}
	if !admin {
		return 0, nil, fmt.Errorf("%w: tenant %s is not an active, provisioned tenant", chassis.ErrForbidden, tenant)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cost)
	if err != nil {
		return 0, nil, err
	}
	if in.SetupCode != "" {
		return s.activateAdmin(ctx, in, hash)
	}
	accepted := map[string]any{"status": "accepted", "email": in.Email,
		"detail": "if the address was new, its account exists now: log in with it"}
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		// One registration at a time per tenant, so two cannot both take the last place.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('identity.register.' || $1))`, tenant); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1`, tenant).Scan(&n); err != nil {
			return err
		}
		if max, ok := quotas["users"]; ok && n >= max {
			return fmt.Errorf("%w: the tenant's users quota (%d) is reached", chassis.ErrForbidden, max)
		}
		id := uuid.New()
		tag, err := tx.Exec(ctx, `INSERT INTO users (id, tenant_id, email, password_hash, roles) VALUES ($1, $2, $3, $4, '{}')
			ON CONFLICT (tenant_id, email) DO NOTHING`, id, tenant, in.Email, string(hash))
		if err != nil || tag.RowsAffected() == 0 { // already registered: the same answer
			return err
		}
		return s.emit(ctx, tx, "UserRegistered", id.String(), map[string]any{"user_id": id, "email": in.Email, "roles": []string{}})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, accepted, nil
}

// activateAdmin sets the password of the admin provisioning named, once, with its setup code.
func (s *api) activateAdmin(ctx context.Context, in credentials, hash []byte) (int, any, error) {
	var id uuid.UUID
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $4, setup_sha256 = NULL
			WHERE tenant_id = $1 AND email = $2 AND setup_sha256 = $3 AND password_hash = '' RETURNING id`,
			chassis.Tenant(ctx), in.Email, sha256Hex(in.SetupCode), string(hash)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: unknown or used setup code", chassis.ErrUnauthorized)
		}
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"id": id, "email": in.Email, "roles": []string{chassis.RoleAdmin}}, nil
}

// unavailable logs why the login throttle failed and answers 503: without its counters a login
// is not attempted (fail closed), or bcrypt would be an open door to brute force and CPU exhaustion.
func (s *api) unavailable(ctx context.Context, err error) error {
	chassis.Logger(ctx).Error("login throttle", "err", err)
	return &chassis.RetryLater{Status: http.StatusServiceUnavailable, Wait: 5 * time.Second, Msg: "login temporarily unavailable"}
}

var errLogin = fmt.Errorf("%w: wrong e-mail or password", chassis.ErrUnauthorized)

// login issues an access token. Failures count per account and per client in Redis; over the
// limit the account or client is locked out (429) before any bcrypt work, and the lockout is
// reported as AnomalyDetected. Suspended tenants and deactivated users get no token.
func (s *api) login(r *http.Request) (int, any, error) {
	var in credentials
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if in.validate() != nil || in.SetupCode != "" { // no hints about which part was wrong
		return 0, nil, errLogin
	}
	ctx, tenant, client := r.Context(), chassis.Tenant(r.Context()), clientOf(r, s.throttle.proxies)
	var id string
	var roles []string
	ok, err := s.throttled(ctx, tenant, in.Email, client, func() (ok bool, err error) {
		id, roles, ok, err = s.checkPassword(ctx, tenant, in)
		if err == nil && ok && tenant != chassis.OperatorTenant {
			ok, err = s.secondFactor(ctx, tenant, id, in.OTP, time.Now())
		}
		return ok, err
	})
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errLogin
	}
	if tenant != chassis.OperatorTenant {
		status, _, err := chassis.TenantStatus(ctx, s.app.DB, tenant)
		if err != nil {
			return 0, nil, err
		}
		if status != "active" {
			return 0, nil, fmt.Errorf("%w: tenant %s is not active", chassis.ErrForbidden, tenant)
		}
		if off, err := chassis.UserDeactivated(ctx, s.app.DB, tenant, id); err != nil {
			return 0, nil, err
		} else if off {
			return 0, nil, fmt.Errorf("%w: user is deactivated", chassis.ErrForbidden)
		}
	}
	perms, err := s.permissions(ctx, tenant, roles)
	if err != nil {
		return 0, nil, err
	}
	token, err := s.issue(id, tenant, roles, perms, time.Now())
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": int(s.ttl.Seconds())}
	if tenant != chassis.OperatorTenant { // operators log in again rather than hold a refresh token
		err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
			refresh, err := s.newRefreshToken(ctx, tx, tenant, id, uuid.New())
			if err != nil {
				return err
			}
			out["refresh_token"] = refresh
			return s.emit(ctx, tx, "UserAuthenticated", id, map[string]any{"user_id": id, "mfa": in.OTP != ""})
		})
		if err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, out, nil
}

// throttled runs check, a password check of the account (tenant, email) from client, under the
// login throttle, for every route that checks a password: the attempt is reserved before check
// runs (429 while the account or the client is locked out, 503 without Redis); an error from
// check gives it back; a failure keeps it, and the one that locks the account out is reported
// (AnomalyDetected, the account as a SHA-256); a success clears the account's count.
func (s *api) throttled(ctx context.Context, tenant, email, client string, check func() (bool, error)) (bool, error) {
	count, wait, err := s.throttle.reserve(ctx, tenant, email, client)
	if err != nil {
		return false, s.unavailable(ctx, err)
	}
	if wait > 0 {
		return false, &chassis.RetryLater{Status: http.StatusTooManyRequests, Wait: wait, Msg: "too many failed logins: try again later"}
	}
	ok, err := check()
	switch {
	case err != nil:
		if rerr := s.throttle.abandoned(ctx, tenant, email, client); rerr != nil {
			chassis.Logger(ctx).Error("login throttle", "err", rerr)
		}
		return false, err
	case !ok:
		if !s.throttle.failed(count) {
			return false, nil
		}
		return false, chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
			return s.emit(ctx, tx, "AnomalyDetected", tenant, map[string]any{"kind": "login_lockout",
				"account_sha256": sha256Hex(tenant + "/" + email), "client": client,
				"failures": s.throttle.accountLimit, "window": s.throttle.window.String()})
		})
	}
	if err := s.throttle.succeeded(ctx, tenant, email, client); err != nil {
		return false, s.unavailable(ctx, err)
	}
	return true, nil
}

// checkPassword compares in's password with the account's hash, or with a dummy hash when there
// is no such account (or it has no password yet), so both take as long.
func (s *api) checkPassword(ctx context.Context, tenant string, in credentials) (id string, roles []string, ok bool, err error) {
	if tenant == chassis.OperatorTenant {
		hash := s.operatorHash
		if hash == nil || in.Email != s.operatorEmail {
			hash = s.dummyHash
		}
		ok = bcrypt.CompareHashAndPassword(hash, []byte(in.Password)) == nil && s.operatorHash != nil && in.Email == s.operatorEmail
		return uuid.NewSHA1(uuid.NameSpaceURL, []byte("groundwork:operator:"+in.Email)).String(), []string{chassis.RolePlatformOperator}, ok, nil
	}
	var uid uuid.UUID
	var hash string
	err = s.app.DB.QueryRow(ctx, `SELECT id, password_hash, roles FROM users WHERE tenant_id = $1 AND email = $2`,
		tenant, in.Email).Scan(&uid, &hash, &roles)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && hash == "") {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(in.Password))
		return "", nil, false, nil
	} else if err != nil {
		return "", nil, false, err
	}
	return uid.String(), roles, bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) == nil, nil
}

// noEscalation refuses to hand out a permission the caller does not hold: roles.manage
// delegates the management of roles, not every permission there is (else whoever holds it
// makes itself admin). The rule Kubernetes RBAC applies to role bindings: "You can only
// create/update a role binding if you already have all the permissions contained in the
// referenced role" (kubernetes.io/docs/reference/access-authn-authz/rbac, "Privilege
// escalation prevention and bootstrapping"). The caller's permissions are its token's.
func noEscalation(caller chassis.Principal, what string, perms ...string) error {
	for _, p := range perms {
		if !slices.Contains(caller.Perms, p) {
			return fmt.Errorf("%w: %s %s, which you do not hold", chassis.ErrForbidden, what, p)
		}
	}
	return nil
}

// permissions are the built-in permissions of roles plus what the tenant granted to them.
func (s *api) permissions(ctx context.Context, tenant string, roles []string) ([]string, error) {
	return s.permissionsIn(ctx, s.app.DB, tenant, roles)
}

// permissionsIn is permissions read through q (a transaction or the pool).
func (s *api) permissionsIn(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, tenant string, roles []string) ([]string, error) {
	perms := chassis.BuiltinPermissions(tenant, roles)
	rows, err := q.Query(ctx, `SELECT DISTINCT permission FROM role_permissions WHERE tenant_id = $1 AND role = ANY($2)`, tenant, roles)
	if err != nil {
		return nil, err
	}
	granted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, p := range granted {
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	slices.Sort(perms)
	return perms, nil
}

// assignRole needs roles.manage in the caller's tenant, and every permission the role carries
// (noEscalation). platform-operator is never assignable: it exists only in the operators'
// tenant, outside any tenant's reach.
func (s *api) assignRole(r *http.Request) (int, any, error) {
	ctx := r.Context()
	if err := chassis.Require(ctx, chassis.PermRolesManage); err != nil {
		return 0, nil, err
	}
	caller, _ := chassis.Caller(ctx)
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	var in struct {
		Role string `json:"role"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if !rolePattern.MatchString(in.Role) {
		return 0, nil, chassis.Problems{"role": "lower-case letters, digits, '_' or '-', at most 32"}.Err()
	}
	if in.Role == chassis.RolePlatformOperator {
		return 0, nil, fmt.Errorf("%w: %s is not a tenant role", chassis.ErrForbidden, in.Role)
	}
	var roles []string
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		carries, err := s.permissionsIn(ctx, tx, chassis.Tenant(ctx), []string{in.Role})
		if err != nil {
			return err
		}
		if err := noEscalation(caller, "role "+in.Role+" carries", carries...); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `UPDATE users SET roles = CASE WHEN $3 = ANY(roles) THEN roles ELSE array_append(roles, $3) END
			WHERE tenant_id = $1 AND id = $2 RETURNING roles`, chassis.Tenant(ctx), id, in.Role).Scan(&roles)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		return s.emit(ctx, tx, "RoleAssigned", id.String(), map[string]any{"user_id": id, "role": in.Role, "by": caller.Subject})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "roles": roles}, nil
}

// grantPermission gives a role of the caller's tenant a tenant permission (PermissionGranted);
// it takes effect in tokens issued after. tenants.operate is not a tenant permission, and the
// caller grants only what it holds itself (noEscalation).
func (s *api) grantPermission(r *http.Request) (int, any, error) {
	ctx := r.Context()
	if err := chassis.Require(ctx, chassis.PermRolesManage); err != nil {
		return 0, nil, err
	}
	caller, _ := chassis.Caller(ctx)
	var in struct {
		Permission string `json:"permission"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	role := r.PathValue("role")
	p := chassis.Problems{}
	p.Add(!rolePattern.MatchString(role) || role == chassis.RolePlatformOperator, "role", "a tenant role: lower-case letters, digits, '_' or '-', at most 32")
	p.Add(!slices.Contains(chassis.TenantPermissions, in.Permission), "permission", "one of "+strings.Join(chassis.TenantPermissions, ", "))
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	if err := noEscalation(caller, "granting", in.Permission); err != nil {
		return 0, nil, err
	}
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO role_permissions (tenant_id, role, permission, granted_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, chassis.Tenant(ctx), role, in.Permission, caller.Subject)
		if err != nil || tag.RowsAffected() == 0 { // already granted: no event
			return err
		}
		return s.emit(ctx, tx, "PermissionGranted", role, map[string]any{"role": role, "permission": in.Permission, "by": caller.Subject})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"role": role, "permission": in.Permission}, nil
}

// onTenantEvent creates the first admin a TenantProvisioned names, without a password: its
// owner sets one at registration with the setup code provisioning returned.
func (s *api) onTenantEvent(ctx context.Context, tx pgx.Tx, e chassis.Event) error {
	if e.Type != "TenantProvisioned" {
		return nil
	}
	var d struct {
		TenantID    string `json:"tenant_id"`
		AdminEmail  string `json:"admin_email"`
		SetupSHA256 string `json:"admin_setup_sha256"`
	}
	if err := e.DecodeData(&d); err != nil {
		return err
	}
	if !chassis.ValidTenant(d.TenantID) || d.AdminEmail == "" || len(d.SetupSHA256) != 64 {
		return fmt.Errorf("TenantProvisioned %s: tenant_id, admin_email and admin_setup_sha256 required", e.ID)
	}
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("groundwork:admin:"+d.TenantID+":"+d.AdminEmail))
	tag, err := tx.Exec(ctx, `INSERT INTO users (id, tenant_id, email, password_hash, roles, setup_sha256)
		VALUES ($1, $2, $3, '', '{admin}', $4) ON CONFLICT DO NOTHING`, id, d.TenantID, d.AdminEmail, d.SetupSHA256)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	ev, err := chassis.NewEvent(chassis.EventsTopic(name), "UserRegistered", d.TenantID, id.String(),
		map[string]any{"user_id": id, "email": d.AdminEmail, "roles": []string{chassis.RoleAdmin}})
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, ev)
}
