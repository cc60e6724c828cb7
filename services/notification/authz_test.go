package main

import (
	"maps"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// TestAuthorizationMatrix: every route of the notification service against every kind of wrong
// caller; refused writes change nothing. Templates, sending and reading a dispatch need
// notify.manage, held by the admin role or granted to another role.
func TestAuthorizationMatrix(t *testing.T) {
	h := servicetest.Start(t, service(), env)
	if code, body := h.Do(t, "PUT", "/v1/templates/otp", "acme", templateRequest{"sms", "", "Code {{.code}}"}); code != http.StatusOK {
		t.Fatalf("template: %d %v", code, body)
	}
	code, n := h.Do(t, "POST", "/v1/notifications", "acme", map[string]any{"template": "otp", "recipient": "+4915112345678", "data": map[string]any{"code": "1"}})
	if code != http.StatusAccepted {
		t.Fatalf("request: %d %v", code, n)
	}
	m := h.NewMatrix(t, "acme")
	admin := servicetest.Token(t, "acme", uuid.NewString(), chassis.RoleAdmin)
	granted := servicetest.Claims("acme", uuid.NewString(), "support") // a tenant role granted notify.manage
	granted.Perms = []string{chassis.PermNotifyManage}
	notifier := servicetest.Sign(t, granted)
	want := func(right int) map[string]int {
		return map[string]int{servicetest.NoToken: 401, servicetest.Expired: 401, servicetest.OtherTenant: 403,
			servicetest.WrongRole: 403, servicetest.Suspended: 403, servicetest.Deactivated: 403, servicetest.Right: right}
	}
	send := map[string]any{"template": "otp", "recipient": "+4915112345679", "data": map[string]any{"code": "2"}}
	m.Run(t, h, []servicetest.MatrixRoute{
		{Method: "PUT", Path: "/v1/templates/otp", Body: templateRequest{"sms", "", "Your code {{.code}}"}, Right: admin, Want: want(200)},
		{Method: "PUT", Path: "/v1/templates/otp", Body: templateRequest{"sms", "", "Code: {{.code}}"}, Right: notifier, Want: want(200)},
		{Method: "POST", Path: "/v1/notifications", Body: send, Right: notifier, Want: want(202)},
		{Method: "GET", Path: "/v1/notifications/" + n["id"].(string), Right: notifier, Want: want(200)},
	})
	// The delivery-status callback is the provider's, authenticated by its signature
	// (TestDeliveryCallbacksMustBeSigned): no token, not even an admin's, moves a dispatch.
	before := h.Snapshot(t)
	if code, _ := h.DoAs(t, "POST", "/v1/callbacks/notifications/"+n["id"].(string)+"/status", admin, "acme", map[string]string{"status": "sent"}); code != http.StatusUnauthorized {
		t.Errorf("an admin's token on the delivery callback without a signature: %d, want 401", code)
	}
	if after := h.Snapshot(t); !maps.Equal(before, after) {
		t.Error("a refused delivery callback changed the database")
	}
}
