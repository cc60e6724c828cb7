package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork/groundwork/services/chassis"
	"github.com/groundwork/groundwork/services/chassis/servicetest"
)

// benchProfiles registers n users through the identity topic and waits for their profiles.
func benchProfiles(b *testing.B, h *servicetest.Harness, n int) []uuid.UUID {
	b.Helper()
	ids := make([]uuid.UUID, n)
	evs := make([]chassis.Event, n)
	for i := range ids {
		ids[i] = uuid.New()
		evs[i] = registered("bench", ids[i], fmt.Sprintf("u%d@example.com", i))
	}
	h.Publish(b, evs...)
	servicetest.Eventually(b, 60*time.Second, "profiles created", func() bool {
		var c int
		_ = h.App.DB.QueryRow(b.Context(), `SELECT count(*) FROM profiles`).Scan(&c)
		return c == n
	})
	return ids
}

// runHTTP sends requests from b.RunParallel workers and reports p50 and p99 latency.
func runHTTP(b *testing.B, do func(c *http.Client, i int) (*http.Request, error)) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	var seq int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			mu.Lock()
			seq++
			i := int(seq)
			mu.Unlock()
			req, err := do(client, i)
			if err != nil {
				b.Error(err)
				return
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// tokens are an access token per user, as identity would issue them.
func tokens(b *testing.B, ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = servicetest.Token(b, "bench", id.String())
	}
	return out
}

// BenchmarkGetProfile is the read path: GET /v1/profiles/{id} over loopback HTTP against
// PostgreSQL, many clients at once, each request with its user's token (verified, lifecycle
// checked, authorized) — and, in the same run, the same query behind a bare net/http + pgx
// handler (no middleware, no token), for the ratio.
func BenchmarkGetProfile(b *testing.B) {
	h := servicetest.Start(b, service(), nil, chassis.EventsTopic("identity"))
	ids := benchProfiles(b, h, 1000)
	toks := tokens(b, ids)
	b.Run("service", func(b *testing.B) {
		runHTTP(b, func(_ *http.Client, i int) (*http.Request, error) {
			req, err := http.NewRequest("GET", h.URL+"/v1/profiles/"+ids[i%len(ids)].String(), nil)
			if err == nil {
				req.Header.Set("Authorization", "Bearer "+toks[i%len(ids)])
			}
			return req, err
		})
	})
	b.Run("bare", func(b *testing.B) {
		pool, err := pgxpool.New(b.Context(), h.App.Config.DatabaseURL)
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		srv := httptest.NewServer(bareHandler(pool))
		defer srv.Close()
		runHTTP(b, func(_ *http.Client, i int) (*http.Request, error) {
			req, err := http.NewRequest("GET", srv.URL+"/v1/profiles/"+ids[i%len(ids)].String(), nil)
			if err == nil {
				req.Header.Set(chassis.HeaderTenant, "bench")
			}
			return req, err
		})
	})
}

// bareHandler is the baseline: net/http and pgx running the service's read query, tenant from
// the header, nothing else.
func bareHandler(pool *pgxpool.Pool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/profiles/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			http.Error(w, "bad id", http.StatusUnprocessableEntity)
			return
		}
		p := profile{}
		err = pool.QueryRow(r.Context(), `SELECT p.user_id::text, p.email, p.display_name, p.locale, p.active, p.version, p.updated_at,
			COALESCE((SELECT jsonb_object_agg(key, value) FROM preferences f WHERE f.tenant_id = p.tenant_id AND f.user_id = p.user_id), '{}')
			FROM profiles p WHERE p.tenant_id = $1 AND p.user_id = $2`, r.Header.Get(chassis.HeaderTenant), id).
			Scan(&p.UserID, &p.Email, &p.DisplayName, &p.Locale, &p.Active, &p.Version, &p.UpdatedAt, &p.Preferences)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	return mux
}

// BenchmarkUpdateProfile is the write path: PUT /v1/profiles/{id}, a transaction that updates
// the row and writes ProfileUpdated to the outbox, while the relay publishes to Kafka.
func BenchmarkUpdateProfile(b *testing.B) {
	h := servicetest.Start(b, service(), nil, chassis.EventsTopic("identity"))
	ids := benchProfiles(b, h, 1000)
	toks := tokens(b, ids)
	runHTTP(b, func(_ *http.Client, i int) (*http.Request, error) {
		body := fmt.Sprintf(`{"display_name":"User %d","locale":"en"}`, i)
		req, err := http.NewRequest("PUT", h.URL+"/v1/profiles/"+ids[i%len(ids)].String(), bytes.NewBufferString(body))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+toks[i%len(ids)])
		}
		return req, err
	})
}
