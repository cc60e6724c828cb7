package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// TestAuthorizationMatrix: every route of the analytics service against every kind of wrong
// caller; refused writes change nothing.
func TestAuthorizationMatrix(t *testing.T) {
	h := servicetest.Start(t, service(), nil)
	now := time.Now().UTC()
	period := map[string]any{"from": now.Add(-time.Hour), "to": now.Add(time.Hour)}
	code, rep := h.Do(t, "POST", "/v1/reports", "acme", period)
	if code != http.StatusCreated {
		t.Fatalf("report: %d %v", code, rep)
	}
	m := h.NewMatrix(t, "acme")
	ada := uuid.New()
	analyst := servicetest.Token(t, "acme", uuid.NewString(), chassis.RoleAdmin)
	want := func(right int) map[string]int {
		return map[string]int{servicetest.NoToken: 401, servicetest.Expired: 401, servicetest.OtherTenant: 403,
			servicetest.WrongRole: 403, servicetest.Suspended: 403, servicetest.Deactivated: 403, servicetest.Right: right}
	}
	batch := map[string]any{"events": []map[string]any{{"id": uuid.New(), "name": "page.view", "user_id": ada, "occurred_at": now}}}
	m.Run(t, h, []servicetest.MatrixRoute{
		{Method: "POST", Path: "/v1/events", Body: batch, Right: servicetest.Token(t, "acme", ada.String()), Want: want(202)},
		{Method: "POST", Path: "/v1/reports", Body: period, Right: analyst, Want: want(201)},
		{Method: "GET", Path: "/v1/reports/" + rep["id"].(string), Right: analyst, Want: want(200)},
	})
}
