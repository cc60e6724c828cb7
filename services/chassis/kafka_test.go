package chassis

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/groundwork/groundwork/services/chassis/chassistest"
)

// selfSigned returns a server certificate for 127.0.0.1 and its PEM, as the cluster CA would.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kafka"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestRelayPublishesOverSCRAMAndTLS(t *testing.T) {
	pool := testPool(t, chassistest.Database(t))
	cert, caPEM := selfSigned(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "svc.events", "svc.outbox-relay"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "svc", "right-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	env := func(password string) func(string) string {
		return envOf(map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1/x", "KAFKA_BROKERS": cluster.ListenAddrs()[0],
			"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_USERNAME": "svc",
			"KAFKA_PASSWORD": password, "KAFKA_CA_CERT": caPEM, "OUTBOX_POLL_INTERVAL": "20ms"})
	}
	createItem(t, pool, "a")

	wrong, err := LoadConfig("svc", env("wrong-password"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	var logs bytes.Buffer
	_ = NewRelay(pool, wrong, slog.New(slog.NewJSONHandler(&logs, nil)), NewMetrics(), wrong.Kafka.Opts()...).Run(ctx)
	cancel()
	if !strings.Contains(logs.String(), "relay round failed") || strings.Contains(logs.String(), "wrong-password") {
		t.Fatalf("relay logs: want the failure, never the password:\n%s", logs.String())
	}
	if n := pending(t, pool); n != 1 {
		t.Fatalf("with a wrong password %d events pending, want 1", n)
	}

	right, err := LoadConfig("svc", env("right-password"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = NewRelay(pool, right, quiet, NewMetrics(), right.Kafka.Opts()...).Run(ctx) }()
	eventually(t, 10*time.Second, "published over SASL_SSL", func() bool { return pending(t, pool) == 0 })
}
