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
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/groundwork/groundwork/services/chassis"
)

type api struct{ app *chassis.App }

var (
	planID   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	currency = regexp.MustCompile(`^[A-Z]{3}$`)
)

// planRequest is the body of POST /v1/plans.
type planRequest struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
}

func (in planRequest) validate() error {
	p := chassis.Problems{}
	p.Add(!planID.MatchString(in.ID), "id", "lower-case letters, digits and '-', at most 40, starting with a letter")
	n := utf8.RuneCountInString(in.Name)
	p.Add(n == 0 || n > 100, "name", "required, at most 100 characters")
	p.Add(in.PriceCents < 0 || in.PriceCents > 100_000_000, "price_cents", "0 to 100000000")
	p.Add(!currency.MatchString(in.Currency), "currency", "an ISO 4217 code such as EUR")
	return p.Err()
}

func emit(ctx context.Context, tx pgx.Tx, typ string, key uuid.UUID, data any) error {
	e, err := chassis.NewEvent(chassis.EventsTopic(name), typ, chassis.Tenant(ctx), key.String(), data)
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, e)
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func (s *api) createPlan(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermBillingManage); err != nil {
		return 0, nil, err
	}
	var in planRequest
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	_, err := s.app.DB.Exec(ctx, `INSERT INTO plans (tenant_id, id, name, price_cents, currency) VALUES ($1, $2, $3, $4, $5)`,
		chassis.Tenant(ctx), in.ID, in.Name, in.PriceCents, in.Currency)
	if isUnique(err) {
		return 0, nil, fmt.Errorf("plan %s: %w: already exists", in.ID, chassis.ErrConflict)
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, in, nil
}

type plan struct {
	price    int64
	currency string
}

func loadPlan(ctx context.Context, tx pgx.Tx, id string) (plan, error) {
	var p plan
	err := tx.QueryRow(ctx, `SELECT price_cents, currency FROM plans WHERE tenant_id = $1 AND id = $2`, chassis.Tenant(ctx), id).
		Scan(&p.price, &p.currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("plan %s: %w", id, chassis.ErrNotFound)
	}
	return p, err
}

// invoice records an open invoice and its InvoiceGenerated event.
func invoice(ctx context.Context, tx pgx.Tx, sub, user uuid.UUID, amount int64, cur, reason string) (uuid.UUID, error) {
	id := uuid.New()
	if _, err := tx.Exec(ctx, `INSERT INTO invoices (tenant_id, id, subscription_id, amount_cents, currency) VALUES ($1, $2, $3, $4, $5)`,
		chassis.Tenant(ctx), id, sub, amount, cur); err != nil {
		return id, err
	}
	return id, emit(ctx, tx, "InvoiceGenerated", sub, map[string]any{"invoice_id": id, "subscription_id": sub,
		"user_id": user, "amount_cents": amount, "currency": cur, "reason": reason})
}

func (s *api) subscribe(r *http.Request) (int, any, error) {
	var in struct {
		UserID uuid.UUID `json:"user_id"`
		PlanID string    `json:"plan_id"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	p := chassis.Problems{}
	p.Add(in.UserID == uuid.Nil, "user_id", "required UUID")
	p.Add(!planID.MatchString(in.PlanID), "plan_id", "required plan id")
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	if err := chassis.RequireSelfOr(r.Context(), in.UserID.String(), chassis.PermBillingManage); err != nil {
		return 0, nil, err
	}
	ctx, id := r.Context(), uuid.New()
	var inv uuid.UUID
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		pl, err := loadPlan(ctx, tx, in.PlanID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO subscriptions (tenant_id, id, user_id, plan_id) VALUES ($1, $2, $3, $4)`,
			chassis.Tenant(ctx), id, in.UserID, in.PlanID)
		if isUnique(err) {
			return fmt.Errorf("user %s: %w: already has an active subscription", in.UserID, chassis.ErrConflict)
		} else if err != nil {
			return err
		}
		if err := emit(ctx, tx, "SubscriptionCreated", id, map[string]any{"subscription_id": id, "user_id": in.UserID, "plan_id": in.PlanID}); err != nil {
			return err
		}
		inv, err = invoice(ctx, tx, id, in.UserID, pl.price, pl.currency, "subscription")
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"id": id, "user_id": in.UserID, "plan_id": in.PlanID, "status": "active", "invoice_id": inv}, nil
}

// upgrade moves an active subscription to a dearer plan and invoices the difference.
func (s *api) upgrade(r *http.Request) (int, any, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	var in struct {
		PlanID string `json:"plan_id"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if !planID.MatchString(in.PlanID) {
		return 0, nil, chassis.Problems{"plan_id": "required plan id"}.Err()
	}
	ctx := r.Context()
	var inv uuid.UUID
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var from string
		var user uuid.UUID
		err := tx.QueryRow(ctx, `SELECT plan_id, user_id FROM subscriptions WHERE tenant_id = $1 AND id = $2 AND status = 'active' FOR UPDATE`,
			chassis.Tenant(ctx), id).Scan(&from, &user)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("active subscription %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		if err := chassis.RequireSelfOr(ctx, user.String(), chassis.PermBillingManage); err != nil {
			return err
		}
		old, err := loadPlan(ctx, tx, from)
		if err != nil {
			return err
		}
		next, err := loadPlan(ctx, tx, in.PlanID)
		if err != nil {
			return err
		}
		if next.currency != old.currency || next.price <= old.price {
			return chassis.Problems{"plan_id": fmt.Sprintf("an upgrade needs a dearer plan in %s than %s", old.currency, from)}.Err()
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET plan_id = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
			chassis.Tenant(ctx), id, in.PlanID); err != nil {
			return err
		}
		if err := emit(ctx, tx, "PlanUpgraded", id, map[string]any{"subscription_id": id, "from_plan": from, "to_plan": in.PlanID}); err != nil {
			return err
		}
		inv, err = invoice(ctx, tx, id, user, next.price-old.price, next.currency, "upgrade")
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "plan_id": in.PlanID, "invoice_id": inv}, nil
}

// pay records a payment reported by the payment gateway; it must settle the invoice exactly.
// The gateway's signed callback (chassis.Callback) is its authentication: no user records a
// payment, whatever their token.
func (s *api) pay(r *http.Request) (int, any, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	var in struct {
		AmountCents int64  `json:"amount_cents"`
		Reference   string `json:"reference"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	p := chassis.Problems{}
	p.Add(in.AmountCents <= 0, "amount_cents", "required, more than 0")
	p.Add(in.Reference == "" || len(in.Reference) > 200, "reference", "the gateway's payment reference, at most 200 bytes")
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var amount int64
		var status, cur string
		var sub uuid.UUID
		err := tx.QueryRow(ctx, `SELECT amount_cents, currency, status, subscription_id FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			chassis.Tenant(ctx), id).Scan(&amount, &cur, &status, &sub)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("invoice %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		if status == "paid" {
			return fmt.Errorf("invoice %s: %w: already paid", id, chassis.ErrConflict)
		}
		if in.AmountCents != amount {
			return chassis.Problems{"amount_cents": fmt.Sprintf("must equal the invoice amount %d", amount)}.Err()
		}
		if _, err := tx.Exec(ctx, `UPDATE invoices SET status = 'paid', paid_at = now() WHERE tenant_id = $1 AND id = $2`, chassis.Tenant(ctx), id); err != nil {
			return err
		}
		return emit(ctx, tx, "PaymentProcessed", sub, map[string]any{"invoice_id": id, "subscription_id": sub,
			"amount_cents": amount, "currency": cur, "reference": in.Reference})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"invoice_id": id, "status": "paid"}, nil
}
