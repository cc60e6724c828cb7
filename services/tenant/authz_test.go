package main

import (
	"net/http"
	"testing"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// TestAuthorizationMatrix: every route of the tenant service against every kind of wrong caller.
// The matrix runs over the operators' tenant: its right caller is a platform operator; a tenant
// admin, even one whose token claims the platform-operator role, is refused.
func TestAuthorizationMatrix(t *testing.T) {
	h := servicetest.Start(t, service(), nil)
	op := servicetest.Token(t, chassis.OperatorTenant, h.Subject, chassis.RolePlatformOperator)
	if code, body := h.DoAs(t, "POST", "/v1/tenants", op, "", map[string]string{"id": "acme", "name": "Acme", "admin_email": "ada@example.com"}); code != http.StatusCreated {
		t.Fatalf("provision: %d %v", code, body)
	}
	m := h.NewMatrix(t, chassis.OperatorTenant)
	want := func(right int) map[string]int {
		return map[string]int{servicetest.NoToken: 401, servicetest.Expired: 401, servicetest.OtherTenant: 403,
			servicetest.WrongRole: 403, servicetest.Suspended: 403, servicetest.Deactivated: 403, servicetest.Right: right}
	}
	m.Run(t, h, []servicetest.MatrixRoute{
		{Method: "POST", Path: "/v1/tenants", Body: map[string]string{"id": "globex", "name": "Globex", "admin_email": "hank@example.com"}, Right: op, Want: want(201)},
		{Method: "GET", Path: "/v1/tenants/acme", Right: op, Want: want(200)},
		{Method: "PUT", Path: "/v1/tenants/acme/quotas/users", Body: map[string]any{"max": 5}, Right: op, Want: want(200)},
		{Method: "PUT", Path: "/v1/tenants/acme/features/sso", Body: map[string]any{"enabled": true}, Right: op, Want: want(200)},
		{Method: "POST", Path: "/v1/tenants/acme/suspend", Body: map[string]string{"reason": "unpaid"}, Right: op, Want: want(200)},
	})

	// Tenants cannot operate: neither acme's admin, nor one whose token claims platform-operator.
	before := h.Snapshot(t)
	for _, tok := range []string{servicetest.Token(t, "globex", "u1", chassis.RoleAdmin),
		servicetest.Token(t, "globex", "u1", chassis.RoleAdmin, chassis.RolePlatformOperator)} {
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v1/tenants", map[string]string{"id": "evil", "name": "Evil", "admin_email": "eve@example.com"}},
			{"PUT", "/v1/tenants/globex/quotas/users", map[string]any{"max": 1000000}},
			{"POST", "/v1/tenants/acme/suspend", map[string]string{"reason": "spite"}},
			{"GET", "/v1/tenants/acme", nil},
		} {
			if code, _ := h.DoAs(t, req.method, req.path, tok, "", req.body); code != http.StatusForbidden {
				t.Errorf("tenant admin %s %s: %d, want 403", req.method, req.path, code)
			}
		}
	}
	if after := h.Snapshot(t); len(before) == 0 || before["tenants"] != after["tenants"] || before["outbox"] != after["outbox"] || before["quotas"] != after["quotas"] {
		t.Errorf("refused operator calls changed the database: %v -> %v", before, after)
	}
	// A tenant's admin reads its own tenant.
	if code, _ := h.DoAs(t, "GET", "/v1/tenants/globex", servicetest.Token(t, "globex", "u1", chassis.RoleAdmin), "", nil); code != http.StatusOK {
		t.Errorf("admin reads own tenant: %d, want 200", code)
	}
}
