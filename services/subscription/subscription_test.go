package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func TestPlanRequestValidation(t *testing.T) {
	tests := []struct {
		name string
		give planRequest
		want []string
	}{
		{"valid", planRequest{"pro", "Pro", 2900, "EUR"}, nil},
		{"free", planRequest{"free", "Free", 0, "USD"}, nil},
		{"bad", planRequest{"Pro Plan", "", -1, "euro"}, []string{"id", "name", "price_cents", "currency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields chassis.Problems
			if ve, ok := tt.give.validate().(*chassis.ValidationError); ok {
				fields = ve.Fields
			}
			if len(fields) != len(tt.want) {
				t.Fatalf("problems %v, want %v", fields, tt.want)
			}
			for _, f := range tt.want {
				if _, ok := fields[f]; !ok {
					t.Errorf("%s not reported: %v", f, fields)
				}
			}
		})
	}
}

func TestSubscribeUpgradeAndPay(t *testing.T) {
	h := servicetest.Start(t, service(), nil)
	for _, p := range []planRequest{{"basic", "Basic", 900, "EUR"}, {"pro", "Pro", 2900, "EUR"}} {
		if code, body := h.Do(t, "POST", "/v1/plans", "acme", p); code != http.StatusCreated {
			t.Fatalf("plan: %d %v", code, body)
		}
	}
	user := uuid.New()
	code, sub := h.Do(t, "POST", "/v1/subscriptions", "acme", map[string]any{"user_id": user, "plan_id": "basic"})
	if code != http.StatusCreated {
		t.Fatalf("subscribe: %d %v", code, sub)
	}
	if code, _ := h.Do(t, "POST", "/v1/subscriptions", "acme", map[string]any{"user_id": user, "plan_id": "pro"}); code != http.StatusConflict {
		t.Fatalf("second active subscription: %d, want 409", code)
	}
	if code, _ := h.Do(t, "POST", "/v1/subscriptions", "other", map[string]any{"user_id": user, "plan_id": "basic"}); code != http.StatusNotFound {
		t.Fatalf("another tenant's plan: %d, want 404", code)
	}
	path := "/v1/subscriptions/" + sub["id"].(string)
	if code, _ := h.Do(t, "POST", path+"/upgrade", "acme", map[string]any{"plan_id": "basic"}); code != 422 {
		t.Fatalf("upgrade to the same price: %d, want 422", code)
	}
	code, up := h.Do(t, "POST", path+"/upgrade", "acme", map[string]any{"plan_id": "pro"})
	if code != 200 {
		t.Fatalf("upgrade: %d %v", code, up)
	}
	inv := "/v1/invoices/" + up["invoice_id"].(string) + "/payments"
	if code, _ := h.Do(t, "POST", inv, "acme", map[string]any{"amount_cents": 100, "reference": "psp-1"}); code != 422 {
		t.Fatalf("wrong amount: %d, want 422", code)
	}
	if code, _ := h.Do(t, "POST", inv, "acme", map[string]any{"amount_cents": 2000, "reference": "psp-1"}); code != 200 {
		t.Fatalf("pay the difference: %d", code)
	}
	if code, _ := h.Do(t, "POST", inv, "acme", map[string]any{"amount_cents": 2000, "reference": "psp-1"}); code != http.StatusConflict {
		t.Fatalf("pay twice: %d, want 409", code)
	}
	code, view := h.Do(t, "GET", path, "acme", nil)
	invs, _ := view["invoices"].([]any)
	if code != 200 || view["plan_id"] != "pro" || len(invs) != 2 {
		t.Fatalf("read model: %d %v", code, view)
	}
	var types []string
	for _, e := range h.Events(t, chassis.EventsTopic(name), 5) {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "SubscriptionCreated,InvoiceGenerated,PlanUpgraded,InvoiceGenerated,PaymentProcessed" {
		t.Fatalf("events: %s", got)
	}
}
