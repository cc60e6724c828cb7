package chassis

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProgressTopic is the single-partition topic where service's relay records, in the same Kafka
// transaction as each batch of events, which outbox rows that batch carried.
func ProgressTopic(service string) string { return service + ".outbox-relay" }

// EventsTopic is the topic a service publishes its domain events to.
func EventsTopic(service string) string { return service + ".events" }

// Relay publishes the outbox to Kafka. Delivery is at-least-once toward Kafka and exactly-once
// as read_committed consumers see it: each batch goes out in a Kafka transaction together with a
// progress record naming its outbox rows, and a relay that starts (after a crash between the
// Kafka commit and the database mark, say) first reads the last progress record and marks those
// rows, so it never publishes them again. One relay per service runs at a time (a PostgreSQL
// advisory lock); the transactional ID fences a stale one out of Kafka.
type Relay struct {
	pool     *pgxpool.Pool
	brokers  []string
	service  string
	interval time.Duration
	batch    int
	log      *slog.Logger
	metrics  *Metrics
	kafkaOpt []kgo.Opt

	// afterCommit runs between the Kafka commit and the database mark; tests use it to crash
	// the relay at the worst moment.
	afterCommit func() error
}

// NewRelay returns the relay of cfg.Service. Extra kgo options (TLS, SASL) may be passed.
func NewRelay(pool *pgxpool.Pool, cfg Config, log *slog.Logger, m *Metrics, opts ...kgo.Opt) *Relay {
	return &Relay{pool: pool, brokers: cfg.KafkaBrokers, service: cfg.Service, interval: cfg.RelayInterval,
		batch: 100, log: log.With("component", "outbox-relay"), metrics: m, kafkaOpt: opts}
}

type progress struct {
	IDs      []int64 `json:"ids,omitempty"`
	Sentinel string  `json:"sentinel,omitempty"`
}

// Run publishes until ctx ends. A failed round (database or Kafka down) is logged and retried
// with backoff from the start, recovery included.
func (r *Relay) Run(ctx context.Context) error {
	wait := r.interval
	for {
		err := r.lead(ctx)
		if ctx.Err() != nil {
			return nil
		}
		r.metrics.relayErrors.Inc()
		r.log.Warn("relay round failed; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// lead takes the relay lock and publishes while it holds it.
func (r *Relay) lead(ctx context.Context) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("relay lock: %w", err)
	}
	// Closing the session releases the advisory lock even if unlocking would fail; the pool
	// drops a closed connection instead of reusing it.
	defer func() { _ = conn.Conn().Close(context.WithoutCancel(ctx)); conn.Release() }()
	for {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('groundwork.outbox-relay'))`).Scan(&ok); err != nil {
			return fmt.Errorf("relay lock: %w", err)
		}
		if ok {
			break
		}
		select { // another replica is publishing; stand by
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * r.interval):
		}
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(r.brokers...),
		kgo.TransactionalID(r.service + "-outbox-relay"), kgo.TransactionTimeout(30 * time.Second), kgo.RetryTimeout(10 * time.Second),
		kgo.ProducerLinger(0)}, r.kafkaOpt...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("relay producer: %w", err)
	}
	defer cl.Close()
	// Fail fast (wrong credentials, no broker): BeginTransaction would wait out the producer ID
	// retries without looking at ctx.
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if err := r.recover(ctx, cl); err != nil {
		return err
	}
	wait := r.interval
	for {
		n, err := r.publishBatch(ctx, cl)
		if err != nil {
			return err
		}
		if n == r.batch {
			continue
		}
		if _, err := conn.Exec(ctx, `SELECT 1`); err != nil { // still holding the lock?
			return fmt.Errorf("relay lock: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// publishBatch publishes up to r.batch pending rows in one Kafka transaction and marks them.
func (r *Relay) publishBatch(ctx context.Context, cl *kgo.Client) (int, error) {
	rows, err := r.pool.Query(ctx, `SELECT id, topic, event_key, event_type, tenant_id, event_id::text, payload
		FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1`, r.batch)
	if err != nil {
		return 0, fmt.Errorf("outbox read: %w", err)
	}
	var ids []int64
	var recs []*kgo.Record
	for rows.Next() {
		var id int64
		var topic, key, typ, tenant, eventID string
		var payload []byte
		if err := rows.Scan(&id, &topic, &key, &typ, &tenant, &eventID, &payload); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox read: %w", err)
		}
		ids = append(ids, id)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: payload, Headers: []kgo.RecordHeader{
			{Key: "event_id", Value: []byte(eventID)}, {Key: "event_type", Value: []byte(typ)}, {Key: "tenant_id", Value: []byte(tenant)},
		}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox read: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	mark, _ := json.Marshal(progress{IDs: ids})
	recs = append(recs, &kgo.Record{Topic: ProgressTopic(r.service), Key: []byte("batch"), Value: mark})
	if err := r.transact(ctx, cl, recs); err != nil {
		return 0, err
	}
	if r.afterCommit != nil {
		if err := r.afterCommit(); err != nil {
			return 0, err
		}
	}
	if err := r.markPublished(ctx, ids); err != nil {
		return 0, err
	}
	r.metrics.outboxPublished.Add(float64(len(ids)))
	return len(ids), nil
}

func (r *Relay) transact(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka begin transaction: %w", err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		// Best effort: the next relay's producer aborts a transaction left open anyway.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_ = cl.EndTransaction(actx, kgo.TryAbort)
		cancel()
		return fmt.Errorf("kafka produce: %w", err)
	}
	// Not ctx: cancelling an in-flight EndTxn leaves its outcome unknown.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := cl.EndTransaction(ectx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka commit: %w", err)
	}
	return nil
}

func (r *Relay) markPublished(ctx context.Context, ids []int64) error {
	if _, err := r.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL`, ids); err != nil {
		return fmt.Errorf("outbox mark: %w", err)
	}
	return nil
}

// recover marks the rows of the last batch committed to Kafka. It commits a sentinel record
// first and reads the progress topic up to it, so it knows it has seen every committed batch:
// the last batch before the sentinel is the only one that can be committed but unmarked, since
// batches are published one at a time and marked before the next.
func (r *Relay) recover(ctx context.Context, cl *kgo.Client) error {
	nonce := randomHex(16)
	sentinel, _ := json.Marshal(progress{Sentinel: nonce})
	topic := ProgressTopic(r.service)
	if err := r.transact(ctx, cl, []*kgo.Record{{Topic: topic, Key: []byte("sentinel"), Value: sentinel}}); err != nil {
		return fmt.Errorf("relay recovery: %w", err)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(r.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtEnd().Relative(-1000)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted())}, r.kafkaOpt...)
	rd, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("relay recovery: %w", err)
	}
	defer rd.Close()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last []int64
	for {
		fetches := rd.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return fmt.Errorf("relay recovery: sentinel not read back from %s: %w", topic, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("relay recovery: reading %s: %w", topic, errs[0].Err)
		}
		seen := false
		fetches.EachRecord(func(rec *kgo.Record) {
			var p progress
			if seen || json.Unmarshal(rec.Value, &p) != nil {
				return
			}
			if p.Sentinel == nonce {
				seen = true
			} else if len(p.IDs) > 0 {
				last = p.IDs
			}
		})
		if seen {
			break
		}
	}
	if len(last) == 0 {
		return nil
	}
	if err := r.markPublished(ctx, last); err != nil {
		return fmt.Errorf("relay recovery: %w", err)
	}
	r.log.Info("relay recovered the last committed batch", "events", len(last))
	return nil
}
