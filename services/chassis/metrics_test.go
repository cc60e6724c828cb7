package chassis

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services/chassis/chassistest"
)

func TestNamesListEveryFamilyTheRegistryServes(t *testing.T) {
	m := NewMetrics()
	// Give every vector a child so that Gather returns it too.
	m.observe("GET", "/v1/x", "200", time.Millisecond)
	m.consumed.WithLabelValues("svc.c", "applied").Inc()
	m.deadLetters.WithLabelValues("svc.c").Set(1)
	m.consumerLag.WithLabelValues("svc.c", "t", "0").Set(1)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := m.Names()
	for _, f := range families {
		if !slices.Contains(names, f.GetName()) {
			t.Errorf("the registry serves %s, which Names does not list", f.GetName())
		}
	}
	for _, want := range []string{"outbox_events_pending", "outbox_oldest_pending_age_seconds", "dead_letter_events", "kafka_consumer_lag", "http_request_duration_seconds"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names lacks %s", want)
		}
	}
}

func lagValue(t *testing.T, m *Metrics, consumer, topic, partition string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.consumerLag.WithLabelValues(consumer, topic, partition).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetGauge().GetValue()
}

func TestConsumerLagCountsWhatIsNotAppliedYet(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	broker := chassistest.Kafka(t, 1, "src.events")
	pl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var recs []*kgo.Record
	for i := range 5 {
		e, _ := NewEvent("src.events", "ItemCreated", "acme", "k", map[string]int{"n": i})
		v, _ := e.envelope()
		recs = append(recs, &kgo.Record{Topic: "src.events", Key: []byte("k"), Value: v})
	}
	if err := pl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	handle := func(ctx context.Context, _ pgx.Tx, _ Event) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m := NewMetrics()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runConsumer(ctx, pool, Config{Service: "svc", KafkaBrokers: []string{broker}}, Consumer{Name: "lag", Topics: []string{"src.events"}, Handle: handle}, quiet, m)
	}()
	eventually(t, 10*time.Second, "five records waiting", func() bool { return lagValue(t, m, "svc.lag", "src.events", "0") == 5 })
	close(release)
	eventually(t, 10*time.Second, "no lag once applied", func() bool { return lagValue(t, m, "svc.lag", "src.events", "0") == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHousekeepingReportsTheOldestPendingEventAndDeadLetters(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	ctx := context.Background()
	createItem(t, pool, "late")
	createItem(t, pool, "fresh")
	for _, sql := range []string{
		`UPDATE outbox SET created_at = now() - interval '10 minutes' WHERE event_key = 'late'`,
		`INSERT INTO dead_letters (consumer, event_id, topic, payload, error) VALUES
			('svc.a', gen_random_uuid(), 't', '\x00', 'boom'), ('svc.a', gen_random_uuid(), 't', '\x00', 'boom'),
			('svc.b', gen_random_uuid(), 't', '\x00', 'boom')`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	m := NewMetrics()
	m.deadLetters.WithLabelValues("svc.cleared").Set(4) // an operator has since emptied it
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { housekeeping(hctx, pool, m, quiet, time.Hour); close(done) }()
	eventually(t, 5*time.Second, "backlog reported", func() bool { return gaugeValue(t, m.outboxPending) == 2 })
	cancel()
	<-done
	if age := gaugeValue(t, m.outboxOldest); age < 600 || age > 700 {
		t.Errorf("oldest pending age %vs, want about 600s", age)
	}
	want := map[string]float64{"svc.a": 2, "svc.b": 1}
	families, _ := m.Registry.Gather()
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() == "dead_letter_events" {
			for _, s := range f.GetMetric() {
				got[s.GetLabel()[0].GetValue()] = s.GetGauge().GetValue()
			}
		}
	}
	if len(got) != len(want) || got["svc.a"] != 2 || got["svc.b"] != 1 {
		t.Errorf("dead_letter_events %v, want %v", got, want)
	}
}

func TestPoolStatisticsAreExportedOnceWatched(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	m := NewMetrics()
	gathered := func() map[string]float64 {
		families, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range families {
			for _, s := range f.GetMetric() {
				key := f.GetName()
				for _, l := range s.GetLabel() {
					key += "/" + l.GetValue()
				}
				out[key] = s.GetGauge().GetValue() + s.GetCounter().GetValue()
			}
		}
		return out
	}
	if _, ok := gathered()["db_pool_max_connections"]; ok {
		t.Fatal("pool statistics before a pool is watched")
	}
	m.WatchPool(pool)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := gathered()
	conn.Release()
	if got["db_pool_connections/acquired"] != 1 || got["db_pool_max_connections"] != float64(pool.Config().MaxConns) || got["db_pool_acquires_total"] < 1 {
		t.Errorf("pool statistics %v: want 1 acquired of %d, at least one acquire", got, pool.Config().MaxConns)
	}
}
