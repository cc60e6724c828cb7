package chassis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
	return middleware(NewLogger(&logs, slog.LevelInfo, "svc"), NewMetrics(), DefaultRequestTimeout, mux), &logs
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
		{"NUL escaped", "acme", `{"name":"a\u0000b"}`, 400, `"name":"control character U+0000`},
		{"NUL raw", "acme", "{\"name\":\"a\x00b\"}", 400, "malformed JSON"},
		{"bidi override", "acme", `{"name":"invoice\u202egnp.exe"}`, 400, `"name":"bidirectional control U+202E`},
		{"bidi isolate", "acme", "{\"name\":\"a\u2067b\"}", 400, "bidirectional control U+2067"},
		{"line feed in a one-line field", "acme", `{"name":"a\nb"}`, 400, "control character U+000A"},
		{"C1 control", "acme", `{"name":"a\u0085b"}`, 400, "control character U+0085"},
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

func TestCheckFieldsWalksEveryStringAndHonoursMultiline(t *testing.T) {
	type note struct {
		Title string          `json:"title"`
		Body  string          `json:"body" text:"multiline"`
		Tags  []string        `json:"tags"`
		Data  map[string]any  `json:"data"`
		Raw   []byte          `json:"raw"`
		Props json.RawMessage `json:"props"`
	}
	tests := []struct {
		name string
		give note
		want []string // fields refused
	}{
		{"clean", note{Title: "Hello", Body: "line 1\n\tline 2\r\n", Tags: []string{"a"}, Data: map[string]any{"k": []any{"v", 1.0}}}, nil},
		{"unicode is fine", note{Title: "Grüße, 東京 \U0001F600", Body: "\u200f"}, nil},
		{"tab in one-line title", note{Title: "a\tb"}, []string{"title"}},
		{"NUL in multiline body", note{Body: "a\x00b"}, []string{"body"}},
		{"bidi in multiline body", note{Body: "a\u2066b"}, []string{"body"}},
		{"NUL in a list", note{Tags: []string{"ok", "b\x00"}}, []string{"tags[1]"}},
		{"NUL deep in data", note{Data: map[string]any{"a": map[string]any{"b": []any{"x\x00"}}}}, []string{"data.a.b[0]"}},
		{"newline in a data value", note{Data: map[string]any{"a": "x\ny"}}, []string{"data.a"}},
		{"control in a map key", note{Data: map[string]any{"a\x1b": "x"}}, []string{"data.(key)"}},
		{"DEL", note{Title: "a\x7f"}, []string{"title"}},
		{"invalid UTF-8", note{Title: "a\xffb"}, []string{"title"}},
		{"bytes are not text", note{Raw: []byte{0, 1, 2}}, nil},
		{"NUL in embedded JSON", note{Props: json.RawMessage(`{"a":"\u0000"}`)}, []string{"props.a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var te *TextError
			if err := CheckFields(&tt.give); err != nil {
				if !errors.As(err, &te) {
					t.Fatalf("error %T %v, want *TextError", err, err)
				}
				for f := range te.Fields {
					got = append(got, f)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("refused %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequestsGetTheirDeadline(t *testing.T) {
	var left time.Duration
	h := middleware(quiet, NewMetrics(), 1500*time.Millisecond, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			t.Fatal("request context has no deadline")
		}
		left = time.Until(d)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if left <= time.Second || left > 1500*time.Millisecond {
		t.Fatalf("deadline in %s, want the configured 1.5s", left)
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
