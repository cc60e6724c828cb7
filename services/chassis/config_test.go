package chassis

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	ok := map[string]string{"DATABASE_URL": "postgres://u:hunter2@db:5432/x", "KAFKA_BROKERS": "k1:9092, k2:9092"}
	tests := []struct {
		name     string
		give     map[string]string
		wantErrs []string
	}{
		{"defaults", ok, nil},
		{"nothing set", map[string]string{}, []string{"DATABASE_URL: required", "KAFKA_BROKERS: required"}},
		{"bad values", map[string]string{"DATABASE_URL": "mysql://u:hunter2@db/x", "KAFKA_BROKERS": "k1", "PORT": "99999",
			"LOG_LEVEL": "loud", "SHUTDOWN_TIMEOUT": "soon"},
			[]string{"DATABASE_URL: must be a postgres://", `KAFKA_BROKERS: "k1" is not host:port`, `PORT: "99999"`,
				`LOG_LEVEL: "loud"`, `SHUTDOWN_TIMEOUT: "soon"`}},
		{"no request deadline", map[string]string{"DATABASE_URL": "postgres://u@db/x", "KAFKA_BROKERS": "k1:9092", "REQUEST_TIMEOUT": "0s"},
			[]string{`REQUEST_TIMEOUT: "0s"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig("svc", envOf(tt.give))
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error shows the database password: %s", msg)
			}
			if len(tt.wantErrs) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if err == nil && (c.Port != 8080 || len(c.KafkaBrokers) != 2 || c.ShutdownTimeout != 20*time.Second) {
				t.Errorf("defaults not applied: %+v", c)
			}
		})
	}
}

func TestConfigNeverLogsTheDatabaseURL(t *testing.T) {
	c, err := LoadConfig("svc", envOf(map[string]string{"DATABASE_URL": "postgres://u:hunter2@db/x", "KAFKA_BROKERS": "k:9092"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), "k:9092") {
		t.Fatalf("log line: %s", buf.String())
	}
}

func TestLoadConfigKafkaAuth(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@db/x", "KAFKA_BROKERS": "k:9093"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		give    map[string]string
		wantErr string
		opts    int
	}{
		{"plaintext by default", base, "", 0},
		{"scram over TLS", with("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "KAFKA_USERNAME", "user", "KAFKA_PASSWORD", "s3cret-pw"), "", 2},
		{"missing credentials", with("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"), "KAFKA_USERNAME, KAFKA_PASSWORD: both required", 0},
		{"bad mechanism", with("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "GSSAPI", "KAFKA_USERNAME", "u", "KAFKA_PASSWORD", "s3cret-pw"), `KAFKA_SASL_MECHANISM: "GSSAPI"`, 0},
		{"bad protocol", with("KAFKA_SECURITY_PROTOCOL", "TLS"), `KAFKA_SECURITY_PROTOCOL: "TLS"`, 0},
		{"bad CA", with("KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_CA_CERT", "not pem"), "KAFKA_CA_CERT: no PEM certificate", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig("svc", envOf(tt.give))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if n := len(c.Kafka.Opts()); n != tt.opts {
					t.Fatalf("%d kafka options, want %d", n, tt.opts)
				}
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
				if strings.Contains(buf.String(), "s3cret-pw") {
					t.Fatal("config log shows the Kafka password")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "s3cret-pw") {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}
