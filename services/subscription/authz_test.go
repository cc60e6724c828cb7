package main

import (
	"maps"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// TestAuthorizationMatrix: every route of the subscription service against every kind of wrong
// caller; refused writes change nothing.
func TestAuthorizationMatrix(t *testing.T) {
	h := servicetest.Start(t, service(), env)
	for _, p := range []planRequest{{"basic", "Basic", 900, "EUR"}, {"pro", "Pro", 2900, "EUR"}} {
		if code, body := h.Do(t, "POST", "/v1/plans", "acme", p); code != http.StatusCreated {
			t.Fatalf("plan: %d %v", code, body)
		}
	}
	ada, bob := uuid.New(), uuid.New()
	code, sub := h.Do(t, "POST", "/v1/subscriptions", "acme", map[string]any{"user_id": ada, "plan_id": "basic"})
	if code != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", code, sub)
	}
	m := h.NewMatrix(t, "acme")
	billing := servicetest.Token(t, "acme", uuid.NewString(), chassis.RoleAdmin)
	asAda := servicetest.Token(t, "acme", ada.String())
	asBob := servicetest.Token(t, "acme", bob.String())
	want := func(right int) map[string]int {
		return map[string]int{servicetest.NoToken: 401, servicetest.Expired: 401, servicetest.OtherTenant: 403,
			servicetest.WrongRole: 403, servicetest.Suspended: 403, servicetest.Deactivated: 403, servicetest.Right: right}
	}
	path := "/v1/subscriptions/" + sub["id"].(string)
	m.Run(t, h, []servicetest.MatrixRoute{
		{Method: "POST", Path: "/v1/plans", Body: planRequest{"gold", "Gold", 9900, "EUR"}, Right: billing, Want: want(201)},
		{Method: "POST", Path: "/v1/subscriptions", Body: map[string]any{"user_id": bob, "plan_id": "basic"}, Right: asBob, Want: want(201)},
		{Method: "GET", Path: path, Right: asAda, Want: want(200)},
		{Method: "POST", Path: path + "/upgrade", Body: map[string]any{"plan_id": "pro"}, Right: asAda, Want: want(200)},
	})
	// Payments are the gateway's signed callbacks (TestPaymentCallbacksMustBeSignedFreshAndAreIdempotent):
	// no token, not even a billing admin's, records one.
	pay := "/v1/callbacks/payments/" + sub["invoice_id"].(string)
	for who, tok := range map[string]string{"subscriber": asAda, "billing admin": billing} {
		before := h.Snapshot(t)
		if code, _ := h.DoAs(t, "POST", pay, tok, "acme", map[string]any{"amount_cents": 900, "reference": "x"}); code != http.StatusUnauthorized {
			t.Errorf("%s records a payment with a token and no signature: %d, want 401", who, code)
		}
		if after := h.Snapshot(t); !maps.Equal(before, after) {
			t.Errorf("%s: a refused payment changed the database", who)
		}
	}
}
