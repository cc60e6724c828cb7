// Package servicetest runs a whole domain service for its integration tests: a fresh PostgreSQL
// database, an in-process Kafka with the service's topics, and the service serving HTTP on
// loopback with its relay and consumers.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/chassistest"
)

// Harness is a running service.
type Harness struct {
	URL        string
	MetricsURL string
	App        *chassis.App
	Broker     string
	client     *http.Client
}

// Start runs svc with env (its own settings) until the test ends. topics are the other
// services' event topics it consumes or that the test publishes to.
func Start(t testing.TB, svc chassis.Service, env map[string]string, topics ...string) *Harness {
	t.Helper()
	db := chassistest.Database(t)
	broker := chassistest.Kafka(t, 2, append([]string{chassis.EventsTopic(svc.Name), chassis.ProgressTopic(svc.Name)}, topics...)...)
	cfg := chassis.Config{Service: svc.Name, DatabaseURL: db, KafkaBrokers: []string{broker},
		ShutdownTimeout: 5 * time.Second, RelayInterval: 20 * time.Millisecond, DBMaxConns: 10}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		log = chassis.NewLogger(testWriter{t}, slog.LevelDebug, svc.Name)
	}
	a, err := chassis.New(context.Background(), svc, cfg, func(k string) string { return env[k] }, log)
	if err != nil {
		t.Fatalf("start %s: %v", svc.Name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln, mln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s shut down with: %v", svc.Name, err)
		}
	})
	return &Harness{URL: "http://" + ln.Addr().String(), MetricsURL: "http://" + mln.Addr().String(), App: a, Broker: broker,
		client: &http.Client{Timeout: 10 * time.Second}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

// Do sends a JSON request for tenant ("" for none) and returns the status and the decoded body.
func (h *Harness) Do(t testing.TB, method, path, tenant string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tenant != "" {
		req.Header.Set(chassis.HeaderTenant, tenant)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

// Publish puts events on their topics as another service's relay would.
func (h *Harness) Publish(t testing.TB, events ...chassis.Event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.Broker))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, e := range events {
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: e.Topic, Key: []byte(e.Key), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// Events returns the types of the events the service has published to its topic so far, in
// order, as a read_committed consumer sees them, waiting up to 10s for at least want of them.
func (h *Harness) Events(t testing.TB, topic string, want int) []chassis.Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.Broker), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []chassis.Event
	for len(out) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if e, err := chassis.DecodeEvent(r.Value); err == nil {
				out = append(out, e)
			}
		})
	}
	return out
}

// Eventually polls ok every 50ms until it holds or within passes.
func Eventually(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DoRaw sends body as is with header (and X-Tenant-ID for tenant, "" for none) and returns the
// status, the decoded body and the response headers.
func (h *Harness) DoRaw(t testing.TB, method, path, tenant string, header http.Header, body []byte) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if tenant != "" {
		req.Header.Set(chassis.HeaderTenant, tenant)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out, resp.Header
}

// Callback sends body as a callback signed with secret at time at, under idempotency key.
func (h *Harness) Callback(t testing.TB, secret []byte, at time.Time, key, method, path, tenant string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	hd := http.Header{}
	hd.Set(chassis.HeaderCallbackTimestamp, strconv.FormatInt(at.Unix(), 10))
	hd.Set(chassis.HeaderIdempotencyKey, key)
	hd.Set(chassis.HeaderCallbackSignature, chassis.SignCallback(secret, at.Unix(), key, tenant, method, path, b))
	code, out, _ := h.DoRaw(t, method, path, tenant, hd, b)
	return code, out
}

// Snapshot returns the whole content of tables and the events of the outbox, to compare before
// and after a request that must change nothing.
func (h *Harness) Snapshot(t testing.TB, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, tb := range append(tables, "outbox") {
		from := pgx.Identifier{tb}.Sanitize()
		if tb == "outbox" { // the events, not the relay's bookkeeping (published_at)
			from = "(SELECT event_id, topic, event_key, event_type, tenant_id, payload FROM outbox)"
		}
		var s string
		err := h.App.DB.QueryRow(context.Background(),
			`SELECT coalesce(string_agg(j, E'\n' ORDER BY j), '') FROM (SELECT row_to_json(x)::text AS j FROM `+from+` x) r`).Scan(&s)
		if err != nil {
			t.Fatalf("snapshot %s: %v", tb, err)
		}
		fmt.Fprintf(&b, "%s:\n%s\n", tb, s)
	}
	return b.String()
}
