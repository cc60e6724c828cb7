package chassis

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// RetryAfterSeconds is the Retry-After a 503 answers while the database is out of reach: long
// enough for a failover or a pod restart, short enough that clients come back soon.
const RetryAfterSeconds = 5

// DatabaseUnavailable reports whether err means the database could not be reached or could not
// serve now (the request may succeed if retried later), as opposed to a bug or a refused
// request: a connection that failed or broke, no connection free before the request's deadline, or a PostgreSQL error of a class that says so.
func DatabaseUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// https://www.postgresql.org/docs/current/errcodes-appendix.html: class 08 connection
		// exception, class 53 insufficient resources, 57P01-57P05 shutdown and crash recovery.
		c := pgErr.Code
		return len(c) == 5 && (c[:2] == "08" || c[:2] == "53" || (c[:4] == "57P0" && c != "57P04"))
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		// The request's deadline passed while it waited for a connection or an answer.
		return true
	}
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
