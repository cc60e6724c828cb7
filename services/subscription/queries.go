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

type invoiceView struct {
	ID          string     `json:"id"`
	AmountCents int64      `json:"amount_cents"`
	Currency    string     `json:"currency"`
	Status      string     `json:"status"`
	IssuedAt    time.Time  `json:"issued_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
}

// getSubscription returns the subscription with its invoices, newest first.
func (s *api) getSubscription(r *http.Request) (int, any, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	ctx := r.Context()
	var user uuid.UUID
	var planID, status string
	err = s.app.DB.QueryRow(ctx, `SELECT user_id, plan_id, status FROM subscriptions WHERE tenant_id = $1 AND id = $2`,
		chassis.Tenant(ctx), id).Scan(&user, &planID, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("subscription %s: %w", id, chassis.ErrNotFound)
	} else if err != nil {
		return 0, nil, err
	}
	if err := chassis.RequireSelfOr(ctx, user.String(), chassis.PermBillingManage); err != nil {
		return 0, nil, err
	}
	rows, err := s.app.DB.Query(ctx, `SELECT id::text, amount_cents, currency, status, issued_at, paid_at FROM invoices
		WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY issued_at DESC LIMIT 100`, chassis.Tenant(ctx), id)
	if err != nil {
		return 0, nil, err
	}
	invoices, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (invoiceView, error) {
		var v invoiceView
		return v, row.Scan(&v.ID, &v.AmountCents, &v.Currency, &v.Status, &v.IssuedAt, &v.PaidAt)
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "user_id": user, "plan_id": planID, "status": status, "invoices": invoices}, nil
}
