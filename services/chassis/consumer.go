package chassis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EventHandler applies one event inside tx, the transaction that also records the event as
// processed. It must only change the database through tx.
type EventHandler func(ctx context.Context, tx pgx.Tx, e Event) error

// Consumer subscribes a handler to topics. Name is unique within the service; the Kafka consumer
// group is "<service>.<name>".
type Consumer struct {
	Name   string
	Topics []string
	Handle EventHandler
}

// Outcome of applying one event.
type Outcome string

// Outcomes of Apply.
const (
	Applied      Outcome = "applied"
	Duplicate    Outcome = "duplicate"
	DeadLettered Outcome = "dead_lettered"
)

// Apply applies the event in value once: the processed-event row and the handler's effect
// commit in one transaction, so a redelivered event is recognised and skipped. A value that is
// not an event envelope is a permanent error (errPoison).
func Apply(ctx context.Context, pool *pgxpool.Pool, consumer string, h EventHandler, value []byte) (Outcome, error) {
	e, err := DecodeEvent(value)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errPoison, err)
	}
	out := Applied
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, consumer, e.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			out = Duplicate
			return nil
		}
		return h(WithTenant(ctx, e.TenantID), tx, e)
	})
	return out, err
}

var errPoison = errors.New("undecodable event")

func deadLetter(ctx context.Context, pool *pgxpool.Pool, consumer string, rec *kgo.Record, cause error) error {
	id := ""
	for _, h := range rec.Headers {
		if h.Key == "event_id" {
			id = string(h.Value)
		}
	}
	if e, err := DecodeEvent(rec.Value); err == nil {
		id = e.ID
	}
	if id == "" {
		id = "00000000-0000-0000-0000-000000000000"
	}
	return InTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO dead_letters (consumer, event_id, topic, payload, error) VALUES ($1, $2::uuid, $3, $4, $5)
			ON CONFLICT DO NOTHING`, consumer, id, rec.Topic, rec.Value, cause.Error())
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`, consumer, id)
		return err
	})
}

// runConsumer consumes until ctx ends, committing offsets only after the events are applied
// (at-least-once delivery, applied once through Apply). An event that fails 5 times, or cannot
// be decoded, goes to dead_letters; while even that fails (database down) the consumer waits
// and retries without moving on.
func runConsumer(ctx context.Context, pool *pgxpool.Pool, cfg Config, c Consumer, log *slog.Logger, m *Metrics, extra ...kgo.Opt) error {
	group := cfg.Service + "." + c.Name
	log = log.With("component", "consumer", "consumer", c.Name)
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.KafkaBrokers...), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(c.Topics...), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.OnPartitionsRevoked(m.forgetLag(group)), kgo.OnPartitionsLost(m.forgetLag(group))}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", c.Name, err)
	}
	defer cl.Close()
	defer cl.AllowRebalance() // Close leaves the group, which waits for a blocked rebalance
	for {
		fetches := cl.PollRecords(ctx, 100)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			log.Warn("fetch failed", "topic", t, "partition", p, "err", err)
		})
		recs := fetches.Records()
		m.observeLag(group, fetches, false)
		for _, rec := range recs {
			if !applyWithRetry(ctx, pool, group, c.Handle, rec, log, m) {
				return nil // ctx ended
			}
		}
		m.observeLag(group, fetches, true)
		if len(recs) > 0 {
			if err := cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
				log.Warn("offset commit failed; events may be redelivered and will be skipped", "err", err)
			}
		}
		cl.AllowRebalance()
	}
}

func applyWithRetry(ctx context.Context, pool *pgxpool.Pool, group string, h EventHandler, rec *kgo.Record, log *slog.Logger, m *Metrics) bool {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := Apply(ctx, pool, group, h, rec.Value)
		if err == nil {
			m.consumed.WithLabelValues(group, string(out)).Inc()
			return true
		}
		if errors.Is(err, errPoison) || attempt >= 5 {
			if dlErr := deadLetter(ctx, pool, group, rec, err); dlErr == nil {
				log.Error("event dead-lettered", "topic", rec.Topic, "offset", rec.Offset, "err", err)
				m.consumed.WithLabelValues(group, string(DeadLettered)).Inc()
				return true
			}
		}
		log.Warn("event not applied; retrying", "topic", rec.Topic, "offset", rec.Offset, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
