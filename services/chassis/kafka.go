package chassis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaAuth is how the service reaches the brokers, from the platform's Kafka client Secret:
// KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; default PLAINTEXT),
// KAFKA_SASL_MECHANISM (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN), KAFKA_USERNAME, KAFKA_PASSWORD
// (secret) and KAFKA_CA_CERT (PEM; without it TLS trusts the system roots).
type KafkaAuth struct {
	Protocol  string
	Mechanism string
	Username  string
	Password  string
	CACert    string
}

func loadKafkaAuth(getenv func(string) string) (KafkaAuth, []error) {
	k := KafkaAuth{Protocol: getenv("KAFKA_SECURITY_PROTOCOL"), Mechanism: getenv("KAFKA_SASL_MECHANISM"),
		Username: getenv("KAFKA_USERNAME"), Password: getenv("KAFKA_PASSWORD"), CACert: getenv("KAFKA_CA_CERT")}
	if k.Protocol == "" {
		k.Protocol = "PLAINTEXT"
	}
	var errs []error
	switch k.Protocol {
	case "PLAINTEXT", "SSL":
	case "SASL_PLAINTEXT", "SASL_SSL":
		if k.Mechanism != "SCRAM-SHA-512" && k.Mechanism != "SCRAM-SHA-256" && k.Mechanism != "PLAIN" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM: %q is not one of SCRAM-SHA-512, SCRAM-SHA-256, PLAIN", k.Mechanism))
		}
		if k.Username == "" || k.Password == "" {
			errs = append(errs, fmt.Errorf("KAFKA_USERNAME, KAFKA_PASSWORD: both required with %s", k.Protocol))
		}
	default:
		errs = append(errs, fmt.Errorf("KAFKA_SECURITY_PROTOCOL: %q is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", k.Protocol))
	}
	if k.CACert != "" {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(k.CACert)) {
			errs = append(errs, errors.New("KAFKA_CA_CERT: no PEM certificate in it"))
		}
	}
	return k, errs
}

// Opts are the franz-go options for k (TLS and SASL); the config is already validated.
func (k KafkaAuth) Opts() []kgo.Opt {
	var opts []kgo.Opt
	if k.Protocol == "SSL" || k.Protocol == "SASL_SSL" {
		c := &tls.Config{MinVersion: tls.VersionTLS12}
		if k.CACert != "" {
			c.RootCAs = x509.NewCertPool()
			c.RootCAs.AppendCertsFromPEM([]byte(k.CACert))
		}
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: c}).DialContext))
	}
	if k.Protocol == "SASL_PLAINTEXT" || k.Protocol == "SASL_SSL" {
		switch k.Mechanism {
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: k.Username, Pass: k.Password}.AsSha512Mechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: k.Username, Pass: k.Password}.AsSha256Mechanism()))
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: k.Username, Pass: k.Password}.AsMechanism()))
		}
	}
	return opts
}

// LogValue keeps the password out of logs.
func (k KafkaAuth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("protocol", k.Protocol), slog.String("mechanism", k.Mechanism), slog.String("username", k.Username))
}
