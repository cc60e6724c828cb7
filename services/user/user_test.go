package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func TestUpdateProfileRequestValidation(t *testing.T) {
	tests := []struct {
		name string
		give updateProfileRequest
		want []string // fields with a problem
	}{
		{"valid", updateProfileRequest{"Ada", "en"}, nil},
		{"region", updateProfileRequest{"Ada", "pt-BR"}, nil},
		{"empty", updateProfileRequest{}, []string{"display_name", "locale"}},
		{"too long", updateProfileRequest{strings.Repeat("é", 101), "english"}, []string{"display_name", "locale"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.validate()
			var fields chassis.Problems
			if ve, ok := err.(*chassis.ValidationError); ok {
				fields = ve.Fields
			}
			if len(fields) != len(tt.want) {
				t.Fatalf("problems %v, want fields %v", fields, tt.want)
			}
			for _, f := range tt.want {
				if _, ok := fields[f]; !ok {
					t.Errorf("no problem reported for %s: %v", f, fields)
				}
			}
		})
	}
}

func registered(tenant string, id uuid.UUID, email string) chassis.Event {
	e, _ := chassis.NewEvent(chassis.EventsTopic("identity"), "UserRegistered", tenant, id.String(),
		map[string]any{"user_id": id, "email": email})
	return e
}

func TestProfileLifecycle(t *testing.T) {
	h := servicetest.Start(t, service(), nil, chassis.EventsTopic("identity"))
	id := uuid.New()
	ev := registered("acme", id, "ada@example.com")
	h.Publish(t, ev, ev) // redelivered: one profile, one ProfileCreated
	path := "/v1/profiles/" + id.String()
	servicetest.Eventually(t, 10*time.Second, "profile created from UserRegistered", func() bool {
		code, _ := h.Do(t, "GET", path, "acme", nil)
		return code == http.StatusOK
	})
	if code, _ := h.Do(t, "GET", path, "other", nil); code != http.StatusNotFound {
		t.Fatalf("another tenant reads the profile: %d, want 404", code)
	}
	if code, body := h.Do(t, "PUT", path, "acme", map[string]string{"display_name": "Ada L.", "locale": "en-GB"}); code != 200 || body["version"] != float64(2) {
		t.Fatalf("update: %d %v", code, body)
	}
	if code, body := h.Do(t, "PUT", path, "acme", map[string]string{"display_name": "", "locale": "x"}); code != 422 {
		t.Fatalf("invalid update: %d %v, want 422", code, body)
	}
	if code, _ := h.Do(t, "PUT", path+"/preferences/theme", "acme", map[string]string{"value": "dark"}); code != 200 {
		t.Fatalf("preference: %d", code)
	}
	if code, body := h.Do(t, "PUT", path+"/preferences/Bad Key", "acme", map[string]string{"value": "x"}); code != 422 {
		t.Fatalf("bad preference key: %d %v", code, body)
	}
	code, body := h.Do(t, "GET", path, "acme", nil)
	prefs, _ := body["preferences"].(map[string]any)
	if code != 200 || body["display_name"] != "Ada L." || prefs["theme"] != "dark" || body["email"] != "ada@example.com" {
		t.Fatalf("read model: %d %v", code, body)
	}
	if code, _ := h.Do(t, "POST", path+"/deactivate", "acme", nil); code != http.StatusNoContent {
		t.Fatalf("deactivate: %d", code)
	}
	if code, _ := h.Do(t, "PUT", path, "acme", map[string]string{"display_name": "Ada", "locale": "en"}); code != http.StatusNotFound {
		t.Fatalf("update after deactivation: %d, want 404", code)
	}
	if code, _ := h.Do(t, "GET", "/v1/profiles/not-a-uuid", "acme", nil); code != 422 {
		t.Fatalf("bad id: %d, want 422", code)
	}

	resp, err := http.Get(h.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{`http_requests_total{code="200",method="PUT",route="PUT /v1/profiles/{id}"} 1`,
		`events_consumed_total{consumer="user.registrations",result="duplicate"} 1`, "outbox_events_published_total"} {
		if !strings.Contains(string(metrics), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if code, _ := h.Do(t, "GET", "/metrics", "", nil); code != http.StatusNotFound {
		t.Errorf("/metrics on the API port: %d, want 404 (served on the metrics port only)", code)
	}

	want := []string{"ProfileCreated", "ProfileUpdated", "PreferenceChanged", "UserDeactivated"}
	got := h.Events(t, chassis.EventsTopic(name), len(want))
	var types []string
	for _, e := range got {
		types = append(types, e.Type)
		if e.TenantID != "acme" || e.Source != name {
			t.Errorf("event %s: tenant %q source %q", e.Type, e.TenantID, e.Source)
		}
	}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", types, want)
	}
}
