package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

func (s *api) getReport(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermReportsRead); err != nil {
		return 0, nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	ctx := r.Context()
	var from, to, created time.Time
	var rows json.RawMessage
	err = s.app.DB.QueryRow(ctx, `SELECT from_time, to_time, rows, created_at FROM reports WHERE tenant_id = $1 AND id = $2`,
		chassis.Tenant(ctx), id).Scan(&from, &to, &rows, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("report %s: %w", id, chassis.ErrNotFound)
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "from": from, "to": to, "rows": rows, "created_at": created}, nil
}
