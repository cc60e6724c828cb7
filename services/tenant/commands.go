package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/groundwork/groundwork/services/chassis"
)

type api struct{ app *chassis.App }

var identifier = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// provisionRequest is the body of POST /v1/tenants.
type provisionRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// AdminEmail is the tenant's first admin: identity creates the account from
	// TenantProvisioned; its owner sets a password with the setup code the response returns once.
	AdminEmail string `json:"admin_email"`
}

// maxQuota bounds a quota: far above any real need, far below what overflows a consumer.
const maxQuota = 1_000_000_000

func (in *provisionRequest) validate() error {
	p := chassis.Problems{}
	p.Add(!chassis.ValidTenant(in.ID), "id", "a DNS label: lower-case letters, digits and '-', at most 63")
	p.Add(in.ID == chassis.OperatorTenant, "id", fmt.Sprintf("%q is reserved for the platform's operators", chassis.OperatorTenant))
	n := utf8.RuneCountInString(in.Name)
	p.Add(n == 0 || n > 200, "name", "required, at most 200 characters")
	in.AdminEmail = strings.ToLower(strings.TrimSpace(in.AdminEmail))
	a, err := mail.ParseAddress(in.AdminEmail)
	p.Add(err != nil || a.Address != in.AdminEmail || len(in.AdminEmail) > 254, "admin_email", "the first admin's plain e-mail address, such as ada@example.com")
	return p.Err()
}

func emit(ctx context.Context, tx pgx.Tx, typ, tenant string, data any) error {
	e, err := chassis.NewEvent(chassis.EventsTopic(name), typ, tenant, tenant, data)
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, e)
}

func (s *api) provision(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermOperateTenants); err != nil {
		return 0, nil, err
	}
	var in provisionRequest
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	code := make([]byte, 24)
	_, _ = rand.Read(code) // crypto/rand.Read never fails on supported platforms
	setup := base64.RawURLEncoding.EncodeToString(code)
	sum := sha256.Sum256([]byte(setup))
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ($1, $2)`, in.ID, in.Name)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("tenant %s: %w: already exists", in.ID, chassis.ErrConflict)
		} else if err != nil {
			return err
		}
		for res, v := range defaultQuotas {
			if _, err := tx.Exec(ctx, `INSERT INTO quotas (tenant_id, resource, max_value) VALUES ($1, $2, $3)`, in.ID, res, v); err != nil {
				return err
			}
		}
		// The event carries the setup code's SHA-256 only: the code itself is shown once, below.
		return emit(ctx, tx, "TenantProvisioned", in.ID, map[string]any{"tenant_id": in.ID, "name": in.Name, "quotas": defaultQuotas,
			"admin_email": in.AdminEmail, "admin_setup_sha256": hex.EncodeToString(sum[:])})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"id": in.ID, "name": in.Name, "status": "active", "quotas": defaultQuotas,
		"admin_email": in.AdminEmail, "admin_setup_code": setup}, nil
}

// change runs fn for an existing, active tenant, locked for the transaction; only platform
// operators change tenants.
func (s *api) change(ctx context.Context, id string, fn func(tx pgx.Tx) error) error {
	if err := chassis.Require(ctx, chassis.PermOperateTenants); err != nil {
		return err
	}
	if !chassis.ValidTenant(id) {
		return chassis.Problems{"id": "a DNS label"}.Err()
	}
	return chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM tenants WHERE id = $1 FOR UPDATE`, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("tenant %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		if status != "active" {
			return fmt.Errorf("tenant %s: %w: it is %s", id, chassis.ErrConflict, status)
		}
		return fn(tx)
	})
}

func (s *api) setQuota(r *http.Request) (int, any, error) {
	var in struct {
		Max *int64 `json:"max"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	id, res := r.PathValue("id"), r.PathValue("resource")
	p := chassis.Problems{}
	p.Add(!identifier.MatchString(res), "resource", "lower-case letters, digits and '_', at most 63")
	p.Add(in.Max == nil || *in.Max < 0 || *in.Max > maxQuota, "max", fmt.Sprintf("required, 0 to %d", maxQuota))
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	err := s.change(ctx, id, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO quotas (tenant_id, resource, max_value) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, resource) DO UPDATE SET max_value = EXCLUDED.max_value`, id, res, *in.Max); err != nil {
			return err
		}
		return emit(ctx, tx, "ResourceQuotaUpdated", id, map[string]any{"tenant_id": id, "resource": res, "max": *in.Max})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"resource": res, "max": *in.Max}, nil
}

func (s *api) setFeature(r *http.Request) (int, any, error) {
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	id, feature := r.PathValue("id"), r.PathValue("feature")
	p := chassis.Problems{}
	p.Add(!identifier.MatchString(feature), "feature", "lower-case letters, digits and '_', at most 63")
	p.Add(in.Enabled == nil, "enabled", "required, true or false")
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	err := s.change(ctx, id, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO features (tenant_id, feature, enabled) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, feature) DO UPDATE SET enabled = EXCLUDED.enabled WHERE features.enabled <> EXCLUDED.enabled`,
			id, feature, *in.Enabled)
		if err != nil || tag.RowsAffected() == 0 { // unchanged: no event
			return err
		}
		typ := "FeatureEnabled"
		if !*in.Enabled {
			typ = "FeatureDisabled"
		}
		return emit(ctx, tx, typ, id, map[string]any{"tenant_id": id, "feature": feature})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"feature": feature, "enabled": *in.Enabled}, nil
}

func (s *api) suspend(r *http.Request) (int, any, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if n := utf8.RuneCountInString(in.Reason); n == 0 || n > 500 {
		return 0, nil, chassis.Problems{"reason": "required, at most 500 characters"}.Err()
	}
	id, ctx := r.PathValue("id"), r.Context()
	err := s.change(ctx, id, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE tenants SET status = 'suspended', updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		return emit(ctx, tx, "TenantSuspended", id, map[string]any{"tenant_id": id, "reason": in.Reason})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "status": "suspended"}, nil
}
