package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

type store struct{ app *chassis.App }

var (
	localePattern = regexp.MustCompile(`^[a-z]{2}(-[A-Z]{2})?$`)
	prefKey       = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)
)

// updateProfileRequest is the body of PUT /v1/profiles/{id}.
type updateProfileRequest struct {
	DisplayName string `json:"display_name"`
	Locale      string `json:"locale"`
}

func (in updateProfileRequest) validate() error {
	p := chassis.Problems{}
	n := utf8.RuneCountInString(in.DisplayName)
	p.Add(n == 0 || n > 100, "display_name", "required, at most 100 characters")
	p.Add(!localePattern.MatchString(in.Locale), "locale", "a language tag such as en or pt-BR")
	return p.Err()
}

// userID is the user the path names, once the caller may act on it: the user itself, or a
// holder of users.manage in the same tenant.
func userID(r *http.Request) (uuid.UUID, error) {
	if err := chassis.RequireSelfOr(r.Context(), r.PathValue("id"), chassis.PermUsersManage); err != nil {
		return uuid.Nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	return id, nil
}

func (s *store) emit(ctx context.Context, tx pgx.Tx, typ string, id uuid.UUID, data any) error {
	e, err := chassis.NewEvent(chassis.EventsTopic(name), typ, chassis.Tenant(ctx), id.String(), data)
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, e)
}

func (s *store) updateProfile(r *http.Request) (int, any, error) {
	id, err := userID(r)
	if err != nil {
		return 0, nil, err
	}
	var in updateProfileRequest
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	var version int
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE profiles SET display_name = $3, locale = $4, version = version + 1, updated_at = now()
			WHERE tenant_id = $1 AND user_id = $2 AND active RETURNING version`, chassis.Tenant(ctx), id, in.DisplayName, in.Locale).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("active profile %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		return s.emit(ctx, tx, "ProfileUpdated", id, map[string]any{"user_id": id, "display_name": in.DisplayName, "locale": in.Locale, "version": version})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"user_id": id, "display_name": in.DisplayName, "locale": in.Locale, "version": version}, nil
}

func (s *store) setPreference(r *http.Request) (int, any, error) {
	id, err := userID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Value string `json:"value"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	key := r.PathValue("key")
	p := chassis.Problems{}
	p.Add(!prefKey.MatchString(key), "key", "lower-case letters, digits, '_' and '.', at most 64, starting with a letter")
	p.Add(len(in.Value) > 1024, "value", "at most 1024 bytes")
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO preferences (tenant_id, user_id, key, value)
			SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM profiles WHERE tenant_id = $1 AND user_id = $2 AND active)
			ON CONFLICT (tenant_id, user_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
			chassis.Tenant(ctx), id, key, in.Value)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("active profile %s: %w", id, chassis.ErrNotFound)
		}
		return s.emit(ctx, tx, "PreferenceChanged", id, map[string]string{"user_id": id.String(), "key": key, "value": in.Value})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"key": key, "value": in.Value}, nil
}

func (s *store) deactivate(r *http.Request) (int, any, error) {
	id, err := userID(r)
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE profiles SET active = false, version = version + 1, updated_at = now()
			WHERE tenant_id = $1 AND user_id = $2 AND active`, chassis.Tenant(ctx), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("active profile %s: %w", id, chassis.ErrNotFound)
		}
		return s.emit(ctx, tx, "UserDeactivated", id, map[string]string{"user_id": id.String()})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// onIdentityEvent creates the profile of a registered user (ProfileCreated). Other identity
// events are not this service's business.
func (s *store) onIdentityEvent(ctx context.Context, tx pgx.Tx, e chassis.Event) error {
	if e.Type != "UserRegistered" {
		return nil
	}
	var d struct {
		UserID uuid.UUID `json:"user_id"`
		Email  string    `json:"email"`
	}
	if err := e.DecodeData(&d); err != nil {
		return err
	}
	if d.UserID == uuid.Nil || e.TenantID == "" {
		return fmt.Errorf("UserRegistered %s: user_id and tenant_id required", e.ID)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO profiles (tenant_id, user_id, email) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		e.TenantID, d.UserID, d.Email)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	return s.emit(ctx, tx, "ProfileCreated", d.UserID, map[string]any{"user_id": d.UserID, "email": d.Email})
}
