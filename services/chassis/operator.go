package chassis

import (
	"context"
	"net/http"
)

// IsPlatformOperator reports whether the verified caller of ctx is a platform operator: a token
// of OperatorTenant holding RolePlatformOperator (Principal.Can(PermOperateTenants)). Only the
// chassis's token verification sets a caller (authenticate); no header or body makes one, and
// no tenant can grant itself the role.
func IsPlatformOperator(ctx context.Context) bool {
	p, ok := Caller(ctx)
	return ok && p.Can(PermOperateTenants)
}

// RequirePlatformOperator wraps h so that only a verified platform operator reaches it: without
// a caller 401, any other caller 403.
func RequirePlatformOperator(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsPlatformOperator(r.Context()) {
			if _, ok := Caller(r.Context()); !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="groundwork"`)
				WriteError(w, http.StatusUnauthorized, "a bearer token is required")
				return
			}
			WriteError(w, http.StatusForbidden, "needs the "+RolePlatformOperator+" role of the "+OperatorTenant+" tenant")
			return
		}
		h.ServeHTTP(w, r)
	})
}
