package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

func TestValidateBatch(t *testing.T) {
	now := time.Now()
	ok := activityItem{ID: uuid.New(), Name: "page.view", OccurredAt: now}
	tests := []struct {
		name string
		give []activityItem
		want string // a field with a problem, "" for none
	}{
		{"valid", []activityItem{ok}, ""},
		{"empty", nil, "events"},
		{"too many", make([]activityItem, MaxBatch+1), "events"},
		{"future", []activityItem{{ID: uuid.New(), Name: "x", OccurredAt: now.Add(time.Hour)}}, "events[0].occurred_at"},
		{"bad name", []activityItem{ok, {ID: uuid.New(), Name: "Page View", OccurredAt: now}}, "events[1].name"},
		{"properties not an object", []activityItem{{ID: uuid.New(), Name: "x", OccurredAt: now, Properties: []byte(`[1]`)}}, "events[0].properties"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateBatch(tt.give, now)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ve, isVE := err.(*chassis.ValidationError)
			if !isVE {
				t.Fatalf("got %v, want a problem with %s", err, tt.want)
			}
			if _, found := ve.Fields[tt.want]; !found {
				t.Fatalf("problems %v lack %s", ve.Fields, tt.want)
			}
		})
	}
}

func TestIngestConsumeAndReport(t *testing.T) {
	var topics []string
	for _, s := range sources {
		topics = append(topics, chassis.EventsTopic(s))
	}
	h := servicetest.Start(t, service(), nil, topics...)
	now := time.Now().UTC()
	batch := map[string]any{"events": []map[string]any{
		{"id": uuid.New(), "name": "page.view", "occurred_at": now},
		{"id": uuid.New(), "name": "page.view", "occurred_at": now, "properties": map[string]string{"path": "/pricing"}},
	}}
	if code, body := h.Do(t, "POST", "/v1/events", "acme", batch); code != http.StatusAccepted || body["stored"] != float64(2) {
		t.Fatalf("ingest: %d %v", code, body)
	}
	if code, body := h.Do(t, "POST", "/v1/events", "acme", batch); code != http.StatusAccepted || body["stored"] != float64(0) {
		t.Fatalf("retried batch: %d %v, want nothing stored again", code, body)
	}
	reg, _ := chassis.NewEvent(chassis.EventsTopic("identity"), "UserRegistered", "acme", "u1", map[string]any{"user_id": uuid.New()})
	h.Publish(t, reg, reg)
	servicetest.Eventually(t, 10*time.Second, "domain event recorded", func() bool {
		var n int
		_ = h.App.DB.QueryRow(t.Context(), `SELECT count(*) FROM activity WHERE name = 'UserRegistered'`).Scan(&n)
		return n == 1
	})
	code, rep := h.Do(t, "POST", "/v1/reports", "acme", map[string]any{"from": now.Add(-time.Hour), "to": now.Add(time.Hour)})
	if code != http.StatusCreated {
		t.Fatalf("report: %d %v", code, rep)
	}
	counts := map[string]float64{}
	for _, r := range rep["rows"].([]any) {
		row := r.(map[string]any)
		counts[row["name"].(string)] += row["count"].(float64)
	}
	if counts["page.view"] != 2 || counts["UserRegistered"] != 1 {
		t.Fatalf("report counts %v, want page.view 2 and UserRegistered 1", counts)
	}
	if code, other := h.Do(t, "POST", "/v1/reports", "other", map[string]any{"from": now.Add(-time.Hour), "to": now.Add(time.Hour)}); code != 201 || len(other["rows"].([]any)) != 0 {
		t.Fatalf("another tenant's report sees acme's activity: %v", other)
	}
	if code, got := h.Do(t, "GET", "/v1/reports/"+rep["id"].(string), "acme", nil); code != 200 || len(got["rows"].([]any)) != len(rep["rows"].([]any)) {
		t.Fatalf("stored report: %d %v", code, got)
	}
	if code, _ := h.Do(t, "POST", "/v1/reports", "acme", map[string]any{"from": now, "to": now.Add(-time.Hour)}); code != 422 {
		t.Fatalf("inverted range: %d, want 422", code)
	}
	var types []string
	for _, e := range h.Events(t, chassis.EventsTopic(name), 3) {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); !strings.Contains(got, "UserActivityRecorded") || strings.Count(got, "ReportGenerated") != 2 {
		t.Fatalf("events: %s", got)
	}
}
