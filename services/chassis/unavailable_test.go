package chassis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestDatabaseUnavailable(t *testing.T) {
	tests := []struct {
		name string
		give error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused (08006)", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections (53300)", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown (57P01)", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now, recovering (57P03)", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "57P03"}), true},
		{"query canceled by user (57014)", &pgconn.PgError{Code: "57014"}, false},
		{"unique violation (23505)", &pgconn.PgError{Code: "23505"}, false},
		{"NUL in text (22021)", &pgconn.PgError{Code: "22021"}, false},
		{"connection dropped", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{"deadline passed waiting", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
		{"no rows", pgx.ErrNoRows, false},
		{"a bug", errors.New("nil map"), false},
		{"not found", ErrNotFound, false},
	}
	for _, tt := range tests {
		if got := DatabaseUnavailable(tt.give); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBackoffGrowsToTenSecondsWithJitter(t *testing.T) {
	for n, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 5: 1600 * time.Millisecond,
		8: 10 * time.Second, 50: 10 * time.Second} {
		for range 100 {
			if d := backoff(n); d < base*8/10 || d > base*12/10 {
				t.Fatalf("backoff(%d) = %s, want %s ± 20%%", n, d, base)
			}
		}
	}
}
