// Package chassistest gives the services' integration tests a fresh PostgreSQL database on the
// test server named by GROUNDWORK_TEST_DATABASE_URL, an in-process Kafka (kfake), and a TCP
// proxy that can cut a service off from its database.
package chassistest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
)

// EnvDatabaseURL names the variable holding the test server's URL; `.ci/postgres.sh` prints it.
const EnvDatabaseURL = "GROUNDWORK_TEST_DATABASE_URL"

// ServerURL returns the test server's URL. Without one the test is skipped, except under CI
// (CI=true), where a missing database fails the test so integration tests can never silently
// not run.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvDatabaseURL)
	if u == "" {
		msg := EnvDatabaseURL + " is not set: integration test needs PostgreSQL (eval \"$(bash .ci/postgres.sh)\")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	return u
}

// Database creates an empty database for this test on the test server and returns its URL; it
// is dropped when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("test database server: %v", err)
	}
	defer conn.Close(context.Background())
	name := "gw_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s: not a URL", EnvDatabaseURL)
	}
	u.Path = "/" + name
	return u.String()
}

// Kafka starts an in-process Kafka cluster with topics seeded (partitions each; the names ending
// in ".outbox-relay" get one partition, as the relay needs) and returns its bootstrap address.
func Kafka(t testing.TB, partitions int32, topics ...string) string {
	t.Helper()
	var multi, single []string
	for _, tp := range topics {
		if strings.HasSuffix(tp, ".outbox-relay") {
			single = append(single, tp)
		} else {
			multi = append(multi, tp)
		}
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, multi...)}
	if len(single) > 0 {
		opts = append(opts, kfake.SeedTopics(1, single...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// Proxy forwards TCP connections from a loopback port to target; Cut closes every connection
// and refuses new ones until Restore, as a database outage looks to a service.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

// NewProxy starts a proxy to target (host:port) and returns it; it stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { _ = ln.Close(); p.Cut() })
	go p.accept()
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		} else if err != nil {
			continue
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// Cut closes all proxied connections and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Through returns dbURL with its host:port replaced by the proxy's.
func (p *Proxy) Through(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	u.Host = p.Addr()
	return u.String()
}

// Host returns the host:port of dbURL.
func Host(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	return u.Host
}
