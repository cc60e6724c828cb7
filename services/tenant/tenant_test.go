package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func TestProvisionRequestValidation(t *testing.T) {
	tests := []struct {
		name string
		give provisionRequest
		want int // number of problems
	}{
		{"valid", provisionRequest{"acme", "Acme Corp", "ada@example.com"}, 0},
		{"upper-case id", provisionRequest{"Acme", "Acme", "ada@example.com"}, 1},
		{"empty", provisionRequest{}, 3},
		{"long id", provisionRequest{strings.Repeat("a", 64), "x", "ada@example.com"}, 1},
		{"operators' tenant", provisionRequest{chassis.OperatorTenant, "Mine now", "eve@example.com"}, 1},
		{"bad admin e-mail", provisionRequest{"acme", "Acme", "Ada <ada@example.com>"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.validate()
			got := 0
			if ve, ok := err.(*chassis.ValidationError); ok {
				got = len(ve.Fields)
			}
			if got != tt.want {
				t.Fatalf("%d problems (%v), want %d", got, err, tt.want)
			}
		})
	}
}

func TestTenantLifecycle(t *testing.T) {
	h := servicetest.Start(t, service(), nil)
	op := servicetest.Token(t, chassis.OperatorTenant, h.Subject, chassis.RolePlatformOperator)
	do := func(method, path string, body any) (int, map[string]any) {
		return h.DoAs(t, method, path, op, "", body)
	}
	if code, body := do("POST", "/v1/tenants", map[string]string{"id": "acme", "name": "Acme Corp", "admin_email": "ada@example.com"}); code != http.StatusCreated || len(body["admin_setup_code"].(string)) < 32 {
		t.Fatalf("provision: %d %v", code, body)
	}
	if code, _ := do("POST", "/v1/tenants", map[string]string{"id": "acme", "name": "Again", "admin_email": "ada@example.com"}); code != http.StatusConflict {
		t.Fatalf("provision twice: %d, want 409", code)
	}
	if code, body := do("PUT", "/v1/tenants/acme/quotas/users", map[string]any{"max": 500}); code != 200 {
		t.Fatalf("quota: %d %v", code, body)
	}
	for _, bad := range []int64{-1, 9223372036854775807} {
		if code, _ := do("PUT", "/v1/tenants/acme/quotas/users", map[string]any{"max": bad}); code != 422 {
			t.Fatalf("quota %d: %d, want 422", bad, code)
		}
	}
	if code, _ := do("PUT", "/v1/tenants/acme/features/sso", map[string]any{"enabled": true}); code != 200 {
		t.Fatalf("feature: %d", code)
	}
	if code, _ := do("PUT", "/v1/tenants/acme/features/sso", map[string]any{"enabled": true}); code != 200 {
		t.Fatalf("feature again: %d", code)
	}
	if code, _ := do("PUT", "/v1/tenants/nobody/features/sso", map[string]any{"enabled": true}); code != 404 {
		t.Fatalf("unknown tenant: %d, want 404", code)
	}
	code, v := do("GET", "/v1/tenants/acme", nil)
	if code != 200 || v["quotas"].(map[string]any)["users"] != float64(500) || v["features"].(map[string]any)["sso"] != true {
		t.Fatalf("read model: %d %v", code, v)
	}
	if code, _ := do("POST", "/v1/tenants/acme/suspend", map[string]string{"reason": "unpaid invoices"}); code != 200 {
		t.Fatalf("suspend: %d", code)
	}
	if code, _ := do("PUT", "/v1/tenants/acme/quotas/users", map[string]any{"max": 1}); code != http.StatusConflict {
		t.Fatalf("change a suspended tenant: %d, want 409", code)
	}
	var types []string
	for _, e := range h.Events(t, chassis.EventsTopic(name), 4) {
		types = append(types, e.Type)
	}
	// Same tenant, same key, one partition: in order. Enabling twice emitted once.
	if got := strings.Join(types, ","); got != "TenantProvisioned,ResourceQuotaUpdated,FeatureEnabled,TenantSuspended" {
		t.Fatalf("events: %s", got)
	}
}
