// Package servicetest runs a whole domain service for its integration tests: a fresh PostgreSQL
// database, an in-process Kafka with the service's topics, and the service serving HTTP on
// loopback with its relay and consumers.
package servicetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services"
	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/chassistest"
)

// Harness is a running service.
type Harness struct {
	URL        string
	MetricsURL string
	App        *chassis.App
	Broker     string
	// Subject is the user the tokens of Do act as: an admin of the tenant Do names.
	Subject string
	client  *http.Client
}

var (
	keyOnce sync.Once
	key     *ecdsa.PrivateKey
)

// SigningKey is the ES256 key the harness signs test tokens with; its public half is served as
// the JWKS every started service verifies with (identity is given it as JWT_SIGNING_KEY).
func SigningKey() *ecdsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
	})
	return key
}

// SigningKeyPEM is SigningKey as PEM PKCS#8, the form of JWT_SIGNING_KEY.
func SigningKeyPEM() string {
	der, _ := x509.MarshalPKCS8PrivateKey(SigningKey())
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// JWKS serves the public half of SigningKey (plus extra keys) until the test ends; it returns
// the URL of the key set.
func JWKS(t testing.TB, extra ...*ecdsa.PublicKey) string {
	t.Helper()
	keys := []chassis.JWK{chassis.PublicJWK(&SigningKey().PublicKey)}
	for _, k := range extra {
		keys = append(keys, chassis.PublicJWK(k))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chassis.WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// Sign signs c with SigningKey as identity would.
func Sign(t testing.TB, c chassis.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = chassis.KeyID(&SigningKey().PublicKey)
	s, err := tok.SignedString(SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Claims are the claims of a token identity would issue now to subject of tenant with roles,
// valid for 15 minutes.
func Claims(tenant, subject string, roles ...string) chassis.Claims {
	now := time.Now()
	if roles == nil {
		roles = []string{}
	}
	return chassis.Claims{Tenant: tenant, Roles: roles, Perms: chassis.BuiltinPermissions(tenant, roles),
		RegisteredClaims: jwt.RegisteredClaims{Issuer: chassis.DefaultIssuer, Subject: subject, Audience: jwt.ClaimStrings{chassis.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute))}}
}

// Token is a valid access token of subject in tenant with roles.
func Token(t testing.TB, tenant, subject string, roles ...string) string {
	t.Helper()
	return Sign(t, Claims(tenant, subject, roles...))
}

// Start runs svc with env (its own settings) until the test ends. topics are the other
// services' event topics it consumes or that the test publishes to.
func Start(t testing.TB, svc chassis.Service, env map[string]string, topics ...string) *Harness {
	t.Helper()
	db := chassistest.Database(t)
	all := append([]string{chassis.EventsTopic(svc.Name), chassis.ProgressTopic(svc.Name)}, topics...)
	for _, tp := range chassis.LifecycleTopics {
		if !slices.Contains(all, tp) {
			all = append(all, tp)
		}
	}
	broker := chassistest.Kafka(t, 2, all...)
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["JWKS_URL"]; !ok {
		env["JWKS_URL"] = JWKS(t)
	}
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
		Subject: uuid.NewString(), client: &http.Client{Timeout: 10 * time.Second}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

// Do sends a JSON request as an admin (h.Subject) of tenant, with its token and X-Tenant-ID,
// and returns the status and the decoded body. With tenant "" it sends neither.
func (h *Harness) Do(t testing.TB, method, path, tenant string, body any) (int, map[string]any) {
	t.Helper()
	token := ""
	if tenant != "" {
		token = Token(t, tenant, h.Subject, chassis.RoleAdmin)
	}
	return h.DoAs(t, method, path, token, tenant, body)
}

// DoAs sends a JSON request with token as its bearer token ("" for none) and X-Tenant-ID tenant
// ("" for none) and returns the status and the decoded body.
func (h *Harness) DoAs(t testing.TB, method, path, token, tenant string, body any) (int, map[string]any) {
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
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	status, out, _ := h.send(t, req)
	return status, out
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

// Provision publishes TenantProvisioned for tenant (with quotas) and waits until the service's
// lifecycle projection holds it.
func (h *Harness) Provision(t testing.TB, tenant string, quotas map[string]int64) {
	t.Helper()
	e, err := chassis.NewEvent(chassis.EventsTopic("tenant"), "TenantProvisioned", tenant, tenant,
		map[string]any{"tenant_id": tenant, "name": tenant, "quotas": quotas})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(t, e)
	Eventually(t, 10*time.Second, "tenant "+tenant+" provisioned in the projection", func() bool {
		s, _, err := chassis.TenantStatus(context.Background(), h.App.DB, tenant)
		return err == nil && s != ""
	})
}

// Suspend publishes TenantSuspended for tenant and waits until the projection holds it.
func (h *Harness) Suspend(t testing.TB, tenant string) {
	t.Helper()
	e, err := chassis.NewEvent(chassis.EventsTopic("tenant"), "TenantSuspended", tenant, tenant,
		map[string]any{"tenant_id": tenant, "reason": "test"})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(t, e)
	Eventually(t, 10*time.Second, "tenant "+tenant+" suspended in the projection", func() bool {
		s, _, err := chassis.TenantStatus(context.Background(), h.App.DB, tenant)
		return err == nil && s == "suspended"
	})
	if err := h.App.RefreshLifecycle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Deactivate publishes UserDeactivated for user of tenant and waits until the projection holds it.
func (h *Harness) Deactivate(t testing.TB, tenant, user string) {
	t.Helper()
	e, err := chassis.NewEvent(chassis.EventsTopic("user"), "UserDeactivated", tenant, user, map[string]any{"user_id": user})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(t, e)
	Eventually(t, 10*time.Second, "user "+user+" deactivated in the projection", func() bool {
		d, err := chassis.UserDeactivated(context.Background(), h.App.DB, tenant, user)
		return err == nil && d
	})
	if err := h.App.RefreshLifecycle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Snapshot is a digest of every table a request may change (the service's own tables and the
// outbox's event IDs); two equal snapshots mean no row and no outbox event changed. Tables the
// chassis changes in the background (processed events, dead letters, the lifecycle projection,
// migrations, the outbox's published_at) are left out.
func (h *Harness) Snapshot(t testing.TB) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := h.App.DB.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'
		AND tablename NOT IN ('processed_events', 'dead_letters', 'schema_migrations', 'lifecycle_tenants', 'lifecycle_deactivated')`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, tb := range tables {
		col := "t::text"
		if tb == "outbox" {
			col = "t.event_id::text"
		}
		var sum string
		q := `SELECT count(*) || ':' || COALESCE(md5(string_agg(` + col + `, ',' ORDER BY ` + col + `)), '') FROM "` + tb + `" t`
		if err := h.App.DB.QueryRow(ctx, q).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		out[tb] = sum
	}
	return out
}

// Kinds of caller in an authorization matrix, in the order they are tried: every refusal first,
// the right caller last.
const (
	NoToken     = "no token"
	Expired     = "expired token"
	OtherTenant = "other tenant's token"
	WrongRole   = "wrong role"
	Suspended   = "suspended tenant"
	Deactivated = "deactivated user"
	Right       = "right caller"
)

// CallerKinds are every kind of caller a matrix route must give a status for.
var CallerKinds = []string{NoToken, Expired, OtherTenant, WrongRole, Suspended, Deactivated, Right}

// MatrixRoute is one row of an authorization matrix: a request, the right caller's token and the
// status every kind of caller must get.
type MatrixRoute struct {
	Method, Path string
	Body         any
	Right        string         // token of a caller allowed to make the request
	Want         map[string]int // status per caller kind; all of CallerKinds
}

// Matrix holds the callers of an authorization matrix over tenant: the tenant the requests'
// X-Tenant-ID names and whose data the routes address.
type Matrix struct {
	Tenant string
	// Tokens per caller kind except Right (given per route). Built by NewMatrix.
	Tokens map[string]string
	// Headers per caller kind: the X-Tenant-ID sent.
	Headers map[string]string
}

// NewMatrix makes the wrong callers for tenant: no token, an expired admin token, an admin of
// another tenant naming tenant in X-Tenant-ID, a user of tenant without roles, an admin of a
// suspended tenant, and a deactivated admin of tenant. It suspends and deactivates them through
// the events, so the service's own projection must refuse them.
func (h *Harness) NewMatrix(t testing.TB, tenant string) *Matrix {
	t.Helper()
	expired := Claims(tenant, h.Subject, chassis.RoleAdmin)
	past := time.Now().Add(-time.Hour)
	expired.IssuedAt, expired.NotBefore, expired.ExpiresAt = jwt.NewNumericDate(past), jwt.NewNumericDate(past), jwt.NewNumericDate(past.Add(15*time.Minute))
	deactivated := uuid.NewString()
	h.Suspend(t, "suspended-"+tenant)
	h.Deactivate(t, tenant, deactivated)
	return &Matrix{Tenant: tenant,
		Tokens: map[string]string{
			NoToken: "", Expired: Sign(t, expired),
			OtherTenant: Token(t, "other-"+tenant, h.Subject, chassis.RoleAdmin),
			WrongRole:   Token(t, tenant, uuid.NewString()),
			Suspended:   Token(t, "suspended-"+tenant, h.Subject, chassis.RoleAdmin),
			Deactivated: Token(t, tenant, deactivated, chassis.RoleAdmin),
		},
		Headers: map[string]string{NoToken: tenant, Expired: tenant, OtherTenant: tenant, WrongRole: tenant,
			Suspended: "", Deactivated: tenant, Right: tenant},
	}
}

// Run sends each route as each kind of caller and checks the status; for every refused request
// (4xx) it checks that no row and no outbox event changed.
func (m *Matrix) Run(t *testing.T, h *Harness, routes []MatrixRoute) {
	t.Helper()
	for _, rt := range routes {
		for _, kind := range CallerKinds {
			want, ok := rt.Want[kind]
			if !ok {
				t.Fatalf("%s %s: no expected status for %q", rt.Method, rt.Path, kind)
			}
			token := m.Tokens[kind]
			if kind == Right {
				token = rt.Right
			}
			before := h.Snapshot(t)
			got, body := h.DoAs(t, rt.Method, rt.Path, token, m.Headers[kind], rt.Body)
			if got != want {
				t.Errorf("%s %s as %s: %d %v, want %d", rt.Method, rt.Path, kind, got, body, want)
				continue
			}
			if got >= 400 {
				if after := h.Snapshot(t); !maps.Equal(before, after) {
					t.Errorf("%s %s as %s: refused with %d but the database changed: %v -> %v", rt.Method, rt.Path, kind, got, before, after)
				}
			}
		}
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
	return h.send(t, req)
}

// send sends req and returns the status, the body decoded as JSON (or as {"raw": body} when it
// is not JSON) and the response headers.
func (h *Harness) send(t testing.TB, req *http.Request) (int, map[string]any, http.Header) {
	t.Helper()
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

// SnapshotTables returns the whole content of tables and the events of the outbox, to compare
// before and after a request that must change nothing (Snapshot digests every table).
func (h *Harness) SnapshotTables(t testing.TB, tables ...string) string {
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

// CheckPublicRoutesOpenAtGateway fails the test for every route of svc.Public that Kong would
// not let through without a token: the gateway route of the services' service.yaml files (in
// servicesDir) with the longest matching path prefix must be "auth: none". A public route behind
// a jwt route could never be reached by the callers it is for (a payment gateway has no token).
func CheckPublicRoutesOpenAtGateway(t testing.TB, servicesDir string, svc chassis.Service) {
	t.Helper()
	specs, err := services.Load(servicesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, pattern := range svc.Public {
		_, path, _ := strings.Cut(pattern, " ")
		path = wildcard.ReplaceAllString(path, "x")
		best, auth := "", ""
		for _, s := range specs {
			for _, r := range s.Routes {
				for _, p := range r.Paths {
					// Kubernetes Ingress pathType Prefix: whole path elements.
					if (path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/")) && len(p) > len(best) {
						best, auth = p, r.Auth
						if s.Name != svc.Name {
							auth = "another service (" + s.Name + ")"
						}
					}
				}
			}
		}
		if auth != "none" {
			t.Errorf("%s: the gateway route for %s is %q (prefix %q), want an auth: none route of %s", pattern, path, auth, best, svc.Name)
		}
	}
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)
