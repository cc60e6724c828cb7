package chassis

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Callbacks are the calls of outside systems that report back (a payment gateway, a delivery
// provider): they carry no user's token, so they prove who sent them with an HMAC-SHA256 of the
// request under a secret shared with the sender.
const (
	// CallbackKeyEnv names the variable holding the shared secret; the platform generates it
	// per stack (a Pulumi random secret) and gives it to the services that list it in secrets.
	CallbackKeyEnv = "CALLBACK_SIGNING_KEY"
	// HeaderCallbackTimestamp is the time of signing, in Unix seconds.
	HeaderCallbackTimestamp = "X-Groundwork-Timestamp"
	// HeaderCallbackSignature is "v1=" and the hex HMAC-SHA256 of CallbackMessage.
	HeaderCallbackSignature = "X-Groundwork-Signature"
	// HeaderIdempotencyKey names the sender's attempt: a retry with the same key and request
	// gets the first answer again and changes nothing.
	HeaderIdempotencyKey = "Idempotency-Key"
	// CallbackWindow is how far a callback's timestamp may be from now, either way: a captured
	// callback cannot be replayed later than this.
	CallbackWindow = 5 * time.Minute
	// MinCallbackKeyBytes is the shortest secret accepted (RFC 2104: at least the hash's output).
	MinCallbackKeyBytes = 32
)

var idempotencyKey = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)

// CallbackMessage is what a callback's signature covers: the version, timestamp, idempotency key,
// tenant, method, path and body, one per line. The path and tenant are covered so that a signed
// payment of one invoice cannot be replayed against another invoice or another tenant.
func CallbackMessage(ts int64, key, tenant, method, path string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "v1\n%d\n%s\n%s\n%s %s\n", ts, key, tenant, method, path)
	b.Write(body)
	return b.Bytes()
}

// SignCallback returns the HeaderCallbackSignature value of a callback: what a sender computes.
func SignCallback(secret []byte, ts int64, key, tenant, method, path string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(CallbackMessage(ts, key, tenant, method, path, body))
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// LoadCallbackKey reads the callback secret from getenv: required, at least
// MinCallbackKeyBytes. Its errors never show the value.
func LoadCallbackKey(getenv func(string) string) ([]byte, error) {
	v := getenv(CallbackKeyEnv)
	if len(v) < MinCallbackKeyBytes {
		return nil, fmt.Errorf("%s: required, at least %d bytes (value not shown); the platform sets it from a generated secret",
			CallbackKeyEnv, MinCallbackKeyBytes)
	}
	return []byte(v), nil
}

// errCallback is a callback refused before it reached its handler: 401, nothing changed.
var errCallback = fmt.Errorf("%w: callback", ErrUnauthorized)

// verifyCallback checks r's signature headers against body at now and returns the idempotency key.
func verifyCallback(secret []byte, r *http.Request, body []byte, now time.Time) (string, error) {
	tsText, sig, key := r.Header.Get(HeaderCallbackTimestamp), r.Header.Get(HeaderCallbackSignature), r.Header.Get(HeaderIdempotencyKey)
	if tsText == "" || sig == "" {
		return "", fmt.Errorf("%w: %s and %s are required", errCallback, HeaderCallbackTimestamp, HeaderCallbackSignature)
	}
	if !idempotencyKey.MatchString(key) {
		return "", fmt.Errorf("%w: %s is required: 8 to 128 of A-Z a-z 0-9 . _ : -", errCallback, HeaderIdempotencyKey)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || len(tsText) > 12 {
		return "", fmt.Errorf("%w: %s must be Unix seconds", errCallback, HeaderCallbackTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > CallbackWindow || d < -CallbackWindow {
		return "", fmt.Errorf("%w: timestamp outside the %s window", errCallback, CallbackWindow)
	}
	want := SignCallback(secret, ts, key, Tenant(r.Context()), r.Method, r.URL.EscapedPath(), body)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", fmt.Errorf("%w: bad signature", errCallback)
	}
	return key, nil
}

// Callback wraps h, a callback's handler, so that it runs only for a request signed with secret
// (see CallbackMessage) within CallbackWindow, for the tenant of the request; anything else is
// refused with 401 before h runs. A successful answer is kept under the request's idempotency
// key: the same key with the same request gets it again without running h, the same key with
// another request 422. Keys are kept for CallbackReceiptRetention, well past the window.
func (a *App) Callback(secret []byte, h Handler) http.Handler {
	return Handler(func(r *http.Request) (int, any, error) {
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
		if err != nil {
			return 0, nil, err
		}
		if Tenant(r.Context()) == "" {
			return 0, nil, fmt.Errorf("%w: %s is required", errCallback, HeaderTenant)
		}
		key, err := verifyCallback(secret, r, body, time.Now())
		if err != nil {
			Logger(r.Context()).Warn("callback refused", "err", err)
			return 0, nil, err
		}
		ctx := r.Context()
		hash := sha256.Sum256(CallbackMessage(0, key, Tenant(ctx), r.Method, r.URL.EscapedPath(), body))
		var seen []byte
		var status int
		var resp []byte
		err = a.DB.QueryRow(ctx, `SELECT request_hash, status, response FROM callback_receipts WHERE tenant_id = $1 AND idempotency_key = $2`,
			Tenant(ctx), key).Scan(&seen, &status, &resp)
		switch {
		case err == nil && bytes.Equal(seen, hash[:]):
			return status, json.RawMessage(resp), nil
		case err == nil:
			return 0, nil, Problems{HeaderIdempotencyKey: "already used for another request"}.Err()
		case !errors.Is(err, pgx.ErrNoRows):
			return 0, nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		status, out, err := h(r)
		if err != nil || status < 200 || status > 299 {
			return status, out, err
		}
		resp, err = json.Marshal(out)
		if err != nil {
			return 0, nil, err
		}
		// The effect is committed: keeping the answer is best effort. Without it a retry runs h
		// again, which the handler's own state (an invoice is paid once) refuses.
		if _, err := a.DB.Exec(ctx, `INSERT INTO callback_receipts (tenant_id, idempotency_key, request_hash, status, response)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, Tenant(ctx), key, hash[:], status, resp); err != nil {
			Logger(ctx).Warn("callback receipt not kept", "err", err)
		}
		return status, json.RawMessage(resp), nil
	})
}

// CallbackReceiptRetention is how long idempotency keys are remembered.
const CallbackReceiptRetention = 24 * time.Hour
