package main

import (
	"net/http"
	"slices"
	"testing"

	"github.com/groundwork/groundwork/services/chassis"
)

// roles.manage delegates the management of roles, not every permission: its holder assigns
// only roles whose permissions it holds all of, and grants only permissions it holds.
func TestRoleManagersCannotEscalate(t *testing.T) {
	h := startIdentity(t, nil)
	provision(t, h, "acme", "ada@example.com", "code-acme-0123456789abcdef", 100)
	if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": "ada@example.com", "password": pw, "setup_code": "code-acme-0123456789abcdef"}); code != http.StatusCreated {
		t.Fatalf("admin activation: %d", code)
	}
	ids := map[string]string{}
	for _, u := range []string{"carl", "dan"} {
		if code, _, _ := post(t, h, "/v1/users", "acme", "10.0.0.1", map[string]string{"email": u + "@example.com", "password": pw}); code != http.StatusAccepted {
			t.Fatalf("register %s: %d", u, code)
		}
		var id string
		if err := h.App.DB.QueryRow(t.Context(), `SELECT id::text FROM users WHERE email = $1`, u+"@example.com").Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[u] = id
	}
	token := func(user string) string {
		t.Helper()
		code, out, _ := login(t, h, "acme", "10.0.3.1", user+"@example.com", pw)
		if code != http.StatusOK {
			t.Fatalf("login %s: %d %v", user, code, out)
		}
		return out["access_token"].(string)
	}
	do := func(tok, path string, body map[string]string, want int) {
		t.Helper()
		if code, out := h.DoAs(t, "POST", path, tok, "", body); code != want {
			t.Fatalf("POST %s %v: %d %v, want %d", path, body, code, out, want)
		}
	}
	ada := token("ada")
	do(ada, "/v1/roles/support/permissions", map[string]string{"permission": chassis.PermRolesManage}, http.StatusOK)
	do(ada, "/v1/users/"+ids["carl"]+"/roles", map[string]string{"role": "support"}, http.StatusOK)
	do(ada, "/v1/roles/billing/permissions", map[string]string{"permission": chassis.PermBillingManage}, http.StatusOK)

	carl := token("carl") // support: roles.manage only
	do(carl, "/v1/users/"+ids["carl"]+"/roles", map[string]string{"role": chassis.RoleAdmin}, http.StatusForbidden)
	do(carl, "/v1/users/"+ids["carl"]+"/roles", map[string]string{"role": "billing"}, http.StatusForbidden)
	do(carl, "/v1/roles/support/permissions", map[string]string{"permission": chassis.PermUsersManage}, http.StatusForbidden)
	// What carl holds, carl may hand on.
	do(carl, "/v1/roles/helpers/permissions", map[string]string{"permission": chassis.PermRolesManage}, http.StatusOK)
	do(carl, "/v1/users/"+ids["dan"]+"/roles", map[string]string{"role": "helpers"}, http.StatusOK)
	do(carl, "/v1/users/"+ids["dan"]+"/roles", map[string]string{"role": "support"}, http.StatusOK)
	// The admin holds every tenant permission.
	do(ada, "/v1/users/"+ids["dan"]+"/roles", map[string]string{"role": chassis.RoleAdmin}, http.StatusOK)

	var roles []string
	if err := h.App.DB.QueryRow(t.Context(), `SELECT roles FROM users WHERE id::text = $1`, ids["carl"]).Scan(&roles); err != nil || !slices.Equal(roles, []string{"support"}) {
		t.Fatalf("carl's roles: %v %v, want [support]", roles, err)
	}
	var n int
	if err := h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM role_permissions WHERE tenant_id = 'acme' AND role = 'support'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("support's permissions: %d %v, want roles.manage only", n, err)
	}
}
