// Command loadtest measures one read and one write endpoint of the user service against a real
// PostgreSQL, loopback only: it creates a fresh database on the server named by
// GROUNDWORK_TEST_DATABASE_URL, starts an in-process Kafka, runs the service binary as a child
// process, seeds profiles through UserRegistered events, then drives GET and PUT
// /v1/profiles/{id} with a fixed number of concurrent clients, each phase bounded in requests
// and time, and prints throughput and latency percentiles. run.sh builds and runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/groundwork/groundwork/services/chassis"
)

func main() {
	bin := flag.String("bin", "", "path to the user service binary (required)")
	clients := flag.Int("clients", 16, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "time limit of each phase")
	maxReq := flag.Int("requests", 200000, "request limit of each phase")
	profiles := flag.Int("profiles", 2000, "profiles to seed")
	flag.Parse()
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

	kafka, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "user.events", "identity.events"), kfake.SeedTopics(1, "user.outbox-relay"))
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
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+su.String(), "KAFKA_BROKERS="+kafka.ListenAddrs()[0],
		fmt.Sprintf("PORT=%d", port), fmt.Sprintf("METRICS_PORT=%d", mport), "LOG_LEVEL=warn", "DRAIN_DELAY=0s")
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

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	fmt.Printf("user service, PostgreSQL on loopback, %d clients, phases bounded by %s or %d requests, %d profiles\n",
		clients, duration, maxReq, nProfiles)
	phase("read  GET /v1/profiles/{id}", clients, duration, maxReq, func(i int) (*http.Response, error) {
		return get(client, base, ids[i%len(ids)])
	})
	phase("write PUT /v1/profiles/{id}", clients, duration, maxReq, func(i int) (*http.Response, error) {
		body, _ := json.Marshal(map[string]string{"display_name": fmt.Sprintf("User %d", i), "locale": "en"})
		req, _ := http.NewRequest("PUT", base+"/v1/profiles/"+ids[i%len(ids)].String(), bytes.NewReader(body))
		req.Header.Set(chassis.HeaderTenant, "load")
		return client.Do(req)
	})
	return nil
}

func get(c *http.Client, base string, id uuid.UUID) (*http.Response, error) {
	req, _ := http.NewRequest("GET", base+"/v1/profiles/"+id.String(), nil)
	req.Header.Set(chassis.HeaderTenant, "load")
	return c.Do(req)
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

func phase(name string, clients int, duration time.Duration, maxReq int, do func(i int) (*http.Response, error)) {
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
}
