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

// getUser shows a user to itself, or to a holder of users.manage in its tenant.
func (s *api) getUser(r *http.Request) (int, any, error) {
	ctx := r.Context()
	if err := chassis.RequireSelfOr(ctx, r.PathValue("id"), chassis.PermUsersManage); err != nil {
		return 0, nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
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

// verify answers whether the caller's token is valid now, with its claims: the chassis has
// verified it (signature, expiry, tenant and user lifecycle) before this runs.
func (s *api) verify(r *http.Request) (int, any, error) {
	c, _ := chassis.Caller(r.Context())
	return http.StatusOK, map[string]any{"active": true, "sub": c.Subject, "tenant": c.Tenant, "roles": c.Roles, "perms": c.Perms}, nil
}

func (s *api) jwks(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]any{"keys": s.published}, nil
}
