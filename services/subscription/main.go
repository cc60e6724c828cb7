// Command subscription is the billing service: plans, subscriptions and their invoices.
// Payment is recorded as reported by a payment gateway (POST .../payments); the gateway
// integration itself lives outside this service.
// Every route needs a token: plans and payments need billing.manage; a user subscribes, upgrades
// and reads their own subscription, a holder of billing.manage anyone's in the tenant.
// Events (topic subscription.events): SubscriptionCreated, PlanUpgraded, InvoiceGenerated,
// PaymentProcessed.
package main

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "subscription"

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup}
}

func setup(a *chassis.App, _ func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &api{app: a}
	mux.Handle("POST /v1/plans", chassis.Handler(s.createPlan))
	mux.Handle("POST /v1/subscriptions", chassis.Handler(s.subscribe))
	mux.Handle("POST /v1/subscriptions/{id}/upgrade", chassis.Handler(s.upgrade))
	mux.Handle("POST /v1/invoices/{id}/payments", chassis.Handler(s.pay))
	mux.Handle("GET /v1/subscriptions/{id}", chassis.Handler(s.getSubscription))
	return nil, nil
}

func main() { chassis.Main(service()) }
