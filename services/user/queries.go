package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

// profile is the read model of GET /v1/profiles/{id}.
type profile struct {
	UserID      string            `json:"user_id"`
	Email       string            `json:"email"`
	DisplayName string            `json:"display_name"`
	Locale      string            `json:"locale"`
	Active      bool              `json:"active"`
	Version     int               `json:"version"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Preferences map[string]string `json:"preferences"`
}

func (s *store) getProfile(r *http.Request) (int, any, error) {
	id, err := userID(r)
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	p := profile{Preferences: map[string]string{}}
	// One round trip: the profile row with its preferences aggregated.
	err = s.app.DB.QueryRow(ctx, `SELECT p.user_id::text, p.email, p.display_name, p.locale, p.active, p.version, p.updated_at,
			COALESCE((SELECT jsonb_object_agg(key, value) FROM preferences f WHERE f.tenant_id = p.tenant_id AND f.user_id = p.user_id), '{}')
		FROM profiles p WHERE p.tenant_id = $1 AND p.user_id = $2`, chassis.Tenant(ctx), id).
		Scan(&p.UserID, &p.Email, &p.DisplayName, &p.Locale, &p.Active, &p.Version, &p.UpdatedAt, &p.Preferences)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("profile %s: %w", id, chassis.ErrNotFound)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}
