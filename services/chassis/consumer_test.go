package chassis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services/chassis/chassistest"
)

// counterHandler adds one to the item named by the event's key; fail decides, per call, whether
// it fails instead (a peer away, a lock held...).
func counterHandler(fail func() error) EventHandler {
	return func(ctx context.Context, tx pgx.Tx, e Event) error {
		if err := fail(); err != nil {
			return err
		}
		var d struct{ ID string }
		if err := e.DecodeData(&d); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO items (id, tenant_id, applied) VALUES ($1, $2, 1)
			ON CONFLICT (id) DO UPDATE SET applied = items.applied + 1`, d.ID, e.TenantID)
		return err
	}
}

func publish(t *testing.T, broker string, values ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "src.events", Key: []byte("k"), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func event(t *testing.T, key string) (Event, []byte) {
	t.Helper()
	e, err := NewEvent("src.events", "ItemCreated", "acme", key, map[string]string{"id": key})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.envelope()
	if err != nil {
		t.Fatal(err)
	}
	return e, v
}

func applied(t *testing.T, pool *pgxpool.Pool, id string) int {
	t.Helper()
	var n int
	err := pool.QueryRow(context.Background(), `SELECT coalesce((SELECT applied FROM items WHERE id = $1), 0)`, id).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// runFor runs consumer c of service "svc" on broker until the test ends.
func runFor(t *testing.T, pool *pgxpool.Pool, broker string, c Consumer, m *Metrics) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runConsumer(ctx, pool, Config{Service: "svc", KafkaBrokers: []string{broker}}, c, quiet, m)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// The case: a handler failing for about 2s used to be dead-lettered and its effect lost.
func TestConsumerRetriesATransientFailureUntilItIsApplied(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	broker := chassistest.Kafka(t, 1, "src.events")
	var healthyAt time.Time // 2.5s after the first attempt
	var calls atomic.Int32
	h := counterHandler(func() error {
		if calls.Add(1) == 1 {
			healthyAt = time.Now().Add(2500 * time.Millisecond)
		}
		if time.Now().Before(healthyAt) {
			return errors.New("peer unavailable")
		}
		return nil
	})
	_, v := event(t, "a")
	publish(t, broker, v)
	m := NewMetrics()
	runFor(t, pool, broker, Consumer{Name: "count", Topics: []string{"src.events"}, Handle: h, RetryFor: 30 * time.Second}, m)
	eventually(t, 20*time.Second, "event applied once the handler recovers", func() bool { return applied(t, pool, "a") == 1 })
	if n := count(t, pool, `SELECT count(*) FROM dead_letters`); n != 0 {
		t.Fatalf("%d dead letters, want none: the failure lasted less than RetryFor", n)
	}
	if c := calls.Load(); c < 3 {
		t.Fatalf("handler called %d times, want retries with backoff", c)
	}
	if v := counterValue(t, m.consumed.WithLabelValues("svc.count", "applied")); v != 1 {
		t.Fatalf("applied counter %v, want 1", v)
	}
}

func TestConsumerDeadLettersAfterRetryForWithoutMarkingProcessedAndMovesOn(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	broker := chassistest.Kafka(t, 1, "src.events")
	bad, v1 := event(t, "bad")
	_, v2 := event(t, "good")
	var calls atomic.Int32
	h := counterHandler(func() error {
		return nil
	})
	failing := func(ctx context.Context, tx pgx.Tx, e Event) error {
		if strings.Contains(string(e.Data), "bad") {
			calls.Add(1)
			return errors.New("downstream keeps refusing")
		}
		return h(ctx, tx, e)
	}
	publish(t, broker, v1, v2)
	start := time.Now()
	runFor(t, pool, broker, Consumer{Name: "count", Topics: []string{"src.events"}, Handle: failing, RetryFor: time.Second}, NewMetrics())
	eventually(t, 20*time.Second, "the next event applied after the failing one is dead-lettered", func() bool { return applied(t, pool, "good") == 1 })
	if took := time.Since(start); took < time.Second {
		t.Fatalf("dead-lettered after %s, before RetryFor (1s)", took)
	}
	var attempts int
	if err := pool.QueryRow(context.Background(), `SELECT attempts FROM dead_letters WHERE consumer = 'svc.count' AND event_id = $1`, bad.ID).Scan(&attempts); err != nil {
		t.Fatalf("dead letter of the failing event: %v", err)
	}
	if attempts < 3 || int(calls.Load()) != attempts {
		t.Fatalf("dead letter records %d attempts, handler called %d times; want the same, at least 3", attempts, calls.Load())
	}
	if n := count(t, pool, `SELECT count(*) FROM processed_events WHERE event_id = $1`, bad.ID); n != 0 {
		t.Fatal("a dead-lettered event is marked processed: a replay would skip it")
	}
}

func TestConsumerDeadLettersPermanentAndUndecodableEventsAtOnce(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	broker := chassistest.Kafka(t, 1, "src.events")
	perm, v := event(t, "perm")
	var calls atomic.Int32
	h := func(context.Context, pgx.Tx, Event) error {
		calls.Add(1)
		return Permanent(errors.New("recipient is not an e-mail address"))
	}
	publish(t, broker, []byte("not json"), []byte(`{"also":"not an event"}`), v)
	runFor(t, pool, broker, Consumer{Name: "count", Topics: []string{"src.events"}, Handle: h, RetryFor: time.Hour}, NewMetrics())
	eventually(t, 10*time.Second, "three dead letters", func() bool { return count(t, pool, `SELECT count(*) FROM dead_letters`) == 3 })
	if c := calls.Load(); c != 1 {
		t.Fatalf("handler called %d times for a permanent failure, want 1", c)
	}
	if n := count(t, pool, `SELECT count(*) FROM dead_letters WHERE event_id = $1 AND attempts = 1`, perm.ID); n != 1 {
		t.Fatal("the permanent failure is not dead-lettered after one attempt")
	}
}

func TestConsumerWaitsWithoutDeadLetteringWhileTheDatabaseIsDown(t *testing.T) {
	db := chassistest.Database(t)
	testPool(t, db) // migrations
	proxy := chassistest.NewProxy(t, chassistest.Host(t, db))
	pool := testPool(t, proxy.Through(t, db))
	direct := testPool(t, db)
	broker := chassistest.Kafka(t, 1, "src.events")
	_, v := event(t, "a")
	proxy.Cut()
	publish(t, broker, v)
	runFor(t, pool, broker, Consumer{Name: "count", Topics: []string{"src.events"}, Handle: counterHandler(func() error { return nil }),
		RetryFor: 200 * time.Millisecond}, NewMetrics())
	time.Sleep(1500 * time.Millisecond) // well past RetryFor
	proxy.Restore()
	eventually(t, 20*time.Second, "event applied once the database is back", func() bool { return applied(t, direct, "a") == 1 })
	if n := count(t, direct, `SELECT count(*) FROM dead_letters`); n != 0 {
		t.Fatalf("%d dead letters: an outage of the database is no reason to give up on an event", n)
	}
}

func TestDeadLettersAreListedAndReplayedByAnOperatorOnly(t *testing.T) {
	db := chassistest.Database(t)
	broker := chassistest.Kafka(t, 1, "src.events")
	var broken atomic.Bool
	broken.Store(true)
	handle := counterHandler(func() error {
		if broken.Load() {
			return errors.New("bug in the handler")
		}
		return nil
	})
	var sawCaller atomic.Bool
	recordCaller := func(ctx context.Context, tx pgx.Tx, e Event) error {
		if _, ok := Caller(ctx); ok {
			sawCaller.Store(true)
		}
		return handle(ctx, tx, e)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svc := Service{Name: "svc", Migrations: itemsMigration, Setup: func(a *App, _ func(string) string, _ *http.ServeMux) ([]Consumer, error) {
		a.Keys = StaticKeys{KeyID(&key.PublicKey): &key.PublicKey}
		return []Consumer{{Name: "count", Topics: []string{"src.events"}, Handle: recordCaller, RetryFor: 300 * time.Millisecond}}, nil
	}}
	a, err := New(context.Background(), svc, Config{Service: "svc", DatabaseURL: db, KafkaBrokers: []string{broker}}, func(string) string { return "" }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	e, v := event(t, "x")
	publish(t, broker, v)
	runFor(t, a.DB, broker, a.Consumers[0], NewMetrics())
	eventually(t, 10*time.Second, "dead-lettered", func() bool { return count(t, a.DB, `SELECT count(*) FROM dead_letters`) == 1 })

	// Tokens as identity signs them: only the operator tenant's platform-operator is one.
	token := func(tenant string, roles ...string) string {
		now := time.Now()
		c := Claims{Tenant: tenant, Roles: roles, Perms: BuiltinPermissions(tenant, roles), RegisteredClaims: jwt.RegisteredClaims{
			Issuer: DefaultIssuer, Subject: "u-1", Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}}
		if tenant != OperatorTenant { // a tenant that granted itself the operators' permission
			c.Perms = append(c.Perms, PermOperateTenants)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = KeyID(&key.PublicKey)
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	operator := token(OperatorTenant, RolePlatformOperator)
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	call := func(tok, method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("X-Roles", RolePlatformOperator) // a client's claim is no role
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	replay := "/admin/dead-letters/count/" + e.ID + "/replay"
	refused := []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a tenant's admin", token("acme", RoleAdmin), http.StatusForbidden},
		{"a tenant's self-granted platform-operator", token("acme", RolePlatformOperator), http.StatusForbidden},
		{"the operator tenant without the role", token(OperatorTenant, RoleAdmin), http.StatusForbidden},
	}
	for _, tt := range refused {
		for _, r := range [][2]string{{"GET", "/admin/dead-letters"}, {"POST", replay}} {
			if code, _ := call(tt.token, r[0], r[1]); code != tt.want {
				t.Fatalf("%s %s as %s: %d, want %d", r[0], r[1], tt.name, code, tt.want)
			}
		}
	}
	if n := count(t, a.DB, `SELECT count(*) FROM dead_letters WHERE replay_error IS NULL`); n != 1 || applied(t, a.DB, "x") != 0 {
		t.Fatal("a refused replay must change nothing")
	}
	code, list := call(operator, "GET", "/admin/dead-letters?consumer=count")
	dls, _ := list["dead_letters"].([]any)
	if code != http.StatusOK || len(dls) != 1 || dls[0].(map[string]any)["event_id"] != e.ID ||
		!strings.Contains(dls[0].(map[string]any)["error"].(string), "bug in the handler") {
		t.Fatalf("list: %d %v, want the one dead letter and its error", code, list)
	}
	if code, _ := call(operator, "GET", "/admin/dead-letters?consumer=nope"); code != http.StatusNotFound {
		t.Fatalf("unknown consumer: %d, want 404", code)
	}

	// Replayed while the bug is still there: it stays, with the new error; nothing applied.
	if code, _ := call(operator, "POST", replay); code != http.StatusConflict {
		t.Fatalf("replay that fails again: %d, want 409", code)
	}
	if applied(t, a.DB, "x") != 0 || count(t, a.DB, `SELECT count(*) FROM dead_letters WHERE replay_error LIKE '%bug%'`) != 1 {
		t.Fatal("a failed replay must leave no effect and keep the dead letter with its error")
	}
	broken.Store(false) // the fix is deployed
	if code, body := call(operator, "POST", replay); code != http.StatusOK || body["outcome"] != "applied" {
		t.Fatalf("replay: %d %v, want 200 applied", code, body)
	}
	if sawCaller.Load() {
		t.Fatal("the replayed handler ran with the operator as its caller; handlers act for the event's tenant only")
	}
	if applied(t, a.DB, "x") != 1 || count(t, a.DB, `SELECT count(*) FROM dead_letters`) != 0 ||
		count(t, a.DB, `SELECT count(*) FROM processed_events WHERE event_id = $1`, e.ID) != 1 {
		t.Fatal("after the replay the effect must be applied once, the event processed and the dead letter gone")
	}
	if code, _ := call(operator, "POST", replay); code != http.StatusNotFound {
		t.Fatalf("second replay: %d, want 404", code)
	}
	// Redelivered after the replay (a rebalance): recognised, not applied twice.
	if out, err := Apply(context.Background(), a.DB, "svc.count", handle, v); err != nil || out != Duplicate {
		t.Fatalf("redelivery after replay: %v %v, want duplicate", out, err)
	}
}

func TestReplayCLI(t *testing.T) {
	db := chassistest.Database(t)
	svc := Service{Name: "svc", Migrations: itemsMigration, Setup: func(*App, func(string) string, *http.ServeMux) ([]Consumer, error) {
		return []Consumer{{Name: "count", Handle: counterHandler(func() error { return nil })}}, nil
	}}
	a, err := New(context.Background(), svc, Config{Service: "svc", DatabaseURL: db, KafkaBrokers: []string{"127.0.0.1:1"}}, testEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	e, v := event(t, "y")
	if err := deadLetter(context.Background(), a.DB, "svc.count", &kgo.Record{Topic: "src.events", Value: v}, 3, errors.New("was broken")); err != nil {
		t.Fatal(err)
	}
	var got any
	if err := replayCLI(context.Background(), a, []string{"list"}, func(v any) { got = v }); err != nil {
		t.Fatal(err)
	}
	if l, ok := got.([]DeadLetter); !ok || len(l) != 1 || l[0].EventID != e.ID || l[0].Consumer != "count" || l[0].Attempts != 3 {
		t.Fatalf("list printed %#v", got)
	}
	if err := replayCLI(context.Background(), a, []string{"replay", "count", e.ID}, func(v any) { got = v }); err != nil {
		t.Fatal(err)
	}
	if applied(t, a.DB, "y") != 1 {
		t.Fatal("replay did not apply the event")
	}
	if err := replayCLI(context.Background(), a, []string{"replay"}, func(any) {}); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("bad arguments: %v, want the usage", err)
	}
}
