package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func TestTemplateValidation(t *testing.T) {
	tests := []struct {
		name, tname string
		give        templateRequest
		want        []string
	}{
		{"valid email", "welcome", templateRequest{"email", "Hi {{.email}}", "Welcome"}, nil},
		{"valid sms", "otp", templateRequest{"sms", "", "Code {{.code}}"}, nil},
		{"email without subject", "welcome", templateRequest{"email", "", "x"}, []string{"subject"}},
		{"bad channel and name", "Welcome!", templateRequest{"fax", "", "x"}, []string{"name", "channel"}},
		{"unparsable", "welcome", templateRequest{"sms", "", "Hi {{.email"}, []string{"body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fields chassis.Problems
			if ve, ok := tt.give.validate(tt.tname).(*chassis.ValidationError); ok {
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

func TestNotificationFromEventAndDeliveryProgress(t *testing.T) {
	h := servicetest.Start(t, service(), env, chassis.EventsTopic("identity"), chassis.EventsTopic("subscription"))
	if code, body := h.Do(t, "PUT", "/v1/templates/welcome", "acme",
		templateRequest{"email", "Welcome {{.email}}", "Hello {{.email}}, your account is ready."}); code != 200 {
		t.Fatalf("template: %d %v", code, body)
	}
	user := uuid.New()
	reg, _ := chassis.NewEvent(chassis.EventsTopic("identity"), "UserRegistered", "acme", user.String(),
		map[string]any{"user_id": user, "email": "ada@example.com"})
	noTemplate, _ := chassis.NewEvent(chassis.EventsTopic("identity"), "UserRegistered", "other", user.String(),
		map[string]any{"user_id": user, "email": "bob@example.com"})
	h.Publish(t, reg, reg, noTemplate) // redelivered once; the other tenant has no welcome template

	var id string
	servicetest.Eventually(t, 10*time.Second, "welcome notification requested", func() bool {
		var n int
		_ = h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM dispatches`).Scan(&n)
		if n > 0 {
			_ = h.App.DB.QueryRow(t.Context(), `SELECT id::text FROM dispatches`).Scan(&id)
		}
		return n > 0
	})
	code, v := h.Do(t, "GET", "/v1/notifications/"+id, "acme", nil)
	if code != 200 || v["subject"] != "Welcome ada@example.com" || v["status"] != "requested" {
		t.Fatalf("dispatch: %d %v", code, v)
	}
	path := "/v1/callbacks/notifications/" + id + "/status"
	if code, _ := h.Callback(t, secret, time.Now(), "dlv-early", "POST", path, "acme", map[string]string{"status": "delivered"}); code != http.StatusConflict {
		t.Fatalf("delivered before sent: %d, want 409", code)
	}
	for _, st := range []string{"sent", "delivered"} {
		if code, body := h.Callback(t, secret, time.Now(), "dlv-"+st, "POST", path, "acme", map[string]string{"status": st}); code != 200 {
			t.Fatalf("%s: %d %v", st, code, body)
		}
	}
	if code, _ := h.Do(t, "POST", "/v1/notifications", "acme", map[string]any{"template": "missing", "recipient": "x"}); code != 404 {
		t.Fatalf("unknown template: %d, want 404", code)
	}
	if code, _ := h.Do(t, "POST", "/v1/notifications", "acme", map[string]any{"template": "welcome", "recipient": "ada@example.com", "data": map[string]any{}}); code != 422 {
		t.Fatalf("data missing a template field: %d, want 422", code)
	}
	// Same key, one partition: once the last event is processed, so is the redelivery before it.
	servicetest.Eventually(t, 10*time.Second, "all three deliveries handled", func() bool {
		var n int
		_ = h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM processed_events`).Scan(&n)
		return n == 2
	})
	var n int
	if err := h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM dispatches`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d dispatches (%v), want 1: a redelivered event must not notify twice", n, err)
	}
	want := map[string]int{"TemplateUpdated": 1, "NotificationRequested": 1, "NotificationSent": 1, "DeliveryConfirmed": 1}
	got := map[string]int{}
	for _, e := range h.Events(t, chassis.EventsTopic(name), 4) {
		got[e.Type]++
	}
	for k, c := range want {
		if got[k] != c {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

// Delivery-status callbacks are refused (401, nothing changed) unless signed with the stack's
// secret, fresh, for this notification and tenant.
func TestDeliveryCallbacksMustBeSigned(t *testing.T) {
	h := servicetest.Start(t, service(), env)
	if code, _ := h.Do(t, "PUT", "/v1/templates/otp", "acme", templateRequest{"sms", "", "Code {{.code}}"}); code != 200 {
		t.Fatal("template")
	}
	code, n := h.Do(t, "POST", "/v1/notifications", "acme", map[string]any{"template": "otp", "recipient": "+4915112345678", "data": map[string]any{"code": "123456"}})
	if code != http.StatusAccepted {
		t.Fatalf("request: %d %v", code, n)
	}
	path := "/v1/callbacks/notifications/" + n["id"].(string) + "/status"
	sent := map[string]string{"status": "sent"}
	before := h.SnapshotTables(t, "dispatches", "callback_receipts")
	for _, c := range []struct {
		name   string
		secret []byte
		at     time.Time
		tenant string
		signed string
	}{
		{"wrong secret", []byte("not-the-stack-secret-0123456789abcdef"), time.Now(), "acme", "acme"},
		{"stale", secret, time.Now().Add(-10 * time.Minute), "acme", "acme"},
		{"signed for another tenant", secret, time.Now(), "acme", "evil"},
	} {
		b, _ := json.Marshal(sent)
		hd := http.Header{}
		hd.Set(chassis.HeaderCallbackTimestamp, strconv.FormatInt(c.at.Unix(), 10))
		hd.Set(chassis.HeaderIdempotencyKey, "dlv-0001")
		hd.Set(chassis.HeaderCallbackSignature, chassis.SignCallback(c.secret, c.at.Unix(), "dlv-0001", c.signed, "POST", path, b))
		if code, out, _ := h.DoRaw(t, "POST", path, c.tenant, hd, b); code != http.StatusUnauthorized {
			t.Fatalf("%s: %d %v, want 401", c.name, code, out)
		}
	}
	if code, _ := h.Do(t, "POST", path, "acme", sent); code != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d, want 401", code)
	}
	if after := h.SnapshotTables(t, "dispatches", "callback_receipts"); after != before {
		t.Fatalf("refused callbacks changed the database:\nbefore %s\nafter %s", before, after)
	}
	if code, _ := h.Callback(t, secret, time.Now(), "dlv-0001", "POST", path, "acme", sent); code != http.StatusOK {
		t.Fatalf("signed: %d, want 200", code)
	}
}

// The cases, through the API: unbounded templates are refused when stored, a template
// stored before the bounds existed is still bounded when rendered, CR/LF never reach a subject,
// recipients must fit their channel; each refusal stores nothing and emits nothing.
func TestTemplateAndRecipientRegressions(t *testing.T) {
	h := servicetest.Start(t, service(), env)
	ok := templateRequest{"email", "Invoice for {{.name}}", "Dear {{.name}},\n\tyour invoice:\n{{range .items}}- {{.name}}\n{{end}}"}
	if code, body := h.Do(t, "PUT", "/v1/templates/invoice", "acme", ok); code != 200 {
		t.Fatalf("multi-line template: %d %v", code, body)
	}
	before := h.SnapshotTables(t, "templates", "dispatches")
	refusedTemplates := []struct {
		name string
		give templateRequest
		want int
	}{
		{"three nested ranges", templateRequest{"email", "s", "{{range .a}}{{range .a}}{{range .a}}x{{end}}{{end}}{{end}}"}, 422},
		{"printf width", templateRequest{"email", "s", `{{printf "%0999999d" 1}}`}, 422},
		{"CR LF in the subject", templateRequest{"email", "Hi\r\nBcc: all@example.com", "b"}, 400},
		{"NUL in the body", templateRequest{"email", "s", "a\x00b"}, 400},
		{"bidi override in the body", templateRequest{"email", "s", "pay \u202e"}, 400},
	}
	for _, tt := range refusedTemplates {
		if code, body := h.Do(t, "PUT", "/v1/templates/evil", "acme", tt.give); code != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, code, body, tt.want)
		}
	}
	if after := h.SnapshotTables(t, "templates", "dispatches"); after != before {
		t.Fatalf("refused templates changed the database:\nbefore %s\nafter %s", before, after)
	}
	// A template saved before the bounds existed: inserted as it was.
	if _, err := h.App.DB.Exec(t.Context(), `INSERT INTO templates (tenant_id, name, channel, subject, body) VALUES
		('acme', 'legacy', 'email', 's', '{{range .a}}{{range .a}}{{range .a}}x{{end}}{{end}}{{end}}'),
		('acme', 'legacy-printf', 'email', 's', '{{printf "%0999999d" 1}}')`); err != nil {
		t.Fatal(err)
	}
	before = h.SnapshotTables(t, "templates", "dispatches")
	refused := []struct {
		name string
		give map[string]any
		want int
	}{
		{"600 items", map[string]any{"template": "invoice", "recipient": "ada@example.com", "data": map[string]any{"name": "Ada", "items": items(600)}}, 422},
		{"legacy three nested ranges", map[string]any{"template": "legacy", "recipient": "ada@example.com", "data": map[string]any{"a": items(100)}}, 422},
		{"legacy printf", map[string]any{"template": "legacy-printf", "recipient": "ada@example.com", "data": map[string]any{}}, 422},
		{"CR LF in data for the subject", map[string]any{"template": "invoice", "recipient": "ada@example.com", "data": map[string]any{"name": "Ada\r\nBcc: all@example.com", "items": []any{}}}, 400},
		{"recipient not an e-mail address", map[string]any{"template": "invoice", "recipient": "+4915112345678", "data": map[string]any{"name": "Ada", "items": []any{}}}, 422},
		{"recipient with a header", map[string]any{"template": "invoice", "recipient": "ada@example.com\r\nBcc: x@example.com", "data": map[string]any{"name": "Ada", "items": []any{}}}, 400},
	}
	for _, tt := range refused {
		if code, body := h.Do(t, "POST", "/v1/notifications", "acme", tt.give); code != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, code, body, tt.want)
		}
	}
	if after := h.SnapshotTables(t, "templates", "dispatches"); after != before {
		t.Fatalf("refused requests changed the database:\nbefore %s\nafter %s", before, after)
	}
	code, body := h.Do(t, "POST", "/v1/notifications", "acme", map[string]any{"template": "invoice", "recipient": "ada@example.com",
		"data": map[string]any{"name": "Ada", "items": items(2)}})
	if code != http.StatusAccepted {
		t.Fatalf("a bounded notification: %d %v", code, body)
	}
}

// A domain event whose data cannot be rendered (CR/LF aimed at the subject) is dead-lettered at
// once, never retried for minutes, and never sent.
func TestEventWithUnrenderableDataIsDeadLettered(t *testing.T) {
	h := servicetest.Start(t, service(), env, chassis.EventsTopic("identity"), chassis.EventsTopic("subscription"))
	if code, _ := h.Do(t, "PUT", "/v1/templates/welcome", "acme", templateRequest{"email", "Welcome {{.name}}", "Hello"}); code != 200 {
		t.Fatal("template")
	}
	user := uuid.New()
	bad, _ := chassis.NewEvent(chassis.EventsTopic("identity"), "UserRegistered", "acme", user.String(),
		map[string]any{"user_id": user, "email": "ada@example.com", "name": "Ada\r\nBcc: all@example.com"})
	h.Publish(t, bad)
	servicetest.Eventually(t, 10*time.Second, "dead-lettered", func() bool {
		var n int
		_ = h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM dead_letters WHERE event_id = $1 AND attempts = 1`, bad.ID).Scan(&n)
		return n == 1
	})
	var n int
	if err := h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM dispatches`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d dispatches (%v), want none", n, err)
	}
}

// The delivery provider's callback reach the service without a token: Kong serves them on an auth: none route.
func TestPublicRoutesAreOpenAtTheGateway(t *testing.T) {
	servicetest.CheckPublicRoutesOpenAtGateway(t, "..", service())
}
