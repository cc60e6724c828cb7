// Command subscription is the billing service: plans, subscriptions and their invoices.
// Payment is recorded as reported by a payment gateway: a callback (POST
// /v1/callbacks/payments/{invoice}) that carries no user's token but an HMAC signature with the
// stack's CALLBACK_SIGNING_KEY (chassis.Callback); the gateway integration itself lives outside
// this service.
// Every other route needs a token: plans need billing.manage; a user subscribes, upgrades and
// reads their own subscription, a holder of billing.manage anyone's in the tenant.
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

// paymentCallback is the payment gateway's route: {id} is the invoice. It lives under
// /v1/callbacks, which Kong serves without a token (service.yaml), unlike /v1/invoices.
const paymentCallback = "POST /v1/callbacks/payments/{id}"

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup, Public: []string{paymentCallback}}
}

func setup(a *chassis.App, getenv func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &api{app: a}
	key, err := chassis.LoadCallbackKey(getenv)
	if err != nil {
		return nil, err
	}
	mux.Handle("POST /v1/plans", chassis.Handler(s.createPlan))
	mux.Handle("POST /v1/subscriptions", chassis.Handler(s.subscribe))
	mux.Handle("POST /v1/subscriptions/{id}/upgrade", chassis.Handler(s.upgrade))
	// The payment gateway's callback: no user token (a public route, open at Kong too), an HMAC
	// signature over tenant, path and body instead (chassis.Callback).
	mux.Handle(paymentCallback, a.Callback(key, s.pay))
	mux.Handle("GET /v1/subscriptions/{id}", chassis.Handler(s.getSubscription))
	return nil, nil
}

func main() { chassis.Main(service()) }
