// Command tenant is the tenant-management service: tenants and their lifecycle, resource
// quotas and feature toggles. It is the platform operators' API (the platform-operator role of
// the reserved tenant "platform", which no tenant can grant itself), so tenants are addressed by
// path, not by the X-Tenant-ID header; a tenant's members with tenant.read read their own.
// Events (topic tenant.events): TenantProvisioned, ResourceQuotaUpdated, FeatureEnabled,
// FeatureDisabled, TenantSuspended.
package main

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "tenant"

// defaultQuotas are given to every new tenant; operators raise them per tenant.
var defaultQuotas = map[string]int64{"users": 100, "api_requests_per_minute": 600, "storage_mb": 1024}

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup}
}

func setup(a *chassis.App, _ func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &api{app: a}
	mux.Handle("POST /v1/tenants", chassis.Handler(s.provision))
	mux.Handle("GET /v1/tenants/{id}", chassis.Handler(s.get))
	mux.Handle("PUT /v1/tenants/{id}/quotas/{resource}", chassis.Handler(s.setQuota))
	mux.Handle("PUT /v1/tenants/{id}/features/{feature}", chassis.Handler(s.setFeature))
	mux.Handle("POST /v1/tenants/{id}/suspend", chassis.Handler(s.suspend))
	return nil, nil
}

func main() { chassis.Main(service()) }
