// Command loadtest measures one read and one write endpoint of the user service against a real
// PostgreSQL, loopback only: it creates a fresh database on the server named by
// GROUNDWORK_TEST_DATABASE_URL, starts an in-process Kafka and a JWKS, runs the service binary as
// a child process, seeds profiles through UserRegistered events, then drives GET and PUT
// /v1/profiles/{id} with a fixed number of concurrent clients, each request carrying an ES256
// token of the profile's user that the service verifies. Beside the service, the same read is
// served by a bare net/http + pgx handler (this binary with -bare, also a child process, same
// query, same pool size, no middleware): the two read phases alternate in one run and the
// service's throughput and p99 are printed as ratios of the bare handler's. Each phase is
// bounded in requests and time. run.sh builds and runs it.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services/chassis"
)

func main() {
	bare := flag.String("bare", "", "serve the bare read handler on this port (internal: the baseline child process)")
	bin := flag.String("bin", "", "path to the user service binary (required)")
	clients := flag.Int("clients", 16, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "time limit of each phase")
	maxReq := flag.Int("requests", 200000, "request limit of each phase")
	profiles := flag.Int("profiles", 2000, "profiles to seed")
	flag.Parse()
	if *bare != "" {
		if err := serveBare(*bare, os.Getenv("DATABASE_URL")); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest -bare:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *clients, *duration, *maxReq, *profiles); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func run(bin string, clients int, duration time.Duration, maxReq, nProfiles int) error {
	if bin == "" {
		return errors.New("-bin is required")
	}
	if clients < 1 || clients > 256 || duration <= 0 || duration > 5*time.Minute || maxReq < 1 || nProfiles < 1 || nProfiles > 100000 {
		return errors.New("bounds: 1-256 clients, duration up to 5m, at least 1 request, 1-100000 profiles")
	}
	server := os.Getenv("GROUNDWORK_TEST_DATABASE_URL")
	if server == "" {
		return errors.New("GROUNDWORK_TEST_DATABASE_URL is not set (eval \"$(bash .ci/postgres.sh)\")")
	}
	su, err := url.Parse(server)
	if err != nil {
		return errors.New("GROUNDWORK_TEST_DATABASE_URL is not a URL")
	}
	if ip := net.ParseIP(su.Hostname()); su.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("database host %s is not loopback; this load test only targets this machine", su.Hostname())
	}
	ctx := context.Background()

	// A fresh database, dropped at the end.
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	db := "gw_load_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		return err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") //nolint:errcheck
	su.Path = "/" + db

	kafka, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "user.events", "identity.events", "tenant.events"), kfake.SeedTopics(1, "user.outbox-relay"))
	if err != nil {
		return err
	}
	defer kafka.Close()

	port, err := freePort()
	if err != nil {
		return err
	}
	mport, err := freePort()
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chassis.WriteJSON(w, http.StatusOK, map[string]any{"keys": []chassis.JWK{chassis.PublicJWK(&key.PublicKey)}})
	}))
	defer jwks.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+su.String(), "KAFKA_BROKERS="+kafka.ListenAddrs()[0],
		fmt.Sprintf("PORT=%d", port), fmt.Sprintf("METRICS_PORT=%d", mport), "LOG_LEVEL=warn", "DRAIN_DELAY=0s",
		"JWKS_URL="+jwks.URL+"/.well-known/jwks.json")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitFor(30*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}); err != nil {
		return fmt.Errorf("service not ready: %w", err)
	}
	bport, err := freePort()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bareCmd := exec.Command(self, "-bare", strconv.Itoa(bport))
	bareCmd.Env = append(os.Environ(), "DATABASE_URL="+su.String())
	bareCmd.Stdout, bareCmd.Stderr = os.Stderr, os.Stderr
	if err := bareCmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = bareCmd.Process.Signal(syscall.SIGTERM)
		_ = bareCmd.Wait()
	}()
	bareBase := fmt.Sprintf("http://127.0.0.1:%d", bport)

	ids, err := seed(ctx, kafka.ListenAddrs()[0], nProfiles)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, su.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := waitFor(60*time.Second, func() bool {
		var c int
		return conn.QueryRow(ctx, `SELECT count(*) FROM profiles`).Scan(&c) == nil && c == len(ids)
	}); err != nil {
		return fmt.Errorf("profiles not created: %w", err)
	}

	// One token per user, signed up front: the service verifies each request's token (ES256,
	// JWKS cached), checks the lifecycle projection and authorizes the user for its own profile.
	tokens := make([]string, len(ids))
	for i, id := range ids {
		if tokens[i], err = sign(key, "load", id.String()); err != nil {
			return err
		}
	}
	if err := waitFor(30*time.Second, func() bool {
		resp, err := get(http.DefaultClient, bareBase, ids[0], "")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}); err != nil {
		return fmt.Errorf("bare handler not ready: %w", err)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	fmt.Printf("user service, PostgreSQL on loopback, %d clients, phases bounded by %s or %d requests, %d profiles\n",
		clients, duration, maxReq, nProfiles)
	// The two reads alternate, twice, so both see the same machine; the best of each is compared.
	var svc, bare []result
	for range 2 {
		svc = append(svc, phase("read  GET /v1/profiles/{id} service (JWT, lifecycle, authz)", clients, duration, maxReq, func(i int) (*http.Response, error) {
			return get(client, base, ids[i%len(ids)], tokens[i%len(ids)])
		}))
		bare = append(bare, phase("read  GET /v1/profiles/{id} bare net/http + pgx         ", clients, duration, maxReq, func(i int) (*http.Response, error) {
			return get(client, bareBase, ids[i%len(ids)], "")
		}))
	}
	best := func(rs []result) result {
		return slices.MaxFunc(rs, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	}
	s, b := best(svc), best(bare)
	fmt.Printf("read, service / bare: throughput %.2f (%.0f / %.0f req/s), p99 %.2f (%.2fms / %.2fms)\n",
		s.rps/b.rps, s.rps, b.rps, float64(s.p99)/float64(b.p99), ms(s.p99), ms(b.p99))
	phase("write PUT /v1/profiles/{id}", clients, duration, maxReq, func(i int) (*http.Response, error) {
		body, _ := json.Marshal(map[string]string{"display_name": fmt.Sprintf("User %d", i), "locale": "en"})
		req, _ := http.NewRequest("PUT", base+"/v1/profiles/"+ids[i%len(ids)].String(), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[i%len(ids)])
		return client.Do(req)
	})
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func get(c *http.Client, base string, id uuid.UUID, token string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", base+"/v1/profiles/"+id.String(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.Header.Set(chassis.HeaderTenant, "load")
	}
	return c.Do(req)
}

// sign is an access token of user in tenant, as identity issues them.
func sign(key *ecdsa.PrivateKey, tenant, user string) (string, error) {
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, chassis.Claims{Tenant: tenant, Roles: []string{}, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: chassis.DefaultIssuer, Subject: user, Audience: jwt.ClaimStrings{chassis.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}})
	t.Header["kid"] = chassis.KeyID(&key.PublicKey)
	return t.SignedString(key)
}

// serveBare is the baseline: net/http and a pgx pool of the service's size running the
// service's read query, tenant from the header, no authentication, logging, metrics or
// recovery.
func serveBare(port, dbURL string) error {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 10 // the service's DB_MAX_CONNS default
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/profiles/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusUnprocessableEntity)
			return
		}
		var p struct {
			UserID      string            `json:"user_id"`
			Email       string            `json:"email"`
			DisplayName string            `json:"display_name"`
			Locale      string            `json:"locale"`
			Active      bool              `json:"active"`
			Version     int               `json:"version"`
			UpdatedAt   time.Time         `json:"updated_at"`
			Preferences map[string]string `json:"preferences"`
		}
		err = pool.QueryRow(r.Context(), `SELECT p.user_id::text, p.email, p.display_name, p.locale, p.active, p.version, p.updated_at,
			COALESCE((SELECT jsonb_object_agg(key, value) FROM preferences f WHERE f.tenant_id = p.tenant_id AND f.user_id = p.user_id), '{}')
			FROM profiles p WHERE p.tenant_id = $1 AND p.user_id = $2`, r.Header.Get("X-Tenant-ID"), id).
			Scan(&p.UserID, &p.Email, &p.DisplayName, &p.Locale, &p.Active, &p.Version, &p.UpdatedAt, &p.Preferences)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	sig, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { <-sig.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func seed(ctx context.Context, broker string, n int) ([]uuid.UUID, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ids := make([]uuid.UUID, n)
	var recs []*kgo.Record
	for i := range ids {
		ids[i] = uuid.New()
		e, err := chassis.NewEvent("identity.events", "UserRegistered", "load", ids[i].String(),
			map[string]any{"user_id": ids[i], "email": fmt.Sprintf("u%d@example.com", i)})
		if err != nil {
			return nil, err
		}
		e.Source = "identity"
		v, _ := json.Marshal(e)
		recs = append(recs, &kgo.Record{Topic: e.Topic, Key: []byte(e.Key), Value: v})
	}
	return ids, cl.ProduceSync(ctx, recs...).FirstErr()
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// result is a phase's throughput and p99.
type result struct {
	rps float64
	p99 time.Duration
}

func phase(name string, clients int, duration time.Duration, maxReq int, do func(i int) (*http.Response, error)) result {
	var next, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > int64(maxReq) {
					break
				}
				t0 := time.Now()
				resp, err := do(int(i))
				d := time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				mine = append(mine, d)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) string {
		if len(lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fms", float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds())/1000)
	}
	fmt.Printf("%s: %d requests in %.1fs = %.0f req/s, failed %d, p50 %s, p90 %s, p99 %s, max %s\n",
		name, len(lat), elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), failed.Load(), pct(0.50), pct(0.90), pct(0.99), pct(1))
	r := result{rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p99 = lat[min(len(lat)-1, int(float64(len(lat))*0.99))]
	}
	return r
}
