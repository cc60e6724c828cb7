package chassis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// DeadLetter is an event a consumer gave up on, as ListDeadLetters shows it.
type DeadLetter struct {
	Consumer    string    `json:"consumer"` // the consumer's Name within the service
	EventID     string    `json:"event_id"`
	Topic       string    `json:"topic"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
	Attempts    int       `json:"attempts"`
	Error       string    `json:"error"`
	ReplayError string    `json:"replay_error,omitempty"`
	At          time.Time `json:"dead_lettered_at"`
	Payload     string    `json:"payload"`
}

// ListDeadLetters returns up to limit dead letters of the service's consumers, oldest first;
// consumer "" means all of them.
func (a *App) ListDeadLetters(ctx context.Context, consumer string, limit int) ([]DeadLetter, error) {
	rows, err := a.DB.Query(ctx, `SELECT consumer, event_id::text, topic, kafka_partition, kafka_offset, attempts, error,
			coalesce(replay_error, ''), created_at, payload
		FROM dead_letters WHERE ($1 = '' OR consumer = $1) ORDER BY created_at, consumer, event_id LIMIT $2`,
		a.group(consumer), limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		var payload []byte
		err := row.Scan(&d.Consumer, &d.EventID, &d.Topic, &d.Partition, &d.Offset, &d.Attempts, &d.Error, &d.ReplayError, &d.At, &payload)
		d.Consumer = strings.TrimPrefix(d.Consumer, a.Config.Service+".")
		d.Payload = string(payload)
		return d, err
	})
	if out == nil {
		out = []DeadLetter{}
	}
	return out, err
}

func (a *App) group(consumer string) string {
	if consumer == "" {
		return ""
	}
	return a.Config.Service + "." + consumer
}

// ErrReplayFailed is a replay whose handler failed again; the dead letter stays, with the new error.
var ErrReplayFailed = errors.New("replay failed")

// ReplayDeadLetter applies dead letter (consumer, eventID) with the consumer's handler, now,
// exactly once: the effect, the processed-event row and the removal of the dead letter commit
// together. An event applied meanwhile (redelivered and successful) is only removed. When the
// handler fails again the dead letter stays and records the error (ErrReplayFailed).
func (a *App) ReplayDeadLetter(ctx context.Context, consumer, eventID string) (Outcome, error) {
	var c *Consumer
	for i := range a.Consumers {
		if a.Consumers[i].Name == consumer {
			c = &a.Consumers[i]
		}
	}
	id, err := uuid.Parse(eventID)
	if c == nil || err != nil {
		return "", fmt.Errorf("dead letter %s/%s: %w", consumer, eventID, ErrNotFound)
	}
	group := a.group(consumer)
	var out Outcome
	var cause error
	err = InTx(ctx, a.DB, func(tx pgx.Tx) error {
		var payload []byte
		err := tx.QueryRow(ctx, `SELECT payload FROM dead_letters WHERE consumer = $1 AND event_id = $2 FOR UPDATE`, group, id).Scan(&payload)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("dead letter %s/%s: %w", consumer, eventID, ErrNotFound)
		} else if err != nil {
			return err
		}
		e, err := DecodeEvent(payload)
		if err != nil {
			cause = err
			return fmt.Errorf("dead letter %s/%s: %w: the payload is not an event: %v", consumer, eventID, ErrReplayFailed, err)
		}
		if _, err := tx.Exec(ctx, `SAVEPOINT replay`); err != nil {
			return err
		}
		if out, err = applyTx(ctx, tx, group, c.Handle, e); err != nil {
			if DatabaseUnavailable(err) {
				return err
			}
			cause = err
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT replay`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE dead_letters SET replay_error = $3, attempts = attempts + 1 WHERE consumer = $1 AND event_id = $2`,
				group, id, cause.Error())
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM dead_letters WHERE consumer = $1 AND event_id = $2`, group, id)
		return err
	})
	if err == nil && cause != nil {
		return "", fmt.Errorf("dead letter %s/%s: %w: %v", consumer, eventID, ErrReplayFailed, cause)
	}
	return out, err
}

// deadLetterRoutes serves the operators' view of the dead letters:
//
//	GET  /admin/dead-letters?consumer=NAME&limit=N          list (limit 1-1000, default 100)
//	POST /admin/dead-letters/{consumer}/{event_id}/replay    replay one
//
// Both need the platform-operator role (RequirePlatformOperator).
func (a *App) deadLetterRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/dead-letters", RequirePlatformOperator(Handler(func(r *http.Request) (int, any, error) {
		q := r.URL.Query()
		limit := 100
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return 0, nil, Problems{"limit": "an integer from 1 to 1000"}.Err()
			}
			limit = n
		}
		consumer := q.Get("consumer")
		if consumer != "" && !a.hasConsumer(consumer) {
			return 0, nil, fmt.Errorf("consumer %q: %w", consumer, ErrNotFound)
		}
		list, err := a.ListDeadLetters(r.Context(), consumer, limit)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"dead_letters": list}, nil
	})))
	mux.Handle("POST /admin/dead-letters/{consumer}/{event}/replay", RequirePlatformOperator(Handler(func(r *http.Request) (int, any, error) {
		out, err := a.ReplayDeadLetter(r.Context(), r.PathValue("consumer"), r.PathValue("event"))
		if errors.Is(err, ErrReplayFailed) {
			return http.StatusConflict, map[string]any{"error": err.Error()}, nil
		} else if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]any{"outcome": out}, nil
	})))
}

func (a *App) hasConsumer(name string) bool {
	for _, c := range a.Consumers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// replayCLI is `<service> dead-letters list [consumer]` and `<service> dead-letters replay
// <consumer> <event-id>`, run in a service's pod (kubectl exec): whoever may exec into the pod may
// already read its database, so Kubernetes RBAC is the guard.
func replayCLI(ctx context.Context, a *App, args []string, out func(any)) error {
	switch {
	case len(args) >= 1 && len(args) <= 2 && args[0] == "list":
		consumer := ""
		if len(args) == 2 {
			consumer = args[1]
		}
		list, err := a.ListDeadLetters(ctx, consumer, 1000)
		if err != nil {
			return err
		}
		out(list)
		return nil
	case len(args) == 3 && args[0] == "replay":
		o, err := a.ReplayDeadLetter(ctx, args[1], args[2])
		if err != nil {
			return err
		}
		out(map[string]any{"consumer": args[1], "event_id": args[2], "outcome": o})
		return nil
	}
	return errors.New("usage: dead-letters list [consumer] | dead-letters replay <consumer> <event-id>")
}
