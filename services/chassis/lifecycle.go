package chassis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The lifecycle projection: every service keeps tenant.events (provisioned, suspended, quotas)
// and user.events (deactivations) in its own database, so that a suspended tenant or a
// deactivated user is refused by every service (authenticate), not only by the one that
// recorded it.

// LifecycleRefresh is how often a replica reloads the lifecycle projection: a suspension or
// deactivation reaches every request of every replica within this time of being projected,
// and no request waits on the database for it.
const LifecycleRefresh = time.Second

// lifecycleSnapshot is a replica's copy of the projection: the tenants that are not active and
// every deactivated user, loaded incrementally (deactivations are only ever added).
type lifecycleSnapshot struct {
	mu          sync.Mutex // held while loading
	state       atomic.Pointer[lifecycleState]
	lastSeq     int64
	deactivated map[string]bool // tenant + "/" + user; grows only, copied on change
}

type lifecycleState struct {
	at          time.Time
	tenants     map[string]string // tenant -> status, for tenants not active
	deactivated map[string]bool
}

// RefreshLifecycle reloads the lifecycle projection now; tests call it after projecting an event.
func (a *App) RefreshLifecycle(ctx context.Context) error {
	a.lifecycleSnap.mu.Lock()
	defer a.lifecycleSnap.mu.Unlock()
	return a.loadLifecycle(ctx)
}

// loadLifecycle reads the tenants not active and the deactivations since the last load.
// Callers hold lifecycleSnap.mu.
func (a *App) loadLifecycle(ctx context.Context) error {
	sn := &a.lifecycleSnap
	rows, err := a.DB.Query(ctx, `SELECT tenant_id, status FROM lifecycle_tenants WHERE status <> 'active'`)
	if err != nil {
		return err
	}
	tenants := map[string]string{}
	for rows.Next() {
		var t, st string
		if err := rows.Scan(&t, &st); err != nil {
			rows.Close()
			return err
		}
		tenants[t] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = a.DB.Query(ctx, `SELECT tenant_id, user_id, seq FROM lifecycle_deactivated WHERE seq > $1 ORDER BY seq`, sn.lastSeq)
	if err != nil {
		return err
	}
	deactivated, last, copied := sn.deactivated, sn.lastSeq, false
	for rows.Next() {
		var t, u string
		var seq int64
		if err := rows.Scan(&t, &u, &seq); err != nil {
			rows.Close()
			return err
		}
		if !copied { // copy once per load: readers hold the old map
			deactivated, copied = maps.Clone(sn.deactivated), true
			if deactivated == nil {
				deactivated = map[string]bool{}
			}
		}
		deactivated[t+"/"+u], last = true, seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sn.deactivated, sn.lastSeq = deactivated, last
	sn.state.Store(&lifecycleState{at: time.Now(), tenants: tenants, deactivated: deactivated})
	return nil
}

// lifecycle answers whether a tenant may act (not suspended) and whether a user is deactivated,
// from the replica's snapshot of the projection of tenant.events and user.events. A snapshot
// older than LifecycleRefresh is reloaded by one request while the others use it; with no
// snapshot at all (or a failed first load) the request gets the database's error.
func (a *App) lifecycle(ctx context.Context, tenant, user string) (status string, deactivated bool, err error) {
	sn := &a.lifecycleSnap
	st := sn.state.Load()
	if st == nil || time.Since(st.at) >= LifecycleRefresh {
		if st == nil {
			sn.mu.Lock()
		} else if !sn.mu.TryLock() {
			return answer(st, tenant, user) // another request is reloading: the current copy serves
		}
		if cur := sn.state.Load(); cur == nil || time.Since(cur.at) >= LifecycleRefresh {
			err = a.loadLifecycle(ctx)
		}
		sn.mu.Unlock()
		if st = sn.state.Load(); st == nil || (err != nil && time.Since(st.at) > 30*LifecycleRefresh) {
			return "", false, fmt.Errorf("lifecycle projection: %w", err)
		}
	}
	return answer(st, tenant, user)
}

func answer(st *lifecycleState, tenant, user string) (string, bool, error) {
	status, ok := st.tenants[tenant]
	if !ok {
		status = "active"
	}
	return status, st.deactivated[tenant+"/"+user], nil
}

// TenantStatus returns the projected status of tenant: "active", "suspended", or "" when no
// TenantProvisioned has been seen.
func TenantStatus(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, tenant string) (status string, quotas map[string]int64, err error) {
	err = q.QueryRow(ctx, `SELECT status, quotas FROM lifecycle_tenants WHERE tenant_id = $1`, tenant).Scan(&status, &quotas)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	return status, quotas, err
}

// UserDeactivated reports whether the projection holds a UserDeactivated for user.
func UserDeactivated(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, tenant, user string) (bool, error) {
	var d bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM lifecycle_deactivated WHERE tenant_id = $1 AND user_id = $2)`, tenant, user).Scan(&d)
	return d, err
}

// applyLifecycle keeps the lifecycle projection from tenant.events and user.events.
func applyLifecycle(ctx context.Context, tx pgx.Tx, e Event) error {
	var d struct {
		TenantID string           `json:"tenant_id"`
		UserID   string           `json:"user_id"`
		Quotas   map[string]int64 `json:"quotas"`
		Resource string           `json:"resource"`
		Max      *int64           `json:"max"`
	}
	if err := e.DecodeData(&d); err != nil {
		return err
	}
	tenant := e.TenantID
	if d.TenantID != "" {
		tenant = d.TenantID
	}
	var err error
	switch e.Type {
	case "TenantProvisioned":
		if d.Quotas == nil {
			d.Quotas = map[string]int64{}
		}
		_, err = tx.Exec(ctx, `INSERT INTO lifecycle_tenants (tenant_id, status, quotas) VALUES ($1, 'active', $2)
			ON CONFLICT (tenant_id) DO NOTHING`, tenant, d.Quotas)
	case "TenantSuspended":
		_, err = tx.Exec(ctx, `INSERT INTO lifecycle_tenants (tenant_id, status) VALUES ($1, 'suspended')
			ON CONFLICT (tenant_id) DO UPDATE SET status = 'suspended'`, tenant)
	case "ResourceQuotaUpdated":
		if d.Max == nil || d.Resource == "" {
			return fmt.Errorf("ResourceQuotaUpdated %s: resource and max required", e.ID)
		}
		_, err = tx.Exec(ctx, `UPDATE lifecycle_tenants SET quotas = quotas || jsonb_build_object($2::text, $3::bigint)
			WHERE tenant_id = $1`, tenant, d.Resource, *d.Max)
	case "UserDeactivated":
		if d.UserID == "" || tenant == "" {
			return fmt.Errorf("UserDeactivated %s: tenant and user_id required", e.ID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO lifecycle_deactivated (tenant_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, tenant, d.UserID)
	}
	return err
}

// LifecycleTopics are consumed by every service for its lifecycle projection.
var LifecycleTopics = []string{EventsTopic("tenant"), EventsTopic("user")}
