package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/groundwork/groundwork/services/chassis"
)

// refreshTTL is how long a refresh token may be used, once.
const refreshTTL = 7 * 24 * time.Hour

// newRefreshToken stores a new refresh token of family for user and returns it; only its
// SHA-256 is kept.
func (s *api) newRefreshToken(ctx context.Context, tx pgx.Tx, tenant, user string, family uuid.UUID) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	tok := base64.RawURLEncoding.EncodeToString(b)
	_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (id, tenant_id, user_id, family, token_sha256, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, uuid.New(), tenant, user, family, sha256Hex(tok), time.Now().Add(refreshTTL))
	return tok, err
}

var errRefresh = fmt.Errorf("%w: invalid, expired or revoked refresh token", chassis.ErrUnauthorized)

// refresh trades a refresh token for a new access token and a new refresh token (rotation).
// A token used twice means it was stolen: its whole family is revoked and AnomalyDetected
// emitted. Suspended tenants, deactivated users and deleted accounts get nothing.
func (s *api) refresh(r *http.Request) (int, any, error) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if in.RefreshToken == "" || len(in.RefreshToken) > 100 {
		return 0, nil, errRefresh
	}
	ctx, tenant := r.Context(), chassis.Tenant(r.Context())
	var out map[string]any
	reused := false
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var id, family uuid.UUID
		var user string
		var expires time.Time
		var revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT id, user_id::text, family, expires_at, revoked_at FROM refresh_tokens
			WHERE tenant_id = $1 AND token_sha256 = $2 FOR UPDATE`, tenant, sha256Hex(in.RefreshToken)).Scan(&id, &user, &family, &expires, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return errRefresh
		} else if err != nil {
			return err
		}
		if revoked != nil {
			reused = true
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL`, family); err != nil {
				return err
			}
			return s.emit(chassis.WithTenant(ctx, tenant), tx, "AnomalyDetected", tenant, map[string]any{"kind": "refresh_token_reuse", "user_id": user})
		}
		if time.Now().After(expires) {
			return errRefresh
		}
		if status, _, err := chassis.TenantStatus(ctx, tx, tenant); err != nil {
			return err
		} else if status != "active" {
			return fmt.Errorf("%w: tenant %s is not active", chassis.ErrForbidden, tenant)
		}
		if off, err := chassis.UserDeactivated(ctx, tx, tenant, user); err != nil {
			return err
		} else if off {
			return fmt.Errorf("%w: user is deactivated", chassis.ErrForbidden)
		}
		var roles []string
		if err := tx.QueryRow(ctx, `SELECT roles FROM users WHERE tenant_id = $1 AND id = $2`, tenant, user).Scan(&roles); errors.Is(err, pgx.ErrNoRows) {
			return errRefresh
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		perms, err := s.permissions(ctx, tenant, roles)
		if err != nil {
			return err
		}
		access, err := s.issue(user, tenant, roles, perms, time.Now())
		if err != nil {
			return err
		}
		next, err := s.newRefreshToken(ctx, tx, tenant, user, family)
		if err != nil {
			return err
		}
		out = map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(s.ttl.Seconds()), "refresh_token": next}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if reused { // committed: the family is revoked and the anomaly recorded
		return 0, nil, errRefresh
	}
	return http.StatusOK, out, nil
}

// revokeRefreshTokens ends every session of a user: the user itself or a holder of users.manage.
func (s *api) revokeRefreshTokens(r *http.Request) (int, any, error) {
	ctx := r.Context()
	if err := chassis.RequireSelfOr(ctx, r.PathValue("id"), chassis.PermUsersManage); err != nil {
		return 0, nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	tag, err := s.app.DB.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = now() WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL`,
		chassis.Tenant(ctx), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"revoked": tag.RowsAffected()}, nil
}

// secondFactor checks the TOTP code of a user who enabled MFA (true without MFA) and records its
// step, so the same code cannot log in twice.
func (s *api) secondFactor(ctx context.Context, tenant, user, code string, now time.Time) (bool, error) {
	var secret *string
	var enabled bool
	var last int64
	err := s.app.DB.QueryRow(ctx, `SELECT mfa_secret, mfa_enabled, mfa_last_step FROM users WHERE tenant_id = $1 AND id = $2`,
		tenant, user).Scan(&secret, &enabled, &last)
	if err != nil {
		return false, err
	}
	if !enabled {
		return true, nil
	}
	step := totpCheck(*secret, code, now, last)
	if step == 0 {
		return false, nil
	}
	tag, err := s.app.DB.Exec(ctx, `UPDATE users SET mfa_last_step = $3 WHERE tenant_id = $1 AND id = $2 AND mfa_last_step < $3`, tenant, user, step)
	return err == nil && tag.RowsAffected() == 1, err
}

// enrolMFA gives the caller a new TOTP secret; MFA is enabled once verifyMFA sees a code of it.
// Only the user itself enrols: nobody else ever sees the secret. Adding a factor changes how the
// account logs in, so the caller proves it knows the password again (a stolen access token must
// not let its holder enable MFA and lock the owner out): re-authentication before a change of
// authentication factors, OWASP ASVS 4.0.3 V3.7.1 ("requires re-authentication or secondary
// verification before allowing any sensitive transactions or account modifications"). The
// password is checked under the login throttle, so this is no unthrottled password oracle.
func (s *api) enrolMFA(r *http.Request) (int, any, error) {
	ctx := r.Context()
	c, _ := chassis.Caller(ctx)
	if c.Subject != r.PathValue("id") {
		return 0, nil, fmt.Errorf("%w: users enrol their own MFA", chassis.ErrForbidden)
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Password == "" || len(in.Password) > 72 {
		return 0, nil, chassis.Problems{"password": "the account's password: enrolling a second factor needs it again"}.Err()
	}
	var email, hash string
	var enabled bool
	err := s.app.DB.QueryRow(ctx, `SELECT email, password_hash, mfa_enabled FROM users WHERE tenant_id = $1 AND id::text = $2`,
		c.Tenant, c.Subject).Scan(&email, &hash, &enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("user %s: %w", c.Subject, chassis.ErrNotFound)
	} else if err != nil {
		return 0, nil, err
	}
	if enabled {
		return 0, nil, fmt.Errorf("%w: MFA is already enabled", chassis.ErrConflict)
	}
	ok, err := s.throttled(ctx, c.Tenant, email, clientOf(r, s.throttle.proxies), func() (bool, error) {
		return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) == nil, nil
	})
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, fmt.Errorf("%w: wrong password", chassis.ErrUnauthorized)
	}
	secret := newTOTPSecret()
	tag, err := s.app.DB.Exec(ctx, `UPDATE users SET mfa_secret = $3 WHERE tenant_id = $1 AND id::text = $2 AND NOT mfa_enabled`,
		c.Tenant, c.Subject, secret)
	if err != nil {
		return 0, nil, err
	}
	if tag.RowsAffected() == 0 {
		return 0, nil, fmt.Errorf("%w: MFA is already enabled", chassis.ErrConflict)
	}
	uri := url.URL{Scheme: "otpauth", Host: "totp", Path: "/Groundwork:" + email,
		RawQuery: url.Values{"secret": {secret}, "issuer": {"Groundwork"}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}.Encode()}
	return http.StatusOK, map[string]any{"secret": secret, "otpauth_uri": uri.String()}, nil
}

// verifyMFA enables MFA with a first valid code (MFAEnabled).
func (s *api) verifyMFA(r *http.Request) (int, any, error) {
	ctx := r.Context()
	c, _ := chassis.Caller(ctx)
	if c.Subject != r.PathValue("id") {
		return 0, nil, fmt.Errorf("%w: users enable their own MFA", chassis.ErrForbidden)
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var secret *string
		var enabled bool
		err := tx.QueryRow(ctx, `SELECT mfa_secret, mfa_enabled FROM users WHERE tenant_id = $1 AND id::text = $2 FOR UPDATE`,
			c.Tenant, c.Subject).Scan(&secret, &enabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user %s: %w", c.Subject, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		if enabled || secret == nil {
			return fmt.Errorf("%w: no MFA enrolment to verify", chassis.ErrConflict)
		}
		step := totpCheck(*secret, in.Code, time.Now(), 0)
		if step == 0 {
			return chassis.Problems{"code": "not the current code of the enrolled secret"}.Err()
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET mfa_enabled = true, mfa_last_step = $3 WHERE tenant_id = $1 AND id::text = $2`,
			c.Tenant, c.Subject, step); err != nil {
			return err
		}
		return s.emit(ctx, tx, "MFAEnabled", c.Subject, map[string]any{"user_id": c.Subject, "method": "totp"})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"mfa_enabled": true}, nil
}
