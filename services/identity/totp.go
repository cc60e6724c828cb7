package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" // #nosec: RFC 6238 TOTP as authenticator apps implement it uses HMAC-SHA1
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"time"
)

// TOTP (RFC 6238) with the parameters every authenticator app supports: HMAC-SHA1, 30-second
// steps, 6 digits. https://www.rfc-editor.org/rfc/rfc6238#section-4

const totpStep = 30

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret is 20 random bytes (RFC 4226 section 4 recommends 160 bits), base32.
func newTOTPSecret() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b32.EncodeToString(b)
}

// totpCode is the code of step for secret.
func totpCode(secret string, step int64) (string, error) {
	key, err := b32.DecodeString(secret)
	if err != nil {
		return "", err
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f // dynamic truncation, RFC 4226 section 5.3
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000), nil
}

// totpCheck finds the step within one step of now whose code is code and that is later than
// last (a code is accepted once); 0 when none.
func totpCheck(secret, code string, now time.Time, last int64) int64 {
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpStep
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		want, err := totpCode(secret, step)
		if err == nil && step > last && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step
		}
	}
	return 0
}
