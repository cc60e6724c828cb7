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

type dispatchView struct {
	ID        string    `json:"id"`
	Template  string    `json:"template"`
	Channel   string    `json:"channel"`
	Recipient string    `json:"recipient"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
}

// get returns a dispatch record (recipient and rendered text included); it needs notify.manage.
func (s *api) get(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermNotifyManage); err != nil {
		return 0, nil, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	ctx := r.Context()
	var v dispatchView
	err = s.app.DB.QueryRow(ctx, `SELECT id::text, template, channel, recipient, subject, body, status, updated_at
		FROM dispatches WHERE tenant_id = $1 AND id = $2`, chassis.Tenant(ctx), id).
		Scan(&v.ID, &v.Template, &v.Channel, &v.Recipient, &v.Subject, &v.Body, &v.Status, &v.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("notification %s: %w", id, chassis.ErrNotFound)
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}
