package chassis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Event is a domain event as commands record it and Kafka carries it. On Kafka the value is the
// JSON of Event (the envelope) and the record key is Key, so the events of one aggregate keep
// their order on one partition.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Source     string          `json:"source"`
	TenantID   string          `json:"tenant_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
	Topic      string          `json:"-"`
	Key        string          `json:"-"`
}

var eventType = regexp.MustCompile(`^[A-Z][A-Za-z]+$`)

// NewEvent builds an event of type typ (PascalCase, as named in the domain model) about the
// aggregate key, for tenant, with data marshalled to JSON.
func NewEvent(topic, typ, tenant, key string, data any) (Event, error) {
	if !eventType.MatchString(typ) || topic == "" || key == "" {
		return Event{}, fmt.Errorf("event: type %q, topic %q and key %q must all be set (type in PascalCase)", typ, topic, key)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", typ, err)
	}
	return Event{ID: uuid.NewString(), Type: typ, TenantID: tenant, OccurredAt: time.Now().UTC(),
		Data: b, Topic: topic, Key: key}, nil
}

// Enqueue writes events to the outbox inside tx, the transaction of the command that caused
// them: the state change and its events commit together or not at all.
func Enqueue(ctx context.Context, tx pgx.Tx, source string, events ...Event) error {
	for _, e := range events {
		e.Source = source
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, topic, event_key, event_type, tenant_id, payload)
			VALUES ($1, $2, $3, $4, $5, $6)`, e.ID, e.Topic, e.Key, e.Type, e.TenantID, payload); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// DecodeEvent reads the envelope of a Kafka record value.
func DecodeEvent(value []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(value, &e); err != nil {
		return Event{}, fmt.Errorf("event envelope: %w", err)
	}
	if _, err := uuid.Parse(e.ID); err != nil {
		return Event{}, errors.New("event envelope: id is not a UUID")
	}
	if e.Type == "" {
		return Event{}, errors.New("event envelope: type is empty")
	}
	return e, nil
}

// DecodeData unmarshals the event's data into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s %s: data: %w", e.Type, e.ID, err)
	}
	return nil
}
