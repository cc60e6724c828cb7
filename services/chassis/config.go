// Package chassis is what every domain service repeats: configuration from the environment,
// JSON logs, the HTTP server with health, readiness and metrics, PostgreSQL with migrations, the
// transactional outbox and its relay to Kafka, and idempotent event consumers. A service holds
// only its domain and calls Run.
package chassis

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is the part of a service's configuration that every service has. It is read from the
// environment only (twelve-factor); DatabaseURL holds a password and is never logged.
type Config struct {
	Service         string
	Port            int           // PORT, default 8080: the API, /healthz and /readyz
	MetricsPort     int           // METRICS_PORT, default 9090: /metrics, scraped outside the mesh
	DatabaseURL     string        // DATABASE_URL, required, secret
	KafkaBrokers    []string      // KAFKA_BROKERS, required, comma-separated host:port
	LogLevel        slog.Level    // LOG_LEVEL: debug, info, warn, error; default info
	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 20s: in-flight requests get this long
	DrainDelay      time.Duration // DRAIN_DELAY, default 5s: unready before closing, so endpoints update
	RelayInterval   time.Duration // OUTBOX_POLL_INTERVAL, default 200ms
	RequestTimeout  time.Duration // REQUEST_TIMEOUT, default 4s: each request's deadline (below the mesh's 5s)
	DBMaxConns      int           // DB_MAX_CONNS, default 10: connections per replica
	Kafka           KafkaAuth     // KAFKA_SECURITY_PROTOCOL and friends; see KafkaAuth
}

// DefaultRequestTimeout is each request's deadline unless REQUEST_TIMEOUT says otherwise.
const DefaultRequestTimeout = 4 * time.Second

// LoadConfig reads the common settings of service from getenv (os.Getenv in production) and
// returns every problem at once, each naming its variable. Values of secrets never appear in
// an error.
func LoadConfig(service string, getenv func(string) string) (Config, error) {
	c := Config{Service: service, Port: 8080, MetricsPort: 9090, LogLevel: slog.LevelInfo,
		ShutdownTimeout: 20 * time.Second, DrainDelay: 5 * time.Second, RelayInterval: 200 * time.Millisecond, DBMaxConns: 10,
		RequestTimeout: DefaultRequestTimeout}
	var errs []error
	port := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				errs = append(errs, fmt.Errorf("%s: %q is not a port number (1-65535)", name, v))
			}
			*dst = p
		}
	}
	if v := getenv("DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 200 {
			errs = append(errs, fmt.Errorf("DB_MAX_CONNS: %q must be an integer from 2 to 200", v))
		}
		c.DBMaxConns = n
	}
	port("PORT", &c.Port)
	port("METRICS_PORT", &c.MetricsPort)
	if c.Port == c.MetricsPort {
		errs = append(errs, fmt.Errorf("METRICS_PORT: %d is also PORT; metrics need a port of their own", c.MetricsPort))
	}
	c.DatabaseURL = getenv("DATABASE_URL")
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL: required (postgres://user:password@host:5432/db)"))
	} else if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("DATABASE_URL: must be a postgres:// or postgresql:// URL (value not shown: it may hold a password)"))
	}
	badBroker := false
	for _, b := range strings.Split(getenv("KAFKA_BROKERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
				errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is not host:port", b))
				badBroker = true
				continue
			}
			c.KafkaBrokers = append(c.KafkaBrokers, b)
		}
	}
	if len(c.KafkaBrokers) == 0 && !badBroker {
		errs = append(errs, errors.New("KAFKA_BROKERS: required (comma-separated host:port list)"))
	}
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", v))
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("%s: %q is not a non-negative duration such as 10s", name, v))
				return
			}
			*dst = d
		}
	}
	var kerrs []error
	c.Kafka, kerrs = loadKafkaAuth(getenv)
	errs = append(errs, kerrs...)
	dur("SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("DRAIN_DELAY", &c.DrainDelay)
	dur("OUTBOX_POLL_INTERVAL", &c.RelayInterval)
	dur("REQUEST_TIMEOUT", &c.RequestTimeout)
	if c.RequestTimeout == 0 {
		errs = append(errs, errors.New(`REQUEST_TIMEOUT: "0s": every request needs a deadline, such as 4s`))
	}
	if c.RelayInterval == 0 {
		c.RelayInterval = 200 * time.Millisecond
	}
	return c, errors.Join(errs...)
}

// LogValue keeps the database URL, which holds a password, out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("service", c.Service), slog.Int("port", c.Port), slog.Int("metrics_port", c.MetricsPort),
		slog.String("kafka_brokers", strings.Join(c.KafkaBrokers, ",")), slog.String("kafka_security_protocol", c.Kafka.Protocol),
		slog.String("log_level", c.LogLevel.String()), slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("request_timeout", c.RequestTimeout))
}
