package jira

// A tenant's quota state as this instance knows it, for the admin panel:
// the pauses covering it, what Jira's last quota headers said, this
// instance's lease of the points budget and the busiest endpoints.

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Bounds of the endpoint tally.
const (
	maxTalliedTenants   = 10000
	maxTalliedEndpoints = 64
)

// EndpointUse is one endpoint's calls and estimated points in the window.
type EndpointUse struct {
	Endpoint string `json:"endpoint"` // "GET /rest/api/3/issue/{id}"
	Calls    int64  `json:"calls"`
	Points   int64  `json:"points"`
}

// QuotaState is one tenant's rate-limit state on this instance.
type QuotaState struct {
	WindowStart time.Time
	ResetsAt    time.Time
	Pauses      []Pause
	// Policy is the last quota policy Jira reported for the tenant
	// (global-app-quota or tenant-app-quota); Known says whether any was.
	Policy QuotaPolicy
	Known  bool
	Lease  TenantLease
	// Busiest are the endpoints with the most estimated points this window.
	Busiest []EndpointUse
}

type tally struct {
	mu      sync.Mutex
	window  time.Time
	tenants map[string]map[string]*EndpointUse
}

func (t *tally) add(now time.Time, window time.Duration, tenant, endpoint string, points int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := now.Truncate(window); !w.Equal(t.window) || t.tenants == nil {
		t.window, t.tenants = w, map[string]map[string]*EndpointUse{}
	}
	m := t.tenants[tenant]
	if m == nil {
		if len(t.tenants) >= maxTalliedTenants {
			return
		}
		m = map[string]*EndpointUse{}
		t.tenants[tenant] = m
	}
	u := m[endpoint]
	if u == nil {
		if len(m) >= maxTalliedEndpoints {
			endpoint = "other"
			if u = m[endpoint]; u == nil {
				u = &EndpointUse{Endpoint: endpoint}
				m[endpoint] = u
			}
		} else {
			u = &EndpointUse{Endpoint: endpoint}
			m[endpoint] = u
		}
	}
	u.Calls++
	u.Points += points
}

func (t *tally) top(now time.Time, window time.Duration, tenant string, n int) []EndpointUse {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !now.Truncate(window).Equal(t.window) {
		return nil
	}
	var out []EndpointUse
	for _, u := range t.tenants[tenant] {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b EndpointUse) int {
		return cmp.Or(cmp.Compare(b.Points, a.Points), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	return out[:min(n, len(out))]
}

// Quota returns tenant's state on this instance.
func (l *Limiter) Quota(tenant string) QuotaState {
	now := l.o.Now()
	ws := now.Truncate(l.o.Window)
	q := QuotaState{WindowStart: ws, ResetsAt: ws.Add(l.o.Window), Pauses: l.Pauses(tenant),
		Busiest: l.tally.top(now, l.o.Window, tenant, 5)}
	slices.SortFunc(q.Pauses, func(a, b Pause) int { return cmp.Compare(a.Scope, b.Scope) })
	if s, ok := l.LastSignal(tenant); ok {
		for _, name := range [...]string{"tenant-app-quota", "global-app-quota"} {
			if p, ok := s.Policy(name); ok {
				q.Policy, q.Known = p, true
				break
			}
		}
	}
	if l.o.Budget != nil {
		q.Lease = l.o.Budget.Lease(tenant)
	}
	return q
}
