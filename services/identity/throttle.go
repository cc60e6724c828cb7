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
	keyPrefix    string
}

func accountKey(tenant, email string) string {
	return "identity:login-fail:account:" + tenant + ":" + email
}
func clientKey(client string) string { return "identity:login-fail:client:" + client }

// locked answers how long the account or the client stays locked out (0: not locked).
func (t *throttle) locked(ctx context.Context, tenant, email, client string) (time.Duration, error) {
	pipe := t.rdb.Pipeline()
	acc := pipe.Get(ctx, t.keyPrefix+accountKey(tenant, email))
	cli := pipe.Get(ctx, t.keyPrefix+clientKey(client))
	accTTL := pipe.PTTL(ctx, t.keyPrefix+accountKey(tenant, email))
	cliTTL := pipe.PTTL(ctx, t.keyPrefix+clientKey(client))
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
	acc := pipe.Incr(ctx, t.keyPrefix+accountKey(tenant, email))
	pipe.ExpireNX(ctx, t.keyPrefix+accountKey(tenant, email), t.window)
	pipe.Incr(ctx, t.keyPrefix+clientKey(client))
	pipe.ExpireNX(ctx, t.keyPrefix+clientKey(client), t.window)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("login throttle: %w", err)
	}
	return acc.Val() == t.accountLimit, nil
}

// succeeded clears the account's failures.
func (t *throttle) succeeded(ctx context.Context, tenant, email string) error {
	return t.rdb.Del(ctx, t.keyPrefix+accountKey(tenant, email)).Err()
}

// clientOf is the address a login comes from. Only Kong reaches identity (its NetworkPolicy), and
// Kong appends the address it saw to X-Forwarded-For, so the last entry is the client's.
func clientOf(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		parts := strings.Split(xff, ",")
		if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
			return ip.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
