package chassis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"
)

// Header names the chassis reads and writes.
const (
	HeaderRequestID = "X-Request-ID"
	HeaderTenant    = "X-Tenant-ID"
	HeaderTrace     = "traceparent" // W3C Trace Context
)

var (
	tenantPattern    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	traceparentRe    = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)
)

type ctxKey int

const (
	tenantKey ctxKey = iota
	requestIDKey
	traceIDKey
)

// Tenant returns the tenant of the request, set from the X-Tenant-ID header, or "".
func Tenant(ctx context.Context) string { s, _ := ctx.Value(tenantKey).(string); return s }

// RequestID returns the request ID of ctx, or "".
func RequestID(ctx context.Context) string { s, _ := ctx.Value(requestIDKey).(string); return s }

// TraceID returns the W3C trace ID of ctx, or "".
func TraceID(ctx context.Context) string { s, _ := ctx.Value(traceIDKey).(string); return s }

// WithTenant returns ctx for tenant; consumers use it to scope work done for an event.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey, tenant)
}

// ValidTenant reports whether id can be a tenant ID (a DNS label).
func ValidTenant(id string) bool { return tenantPattern.MatchString(id) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Problems maps a request field to what is wrong with it; a non-empty Problems is a 422.
type Problems map[string]string

// Add records a problem for field when bad is true.
func (p Problems) Add(bad bool, field, msg string) {
	if bad {
		if _, ok := p[field]; !ok {
			p[field] = msg
		}
	}
}

// Err returns the problems as an error, or nil when there are none.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}

// ValidationError is a request the service refuses; it is answered with 422 and every field.
type ValidationError struct{ Fields Problems }

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid request: %v", map[string]string(e.Fields))
}

// Errors with a fixed HTTP status; wrap them (fmt.Errorf("plan %q: %w", id, ErrNotFound)) to add
// context that is shown to the caller.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Handler is an HTTP handler that returns a status and a JSON body, or an error that the chassis
// maps to a status: *ValidationError 422, ErrNotFound 404, ErrConflict 409, ErrUnauthorized 401,
// ErrForbidden 403, a body too large 413, *TextError 400, *RetryLater its status with
// Retry-After, the database out of reach 503 with Retry-After (DatabaseUnavailable), anything
// else 500 (logged, never shown).
type Handler func(r *http.Request) (int, any, error)

// ServeHTTP implements http.Handler.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, body, err := h(r)
	if err != nil {
		var ve *ValidationError
		var te *TextError
		var tooLarge *http.MaxBytesError
		var later *RetryLater
		switch {
		case errors.As(err, &later):
			w.Header().Set("Retry-After", retryAfterSeconds(later.Wait))
			WriteError(w, later.Status, later.Msg)
		case errors.As(err, &ve):
			WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "invalid request", "fields": ve.Fields})
		case errors.As(err, &te):
			WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid characters", "fields": te.Fields})
		case errors.As(err, &tooLarge):
			WriteError(w, http.StatusRequestEntityTooLarge, "request body too large")
		case errors.Is(err, ErrNotFound):
			WriteError(w, http.StatusNotFound, err.Error())
		case errors.Is(err, ErrConflict):
			WriteError(w, http.StatusConflict, err.Error())
		case errors.Is(err, ErrUnauthorized):
			WriteError(w, http.StatusUnauthorized, err.Error())
		case errors.Is(err, ErrForbidden):
			WriteError(w, http.StatusForbidden, err.Error())
		case errors.Is(err, errBadJSON):
			WriteError(w, http.StatusBadRequest, err.Error())
		case DatabaseUnavailable(err):
			Logger(r.Context()).Warn("database unavailable", "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
			WriteError(w, http.StatusServiceUnavailable, "service temporarily unavailable, retry later")
		default:
			Logger(r.Context()).Error("request failed", "err", err)
			WriteError(w, http.StatusInternalServerError, "internal error")
		}
		return
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	WriteJSON(w, status, body)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes {"error": msg} with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

var errBadJSON = errors.New("malformed JSON body")

// MaxBody is the largest request body a service accepts.
const MaxBody = 1 << 20

// DecodeJSON reads exactly one JSON object from r's body into v, refusing unknown fields and
// bodies over MaxBody and text holding control or bidirectional characters (CheckFields). Its
// errors map to 400 or 413 through Handler.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return fmt.Errorf("%w: %v", errBadJSON, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: more than one JSON value", errBadJSON)
	}
	return CheckFields(v)
}

// RequireTenant wraps h so that a request without an X-Tenant-ID header is refused with 400.
func RequireTenant(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Tenant(r.Context()) == "" {
			WriteError(w, http.StatusBadRequest, "missing "+HeaderTenant+" header")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// middleware gives every request its request and trace IDs, tenant, logger, metrics, a deadline
// (timeout: database calls and template rendering stop there), an access log line and panic
// recovery.
func middleware(base *slog.Logger, m *Metrics, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := r.Header.Get(HeaderRequestID)
		if !requestIDPattern.MatchString(reqID) {
			reqID = randomHex(16)
		}
		traceID := ""
		if mt := traceparentRe.FindStringSubmatch(r.Header.Get(HeaderTrace)); mt != nil {
			traceID = mt[1]
		} else {
			traceID = randomHex(16)
		}
		w.Header().Set(HeaderRequestID, reqID)
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		ctx = context.WithValue(ctx, requestIDKey, reqID)
		ctx = context.WithValue(ctx, traceIDKey, traceID)
		log := base.With("request_id", reqID, "trace_id", traceID)
		rec := &statusRecorder{ResponseWriter: w}
		inner := r // ServeMux records the matched pattern on the request it serves
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					WriteError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			route := inner.Pattern
			if route == "" {
				route = "unmatched"
			}
			m.observe(r.Method, route, strconv.Itoa(rec.status), time.Since(start))
			if route != "GET /healthz" && route != "GET /readyz" && route != "GET /metrics" {
				log.Info("request", "method", r.Method, "route", route, "path", r.URL.Path,
					"status", rec.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
			}
		}()
		if t := r.Header.Get(HeaderTenant); t != "" {
			if !ValidTenant(t) {
				WriteError(rec, http.StatusBadRequest, HeaderTenant+" must be a DNS label (lower-case letters, digits, '-', at most 63)")
				return
			}
			ctx = WithTenant(ctx, t)
			log = log.With("tenant", t)
		}
		inner = r.WithContext(WithLogger(ctx, log))
		next.ServeHTTP(rec, inner)
	})
}
