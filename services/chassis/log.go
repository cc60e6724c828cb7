package chassis

import (
	"context"
	"io"
	"log/slog"
)

// NewLogger returns a JSON logger that stamps every line with the service name.
func NewLogger(w io.Writer, level slog.Level, service string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).With("service", service)
}

type loggerKey struct{}

// WithLogger returns ctx carrying l; Logger reads it back.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the request-scoped logger of ctx (with request, trace and tenant IDs), or
// slog.Default when ctx carries none.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
