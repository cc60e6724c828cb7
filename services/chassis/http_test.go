package chassis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func testHandler(t *testing.T) (http.Handler, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("POST /things", RequireTenant(Handler(func(r *http.Request) (int, any, error) {
		var in struct {
			Name string `json:"name"`
		}
		if err := DecodeJSON(r, &in); err != nil {
			return 0, nil, err
		}
		p := Problems{}
		p.Add(in.Name == "", "name", "required")
		if err := p.Err(); err != nil {
			return 0, nil, err
		}
		if in.Name == "dup" {
			return 0, nil, fmt.Errorf("thing %q: %w", in.Name, ErrConflict)
		}
		if in.Name == "boom" {
			return 0, nil, fmt.Errorf("db password=hunter2 refused")
		}
		if in.Name == "panic" {
			panic("bug")
		}
		Logger(r.Context()).Info("created")
		return http.StatusCreated, map[string]string{"name": in.Name, "tenant": Tenant(r.Context())}, nil
	})))
	return middleware(NewLogger(&logs, slog.LevelInfo, "svc"), NewMetrics(), mux), &logs
}

func TestHTTPHandlerStatusesAndErrors(t *testing.T) {
	tests := []struct {
		name, tenant, body string
		wantCode           int
		wantBody           string
	}{
		{"created", "acme", `{"name":"x"}`, 201, `"tenant":"acme"`},
		{"no tenant", "", `{"name":"x"}`, 400, "missing X-Tenant-ID"},
		{"bad tenant", "Acme Corp", `{"name":"x"}`, 400, "X-Tenant-ID must be a DNS label"},
		{"malformed JSON", "acme", `{"name":`, 400, "malformed JSON"},
		{"unknown field", "acme", `{"name":"x","admin":true}`, 400, "unknown field"},
		{"two values", "acme", `{"name":"x"}{}`, 400, "more than one JSON value"},
		{"validation", "acme", `{}`, 422, `"name":"required"`},
		{"conflict", "acme", `{"name":"dup"}`, 409, `thing \"dup\": conflict`},
		{"internal error hidden", "acme", `{"name":"boom"}`, 500, `"internal error"`},
		{"panic recovered", "acme", `{"name":"panic"}`, 500, `"internal error"`},
		{"too large", "acme", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, 413, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := testHandler(t)
			req := httptest.NewRequest("POST", "/things", strings.NewReader(tt.body))
			if tt.tenant != "" {
				req.Header.Set(HeaderTenant, tt.tenant)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %s, want %d containing %s", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
			if strings.Contains(rec.Body.String(), "hunter2") {
				t.Fatal("internal error detail leaked to the client")
			}
		})
	}
}

func TestLogsCarryRequestTraceAndTenant(t *testing.T) {
	h, logs := testHandler(t)
	req := httptest.NewRequest("POST", "/things", strings.NewReader(`{"name":"x"}`))
	req.Header.Set(HeaderTenant, "acme")
	req.Header.Set(HeaderRequestID, "req-1")
	req.Header.Set(HeaderTrace, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get(HeaderRequestID) != "req-1" {
		t.Fatalf("request ID not echoed: %q", rec.Header().Get(HeaderRequestID))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the handler's line and the access line, got %d: %s", len(lines), logs.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if m["request_id"] != "req-1" || m["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || m["tenant"] != "acme" || m["service"] != "svc" {
			t.Errorf("log line lacks IDs: %s", l)
		}
	}
	var access map[string]any
	_ = json.Unmarshal([]byte(lines[1]), &access)
	if access["route"] != "POST /things" || access["status"] != float64(201) {
		t.Errorf("access line: %s", lines[1])
	}
}
