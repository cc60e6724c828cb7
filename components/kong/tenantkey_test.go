package kong

import (
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// lua runs the TenantKey function under Lua 5.1 (the language of Kong's LuaJIT) against a stub of
// the Kong PDK, with the Authorization header auth; it prints the tenant key set and the headers
// cleared. Without lua5.1 the test is skipped, except under CI=true, where it fails.
func runTenantKey(t *testing.T, p TenantKey, auth string) string {
	t.Helper()
	bin, err := exec.LookPath("lua5.1")
	if err != nil {
		msg := "lua5.1 not installed: the gateway's Lua needs it to be tested (apt-get install lua5.1)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true this is a failure, not a skip")
		}
		t.Skip(msg)
	}
	stub := `local auth = os.getenv("AUTH")
if auth == "" then auth = nil end
local set, cleared = {}, {}
kong = {
  request = {get_header = function(n) if string.lower(n) == "authorization" then return auth end end},
  service = {request = {
    clear_header = function(n) cleared[#cleared + 1] = n; set[n] = nil end,
    set_header = function(n, v) set[n] = v end,
  }},
}
` + p.lua() + `
io.write((set["` + p.Header + `"] or "-") .. "|" .. table.concat(cleared, ","))
`
	cmd := exec.Command(bin, "-")
	cmd.Stdin = strings.NewReader(stub)
	cmd.Env = append(os.Environ(), "AUTH="+auth)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lua: %v: %s", err, out)
	}
	return string(out)
}

func token(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return "Bearer " + enc([]byte(`{"alg":"ES256","kid":"k"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature"))
}

func TestTenantKeyTakesTheTenantClaimAndStripsIdentityHeaders(t *testing.T) {
	p := TenantKey{Header: "X-Gateway-Tenant", Strip: []string{"X-Consumer-ID", "X-User-ID"}}
	tests := []struct{ name, auth, want string }{
		{"tenant claim", token(`{"sub":"u1","tenant":"acme","roles":["admin"]}`), "acme"},
		{"spaced JSON", token(`{"tenant" : "globex-2", "sub":"u"}`), "globex-2"},
		{"lower-case scheme", strings.Replace(token(`{"tenant":"acme"}`), "Bearer", "bearer", 1), "acme"},
		{"not a DNS label", token(`{"tenant":"Evil Corp"}`), "-"},
		{"no tenant claim", token(`{"sub":"u1"}`), "-"},
		{"two segments", "Bearer abc.def", "-"},
		{"basic auth", "Basic dXNlcjpwYXNz", "-"},
		{"no header", "", "-"},
		{"not base64url", "Bearer a.b+c/=.d", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runTenantKey(t, p, tt.auth)
			key, cleared, _ := strings.Cut(got, "|")
			if key != tt.want {
				t.Errorf("tenant key %q, want %q", key, tt.want)
			}
			if cleared != "X-Gateway-Tenant,X-Consumer-ID,X-User-ID" {
				t.Errorf("cleared %q: every identity header, the key first", cleared)
			}
		})
	}
}

func TestTenantKeyRefusesBadHeaderNames(t *testing.T) {
	if err := (TenantKey{Header: "X-Gateway-Tenant\"; os.exit()", Strip: nil}).validate(); err == nil {
		t.Fatal("a header name that would break out of the Lua string was accepted")
	}
}

// TenantKey trusts the tenant claim because the jwt plugin has already refused a token that is
// not signed; that must hold for every method. Kong's jwt plugin skips OPTIONS unless
// run_on_preflight is on, and then a forged token's tenant would reach rate-limiting and spend
// that tenant's budget.
func TestJWTVerifiesPreflightRequestsToo(t *testing.T) {
	c := JWT{ClaimsToVerify: []string{"exp"}, KeyClaimName: "kid"}.Config()
	if v, ok := c["run_on_preflight"].(pulumi.Bool); !ok || !bool(v) {
		t.Fatalf("jwt run_on_preflight = %v: OPTIONS requests would pass unverified", c["run_on_preflight"])
	}
}
