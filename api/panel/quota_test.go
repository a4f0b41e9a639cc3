package panel_test

import (
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/sim/ratesim"
)

// TestQuotaAPI: after Jira answers a tenant-quota 429 to a check, the
// quota view names the pause, its reason and end, and the busiest
// endpoint; the next check is refused without reaching the site.
func TestQuotaAPI(t *testing.T) {
	model := ratesim.New(ratesim.Options{})
	e := newEnv(t, envOptions{rates: model})
	r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"})
	if r.status != 200 {
		t.Fatalf("first check: %d %s", r.status, r.body)
	}
	model.Force(ratesim.ReasonTenant, 1)
	e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/serverInfo", "as": "app"})
	served := model.Stats().Served
	e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/serverInfo", "as": "app"})
	if after := model.Stats(); len(after.Early) != 0 || sum(after.Served) != sum(served) {
		t.Errorf("a check reached the site during the pause: early %v", after.Early)
	}
	r = e.call("admin", "GET", "/api/quota", nil)
	if r.status != 200 {
		t.Fatalf("GET /api/quota: %d %s", r.status, r.body)
	}
	var q panel.QuotaView
	r.decode(t, &q)
	if len(q.Paused) != 1 || q.Paused[0].Reason != ratesim.ReasonTenant || q.Paused[0].Scope != "tenant" || !q.Paused[0].Until.After(e.clock.Now()) {
		t.Errorf("paused %+v, want the tenant quota pause", q.Paused)
	}
	if !q.ResetsAt.After(e.clock.Now()) || q.ResetsAt.Sub(q.WindowStart) != time.Hour {
		t.Errorf("window %s – %s", q.WindowStart, q.ResetsAt)
	}
	if len(q.Busiest) == 0 || q.Busiest[0].Calls < 1 {
		t.Errorf("busiest endpoints %+v", q.Busiest)
	}
	if q.Policy != "global-app-quota" || q.Quota != 65000 {
		t.Errorf("policy %q quota %d, want the global pool from RateLimit-Policy", q.Policy, q.Quota)
	}
	if r := e.call("", "GET", "/api/quota", nil); r.status != 401 {
		t.Errorf("anonymous GET /api/quota: %d", r.status)
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
