// Command subscription is the billing service: plans, subscriptions and their invoices.
// Payment is recorded as reported by a payment gateway (POST .../payments, a callback signed
// with the stack's CALLBACK_SIGNING_KEY, see chassis.Callback); the gateway integration itself
// lives outside this service.
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

func setup(a *chassis.App, getenv func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &api{app: a}
	key, err := chassis.LoadCallbackKey(getenv)
	if err != nil {
		return nil, err
	}
	mux.Handle("POST /v1/plans", chassis.RequireTenant(chassis.Handler(s.createPlan)))
	mux.Handle("POST /v1/subscriptions", chassis.RequireTenant(chassis.Handler(s.subscribe)))
	mux.Handle("POST /v1/subscriptions/{id}/upgrade", chassis.RequireTenant(chassis.Handler(s.upgrade)))
	// The payment gateway's callback: no user token, an HMAC signature (chassis.Callback).
	mux.Handle("POST /v1/invoices/{id}/payments", chassis.RequireTenant(a.Callback(key, s.pay)))
	mux.Handle("GET /v1/subscriptions/{id}", chassis.RequireTenant(chassis.Handler(s.getSubscription)))
	return nil, nil
}

func main() { chassis.Main(service()) }
