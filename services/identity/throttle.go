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

// throttle counts failed logins per account and per client in the platform's shared Redis, so
// every replica sees the same counts: an account or client over its limit is locked out for the
// window, before any bcrypt work is spent on it.
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

// locked answers how long the account or the client stays locked out (0: not locked).
func (t *throttle) locked(ctx context.Context, tenant, email, client string) (time.Duration, error) {
	pipe := t.rdb.Pipeline()
	acc := pipe.Get(ctx, accountKey(tenant, email))
	cli := pipe.Get(ctx, clientKey(client))
	accTTL := pipe.PTTL(ctx, accountKey(tenant, email))
	cliTTL := pipe.PTTL(ctx, clientKey(client))
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	var wait time.Duration
	if n, _ := acc.Int64(); n >= t.accountLimit {
		wait = max(wait, accTTL.Val())
	}
	if n, _ := cli.Int64(); n >= t.clientLimit {
		wait = max(wait, cliTTL.Val())
	}
	if wait < 0 { // a counter without expiry would lock forever; count it as a full window
		wait = t.window
	}
	return wait, nil
}

// failed counts a failed login; lockedNow is true when this failure locked the account out.
func (t *throttle) failed(ctx context.Context, tenant, email, client string) (lockedNow bool, err error) {
	pipe := t.rdb.TxPipeline()
	acc := pipe.Incr(ctx, accountKey(tenant, email))
	pipe.ExpireNX(ctx, accountKey(tenant, email), t.window)
	pipe.Incr(ctx, clientKey(client))
	pipe.ExpireNX(ctx, clientKey(client), t.window)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("login throttle: %w", err)
	}
	return acc.Val() == t.accountLimit, nil
}

// succeeded clears the account's failures.
func (t *throttle) succeeded(ctx context.Context, tenant, email string) error {
	return t.rdb.Del(ctx, accountKey(tenant, email)).Err()
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
