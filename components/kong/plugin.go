package kong

import (
	"errors"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Plugin is a Kong plugin with typed settings. Each implementation validates itself, so a bad
// setting fails before anything is created.
type Plugin interface {
	// Name is the Kong plugin's name, e.g. "rate-limiting".
	Name() string
	// Config is the plugin's config block.
	Config() pulumi.Map
	validate() error
}

// RateLimiting caps requests per client IP (or consumer once authenticated).
type RateLimiting struct {
	Second, Minute, Hour int
	// Policy is "local" (per Kong node, no shared store) or "cluster"-wide through Redis with
	// RedisHost set.
	Policy    string
	RedisHost string
	RedisPort int
}

// Name implements Plugin.
func (RateLimiting) Name() string { return "rate-limiting" }

// Config implements Plugin.
func (p RateLimiting) Config() pulumi.Map {
	c := pulumi.Map{"policy": pulumi.String(p.Policy), "fault_tolerant": pulumi.Bool(true), "hide_client_headers": pulumi.Bool(false)}
	for k, v := range map[string]int{"second": p.Second, "minute": p.Minute, "hour": p.Hour} {
		if v > 0 {
			c[k] = pulumi.Int(v)
		}
	}
	if p.Policy == "redis" {
		c["redis"] = pulumi.Map{"host": pulumi.String(p.RedisHost), "port": pulumi.Int(p.RedisPort)}
	}
	return c
}

func (p RateLimiting) validate() error {
	var errs []error
	if p.Second <= 0 && p.Minute <= 0 && p.Hour <= 0 {
		errs = append(errs, errors.New("rate-limiting: set at least one of Second, Minute, Hour"))
	}
	if !slices.Contains([]string{"local", "redis"}, p.Policy) {
		errs = append(errs, fmt.Errorf("rate-limiting: policy %q is not allowed; allowed: local, redis", p.Policy))
	}
	if p.Policy == "redis" && (p.RedisHost == "" || p.RedisPort <= 0) {
		errs = append(errs, errors.New("rate-limiting: policy redis needs RedisHost and RedisPort"))
	}
	return errors.Join(errs...)
}

// JWT requires a valid JSON Web Token, signed by a credential of a KongConsumer.
type JWT struct {
	// ClaimsToVerify are registered claims checked besides the signature ("exp", "nbf").
	ClaimsToVerify []string
	// KeyClaimName is the claim naming the credential, "iss" by default in Kong.
	KeyClaimName string
}

// Name implements Plugin.
func (JWT) Name() string { return "jwt" }

// Config implements Plugin.
func (p JWT) Config() pulumi.Map {
	return pulumi.Map{
		"claims_to_verify": pulumi.ToStringArray(p.ClaimsToVerify),
		"key_claim_name":   pulumi.String(p.KeyClaimName),
		"run_on_preflight": pulumi.Bool(false),
	}
}

func (p JWT) validate() error {
	var errs []error
	for _, c := range p.ClaimsToVerify {
		if c != "exp" && c != "nbf" {
			errs = append(errs, fmt.Errorf("jwt: claim %q cannot be verified; allowed: exp, nbf", c))
		}
	}
	if p.KeyClaimName == "" {
		errs = append(errs, errors.New("jwt: KeyClaimName is required (e.g. iss)"))
	}
	return errors.Join(errs...)
}

// CORS answers browsers' cross-origin checks for the listed origins only.
type CORS struct {
	Origins     []string
	Methods     []string
	Headers     []string
	Credentials bool
	MaxAge      int
}

// Name implements Plugin.
func (CORS) Name() string { return "cors" }

// Config implements Plugin.
func (p CORS) Config() pulumi.Map {
	return pulumi.Map{
		"origins":     pulumi.ToStringArray(p.Origins),
		"methods":     pulumi.ToStringArray(p.Methods),
		"headers":     pulumi.ToStringArray(p.Headers),
		"credentials": pulumi.Bool(p.Credentials),
		"max_age":     pulumi.Int(p.MaxAge),
	}
}

func (p CORS) validate() error {
	if len(p.Origins) == 0 {
		return errors.New("cors: Origins is required")
	}
	if p.Credentials && slices.Contains(p.Origins, "*") {
		return errors.New("cors: credentials cannot be allowed for origin *; list the origins")
	}
	return nil
}

// RequestSizeLimiting rejects request bodies larger than the limit.
type RequestSizeLimiting struct {
	AllowedPayloadMB int
}

// Name implements Plugin.
func (RequestSizeLimiting) Name() string { return "request-size-limiting" }

// Config implements Plugin.
func (p RequestSizeLimiting) Config() pulumi.Map {
	return pulumi.Map{"allowed_payload_size": pulumi.Int(p.AllowedPayloadMB), "size_unit": pulumi.String("megabytes")}
}

func (p RequestSizeLimiting) validate() error {
	if p.AllowedPayloadMB < 1 {
		return fmt.Errorf("request-size-limiting: AllowedPayloadMB %d: want at least 1", p.AllowedPayloadMB)
	}
	return nil
}

// Prometheus exposes per-service request metrics on Kong's status endpoint.
type Prometheus struct{}

// Name implements Plugin.
func (Prometheus) Name() string { return "prometheus" }

// Config implements Plugin.
func (Prometheus) Config() pulumi.Map {
	return pulumi.Map{
		"status_code_metrics": pulumi.Bool(true), "latency_metrics": pulumi.Bool(true),
		"bandwidth_metrics": pulumi.Bool(true), "upstream_health_metrics": pulumi.Bool(true),
	}
}

func (Prometheus) validate() error { return nil }

// CorrelationID gives every request an ID header, passed upstream and echoed to the client.
type CorrelationID struct {
	Header string
}

// Name implements Plugin.
func (CorrelationID) Name() string { return "correlation-id" }

// Config implements Plugin.
func (p CorrelationID) Config() pulumi.Map {
	return pulumi.Map{"header_name": pulumi.String(p.Header), "generator": pulumi.String("uuid#counter"), "echo_downstream": pulumi.Bool(true)}
}

func (p CorrelationID) validate() error {
	if p.Header == "" {
		return errors.New("correlation-id: Header is required (e.g. X-Request-ID)")
	}
	return nil
}

func validatePlugins(plugins []Plugin) error {
	var errs []error
	seen := map[string]bool{}
	for _, p := range plugins {
		if p == nil {
			errs = append(errs, errors.New("kong: nil plugin"))
			continue
		}
		if seen[p.Name()] {
			errs = append(errs, fmt.Errorf("kong: plugin %s is listed twice", p.Name()))
		}
		seen[p.Name()] = true
		errs = append(errs, p.validate())
	}
	return errors.Join(errs...)
}
