package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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

var (
	secret = []byte("test-callback-secret-0123456789abcdef")
	env    = map[string]string{chassis.CallbackKeyEnv: string(secret)}
)

func TestSubscribeUpgradeAndPay(t *testing.T) {
	h := servicetest.Start(t, service(), env)
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
	inv := "/v1/callbacks/payments/" + up["invoice_id"].(string)
	now := time.Now()
	if code, _ := h.Callback(t, secret, now, "psp-try-1", "POST", inv, "acme", map[string]any{"amount_cents": 100, "reference": "psp-1"}); code != 422 {
		t.Fatalf("wrong amount: %d, want 422", code)
	}
	if code, _ := h.Callback(t, secret, now, "psp-try-2", "POST", inv, "acme", map[string]any{"amount_cents": 2000, "reference": "psp-1"}); code != 200 {
		t.Fatalf("pay the difference: %d", code)
	}
	if code, _ := h.Callback(t, secret, now, "psp-try-3", "POST", inv, "acme", map[string]any{"amount_cents": 2000, "reference": "psp-1"}); code != http.StatusConflict {
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

func TestServiceRefusesToStartWithoutTheCallbackKey(t *testing.T) {
	_, err := setup(nil, func(string) string { return "" }, http.NewServeMux())
	if err == nil || !strings.Contains(err.Error(), chassis.CallbackKeyEnv) {
		t.Fatalf("setup without %s: %v", chassis.CallbackKeyEnv, err)
	}
}

// The case: an invoice was marked paid with no token. Payment callbacks are refused
// unless signed with the stack's secret, within the window, for this invoice and tenant; a
// refused one changes no row and emits no event; a retried one is answered again, applied once.
func TestPaymentCallbacksMustBeSignedFreshAndAreIdempotent(t *testing.T) {
	h := servicetest.Start(t, service(), env)
	if code, _ := h.Do(t, "POST", "/v1/plans", "acme", planRequest{"basic", "Basic", 900, "EUR"}); code != http.StatusCreated {
		t.Fatal("plan")
	}
	_, sub := h.Do(t, "POST", "/v1/subscriptions", "acme", map[string]any{"user_id": uuid.New(), "plan_id": "basic"})
	path := "/v1/callbacks/payments/" + sub["invoice_id"].(string)
	other := "/v1/callbacks/payments/" + uuid.NewString()
	pay := map[string]any{"amount_cents": 900, "reference": "psp-77"}
	body, _ := json.Marshal(pay)
	now := time.Now()
	signed := func(secret []byte, at time.Time, key, tenant, signedPath string) http.Header {
		hd := http.Header{}
		hd.Set(chassis.HeaderCallbackTimestamp, strconv.FormatInt(at.Unix(), 10))
		hd.Set(chassis.HeaderIdempotencyKey, key)
		hd.Set(chassis.HeaderCallbackSignature, chassis.SignCallback(secret, at.Unix(), key, tenant, "POST", signedPath, body))
		return hd
	}
	refused := []struct {
		name   string
		tenant string
		header http.Header
	}{
		{"no signature", "acme", http.Header{}},
		{"wrong secret", "acme", signed([]byte("not-the-stack-secret-0123456789abcdef"), now, "psp-77-a", "acme", path)},
		{"stale: signed 6 minutes ago", "acme", signed(secret, now.Add(-6*time.Minute), "psp-77-a", "acme", path)},
		{"signed 6 minutes ahead", "acme", signed(secret, now.Add(6*time.Minute), "psp-77-a", "acme", path)},
		{"signed for another invoice", "acme", signed(secret, now, "psp-77-a", "acme", other)},
		{"signed for another tenant", "acme", signed(secret, now, "psp-77-a", "evil", path)},
		{"no idempotency key", "acme", func() http.Header {
			hd := signed(secret, now, "psp-77-a", "acme", path)
			hd.Del(chassis.HeaderIdempotencyKey)
			return hd
		}()},
	}
	before := h.SnapshotTables(t, "invoices", "callback_receipts")
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if code, out, _ := h.DoRaw(t, "POST", path, tt.tenant, tt.header, body); code != http.StatusUnauthorized {
				t.Fatalf("%d %v, want 401", code, out)
			}
			if after := h.SnapshotTables(t, "invoices", "callback_receipts"); after != before {
				t.Fatalf("a refused callback changed the database:\nbefore %s\nafter %s", before, after)
			}
		})
	}

	code, first, _ := h.DoRaw(t, "POST", path, "acme", signed(secret, now, "psp-77-a", "acme", path), body)
	if code != http.StatusOK || first["status"] != "paid" {
		t.Fatalf("signed payment: %d %v", code, first)
	}
	paid := h.SnapshotTables(t, "invoices")
	// The gateway did not see the answer and retries the same call: same answer, nothing new.
	code, again, _ := h.DoRaw(t, "POST", path, "acme", signed(secret, now.Add(time.Second), "psp-77-a", "acme", path), body)
	if code != http.StatusOK || again["invoice_id"] != first["invoice_id"] || again["status"] != "paid" {
		t.Fatalf("retried payment: %d %v, want the first answer again", code, again)
	}
	if h.SnapshotTables(t, "invoices") != paid {
		t.Fatal("a retried payment changed the invoice or emitted another event")
	}
	other2, _ := json.Marshal(map[string]any{"amount_cents": 900, "reference": "psp-78"})
	hd := http.Header{}
	hd.Set(chassis.HeaderCallbackTimestamp, strconv.FormatInt(now.Unix(), 10))
	hd.Set(chassis.HeaderIdempotencyKey, "psp-77-a")
	hd.Set(chassis.HeaderCallbackSignature, chassis.SignCallback(secret, now.Unix(), "psp-77-a", "acme", "POST", path, other2))
	if code, out, _ := h.DoRaw(t, "POST", path, "acme", hd, other2); code != http.StatusUnprocessableEntity {
		t.Fatalf("idempotency key reused for another request: %d %v, want 422", code, out)
	}
	var n int
	if err := h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE event_type = 'PaymentProcessed'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d PaymentProcessed events (%v), want exactly 1", n, err)
	}
}

// The payment gateway's callback reach the service without a token: Kong serves them on an auth: none route.
func TestPublicRoutesAreOpenAtTheGateway(t *testing.T) {
	servicetest.CheckPublicRoutesOpenAtGateway(t, "..", service())
}
