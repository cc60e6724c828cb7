package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

// tenantView is the read model of GET /v1/tenants/{id}.
type tenantView struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Status    string           `json:"status"`
	CreatedAt time.Time        `json:"created_at"`
	Quotas    map[string]int64 `json:"quotas"`
	Features  map[string]bool  `json:"features"`
}

func (s *api) get(r *http.Request) (int, any, error) {
	id, ctx := r.PathValue("id"), r.Context()
	// Operators read any tenant; a tenant's members with tenant.read read their own.
	if c, _ := chassis.Caller(ctx); c.Tenant != id || !c.Can(chassis.PermTenantRead) {
		if err := chassis.Require(ctx, chassis.PermOperateTenants); err != nil {
			return 0, nil, err
		}
	}
	if !chassis.ValidTenant(id) {
		return 0, nil, chassis.Problems{"id": "a DNS label"}.Err()
	}
	v := tenantView{Quotas: map[string]int64{}, Features: map[string]bool{}}
	err := s.app.DB.QueryRow(ctx, `SELECT t.id, t.name, t.status, t.created_at,
			COALESCE((SELECT jsonb_object_agg(resource, max_value) FROM quotas WHERE tenant_id = t.id), '{}'),
			COALESCE((SELECT jsonb_object_agg(feature, enabled) FROM features WHERE tenant_id = t.id), '{}')
		FROM tenants t WHERE t.id = $1`, id).Scan(&v.ID, &v.Name, &v.Status, &v.CreatedAt, &v.Quotas, &v.Features)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("tenant %s: %w", id, chassis.ErrNotFound)
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}
