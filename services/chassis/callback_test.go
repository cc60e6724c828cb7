package chassis

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func signedRequest(secret []byte, ts int64, key, tenant, path, body string) *httptestRequest {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r = r.WithContext(WithTenant(r.Context(), tenant))
	r.Header.Set(HeaderCallbackTimestamp, strconv.FormatInt(ts, 10))
	r.Header.Set(HeaderIdempotencyKey, key)
	r.Header.Set(HeaderCallbackSignature, SignCallback(secret, ts, key, tenant, "POST", path, []byte(body)))
	return &httptestRequest{r}
}

func TestVerifyCallback(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := now.Unix()
	body := `{"amount_cents":900,"reference":"psp-1"}`
	tests := []struct {
		name   string
		give   *httptestRequest
		modify func(*httptestRequest)
		ok     bool
	}{
		{"signed", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body), nil, true},
		{"signed 4m ago", signedRequest(testSecret, ts-240, "pay-0001", "acme", "/v1/invoices/1/payments", body), nil, true},
		{"stale: 6m ago", signedRequest(testSecret, ts-360, "pay-0001", "acme", "/v1/invoices/1/payments", body), nil, false},
		{"from the future: 6m ahead", signedRequest(testSecret, ts+360, "pay-0001", "acme", "/v1/invoices/1/payments", body), nil, false},
		{"another secret", signedRequest([]byte("another-secret-another-secret-xx"), ts, "pay-0001", "acme", "/v1/invoices/1/payments", body), nil, false},
		{"unsigned", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) { r.Header.Del(HeaderCallbackSignature) }, false},
		{"no timestamp", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) { r.Header.Del(HeaderCallbackTimestamp) }, false},
		{"no idempotency key", signedRequest(testSecret, ts, "", "acme", "/v1/invoices/1/payments", body), nil, false},
		{"timestamp changed", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) { r.Header.Set(HeaderCallbackTimestamp, strconv.FormatInt(ts-1, 10)) }, false},
		{"key changed", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) { r.Header.Set(HeaderIdempotencyKey, "pay-0002") }, false},
		{"replayed on another invoice", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) { r.URL.Path = "/v1/invoices/2/payments" }, false},
		{"replayed for another tenant", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) { r.Request = r.WithContext(WithTenant(r.Context(), "evil")) }, false},
		{"uppercase hex", signedRequest(testSecret, ts, "pay-0001", "acme", "/v1/invoices/1/payments", body),
			func(r *httptestRequest) {
				r.Header.Set(HeaderCallbackSignature, strings.ToUpper(r.Header.Get(HeaderCallbackSignature)))
			}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.modify != nil {
				tt.modify(tt.give)
			}
			_, err := verifyCallback(testSecret, tt.give.Request, []byte(body), now)
			if tt.ok != (err == nil) {
				t.Fatalf("verify: %v, want accepted=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("refusal %v is not a 401", err)
			}
		})
	}
	if _, err := verifyCallback(testSecret, signedRequest(testSecret, ts, "pay-0001", "acme", "/p", body).Request, []byte(body+" "), now); err == nil {
		t.Fatal("a changed body was accepted")
	}
}

func TestLoadCallbackKey(t *testing.T) {
	if _, err := LoadCallbackKey(envOf(map[string]string{})); err == nil || !strings.Contains(err.Error(), CallbackKeyEnv) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := LoadCallbackKey(envOf(map[string]string{CallbackKeyEnv: "short-secret-value"})); err == nil ||
		strings.Contains(err.Error(), "short-secret-value") {
		t.Fatalf("short key: %v (must be refused without showing it)", err)
	}
	if k, err := LoadCallbackKey(envOf(map[string]string{CallbackKeyEnv: string(testSecret)})); err != nil || string(k) != string(testSecret) {
		t.Fatalf("good key: %v", err)
	}
}

// FuzzVerifyCallback: whatever the headers, path, tenant and body, verification never panics,
// and accepts a request only when its signature is the one the secret gives for exactly that
// request within the window.
func FuzzVerifyCallback(f *testing.F) {
	f.Add(int64(0), "pay-0001", "acme", "/v1/invoices/1/payments", `{"a":1}`, "")
	f.Add(int64(-301), "pay-0001", "acme", "/p", "", "v1=00")
	f.Add(int64(10), "k\x00\x00\x00\x00\x00\x00\x00", "acme", "/p", "\u202e", "v1=")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, offset int64, key, tenant, path, body, forged string) {
		if u, err := url.ParseRequestURI(path); err != nil || u.EscapedPath() != path || u.RawQuery != "" || strings.ContainsAny(path, " #") {
			path = "/p" // the fuzzed part is the signature, not the URL syntax
		}
		ts := now.Unix() + offset%1000
		r := signedRequest(testSecret, ts, key, tenant, path, body).Request
		if forged != "" {
			r.Header.Set(HeaderCallbackSignature, forged)
		}
		_, err := verifyCallback(testSecret, r, []byte(body), now)
		inWindow := offset%1000 >= -300 && offset%1000 <= 300
		genuine := forged == "" || forged == SignCallback(testSecret, ts, key, tenant, "POST", path, []byte(body))
		if want := inWindow && genuine && idempotencyKey.MatchString(key); want != (err == nil) {
			t.Fatalf("offset %d key %q forged %q: %v, want accepted=%v", offset, key, forged, err, want)
		}
	})
}

// httptestRequest lets a table case replace the request (its context) in place.
type httptestRequest struct{ *http.Request }
