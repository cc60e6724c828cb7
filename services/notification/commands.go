package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

type api struct{ app *chassis.App }

var templateName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// templateRequest is the body of PUT /v1/templates/{name}; subject and body are Go text
// templates over the notification's data (for example "Hello {{.email}}").
type templateRequest struct {
	Channel string `json:"channel"`
	Subject string `json:"subject"`
	Body    string `json:"body" text:"multiline"`
}

func (in templateRequest) validate(name string) error {
	p := chassis.Problems{}
	p.Add(!templateName.MatchString(name), "name", "lower-case letters, digits, '_' or '-', at most 64")
	p.Add(in.Channel != "email" && in.Channel != "sms" && in.Channel != "push", "channel", "one of email, sms, push")
	p.Add(in.Channel == "email" && in.Subject == "", "subject", "required for email")
	p.Add(len(in.Subject) > MaxSubjectTemplate, "subject", fmt.Sprintf("at most %d bytes", MaxSubjectTemplate))
	p.Add(in.Body == "" || len(in.Body) > MaxBodyTemplate, "body", fmt.Sprintf("required, at most %d bytes", MaxBodyTemplate))
	if _, err := parse(in.Subject, in.Body); err != nil {
		p.Add(true, "body", err.Error())
	}
	return p.Err()
}

func emit(ctx context.Context, tx pgx.Tx, typ string, key uuid.UUID, data any) error {
	e, err := chassis.NewEvent(chassis.EventsTopic(name), typ, chassis.Tenant(ctx), key.String(), data)
	if err != nil {
		return err
	}
	return chassis.Enqueue(ctx, tx, name, e)
}

// putTemplate creates or replaces a template of the caller's tenant; it needs notify.manage.
func (s *api) putTemplate(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermNotifyManage); err != nil {
		return 0, nil, err
	}
	var in templateRequest
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	tname := r.PathValue("name")
	if err := in.validate(tname); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	var version int
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO templates (tenant_id, name, channel, subject, body) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant_id, name) DO UPDATE SET channel = EXCLUDED.channel, subject = EXCLUDED.subject, body = EXCLUDED.body,
				version = templates.version + 1, updated_at = now()
			RETURNING version`, chassis.Tenant(ctx), tname, in.Channel, in.Subject, in.Body).Scan(&version)
		if err != nil {
			return err
		}
		key := uuid.NewSHA1(uuid.NameSpaceURL, []byte(chassis.Tenant(ctx)+"/"+tname)) // stable key: one partition per template
		return emit(ctx, tx, "TemplateUpdated", key, map[string]any{"name": tname, "channel": in.Channel, "version": version})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"name": tname, "version": version}, nil
}

var errNoTemplate = errors.New("no such template")

// dispatch renders the tenant's template and records a requested notification. A recipient that
// does not fit the template's channel, or data the template cannot render within its bounds, is
// a *chassis.ValidationError.
func dispatch(ctx context.Context, tx pgx.Tx, tname, recipient string, data map[string]any) (uuid.UUID, error) {
	var channel, subject, body string
	err := tx.QueryRow(ctx, `SELECT channel, subject, body FROM templates WHERE tenant_id = $1 AND name = $2`,
		chassis.Tenant(ctx), tname).Scan(&channel, &subject, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, fmt.Errorf("template %s: %w", tname, errNoTemplate)
	} else if err != nil {
		return uuid.Nil, err
	}
	if msg := validRecipient(channel, recipient); msg != "" {
		return uuid.Nil, chassis.Problems{"recipient": msg}.Err()
	}
	subj, text, err := render(ctx, subject, body, data)
	if err != nil {
		return uuid.Nil, chassis.Problems{"data": err.Error()}.Err()
	}
	id := uuid.New()
	if _, err := tx.Exec(ctx, `INSERT INTO dispatches (tenant_id, id, template, channel, recipient, subject, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, chassis.Tenant(ctx), id, tname, channel, recipient, subj, text); err != nil {
		return uuid.Nil, err
	}
	return id, emit(ctx, tx, "NotificationRequested", id, map[string]any{"notification_id": id, "template": tname,
		"channel": channel, "recipient": recipient})
}

// request sends a notification from a template to any recipient; it needs notify.manage.
func (s *api) request(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermNotifyManage); err != nil {
		return 0, nil, err
	}
	var in struct {
		Template  string         `json:"template"`
		Recipient string         `json:"recipient"`
		Data      map[string]any `json:"data"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	p := chassis.Problems{}
	p.Add(!templateName.MatchString(in.Template), "template", "a template name")
	p.Add(in.Recipient == "" || len(in.Recipient) > 4096, "recipient", "required, at most 4096 bytes")
	if err := validateData(in.Data); err != nil {
		p.Add(true, "data", err.Error())
	}
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	var id uuid.UUID
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var err error
		id, err = dispatch(ctx, tx, in.Template, in.Recipient, in.Data)
		if errors.Is(err, errNoTemplate) {
			return fmt.Errorf("%w: %v", chassis.ErrNotFound, err)
		}
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]any{"id": id, "status": "requested"}, nil
}

// next is the only status each status may move to.
var next = map[string]string{"requested": "sent", "sent": "delivered"}

// report records delivery progress from the provider: requested → sent → delivered.
func (s *api) report(r *http.Request) (int, any, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return 0, nil, chassis.Problems{"id": "not a UUID"}.Err()
	}
	var in struct {
		Status string `json:"status"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Status != "sent" && in.Status != "delivered" {
		return 0, nil, chassis.Problems{"status": "sent or delivered"}.Err()
	}
	ctx := r.Context()
	err = chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		var cur string
		err := tx.QueryRow(ctx, `SELECT status FROM dispatches WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, chassis.Tenant(ctx), id).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("notification %s: %w", id, chassis.ErrNotFound)
		} else if err != nil {
			return err
		}
		if next[cur] != in.Status {
			return fmt.Errorf("notification %s: %w: cannot go from %s to %s", id, chassis.ErrConflict, cur, in.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE dispatches SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
			chassis.Tenant(ctx), id, in.Status); err != nil {
			return err
		}
		typ := map[string]string{"sent": "NotificationSent", "delivered": "DeliveryConfirmed"}[in.Status]
		return emit(ctx, tx, typ, id, map[string]any{"notification_id": id})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "status": in.Status}, nil
}

// onEvent turns domain events into notifications when the tenant has the matching template:
// UserRegistered → "welcome" to the user's e-mail, InvoiceGenerated → "invoice" to the user.
func (s *api) onEvent(ctx context.Context, tx pgx.Tx, e chassis.Event) error {
	var tname, recipient string
	var data map[string]any
	if err := e.DecodeData(&data); err != nil {
		return chassis.Permanent(err)
	}
	switch e.Type {
	case "UserRegistered":
		tname = "welcome"
		recipient, _ = data["email"].(string)
	case "InvoiceGenerated":
		tname = "invoice"
		recipient, _ = data["user_id"].(string)
	default:
		return nil
	}
	if recipient == "" {
		return chassis.Permanent(fmt.Errorf("%s %s: no recipient in the event", e.Type, e.ID))
	}
	_, err := dispatch(ctx, tx, tname, recipient, data)
	var invalid *chassis.ValidationError
	switch {
	case errors.Is(err, errNoTemplate):
		return nil // the tenant does not send this notification
	case errors.As(err, &invalid):
		// Retrying cannot fix the event's data or the tenant's template: an operator's case.
		return chassis.Permanent(fmt.Errorf("%s %s: %w", e.Type, e.ID, err))
	}
	return err
}
