package chassis

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Retention of the chassis tables. processed_events must outlive any redelivery, so it is kept
// well beyond Kafka's default 7-day retention; published outbox rows are only kept for audit.
const (
	OutboxRetention    = 7 * 24 * time.Hour
	ProcessedRetention = 30 * 24 * time.Hour
)

// housekeeping reports the outbox backlog, the age of its oldest event and the dead letters every tick, whether or not Kafka is reachable (that
// is when the backlog matters), and prunes rows past their retention once a minute.
func housekeeping(ctx context.Context, pool *pgxpool.Pool, m *Metrics, log *slog.Logger, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastPrune time.Time
	for {
		var n int64
		var oldest float64
		if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
			FROM outbox WHERE published_at IS NULL`).Scan(&n, &oldest); err == nil {
			m.outboxPending.Set(float64(n))
			m.outboxOldest.Set(oldest)
		}
		reportDeadLetters(ctx, pool, m)
		if time.Since(lastPrune) >= time.Minute {
			if err := prune(ctx, pool, time.Now()); err != nil && ctx.Err() == nil {
				log.Warn("pruning chassis tables failed", "err", err)
			}
			lastPrune = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reportDeadLetters sets the dead-letter count of every consumer that has any; a consumer whose
// dead letters an operator cleared drops out.
func reportDeadLetters(ctx context.Context, pool *pgxpool.Pool, m *Metrics) {
	rows, err := pool.Query(ctx, `SELECT consumer, count(*) FROM dead_letters GROUP BY consumer`)
	if err != nil {
		return
	}
	counts := map[string]float64{}
	for rows.Next() {
		var consumer string
		var n int64
		if rows.Scan(&consumer, &n) == nil {
			counts[consumer] = float64(n)
		}
	}
	rows.Close()
	if rows.Err() != nil {
		return
	}
	m.deadLetters.Reset()
	for c, n := range counts {
		m.deadLetters.WithLabelValues(c).Set(n)
	}
}

// prune deletes published outbox rows, processed-event records and callback receipts past their
// retention.
func prune(ctx context.Context, pool *pgxpool.Pool, now time.Time) error {
	if _, err := pool.Exec(ctx, `DELETE FROM outbox WHERE published_at < $1`, now.Add(-OutboxRetention)); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `DELETE FROM processed_events WHERE processed_at < $1`, now.Add(-ProcessedRetention)); err != nil {
		return err
	}
	_, err := pool.Exec(ctx, `DELETE FROM callback_receipts WHERE created_at < $1`, now.Add(-CallbackReceiptRetention))
	return err
}
