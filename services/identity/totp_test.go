package main

import (
	"encoding/base32"
	"testing"
	"time"
)

// RFC 6238 appendix B, SHA-1 rows, secret "12345678901234567890", truncated to 6 digits.
func TestTOTPMatchesRFC6238(t *testing.T) {
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	tests := []struct {
		unix int64
		want string
	}{
		{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"},
	}
	for _, tt := range tests {
		got, err := totpCode(secret, tt.unix/totpStep)
		if err != nil || got != tt.want {
			t.Errorf("T=%d: %s %v, want %s", tt.unix, got, err, tt.want)
		}
	}
	now := time.Unix(1111111111, 0)
	if step := totpCheck(secret, "050471", now, 0); step != 1111111111/30 {
		t.Fatalf("current code refused: %d", step)
	}
	if step := totpCheck(secret, "050471", now, 1111111111/30); step != 0 {
		t.Fatal("a code accepted twice")
	}
	if step := totpCheck(secret, "000000", now, 0); step != 0 {
		t.Fatal("a wrong code accepted")
	}
}
