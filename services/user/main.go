// Command user is the user-management service: profiles and preferences. A profile is created
// when identity registers a user (UserRegistered); clients then update it. Every route needs a
// token; users act on their own profile, holders of users.manage on any in their tenant.
// Events (topic user.events): ProfileCreated, ProfileUpdated, PreferenceChanged, UserDeactivated.
package main

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/groundwork/groundwork/services/chassis"
)

//go:embed migrations/*.sql
var migrations embed.FS

const name = "user"

func service() chassis.Service {
	m, _ := fs.Sub(migrations, "migrations")
	return chassis.Service{Name: name, Migrations: m, Setup: setup}
}

func setup(a *chassis.App, _ func(string) string, mux *http.ServeMux) ([]chassis.Consumer, error) {
	s := &store{app: a}
	mux.Handle("GET /v1/profiles/{id}", chassis.Handler(s.getProfile))
	mux.Handle("PUT /v1/profiles/{id}", chassis.Handler(s.updateProfile))
	mux.Handle("PUT /v1/profiles/{id}/preferences/{key}", chassis.Handler(s.setPreference))
	mux.Handle("POST /v1/profiles/{id}/deactivate", chassis.Handler(s.deactivate))
	return []chassis.Consumer{{Name: "registrations", Topics: []string{chassis.EventsTopic("identity")}, Handle: s.onIdentityEvent}}, nil
}

func main() { chassis.Main(service()) }
