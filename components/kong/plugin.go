package kong

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

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

// RateLimiting caps requests per client IP, or per the value of a request header (LimitBy
// "header"), counted per Kong pod (Policy "local") or across the cluster in Redis ("redis").
type RateLimiting struct {
	Second, Minute, Hour int
	// Policy is "local" (per Kong node, no shared store) or "redis" (cluster-wide, Redis set).
	Policy string
	// LimitBy is "ip" (the default) or "header": count per value of HeaderName. A request
	// without the header is counted by IP (Kong's rate-limiting handler.lua, get_identifier:
	// `return identifier or kong.client.get_forwarded_ip()`).
	LimitBy    string
	HeaderName string
	// Redis is where Policy "redis" counts.
	Redis *RedisBackend
}

// RedisBackend is the Redis a plugin counts in. Its password is read from a Secret of the
// plugin's namespace by the ingress controller (KongPlugin configPatches), never written into
// the plugin's config.
type RedisBackend struct {
	Host pulumi.StringInput
	Port int
	// SSL connects with TLS (ElastiCache with in-transit encryption).
	SSL bool
	// PasswordSecret and PasswordKey name the Secret key holding the password; empty for none.
	PasswordSecret, PasswordKey string
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
	if p.LimitBy != "" {
		c["limit_by"] = pulumi.String(p.LimitBy)
	}
	if p.LimitBy == "header" {
		c["header_name"] = pulumi.String(p.HeaderName)
	}
	if p.Policy == "redis" && p.Redis != nil {
		c["redis"] = pulumi.Map{"host": p.Redis.Host, "port": pulumi.Int(p.Redis.Port), "ssl": pulumi.Bool(p.Redis.SSL), "ssl_verify": pulumi.Bool(p.Redis.SSL)}
	}
	return c
}

// configPatches implements secretPatcher: the Redis password from its Secret.
func (p RateLimiting) configPatches() []any {
	if p.Policy != "redis" || p.Redis == nil || p.Redis.PasswordSecret == "" {
		return nil
	}
	return []any{map[string]any{"path": "/redis/password", "valueFrom": map[string]any{
		"secretKeyRef": map[string]any{"name": p.Redis.PasswordSecret, "key": p.Redis.PasswordKey}}}}
}

func (p RateLimiting) validate() error {
	var errs []error
	if p.Second <= 0 && p.Minute <= 0 && p.Hour <= 0 {
		errs = append(errs, errors.New("rate-limiting: set at least one of Second, Minute, Hour"))
	}
	if !slices.Contains([]string{"local", "redis"}, p.Policy) {
		errs = append(errs, fmt.Errorf("rate-limiting: policy %q is not allowed; allowed: local, redis", p.Policy))
	}
	if p.Policy == "redis" && (p.Redis == nil || p.Redis.Host == nil || p.Redis.Port <= 0 || p.Redis.Port > 65535) {
		errs = append(errs, errors.New("rate-limiting: policy redis needs Redis with Host and Port"))
	}
	if p.Redis != nil && (p.Redis.PasswordSecret == "") != (p.Redis.PasswordKey == "") {
		errs = append(errs, errors.New("rate-limiting: Redis PasswordSecret and PasswordKey go together"))
	}
	if !slices.Contains([]string{"", "ip", "header"}, p.LimitBy) {
		errs = append(errs, fmt.Errorf("rate-limiting: limit_by %q is not allowed; allowed: ip, header", p.LimitBy))
	}
	if (p.LimitBy == "header") != (p.HeaderName != "") {
		errs = append(errs, errors.New("rate-limiting: HeaderName is required with LimitBy header, and only then"))
	}
	return errors.Join(errs...)
}

// secretPatcher is a plugin whose config takes values from Kubernetes Secrets through the
// ingress controller's KongPlugin configPatches, so no secret sits in the plugin's config.
type secretPatcher interface {
	configPatches() []any
}

// TenantKey runs first on every request (the pre-function plugin, priority 1000000, before any
// authentication): it removes identity headers a client may have sent, so nothing upstream can
// mistake them for the gateway's, and sets Header to the tenant claim of the request's bearer
// token, for RateLimiting{LimitBy: "header"} to count per tenant. The claim is read before the
// jwt plugin verifies the token; a forged token is refused by the jwt plugin (priority 1450, on
// every method, OPTIONS too: JWT sets run_on_preflight) before rate-limiting (priority 910)
// counts it, so only verified tenants are counted. Use it with LimitBy "header" on routes that
// require a JWT only: on open routes the claim is never verified, and those count by IP.
type TenantKey struct {
	// Header receives the tenant, e.g. "X-Gateway-Tenant"; a client-sent one is removed first.
	Header string
	// Strip are further client-sent headers to remove.
	Strip []string
}

// Name implements Plugin.
func (TenantKey) Name() string { return "pre-function" }

// Config implements Plugin.
func (p TenantKey) Config() pulumi.Map {
	return pulumi.Map{"access": pulumi.StringArray{pulumi.String(p.lua())}}
}

// lua is the access-phase function: plain Lua and the Kong PDK only, as the pre-function
// sandbox allows (no require).
func (p TenantKey) lua() string {
	quoted := make([]string, 0, len(p.Strip)+1)
	for _, h := range append([]string{p.Header}, p.Strip...) {
		quoted = append(quoted, fmt.Sprintf("%q", h))
	}
	return `local strip = {` + strings.Join(quoted, ", ") + `}
for _, h in ipairs(strip) do kong.service.request.clear_header(h) end
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64url(s)
  if #s > 8192 then return nil end
  local out, acc, bits = {}, 0, 0
  for i = 1, #s do
    local v = alphabet:find(s:sub(i, i), 1, true)
    if not v then return nil end
    acc, bits = acc * 64 + (v - 1), bits + 6
    if bits >= 8 then
      bits = bits - 8
      out[#out + 1] = string.char(math.floor(acc / 2 ^ bits) % 256)
      acc = acc % 2 ^ bits
    end
  end
  return table.concat(out)
end
local auth = kong.request.get_header("authorization")
local payload = auth and auth:match("^[Bb]earer%s+[%w_-]+%.([%w_-]+)%.[%w_-]+$")
local claims = payload and b64url(payload)
local tenant = claims and claims:match('"tenant"%s*:%s*"([a-z0-9-]+)"')
if tenant and #tenant <= 63 then kong.service.request.set_header(` + fmt.Sprintf("%q", p.Header) + `, tenant) end
`
}

func (p TenantKey) validate() error {
	var errs []error
	for _, h := range append([]string{p.Header}, p.Strip...) {
		if !headerName.MatchString(h) {
			errs = append(errs, fmt.Errorf("pre-function: %q is not an HTTP header name", h))
		}
	}
	return errors.Join(errs...)
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

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
		// OPTIONS is verified like any method: no route answers CORS preflights, and an
		// unverified OPTIONS would let TenantKey's unchecked tenant claim reach rate-limiting,
		// so a forged token could spend another tenant's budget.
		"run_on_preflight": pulumi.Bool(true),
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
