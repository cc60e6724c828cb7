package chassis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services/chassis/chassistest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var itemsMigration = fstest.MapFS{"001_items.sql": {Data: []byte(
	`CREATE TABLE items (id text PRIMARY KEY, tenant_id text NOT NULL, applied int NOT NULL DEFAULT 0);`)}}

func testPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := Connect(ctx, url, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(ctx, pool, "svc", itemsMigration); err != nil {
		t.Fatal(err)
	}
	return pool
}

// createItem is a command: the row and its ItemCreated event commit together.
func createItem(t *testing.T, pool *pgxpool.Pool, id string) string {
	t.Helper()
	ev, err := NewEvent("svc.events", "ItemCreated", "acme", id, map[string]string{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	err = InTx(context.Background(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `INSERT INTO items (id, tenant_id) VALUES ($1, 'acme')`, id); err != nil {
			return err
		}
		return Enqueue(context.Background(), tx, "svc", ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev.ID
}

func pending(t *testing.T, pool *pgxpool.Pool) int {
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readAll returns the event IDs on topic as a read_committed consumer sees them, in order.
func readAll(t *testing.T, broker, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var ids []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Read until want events arrived, then one more second to catch any duplicate.
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			e, err := DecodeEvent(r.Value)
			if err != nil {
				t.Errorf("record at %d is not an event: %v", r.Offset, err)
				return
			}
			ids = append(ids, e.ID)
		})
		if len(ids) >= want {
			c2, cancel2 := context.WithTimeout(context.Background(), time.Second)
			cl.PollFetches(c2).EachRecord(func(r *kgo.Record) {
				e, _ := DecodeEvent(r.Value)
				ids = append(ids, e.ID)
			})
			cancel2()
			break
		}
	}
	return ids
}

func TestRelayPublishesEachEventExactlyOnceAcrossACrashBetweenPublishAndMark(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	broker := chassistest.Kafka(t, 3, "svc.events", "svc.outbox-relay")
	cfg := Config{Service: "svc", KafkaBrokers: []string{broker}, RelayInterval: 20 * time.Millisecond}

	var want []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		want = append(want, createItem(t, pool, id))
	}

	crash := errors.New("relay process killed")
	first := NewRelay(pool, cfg, quiet, NewMetrics())
	first.afterCommit = func() error { return crash }
	if err := first.lead(context.Background()); !errors.Is(err, crash) {
		t.Fatalf("first relay: got %v, want the simulated crash", err)
	}
	if n := pending(t, pool); n != 5 {
		t.Fatalf("after the crash %d events are unmarked, want all 5 (committed to Kafka, not marked)", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	m := NewMetrics()
	go func() { done <- NewRelay(pool, cfg, quiet, m).Run(ctx) }()
	eventually(t, 10*time.Second, "restarted relay marks the crashed batch", func() bool { return pending(t, pool) == 0 })
	for _, id := range []string{"f", "g"} {
		want = append(want, createItem(t, pool, id))
	}
	eventually(t, 10*time.Second, "new events published", func() bool { return pending(t, pool) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	got := readAll(t, broker, "svc.events", len(want))
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	for _, id := range want {
		if count[id] != 1 {
			t.Errorf("event %s published %d times, want exactly once", id, count[id])
		}
	}
	if len(got) != len(want) {
		t.Errorf("topic holds %d events, want %d", len(got), len(want))
	}
	if v := counterValue(t, m.outboxPublished); v != 2 {
		t.Errorf("restarted relay published %v events, want only the 2 new ones", v)
	}
}

func TestRelayKeepsEventsWhileKafkaIsDownAndPublishesAfter(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	cfg := Config{Service: "svc", KafkaBrokers: []string{"127.0.0.1:1"}, RelayInterval: 20 * time.Millisecond}
	createItem(t, pool, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_ = NewRelay(pool, cfg, quiet, NewMetrics(), kgo.RetryTimeout(200*time.Millisecond), kgo.DialTimeout(100*time.Millisecond)).Run(ctx)
	if n := pending(t, pool); n != 1 {
		t.Fatalf("with Kafka unreachable %d events pending, want 1 kept in the outbox", n)
	}
	broker := chassistest.Kafka(t, 1, "svc.events", "svc.outbox-relay")
	cfg.KafkaBrokers = []string{broker}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { _ = NewRelay(pool, cfg, quiet, NewMetrics()).Run(ctx2) }()
	eventually(t, 10*time.Second, "event published once Kafka is back", func() bool { return pending(t, pool) == 0 })
	if got := readAll(t, broker, "svc.events", 1); len(got) != 1 {
		t.Fatalf("got %d events, want 1", len(got))
	}
}

func TestConsumerAppliesARedeliveredEventOnce(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	broker := chassistest.Kafka(t, 2, "src.events")
	if _, err := pool.Exec(context.Background(), `INSERT INTO items (id, tenant_id) VALUES ('counter', 'acme')`); err != nil {
		t.Fatal(err)
	}
	handle := func(ctx context.Context, tx pgx.Tx, e Event) error {
		_, err := tx.Exec(ctx, `UPDATE items SET applied = applied + 1 WHERE id = 'counter'`)
		return err
	}
	one, _ := NewEvent("src.events", "ItemCreated", "acme", "k1", map[string]int{"n": 1})
	two, _ := NewEvent("src.events", "ItemCreated", "acme", "k2", map[string]int{"n": 2})
	pl, _ := kgo.NewClient(kgo.SeedBrokers(broker))
	defer pl.Close()
	var recs []*kgo.Record
	for _, e := range []Event{one, two, one, one} { // one is delivered three times
		v, _ := e.envelope()
		recs = append(recs, &kgo.Record{Topic: "src.events", Key: []byte(e.Key), Value: v})
	}
	if err := pl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	m := NewMetrics()
	cfg := Config{Service: "svc", KafkaBrokers: []string{broker}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runConsumer(ctx, pool, cfg, Consumer{Name: "count", Topics: []string{"src.events"}, Handle: handle}, quiet, m)
	}()
	eventually(t, 10*time.Second, "4 deliveries handled", func() bool {
		return counterValue(t, m.consumed.WithLabelValues("svc.count", "applied"))+
			counterValue(t, m.consumed.WithLabelValues("svc.count", "duplicate")) == 4
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := pool.QueryRow(context.Background(), `SELECT applied FROM items WHERE id = 'counter'`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 2 {
		t.Fatalf("2 distinct events delivered 4 times were applied %d times, want 2", applied)
	}
	if d := counterValue(t, m.consumed.WithLabelValues("svc.count", "duplicate")); d != 2 {
		t.Fatalf("%v deliveries recognised as duplicates, want 2", d)
	}
}

// testEnv gives services under test a JWKS URL; these tests call public routes only, so it is
// never fetched.
func testEnv(k string) string {
	if k == "JWKS_URL" {
		return "http://127.0.0.1:1/.well-known/jwks.json"
	}
	return ""
}

func TestReadinessFailsWhileTheDatabaseIsDownAndRecoversAfter(t *testing.T) {
	db := chassistest.Database(t)
	proxy := chassistest.NewProxy(t, chassistest.Host(t, db))
	cfg := Config{Service: "svc", DatabaseURL: proxy.Through(t, db), KafkaBrokers: []string{"127.0.0.1:1"}}
	svc := Service{Name: "svc", Migrations: itemsMigration,
		Setup: func(*App, func(string) string, *http.ServeMux) ([]Consumer, error) { return nil, nil }}
	a, err := New(context.Background(), svc, cfg, testEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	status := func(path string) int {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("/readyz"); s != http.StatusOK {
		t.Fatalf("readyz with the database up: %d, want 200", s)
	}
	proxy.Cut()
	eventually(t, 5*time.Second, "readyz 503 while the database is down", func() bool { return status("/readyz") == http.StatusServiceUnavailable })
	if s := status("/healthz"); s != http.StatusOK {
		t.Fatalf("healthz while the database is down: %d, want 200 (liveness must not restart the pod)", s)
	}
	proxy.Restore()
	eventually(t, 10*time.Second, "readyz 200 after the database is back", func() bool { return status("/readyz") == http.StatusOK })
}

func TestShutdownFinishesInFlightRequestsAndTurnsUnreadyFirst(t *testing.T) {
	db := chassistest.Database(t)
	started := make(chan struct{})
	svc := Service{Name: "svc", Public: []string{"GET /slow"}, Setup: func(_ *App, _ func(string) string, mux *http.ServeMux) ([]Consumer, error) {
		mux.Handle("GET /slow", Handler(func(*http.Request) (int, any, error) {
			close(started)
			time.Sleep(700 * time.Millisecond)
			return http.StatusOK, map[string]string{"done": "yes"}, nil
		}))
		return nil, nil
	}}
	cfg := Config{Service: "svc", DatabaseURL: db, KafkaBrokers: []string{"127.0.0.1:1"},
		DrainDelay: 300 * time.Millisecond, ShutdownTimeout: 5 * time.Second, RelayInterval: time.Second}
	a, err := New(context.Background(), svc, cfg, testEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln, nil) }()

	slow := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	<-started
	cancel() // SIGTERM
	time.Sleep(100 * time.Millisecond)
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("readyz during the drain delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %d, want 503", resp.StatusCode)
	}
	if code := <-slow; code != http.StatusOK {
		t.Fatalf("in-flight request got %d, want 200", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestHousekeepingPrunesPastRetentionAndReportsTheBacklog(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	ctx := context.Background()
	createItem(t, pool, "old")
	createItem(t, pool, "recent")
	createItem(t, pool, "pending")
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	exec(`UPDATE outbox SET published_at = $1 WHERE event_key = 'old'`, now.Add(-OutboxRetention-time.Hour))
	exec(`UPDATE outbox SET published_at = $1 WHERE event_key = 'recent'`, now.Add(-time.Hour))
	exec(`INSERT INTO processed_events (consumer, event_id, processed_at) VALUES
		('c', gen_random_uuid(), $1), ('c', gen_random_uuid(), $2)`, now.Add(-ProcessedRetention-time.Hour), now)

	m := NewMetrics()
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { housekeeping(hctx, pool, m, quiet, time.Hour); close(done) }()
	eventually(t, 5*time.Second, "pruned", func() bool {
		var outbox, processed int
		_ = pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM processed_events)`).Scan(&outbox, &processed)
		return outbox == 2 && processed == 1
	})
	cancel()
	<-done
	rows, err := pool.Query(ctx, `SELECT event_key FROM outbox ORDER BY event_key`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(keys, ",") != "pending,recent" {
		t.Fatalf("outbox keeps %v (%v), want the pending and the recent event", keys, err)
	}
	if v := gaugeValue(t, m.outboxPending); v != 1 {
		t.Fatalf("outbox_events_pending %v, want 1", v)
	}
}

func TestWritesAnswer503WithRetryAfterWhileTheDatabaseIsDown(t *testing.T) {
	db := chassistest.Database(t)
	proxy := chassistest.NewProxy(t, chassistest.Host(t, db))
	cfg := Config{Service: "svc", DatabaseURL: proxy.Through(t, db), KafkaBrokers: []string{"127.0.0.1:1"}, RequestTimeout: time.Second}
	svc := Service{Name: "svc", Migrations: itemsMigration, Public: []string{"POST /items/{id}"}, Setup: func(a *App, _ func(string) string, mux *http.ServeMux) ([]Consumer, error) {
		mux.Handle("POST /items/{id}", Handler(func(r *http.Request) (int, any, error) {
			err := InTx(r.Context(), a.DB, func(tx pgx.Tx) error {
				_, err := tx.Exec(r.Context(), `INSERT INTO items (id, tenant_id) VALUES ($1, 'acme')`, r.PathValue("id"))
				return err
			})
			return http.StatusCreated, nil, err
		}))
		return nil, nil
	}}
	a, err := New(context.Background(), svc, cfg, testEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	post := func(id string) (int, string) {
		resp, err := http.Post(srv.URL+"/items/"+id, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if code, _ := post("before"); code != http.StatusCreated {
		t.Fatalf("with the database up: %d, want 201", code)
	}
	proxy.Cut()
	// The first write after the cut meets a broken pooled connection, later ones a refused dial:
	// both are an outage.
	for i := range 3 {
		if code, retry := post(fmt.Sprint("during-", i)); code != http.StatusServiceUnavailable || retry != "5" {
			t.Fatalf("write %d while the database is down: %d Retry-After %q, want 503 with Retry-After 5", i, code, retry)
		}
	}
	proxy.Restore()
	eventually(t, 10*time.Second, "writes succeed once the database is back", func() bool { code, _ := post(randomHex(4)); return code == http.StatusCreated })
}

// The case: a NUL passed validation and failed in PostgreSQL (500). It is refused with
// 400 by DecodeJSON, for every service, before any row is written; what PostgreSQL would have
// said is shown for contrast.
func TestNULIsRefusedBeforeItReachesPostgreSQL(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	if _, err := pool.Exec(context.Background(), `INSERT INTO items (id, tenant_id) VALUES ($1, 'acme')`, "a\x00b"); err == nil {
		t.Fatal("PostgreSQL stored a NUL: the premise of this test is wrong")
	}
	h := middleware(quiet, NewMetrics(), time.Second, Handler(func(r *http.Request) (int, any, error) {
		var in struct {
			ID string `json:"id"`
		}
		if err := DecodeJSON(r, &in); err != nil {
			return 0, nil, err
		}
		_, err := pool.Exec(r.Context(), `INSERT INTO items (id, tenant_id) VALUES ($1, 'acme')`, in.ID)
		return http.StatusCreated, nil, err
	}))
	for _, body := range []string{`{"id":"a\u0000b"}`, `{"id":"\u202eexe.pdf"}`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/items", strings.NewReader(body)))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"id"`) {
			t.Fatalf("%s: %d %s, want 400 naming the field", body, rec.Code, rec.Body.String())
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM items`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows (%v), want none", n, err)
	}
}
