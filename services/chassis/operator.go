package chassis

import (
	"context"
	"net/http"
)

// RolePlatformOperatorName is the role of the platform's own operators; no tenant can grant it.
const RolePlatformOperatorName = "platform-operator"

type operatorKey struct{}

// withPlatformOperator marks ctx as a verified platform operator's. Only the chassis's token
// verification may call it, with the roles of a verified token; nothing a client sends sets it.
func withPlatformOperator(ctx context.Context) context.Context {
	return context.WithValue(ctx, operatorKey{}, true)
}

// IsPlatformOperator reports whether the verified caller of ctx holds the platform-operator role.
func IsPlatformOperator(ctx context.Context) bool {
	ok, _ := ctx.Value(operatorKey{}).(bool)
	return ok
}

// RequirePlatformOperator wraps h so that only a verified platform operator reaches it; anyone
// else gets 403, and no header or body can make a caller one.
func RequirePlatformOperator(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsPlatformOperator(r.Context()) {
			WriteError(w, http.StatusForbidden, "needs the "+RolePlatformOperatorName+" role")
			return
		}
		h.ServeHTTP(w, r)
	})
}
