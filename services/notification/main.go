// Command notification is the notification service: per-tenant templates and dispatch records.
// A notification is requested through the API or by a domain event (a welcome message on
// UserRegistered, an invoice message on InvoiceGenerated, when the tenant has that template);
// the delivery provider reports progress back (sent, delivered) in callbacks signed with the
// stack's CALLBACK_SIGNING_KEY (chassis.Callback).
// Every other route needs a token holding notify.manage (templates, sending, reading a dispatch).
// Events (topic notification.events): NotificationRequested, NotificationSent,
// DeliveryConfirmed, TemplateUpdated.
package main

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "notification"

// statusCallback is the delivery provider's route: {id} is the notification. It lives under
// /v1/callbacks, which Kong serves without a token (service.yaml), unlike /v1/notifications.
const statusCallback = "POST /v1/callbacks/notifications/{id}/status"

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup, Public: []string{statusCallback}}
}

func setup(a *chassis.App, getenv func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &api{app: a}
	key, err := chassis.LoadCallbackKey(getenv)
	if err != nil {
		return nil, err
	}
	mux.Handle("PUT /v1/templates/{name}", chassis.Handler(s.putTemplate))
	mux.Handle("POST /v1/notifications", chassis.Handler(s.request))
	// The delivery provider's callback: no user token (a public route, open at Kong too), an HMAC
	// signature over tenant, path and body instead (chassis.Callback).
	mux.Handle(statusCallback, a.Callback(key, s.report))
	mux.Handle("GET /v1/notifications/{id}", chassis.Handler(s.get))
	return []chassis.Consumer{{Name: "triggers", Topics: []string{chassis.EventsTopic("identity"), chassis.EventsTopic("subscription")},
		Handle: s.onEvent}}, nil
}

func main() { chassis.Main(service()) }
