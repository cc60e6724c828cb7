package chassis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
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
	// RetryFor is how long a failing event is retried, with backoff, before it is dead-lettered;
	// 0 means DefaultRetryFor. Time the database is unreachable does not count: the event waits.
	RetryFor time.Duration
}

// DefaultRetryFor bounds the retries of an event whose handler keeps failing: long enough to
// ride out a peer's restart or a lock held by a long transaction.
const DefaultRetryFor = 2 * time.Minute

// Outcome of applying one event.
type Outcome string

// Outcomes of Apply.
const (
	Applied      Outcome = "applied"
	Duplicate    Outcome = "duplicate"
	DeadLettered Outcome = "dead_lettered"
)

var errPermanent = errors.New("permanent")

// Permanent marks err as a failure that retrying cannot fix (the event's data is unusable): the
// consumer dead-letters the event at once instead of retrying it.
func Permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// Apply applies the event in value once: the processed-event row and the handler's effect
// commit in one transaction, so a redelivered event is recognised and skipped. A value that is
// not an event envelope is a permanent error (errPoison).
func Apply(ctx context.Context, pool *pgxpool.Pool, consumer string, h EventHandler, value []byte) (Outcome, error) {
	e, err := DecodeEvent(value)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errPoison, err)
	}
	var out Outcome
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		out, err = applyTx(ctx, tx, consumer, h, e)
		return err
	})
	return out, err
}

func applyTx(ctx context.Context, tx pgx.Tx, consumer string, h EventHandler, e Event) (Outcome, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, consumer, e.ID)
	if err != nil {
		return "", err
	}
	if tag.RowsAffected() == 0 {
		return Duplicate, nil
	}
	// The handler acts for the event's tenant and no caller, also when an operator replays it.
	ctx = context.WithValue(ctx, principalKey{}, nil)
	return Applied, h(WithTenant(ctx, e.TenantID), tx, e)
}

var errPoison = errors.New("undecodable event")

// deadLetter keeps the event for an operator (ListDeadLetters, ReplayDeadLetter). It does not
// mark the event processed: a redelivery tries it again, and a replay applies it exactly once.
func deadLetter(ctx context.Context, pool *pgxpool.Pool, consumer string, rec *kgo.Record, attempts int, cause error) error {
	id := ""
	if e, err := DecodeEvent(rec.Value); err == nil {
		id = e.ID
	} else {
		// Undecodable: an ID of its own, stable across redeliveries of the same record.
		id = uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "kafka:%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)).String()
	}
	_, err := pool.Exec(ctx, `INSERT INTO dead_letters (consumer, event_id, topic, payload, error, attempts, kafka_partition, kafka_offset)
		VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (consumer, event_id) DO UPDATE SET error = EXCLUDED.error, attempts = dead_letters.attempts + EXCLUDED.attempts,
			created_at = now()`, consumer, id, rec.Topic, rec.Value, cause.Error(), attempts, rec.Partition, rec.Offset)
	return err
}

// runConsumer consumes until ctx ends, committing offsets only after the events are applied
// (at-least-once delivery, applied once through Apply). An event that keeps failing for the
// consumer's RetryFor, or cannot be decoded, goes to dead_letters; while even that fails
// (database down) the consumer waits and retries without moving on.
func runConsumer(ctx context.Context, pool *pgxpool.Pool, cfg Config, c Consumer, log *slog.Logger, m *Metrics, extra ...kgo.Opt) error {
	group := cfg.Service + "." + c.Name
	log = log.With("component", "consumer", "consumer", c.Name)
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.KafkaBrokers...), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(c.Topics...), kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A rebalance waits for the event in hand (BlockRebalanceOnPoll), which may be retried for
		// RetryFor: give it that long and more before the group drops this member.
		kgo.RebalanceTimeout(max(time.Minute, retryFor(c)+30*time.Second)),
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
			if !applyWithRetry(ctx, pool, group, c.Handle, retryFor(c), rec, log, m) {
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

func retryFor(c Consumer) time.Duration {
	if c.RetryFor <= 0 {
		return DefaultRetryFor
	}
	return c.RetryFor
}

// backoff is the wait before retry attempt n (1-based): 100ms doubling to 10s, with ±20% jitter
// so that replicas retrying together spread out.
func backoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(n-1, 7)
	d = min(d, 10*time.Second)
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// applyWithRetry applies rec, retrying failures with backoff. It returns true once the event is
// applied or dead-lettered, and false only when ctx ends first: the offset is then not committed
// and the event is redelivered. A permanent or undecodable event is dead-lettered at once, any
// other failure after retryFor of failing; while the database itself is unreachable the event is
// neither dead-lettered nor skipped, it waits.
func applyWithRetry(ctx context.Context, pool *pgxpool.Pool, group string, h EventHandler, retryFor time.Duration, rec *kgo.Record, log *slog.Logger, m *Metrics) bool {
	var failingSince time.Time // first failure that was not the database being away
	for attempt := 1; ; attempt++ {
		out, err := Apply(ctx, pool, group, h, rec.Value)
		if err == nil {
			m.consumed.WithLabelValues(group, string(out)).Inc()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !DatabaseUnavailable(err) && failingSince.IsZero() {
			failingSince = time.Now()
		}
		permanent := errors.Is(err, errPoison) || errors.Is(err, errPermanent)
		if permanent || (!failingSince.IsZero() && time.Since(failingSince) >= retryFor) {
			if dlErr := deadLetter(ctx, pool, group, rec, attempt, err); dlErr == nil {
				log.Error("event dead-lettered", "topic", rec.Topic, "offset", rec.Offset, "attempts", attempt, "err", err)
				m.consumed.WithLabelValues(group, string(DeadLettered)).Inc()
				return true
			} else {
				log.Warn("dead-lettering failed; retrying", "topic", rec.Topic, "offset", rec.Offset, "err", dlErr)
			}
		}
		log.Warn("event not applied; retrying", "topic", rec.Topic, "offset", rec.Offset, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff(attempt)):
		}
	}
}
