package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

func (s *api) getUser(r *http.Request) (int, any, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	ctx := r.Context()
	var email string
	var roles []string
	var created time.Time
	err = s.app.DB.QueryRow(ctx, `SELECT email, roles, created_at FROM users WHERE tenant_id = $1 AND id = $2`,
		chassis.Tenant(ctx), id).Scan(&email, &roles, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("user %s: %w", id, chassis.ErrNotFound)
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "email": email, "roles": roles, "created_at": created}, nil
}

// verify answers whether a token is valid now, with its claims: for callers that cannot check
// ES256 themselves. Most verify locally with the JWKS.
func (s *api) verify(r *http.Request) (int, any, error) {
	var in struct {
		Token string `json:"token"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.validate(in.Token, time.Now())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", chassis.ErrUnauthorized, err)
	}
	return http.StatusOK, map[string]any{"active": true, "sub": c.Subject, "tenant": c.Tenant, "roles": c.Roles,
		"exp": c.ExpiresAt.Unix()}, nil
}

func (s *api) jwks(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]any{"keys": []any{s.keys.jwk()}}, nil
}
