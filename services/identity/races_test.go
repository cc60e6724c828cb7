package main

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// Guesses sent at the same moment must not get more password checks than the account's limit:
// each attempt is counted before its bcrypt work, not after. With the limits of startIdentity
// (3 per account, 6 per client), 20 concurrent guesses for one account get 3 answers from the
// password check and 17 lockouts, whatever their order; the lockout is reported once.
func TestConcurrentGuessesGetNoMoreChecksThanTheLimit(t *testing.T) {
	h := startIdentity(t, map[string]string{"BCRYPT_COST": "8"}) // a few ms per check: the requests overlap
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "bob@example.com", "password": pw}); code != http.StatusAccepted {
		t.Fatalf("register: %d", code)
	}
	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			password := "wrong password!!"
			if i == n-1 {
				password = pw
			}
			codes[i], _, _ = login(t, h, "acme", "10.0.9.9", "bob@example.com", password)
		})
	}
	wg.Wait()
	checked, locked := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusUnauthorized, http.StatusOK:
			checked++
		case http.StatusTooManyRequests:
			locked++
		}
	}
	if checked > 3 || checked+locked != n {
		t.Fatalf("20 concurrent guesses for one account (limit 3): %d checked against the password, %d locked out (codes %v)", checked, locked, codes)
	}
	// A success is not a failure: logins that succeed never lock their client out, however many.
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "carol@example.com", "password": pw}); code != http.StatusAccepted {
		t.Fatalf("register: %d", code)
	}
	for i := range 8 {
		if code, body, _ := login(t, h, "acme", "10.0.8.8", "carol@example.com", pw); code != http.StatusOK {
			t.Fatalf("login %d of a client whose logins are right: %d %v", i+1, code, body)
		}
	}
}

// TenantProvisioned reaches identity's lifecycle projection and its tenant-admins consumer
// separately. A registration between the two must not take the named admin's e-mail: the tenant
// opens only once its admin exists, and the admin then activates with the setup code.
func TestRegistrationWaitsForTheProvisionedAdmin(t *testing.T) {
	h := startIdentity(t, nil)
	// The lifecycle consumer has applied TenantProvisioned, tenant-admins not yet.
	if _, err := h.App.DB.Exec(t.Context(), `INSERT INTO lifecycle_tenants (tenant_id, status, quotas) VALUES ('acme', 'active', '{"users": 100}')`); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": "a squatter's password"}); code != http.StatusForbidden {
		t.Fatalf("registration before the tenant's admin exists: %d %v, want 403", code, body)
	}
	e, err := chassis.NewEvent(chassis.EventsTopic("tenant"), "TenantProvisioned", "acme", "acme", map[string]any{
		"tenant_id": "acme", "name": "acme", "quotas": map[string]int64{"users": 100},
		"admin_email": "ada@example.com", "admin_setup_sha256": sha256Hex("code-acme-0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	h.Publish(t, e)
	servicetest.Eventually(t, 10*time.Second, "the admin's account created", func() bool {
		var n int
		_ = h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE tenant_id = 'acme' AND 'admin' = ANY(roles)`).Scan(&n)
		return n == 1
	})
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": "a squatter's password"}); code != http.StatusAccepted {
		t.Fatalf("registration of a taken e-mail: %d, want the usual 202", code)
	}
	if code, body, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"}); code != http.StatusCreated {
		t.Fatalf("admin activation: %d %v, want 201", code, body)
	}
	if code, _, _ := login(t, h, "acme", "10.0.0.2", "ada@example.com", "a squatter's password"); code != http.StatusUnauthorized {
		t.Fatalf("the squatter's password logs in as the admin: %d", code)
	}
}

// Enrolling a second factor checks the password again, under the login throttle: a stolen access
// token cannot turn it into an unthrottled password oracle.
func TestMFAEnrolmentPasswordIsThrottled(t *testing.T) {
	h := startIdentity(t, nil)
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	code, admin, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"})
	if code != http.StatusCreated {
		t.Fatalf("admin activation: %d", code)
	}
	ada := admin["id"].(string)
	_, tok, _ := login(t, h, "acme", "10.0.0.1", "ada@example.com", pw)
	access := tok["access_token"].(string)
	for i := range 3 { // LOGIN_MAX_FAILURES of startIdentity
		if code, out := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa", access, "", map[string]string{"password": "wrong password!!"}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %v", i+1, code, out)
		}
	}
	if code, out := h.DoAs(t, "POST", "/v1/users/"+ada+"/mfa", access, "", map[string]string{"password": pw}); code != http.StatusTooManyRequests {
		t.Fatalf("enrol after 3 wrong passwords: %d %v, want 429", code, out)
	}
	if code, _, _ := login(t, h, "acme", "10.0.0.2", "ada@example.com", pw); code != http.StatusTooManyRequests {
		t.Fatalf("login of the locked account: %d, want 429", code)
	}
}
