package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/groundwork/groundwork/services/chassis"
)

type api struct{ app *chassis.App }

// MaxBatch is the most events one ingestion request may carry.
const MaxBatch = 500

var eventName = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)

// activityItem is one client event in POST /v1/events.
type activityItem struct {
	ID         uuid.UUID       `json:"id"` // client-chosen, so a retried batch is stored once
	Name       string          `json:"name"`
	UserID     *uuid.UUID      `json:"user_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Properties json.RawMessage `json:"properties"`
}

func validateBatch(items []activityItem, now time.Time) error {
	p := chassis.Problems{}
	p.Add(len(items) == 0 || len(items) > MaxBatch, "events", fmt.Sprintf("1 to %d events", MaxBatch))
	for i, it := range items {
		f := fmt.Sprintf("events[%d].", i)
		p.Add(it.ID == uuid.Nil, f+"id", "required UUID")
		p.Add(!eventName.MatchString(it.Name), f+"name", "lower-case letters, digits, '_' and '.', at most 64")
		p.Add(it.OccurredAt.IsZero() || it.OccurredAt.After(now.Add(5*time.Minute)) || it.OccurredAt.Before(now.AddDate(0, 0, -30)),
			f+"occurred_at", "an RFC 3339 time within the last 30 days")
		p.Add(len(it.Properties) > 4096, f+"properties", "at most 4 KiB")
		if len(it.Properties) > 0 {
			var obj map[string]any
			p.Add(json.Unmarshal(it.Properties, &obj) != nil, f+"properties", "a JSON object")
		}
	}
	return p.Err()
}

func (s *api) ingest(r *http.Request) (int, any, error) {
	var in struct {
		Events []activityItem `json:"events"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	if err := validateBatch(in.Events, time.Now()); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	for _, it := range in.Events { // a member records their own activity; others' needs users.manage
		if it.UserID != nil {
			if err := chassis.RequireSelfOr(ctx, it.UserID.String(), chassis.PermUsersManage); err != nil {
				return 0, nil, err
			}
		}
	}
	var stored int64
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, it := range in.Events {
			props := it.Properties
			if len(props) == 0 {
				props = json.RawMessage("{}")
			}
			batch.Queue(`INSERT INTO activity (tenant_id, id, name, user_id, source, occurred_at, properties)
				VALUES ($1, $2, $3, $4, 'client', $5, $6) ON CONFLICT DO NOTHING`, chassis.Tenant(ctx), it.ID, it.Name, it.UserID, it.OccurredAt, props)
		}
		br := tx.SendBatch(ctx, batch)
		for range in.Events {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			stored += tag.RowsAffected()
		}
		if err := br.Close(); err != nil {
			return err
		}
		if stored == 0 {
			return nil // a retried batch: nothing new, no event
		}
		// One event per batch, not per item: the outbox carries what others react to, not the raw stream.
		e, err := chassis.NewEvent(chassis.EventsTopic(name), "UserActivityRecorded", chassis.Tenant(ctx), chassis.Tenant(ctx),
			map[string]any{"count": stored})
		if err != nil {
			return err
		}
		return chassis.Enqueue(ctx, tx, name, e)
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]any{"received": len(in.Events), "stored": stored}, nil
}

// record stores another service's domain event as activity. Its event ID is the row ID, so even
// without the processed-event table a redelivery would be stored once.
func (s *api) record(ctx context.Context, tx pgx.Tx, e chassis.Event) error {
	if e.TenantID == "" {
		return nil // platform-level events belong to no tenant's report
	}
	var d struct {
		UserID *uuid.UUID `json:"user_id"`
	}
	_ = json.Unmarshal(e.Data, &d) // user_id is optional
	_, err := tx.Exec(ctx, `INSERT INTO activity (tenant_id, id, name, user_id, source, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, e.TenantID, e.ID, e.Type, d.UserID, e.Source, e.OccurredAt)
	return err
}

// reportRow is one line of a report: how often name happened on day.
type reportRow struct {
	Day   string `json:"day"`
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// generate computes and stores a report of activity between from and to (at most 92 days).
func (s *api) generate(r *http.Request) (int, any, error) {
	if err := chassis.Require(r.Context(), chassis.PermReportsRead); err != nil {
		return 0, nil, err
	}
	var in struct {
		From time.Time `json:"from"`
		To   time.Time `json:"to"`
	}
	if err := chassis.DecodeJSON(r, &in); err != nil {
		return 0, nil, err
	}
	p := chassis.Problems{}
	p.Add(in.From.IsZero(), "from", "required RFC 3339 time")
	p.Add(in.To.IsZero() || !in.To.After(in.From) || in.To.Sub(in.From) > 92*24*time.Hour, "to", "after from, at most 92 days later")
	if err := p.Err(); err != nil {
		return 0, nil, err
	}
	ctx, id := r.Context(), uuid.New()
	var rows []reportRow
	err := chassis.InTx(ctx, s.app.DB, func(tx pgx.Tx) error {
		res, err := tx.Query(ctx, `SELECT to_char(date_trunc('day', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), name, count(*)
			FROM activity WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
			GROUP BY 1, 2 ORDER BY 1, 2`, chassis.Tenant(ctx), in.From, in.To)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(res, func(row pgx.CollectableRow) (reportRow, error) {
			var v reportRow
			return v, row.Scan(&v.Day, &v.Name, &v.Count)
		})
		if err != nil {
			return err
		}
		if rows == nil {
			rows = []reportRow{}
		}
		body, _ := json.Marshal(rows)
		if _, err := tx.Exec(ctx, `INSERT INTO reports (tenant_id, id, from_time, to_time, rows) VALUES ($1, $2, $3, $4, $5)`,
			chassis.Tenant(ctx), id, in.From, in.To, body); err != nil {
			return err
		}
		e, err := chassis.NewEvent(chassis.EventsTopic(name), "ReportGenerated", chassis.Tenant(ctx), id.String(),
			map[string]any{"report_id": id, "from": in.From, "to": in.To, "rows": len(rows)})
		if err != nil {
			return err
		}
		return chassis.Enqueue(ctx, tx, name, e)
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"id": id, "from": in.From, "to": in.To, "rows": rows}, nil
}
