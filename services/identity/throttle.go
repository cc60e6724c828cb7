package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// throttle counts logins per account and per client in the platform's shared Redis, so every
// replica sees the same counts: an account or client over its limit of failures is locked out for
// the window, before any bcrypt work is spent on it.
type throttle struct {
	rdb          *redis.Client
	window       time.Duration
	accountLimit int64 // failures per account (tenant + e-mail) per window
	clientLimit  int64 // failures per client address per window
	// proxies is how many trusted proxies append to X-Forwarded-For in front of identity.
	proxies int
}

func accountKey(tenant, email string) string {
	return "identity:login-fail:account:" + tenant + ":" + email
}
func clientKey(client string) string { return "identity:login-fail:client:" + client }

// An attempt is reserved before any bcrypt work and settled after it, in Redis scripts so that
// each step is atomic: concurrent guesses cannot all pass a check made before any of them is
// counted. A reservation counts against both limits at once; a success gives the client its
// attempt back and clears the account's count; a failure keeps both.
var (
	// reserveScript: KEYS account, client; ARGV account limit, client limit, window (ms).
	// Answers {1, the account's count with this attempt} or {0, ms until the longer lockout ends}.
	reserveScript = redis.NewScript(`
local a = tonumber(redis.call('GET', KEYS[1]) or '0')
local c = tonumber(redis.call('GET', KEYS[2]) or '0')
if a >= tonumber(ARGV[1]) or c >= tonumber(ARGV[2]) then
  local wait = 0
  if a >= tonumber(ARGV[1]) then wait = math.max(wait, redis.call('PTTL', KEYS[1])) end
  if c >= tonumber(ARGV[2]) then wait = math.max(wait, redis.call('PTTL', KEYS[2])) end
  return {0, wait}
end
for _, k in ipairs(KEYS) do
  redis.call('INCR', k)
  if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, ARGV[3]) end
end
return {1, a + 1}`)
	// refundScript gives an attempt back to each key that still exists (one that expired
	// meanwhile stays absent, not negative); with ARGV[1] = "clear" the first key is deleted.
	refundScript = redis.NewScript(`
for i, k in ipairs(KEYS) do
  if i == 1 and ARGV[1] == 'clear' then redis.call('DEL', k)
  elseif redis.call('EXISTS', k) == 1 then redis.call('DECR', k) end
end
return 0`)
)

// reserve counts a login attempt for the account and the client, unless either is over its
// limit: then it answers how long the longer lockout lasts (wait > 0) and counts nothing.
// count is the account's count including this attempt.
func (t *throttle) reserve(ctx context.Context, tenant, email, client string) (count int64, wait time.Duration, err error) {
	r, err := reserveScript.Run(ctx, t.rdb, []string{accountKey(tenant, email), clientKey(client)},
		t.accountLimit, t.clientLimit, t.window.Milliseconds()).Int64Slice()
	if err == nil && len(r) != 2 {
		err = fmt.Errorf("unexpected answer %v", r)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("login throttle: %w", err)
	}
	if r[0] == 1 {
		return r[1], 0, nil
	}
	if wait = time.Duration(r[1]) * time.Millisecond; wait <= 0 { // a counter without expiry: a full window
		wait = t.window
	}
	return 0, wait, nil
}

// failed reports whether a failed attempt, reserved as the account's count-th, locks the
// account out: the one that reaches the limit does, once.
func (t *throttle) failed(count int64) (lockedNow bool) { return count == t.accountLimit }

// succeeded clears the account's count and gives the client its attempt back.
func (t *throttle) succeeded(ctx context.Context, tenant, email, client string) error {
	return t.refund(ctx, "clear", accountKey(tenant, email), clientKey(client))
}

// abandoned gives an attempt that could not be checked (an error before the password's answer)
// back to the account and the client.
func (t *throttle) abandoned(ctx context.Context, tenant, email, client string) error {
	return t.refund(ctx, "", accountKey(tenant, email), clientKey(client))
}

func (t *throttle) refund(ctx context.Context, mode string, keys ...string) error {
	if err := refundScript.Run(ctx, t.rdb, keys, mode).Err(); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}

// clientOf is the address a login comes from. Each of the hops trusted proxies in front of
// identity (the mesh's ingress gateway, then Kong) appends the address it saw to
// X-Forwarded-For, so the entry hops from the end is what the outermost one saw: the client.
// Entries before it are the client's own claims and are ignored.
func clientOf(r *http.Request, hops int) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		parts := strings.Split(xff, ",")
		if len(parts) >= hops {
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-hops])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
