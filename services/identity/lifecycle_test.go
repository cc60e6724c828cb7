package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/chassistest"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

const pw = "correct horse battery"

func startIdentity(t *testing.T, extra map[string]string) *servicetest.Harness {
	t.Helper()
	env := map[string]string{"JWT_SIGNING_KEY": servicetest.SigningKeyPEM(), "BCRYPT_COST": "4", "REDIS_URL": chassistest.Redis(t),
		"LOGIN_MAX_FAILURES": "3", "TRUSTED_PROXY_HOPS": "2", "LOGIN_MAX_CLIENT_FAILURES": "6", "LOGIN_LOCKOUT": "1m",
		"PLATFORM_OPERATOR_EMAIL": "ops@example.com", "PLATFORM_OPERATOR_PASSWORD": "operators-only-password"}
	for k, v := range extra {
		env[k] = v
	}
	return servicetest.Start(t, service(), env)
}

// provision publishes TenantProvisioned as the tenant service does, naming admin with setup code.
func provision(t *testing.T, h *servicetest.Harness, tenant, admin, code string, users int64) {
	t.Helper()
	e, err := chassis.NewEvent(chassis.EventsTopic("tenant"), "TenantProvisioned", tenant, tenant, map[string]any{
		"tenant_id": tenant, "name": tenant, "quotas": map[string]int64{"users": users},
		"admin_email": admin, "admin_setup_sha256": sha256Hex(code)})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(t, e)
	servicetest.Eventually(t, 10*time.Second, "tenant provisioned and its admin created", func() bool {
		var n int
		_ = h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM users u JOIN lifecycle_tenants l ON l.tenant_id = u.tenant_id
			WHERE u.tenant_id = $1 AND u.email = $2`, tenant, admin).Scan(&n)
		return n == 1
	})
}

// post sends a public request with X-Tenant-ID and X-Forwarded-For (the client as Kong saw it).
func post(t *testing.T, h *servicetest.Harness, path, tenant, client string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", h.URL+path, bytes.NewReader(b))
	req.Header.Set(chassis.HeaderTenant, tenant)
	// What the client claims, then what the mesh gateway saw, then what Kong saw (the gateway).
	req.Header.Set("X-Forwarded-For", "203.0.113.9, "+client+", 10.1.0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func login(t *testing.T, h *servicetest.Harness, tenant, client, email, password string) (int, map[string]any, http.Header) {
	t.Helper()
	return post(t, h, "/v1/tokens", tenant, client, map[string]string{"email": email, "password": password})
}

func TestRegistrationNeedsAProvisionedTenantAndRevealsNothing(t *testing.T) {
	h := startIdentity(t, nil)
	cred := func(email string) map[string]string { return map[string]string{"email": email, "password": pw} }
	if code, body, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", cred("eve@example.com")); code != http.StatusForbidden {
		t.Fatalf("register into a tenant never provisioned: %d %v, want 403", code, body)
	}
	if code, _, _ := post(t, h, "/v1/users", chassis.OperatorTenant, "10.0.0.1", cred("eve@example.com")); code != http.StatusForbidden {
		t.Fatalf("register into the operators' tenant: %d, want 403", code)
	}
	provision(t, h, "acme", "ada@example.com", "setup-code-of-acme-0123456789", 3)
	// The first admin is the one provisioning named, activated with the setup code only.
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "guess"}); code != 401 {
		t.Fatalf("admin activation with a wrong code: %d, want 401", code)
	}
	code, admin, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "setup-code-of-acme-0123456789"})
	if code != http.StatusCreated || admin["roles"].([]any)[0] != "admin" {
		t.Fatalf("admin activation: %d %v", code, admin)
	}
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": "another password!", "setup_code": "setup-code-of-acme-0123456789"}); code != 401 {
		t.Fatalf("setup code used twice: %d, want 401", code)
	}
	// Registering an existing address answers exactly as a new one, and makes no admin.
	code1, first, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", cred("bob@example.com"))
	code2, again, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", cred("bob@example.com"))
	code3, taken, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", cred("ada@example.com"))
	if code1 != 202 || code2 != 202 || code3 != 202 || len(first) != len(again) || first["status"] != again["status"] || taken["status"] != first["status"] {
		t.Fatalf("registration reveals existing e-mails: %d %v / %d %v / %d %v", code1, first, code2, again, code3, taken)
	}
	if code, body, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw); code != 200 {
		t.Fatalf("admin's password changed by a registration of the same address: %d %v", code, body)
	}
	// Quota users = 3: ada, bob, carol; dave is refused and not stored.
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", cred("carol@example.com")); code != 202 {
		t.Fatalf("third user: %d", code)
	}
	if code, body, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", cred("dave@example.com")); code != http.StatusForbidden {
		t.Fatalf("user over the quota: %d %v, want 403", code, body)
	}
	var n int
	if err := h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE tenant_id = 'acme'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("users of acme: %d %v, want 3", n, err)
	}
	var types []string
	for _, e := range h.Events(t, chassis.EventsTopic(name), 4) {
		types = append(types, e.Type)
		if strings.Contains(string(e.Data), pw) || strings.Contains(string(e.Data), "$2a$") || strings.Contains(string(e.Data), "setup-code") {
			t.Fatalf("event %s carries a password, its hash or the setup code", e.Type)
		}
	}
	slices.Sort(types)
	if got := strings.Join(types, ","); got != "UserAuthenticated,UserRegistered,UserRegistered,UserRegistered" {
		t.Fatalf("events: %s (one UserRegistered per account: ada by provisioning, bob once, carol)", got)
	}
}

func TestLoginThrottleLifecycleAndRoles(t *testing.T) {
	h := startIdentity(t, nil)
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"}); code != 201 {
		t.Fatalf("admin activation: %d", code)
	}
	for _, e := range []string{"bob@example.com", "carl@example.com"} {
		if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": e, "password": pw}); code != 202 {
			t.Fatalf("register %s: %d", e, code)
		}
	}
	// Per account: 3 failures lock bob out, even with the right password, from any client.
	for i := range 3 {
		if code, _, _ := login(t, h, "acme", "10.0.1.1", "bob@example.com", "wrong password!!"); code != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	code, _, hdr := login(t, h, "acme", "10.0.1.2", "bob@example.com", pw)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("locked account: %d Retry-After %q, want 429 with Retry-After", code, hdr.Get("Retry-After"))
	}
	// Per client: 6 failures over any accounts lock the client out, also for others' accounts.
	for i := range 6 {
		if code, _, _ := login(t, h, "acme", "10.0.2.1", uuid.NewString()+"@example.com", "wrong password!!"); code != 401 {
			t.Fatalf("client failure %d: %d", i+1, code)
		}
	}
	if code, _, _ := login(t, h, "acme", "10.0.2.1", "carl@example.com", pw); code != http.StatusTooManyRequests {
		t.Fatalf("locked client: %d, want 429", code)
	}
	if code, _, _ := login(t, h, "acme", "10.0.2.2", "carl@example.com", pw); code != 200 {
		t.Fatalf("another client: %d, want 200", code)
	}

	// Roles and permissions: ada (admin) grants users.manage to "support" and makes carl support.
	code, tok, _ := login(t, h, "acme", "10.0.3.1", "ada@example.com", pw)
	if code != 200 {
		t.Fatalf("admin login: %d %v", code, tok)
	}
	ada := tok["access_token"].(string)
	if code, v := h.DoAs(t, "POST", "/v1/tokens/verify", ada, "", nil); code != 200 || !slices.Contains(v["perms"].([]any), any(chassis.PermRolesManage)) {
		t.Fatalf("verify: %d %v", code, v)
	}
	var carl string
	_ = h.App.DB.QueryRow(t.Context(), `SELECT id::text FROM users WHERE email = 'carl@example.com'`).Scan(&carl)
	if code, body := h.DoAs(t, "POST", "/v1/roles/support/permissions", ada, "", map[string]string{"permission": chassis.PermUsersManage}); code != 200 {
		t.Fatalf("grant: %d %v", code, body)
	}
	if code, _ := h.DoAs(t, "POST", "/v1/roles/support/permissions", ada, "", map[string]string{"permission": chassis.PermOperateTenants}); code != 422 {
		t.Fatalf("grant tenants.operate: %d, want 422", code)
	}
	if code, _ := h.DoAs(t, "POST", "/v1/users/"+carl+"/roles", ada, "", map[string]string{"role": chassis.RolePlatformOperator}); code != 403 {
		t.Fatalf("assign platform-operator: %d, want 403", code)
	}
	if code, _ := h.DoAs(t, "POST", "/v1/users/"+carl+"/roles", ada, "", map[string]string{"role": "support"}); code != 200 {
		t.Fatalf("assign support: %d", code)
	}
	code, tok, _ = login(t, h, "acme", "10.0.3.2", "carl@example.com", pw)
	if code != 200 {
		t.Fatalf("carl login: %d", code)
	}
	if code, v := h.DoAs(t, "POST", "/v1/tokens/verify", tok["access_token"].(string), "", nil); code != 200 || !slices.Contains(v["perms"].([]any), any(chassis.PermUsersManage)) {
		t.Fatalf("carl's token lacks the granted permission: %d %v", code, v)
	}

	// The platform operator logs in to the operators' tenant only.
	code, op, _ := login(t, h, chassis.OperatorTenant, "10.0.4.1", "ops@example.com", "operators-only-password")
	if code != 200 {
		t.Fatalf("operator login: %d %v", code, op)
	}
	if code, v := h.DoAs(t, "POST", "/v1/tokens/verify", op["access_token"].(string), "", nil); code != 200 || !slices.Contains(v["perms"].([]any), any(chassis.PermOperateTenants)) {
		t.Fatalf("operator token: %d %v", code, v)
	}
	if code, _, _ := login(t, h, chassis.OperatorTenant, "10.0.4.1", "ada@example.com", pw); code != 401 {
		t.Fatalf("tenant admin into the operators' tenant: %d, want 401", code)
	}

	// Lifecycle: a deactivated user and a suspended tenant get no token.
	h.Deactivate(t, "acme", carl)
	if code, _, _ := login(t, h, "acme", "10.0.5.1", "carl@example.com", pw); code != http.StatusForbidden {
		t.Fatalf("deactivated user login: %d, want 403", code)
	}
	h.Suspend(t, "acme")
	if code, _, _ := login(t, h, "acme", "10.0.5.1", "ada@example.com", pw); code != http.StatusForbidden {
		t.Fatalf("suspended tenant login: %d, want 403", code)
	}
	// A replica reloads the projection every LifecycleRefresh.
	servicetest.Eventually(t, chassis.LifecycleRefresh+time.Second, "token of a suspended tenant refused", func() bool {
		code, _ := h.DoAs(t, "POST", "/v1/tokens/verify", ada, "", nil)
		return code == http.StatusForbidden
	})
	found := false
	for _, e := range h.Events(t, chassis.EventsTopic(name), 9) { // 3 UserRegistered, 3 UserAuthenticated, RoleAssigned, PermissionGranted, AnomalyDetected
		found = found || e.Type == "AnomalyDetected"
		if e.Type == "AnomalyDetected" && strings.Contains(string(e.Data), "bob@example.com") {
			t.Fatal("AnomalyDetected names the account in clear")
		}
	}
	if !found {
		t.Fatal("no AnomalyDetected for the lockout")
	}
}

func TestLoginFailsClosedWithoutRedis(t *testing.T) {
	h := startIdentity(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"})
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	code, _, hdr := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("login with Redis down: %d, want 503 with Retry-After", code)
	}
}

// TestAuthorizationMatrix: every authenticated route of identity against every kind of wrong
// caller; refused writes change nothing. GET /v1/users/{id} is no longer public.
func TestAuthorizationMatrix(t *testing.T) {
	h := startIdentity(t, nil)
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "bob@example.com", "password": pw}); code != 202 {
		t.Fatalf("register: %d", code)
	}
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "carl@example.com", "password": pw}); code != 202 {
		t.Fatalf("register: %d", code)
	}
	var bob, carl string
	_ = h.App.DB.QueryRow(t.Context(), `SELECT id::text FROM users WHERE email = 'bob@example.com'`).Scan(&bob)
	_ = h.App.DB.QueryRow(t.Context(), `SELECT id::text FROM users WHERE email = 'carl@example.com'`).Scan(&carl)
	asBob := servicetest.Token(t, "acme", bob)
	code, enrol := h.DoAs(t, "POST", "/v1/users/"+bob+"/mfa", asBob, "", map[string]string{"password": pw})
	if code != 200 {
		t.Fatalf("enrol: %d %v", code, enrol)
	}
	otp, _ := totpCode(enrol["secret"].(string), time.Now().Unix()/totpStep)
	m := h.NewMatrix(t, "acme")
	admin := servicetest.Token(t, "acme", uuid.NewString(), chassis.RoleAdmin)
	want := func(wrongRole, right int) map[string]int {
		return map[string]int{servicetest.NoToken: 401, servicetest.Expired: 401, servicetest.OtherTenant: 403,
			servicetest.WrongRole: wrongRole, servicetest.Suspended: 403, servicetest.Deactivated: 403, servicetest.Right: right}
	}
	m.Run(t, h, []servicetest.MatrixRoute{
		{Method: "GET", Path: "/v1/users/" + bob, Right: asBob, Want: want(403, 200)},
		{Method: "POST", Path: "/v1/users/" + bob + "/mfa/verify", Body: map[string]string{"code": otp}, Right: asBob, Want: want(403, 200)},
		{Method: "POST", Path: "/v1/users/" + carl + "/mfa", Body: map[string]string{"password": pw}, Right: servicetest.Token(t, "acme", carl), Want: want(403, 200)},
		{Method: "POST", Path: "/v1/users/" + bob + "/refresh-tokens/revoke", Right: admin, Want: want(403, 200)},
		{Method: "POST", Path: "/v1/users/" + bob + "/roles", Body: map[string]string{"role": "billing"}, Right: admin, Want: want(403, 200)},
		{Method: "POST", Path: "/v1/roles/billing/permissions", Body: map[string]string{"permission": chassis.PermBillingManage}, Right: admin, Want: want(403, 200)},
		// Any member may ask whether its own token is valid.
		{Method: "POST", Path: "/v1/tokens/verify", Right: admin, Want: want(200, 200)},
	})
}

func TestRefreshTokensRotateAndRevoke(t *testing.T) {
	h := startIdentity(t, nil)
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	code, admin, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"})
	if code != 201 {
		t.Fatalf("admin activation: %d", code)
	}
	ada := admin["id"].(string)
	refresh := func(tok string) (int, map[string]any) {
		code, body, _ := post(t, h, "/v1/tokens/refresh", "acme", "10.0.0.1", map[string]string{"refresh_token": tok})
		return code, body
	}
	_, first, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	r1 := first["refresh_token"].(string)
	code, second := refresh(r1)
	if code != 200 || second["refresh_token"] == r1 || second["access_token"] == "" {
		t.Fatalf("refresh: %d %v", code, second)
	}
	// r1 used again: stolen. The whole family dies, r2 included.
	if code, _ := refresh(r1); code != 401 {
		t.Fatalf("reused refresh token: %d, want 401", code)
	}
	if code, _ := refresh(second["refresh_token"].(string)); code != 401 {
		t.Fatalf("successor of a reused token: %d, want 401 (family revoked)", code)
	}
	if code, _, _ := post(t, h, "/v1/tokens/refresh", "other", "10.0.0.1", map[string]string{"refresh_token": r1}); code != 401 {
		t.Fatalf("refresh token in another tenant: %d, want 401", code)
	}
	// Logout everywhere.
	_, third, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	if code, _ := h.DoAs(t, "POST", "/v1/users/"+ada+"/refresh-tokens/revoke", third["access_token"].(string), "", nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := refresh(third["refresh_token"].(string)); code != 401 {
		t.Fatalf("revoked refresh token: %d, want 401", code)
	}
	// A deactivated user's refresh token gives nothing.
	_, fourth, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	h.Deactivate(t, "acme", ada)
	if code, _ := refresh(fourth["refresh_token"].(string)); code != 403 {
		t.Fatalf("deactivated user's refresh: %d, want 403", code)
	}
	found := false
	for _, e := range h.Events(t, chassis.EventsTopic(name), 5) { // ada registered, 4 logins... at least the anomaly
		found = found || (e.Type == "AnomalyDetected" && strings.Contains(string(e.Data), "refresh_token_reuse"))
	}
	if !found {
		t.Fatal("no AnomalyDetected for the reused refresh token")
	}
}

func TestMFAGuardsLogin(t *testing.T) {
	h := startIdentity(t, nil)
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	code, admin, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"})
	if code != 201 {
		t.Fatalf("admin activation: %d", code)
	}
	ada := admin["id"].(string)
	_, tok, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	access := tok["access_token"].(string)
	// Enrolling needs the password again: a stolen access token alone cannot add a factor.
	for _, body := range []map[string]string{nil, {}, {"password": "wrong password!!"}} {
		want := http.StatusUnprocessableEntity
		if body["password"] != "" {
			want = http.StatusUnauthorized
		}
		if code, out := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa", access, "", body); code != want {
			t.Fatalf("enrol with %v: %d %v, want %d", body, code, out, want)
		}
	}
	code, enrol := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa", access, "", map[string]string{"password": pw})
	if code != 200 || !strings.HasPrefix(enrol["otpauth_uri"].(string), "otpauth://totp/") {
		t.Fatalf("enrol: %d %v", code, enrol)
	}
	secret := enrol["secret"].(string)
	if code, _ := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa/verify", access, "", map[string]string{"code": "000000"}); code != 422 {
		t.Fatalf("verify with a wrong code: %d, want 422", code)
	}
	now := time.Now().Unix() / totpStep
	current, _ := totpCode(secret, now)
	if code, _ := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa/verify", access, "", map[string]string{"code": current}); code != 200 {
		t.Fatalf("verify: %d", code)
	}
	if code, _, _ := login(t, h, "acme", "10.0.0.2", "ada@example.com", pw); code != 401 {
		t.Fatalf("login without the code: %d, want 401", code)
	}
	next, _ := totpCode(secret, now+1)
	withOTP := func(otp string) int {
		code, _, _ := post(t, h, "/v1/tokens", "acme", "10.0.0.3", map[string]string{"email": "ada@example.com", "password": pw, "otp": otp})
		return code
	}
	if code := withOTP(current); code != 401 {
		t.Fatalf("login with the code used to enrol: %d, want 401 (a code counts once)", code)
	}
	if code := withOTP(next); code != 200 {
		t.Fatalf("login with password and code: %d", code)
	}
	if code := withOTP(next); code != 401 {
		t.Fatalf("the same code twice: %d, want 401", code)
	}
	if code, _ := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa", access, "", map[string]string{"password": pw}); code != http.StatusConflict {
		t.Fatalf("re-enrol over enabled MFA: %d, want 409", code)
	}
	found := false
	for _, e := range h.Events(t, chassis.EventsTopic(name), 4) {
		found = found || e.Type == "MFAEnabled"
		if strings.Contains(string(e.Data), secret) {
			t.Fatalf("event %s carries the TOTP secret", e.Type)
		}
	}
	if !found {
		t.Fatal("no MFAEnabled")
	}
}
