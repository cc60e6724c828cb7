package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// TestAuthorizationMatrix: every route of the user service against every kind of wrong caller;
// refused writes change nothing.
func TestAuthorizationMatrix(t *testing.T) {
	h := servicetest.Start(t, service(), nil, chassis.EventsTopic("identity"))
	ada := uuid.New()
	ev := registered("acme", ada, "ada@example.com")
	h.Publish(t, ev)
	path := "/v1/profiles/" + ada.String()
	servicetest.Eventually(t, 10*time.Second, "profile created", func() bool {
		code, _ := h.Do(t, "GET", path, "acme", nil)
		return code == http.StatusOK
	})
	m := h.NewMatrix(t, "acme")
	self := servicetest.Token(t, "acme", ada.String())
	admin := servicetest.Token(t, "acme", uuid.NewString(), chassis.RoleAdmin)
	refused := func(right int) map[string]int {
		return map[string]int{servicetest.NoToken: 401, servicetest.Expired: 401, servicetest.OtherTenant: 403,
			servicetest.WrongRole: 403, servicetest.Suspended: 403, servicetest.Deactivated: 403, servicetest.Right: right}
	}
	m.Run(t, h, []servicetest.MatrixRoute{
		{Method: "GET", Path: path, Right: self, Want: refused(200)},
		{Method: "PUT", Path: path, Body: map[string]string{"display_name": "Ada", "locale": "en"}, Right: self, Want: refused(200)},
		{Method: "PUT", Path: path + "/preferences/theme", Body: map[string]string{"value": "dark"}, Right: admin, Want: refused(200)},
		{Method: "POST", Path: path + "/deactivate", Right: self, Want: refused(204)},
	})
	// Another tenant's admin in its own scope does not find acme's profile.
	if code, _ := h.DoAs(t, "GET", path, servicetest.Token(t, "evil", uuid.NewString(), chassis.RoleAdmin), "", nil); code != http.StatusNotFound {
		t.Errorf("another tenant's admin reads the profile: %d, want 404", code)
	}
	// The deactivation above reaches this service's own projection: ada's token is refused now.
	servicetest.Eventually(t, 10*time.Second, "deactivated user refused", func() bool {
		code, _ := h.DoAs(t, "GET", path, self, "", nil)
		return code == http.StatusForbidden
	})
}
