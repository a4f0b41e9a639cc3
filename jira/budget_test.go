package jira

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestFairGrant(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name      string
		pol       SharePolicy
		budget    int64
		poolSpent int64
		me        TenantUse
		others    []TenantUse
		want      int64
		elapsed   time.Duration
		grant     int64
	}{
		{name: "within the equal share", budget: 1000, me: TenantUse{Spent: 100}, others: []TenantUse{{Spent: 100}}, poolSpent: 200, want: 50, elapsed: 30 * time.Minute, grant: 50},
		{name: "pool exhausted", budget: 1000, poolSpent: 1000, want: 10, grant: 0},
		{name: "first come takes the pool", pol: SharePolicy{FirstCome: true}, budget: 1000, poolSpent: 900, me: TenantUse{Spent: 900}, others: []TenantUse{{}}, want: 500, grant: 100},
		{name: "no borrowing caps at the share", pol: SharePolicy{NoBorrow: true}, budget: 1000, poolSpent: 480, me: TenantUse{Spent: 480}, others: []TenantUse{{}}, want: 100, elapsed: 30 * time.Minute, grant: 20},
		// Lead 1 lifts the clock's cap, to test the reserve alone. Half
		// the hour gone, the other tenant spent 50 (100/h). By default it
		// keeps its share of the time left, 500 × 30/60 = 250, however
		// little it spends: the borrower gets 1000-500-250.
		{name: "borrows what the time passed left idle", pol: SharePolicy{Lead: 1}, budget: 1000, poolSpent: 500, me: TenantUse{Spent: 450}, others: []TenantUse{{Spent: 50}}, want: 1000, elapsed: 30 * time.Minute, grant: 250},
		// LendAhead: it keeps what its rate projects, 50 × 1.5 = 75 of its
		// unspent 450; the borrower gets 1000-500-75.
		{name: "lend ahead: borrows what a light tenant will not need", pol: SharePolicy{Lead: 1, LendAhead: true}, budget: 1000, poolSpent: 500, me: TenantUse{Spent: 450}, others: []TenantUse{{Spent: 50}}, want: 1000, elapsed: 30 * time.Minute, grant: 425},
		// A busy other tenant (spent 400 in half the hour) keeps its whole
		// unspent share (100).
		{name: "cannot borrow a busy tenant's share", budget: 1000, poolSpent: 900, me: TenantUse{Spent: 500}, others: []TenantUse{{Spent: 400}}, want: 1000, elapsed: 30 * time.Minute, grant: 0},
		// The floor kept for a tenant that barely spends shrinks with the
		// time left: 100 × 30/60 half-way, 100 × 1/60 a minute before the
		// reset, so what it will not use before then goes to the borrower.
		{name: "floor halves half-way", pol: SharePolicy{Floor: 100, Lead: 1, LendAhead: true}, budget: 1000, poolSpent: 501, me: TenantUse{Spent: 500}, others: []TenantUse{{Spent: 1}}, want: 1000, elapsed: 30 * time.Minute, grant: 449},
		// By default a minute before the reset the other keeps its
		// share's last minute, 500/60 = 8: the borrower gets 490.
		{name: "the share's time-part near the reset", budget: 1000, poolSpent: 501, me: TenantUse{Spent: 500}, others: []TenantUse{{Spent: 1}}, want: 1000, elapsed: 59 * time.Minute, grant: 490},
		{name: "floor near the reset", pol: SharePolicy{Floor: 100, LendAhead: true}, budget: 1000, poolSpent: 501, me: TenantUse{Spent: 500}, others: []TenantUse{{Spent: 1}}, want: 1000, elapsed: 59 * time.Minute, grant: 497},
		// The clock: half-way, lending may take the pool's spend to
		// (0.5 + 0.1) × 1000 = 600, however little the other tenant is
		// projected to need; its own 50 it gets.
		{name: "lending follows the clock", budget: 1000, poolSpent: 500, me: TenantUse{Spent: 450, PrevSpent: 900}, others: []TenantUse{{Spent: 50, PrevSpent: 100}}, want: 1000, elapsed: 30 * time.Minute, grant: 100},
		// A cold window (no tenant spent anything in the last one): the
		// ledger does not know who will call, so a lone tenant at the
		// start gets the Lead's 10%, not the whole pool.
		{name: "a cold window holds a lone tenant to the clock", budget: 1000, me: TenantUse{}, want: 1000, grant: 100},
		{name: "a cold window frees the pool as time passes", budget: 1000, poolSpent: 100, me: TenantUse{Spent: 100}, want: 1000, elapsed: 15 * time.Minute, grant: 250},
		// A tenant alone last window is owed the whole pool as its share,
		// but is held to the clock: a tenant the ledger has not seen yet
		// may come.
		{name: "a lone tenant is held to the clock within its share", budget: 1000, me: TenantUse{PrevSpent: 800}, want: 1000, grant: 100},
		// It came, five minutes in: the first one holds 100 (held to the
		// clock), so the newcomer gets its own clock's part, 1000 ×
		// (5/60 + 0.1) = 183, at once.
		{name: "a tenant idle last window finds the clock's part", budget: 1000, poolSpent: 100, me: TenantUse{}, others: []TenantUse{{Spent: 100, PrevSpent: 800}}, want: 300, elapsed: 5 * time.Minute, grant: 183},
		// A tenant that starts calling half-way finds its share: the
		// busy one was held to the clock.
		{name: "a tenant new mid-window finds its part", budget: 1000, poolSpent: 600, me: TenantUse{}, others: []TenantUse{{Spent: 600, PrevSpent: 1000}}, want: 300, elapsed: 30 * time.Minute, grant: 300},
		{name: "last hour's spend reserves for a tenant not yet seen this hour", budget: 1000, poolSpent: 500, me: TenantUse{Spent: 500}, others: []TenantUse{{PrevSpent: 1000}}, want: 1000, elapsed: 30 * time.Minute, grant: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			elapsed := tc.elapsed
			got := FairGrant(tc.pol, tc.budget, tc.poolSpent, tc.me, tc.others, tc.want, elapsed, hour)
			if got != tc.grant {
				t.Errorf("grant %d, want %d", got, tc.grant)
			}
		})
	}
}

// TestBudgetNoisyTenant: a tenant asking for far more than the pool cannot
// take the share of a tenant active at the same time.
func TestBudgetNoisyTenant(t *testing.T) {
	var clock sync.Mutex
	now := fixedNow
	read := func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	ledger := NewMemoryLedger()
	b := NewBudget(BudgetOptions{Store: ledger, Points: 1000, Window: time.Hour, Now: read})
	if err := b.Take(t.Context(), "quiet", 2); err != nil {
		t.Fatal(err)
	}
	// The quiet tenant spends steadily, 2 points every 10 s (360 in the
	// half hour, within its 500 share); the noisy one asks up to 1000
	// times per step.
	var quietRefused, noisyOK int
	for step := range 180 { // 30 minutes
		clock.Lock()
		now = fixedNow.Add(time.Duration(step) * 10 * time.Second)
		clock.Unlock()
		if err := b.Take(t.Context(), "quiet", 2); err != nil {
			quietRefused++
		}
		for range 1000 {
			if b.Take(t.Context(), "noisy", 2) == nil {
				noisyOK++
			} else {
				break
			}
		}
	}
	if quietRefused > 0 {
		t.Errorf("quiet tenant refused %d of 180 times (it needed 360 of its 500 share)", quietRefused)
	}
	spent, per := ledger.Spent(fixedNow.Truncate(time.Hour))
	if spent > 1000 {
		t.Errorf("ledger granted %d of a 1000 pool", spent)
	}
	if per["noisy"] < 500 {
		t.Errorf("noisy tenant got %d: it should borrow the idle capacity beyond its 500 share", per["noisy"])
	}
	err := b.Take(t.Context(), "noisy", 1000)
	if le, ok := errors.AsType[*LimitedError](err); !ok || le.Reason != ReasonBudget || le.Scope != ScopeTenant {
		t.Errorf("over-budget take: %v, want a ReasonBudget LimitedError", err)
	}
}

func TestBudgetObserveCorrects(t *testing.T) {
	now := fixedNow
	ledger := NewMemoryLedger()
	b := NewBudget(BudgetOptions{Store: ledger, Points: 1000, Now: func() time.Time { return now }})
	l := NewLimiter(LimiterOptions{Now: func() time.Time { return now }, Budget: b})
	resp := &http.Response{StatusCode: 200, Header: http.Header{}}
	resp.Header.Add("Beta-RateLimit-Policy", `"global-app-quota";q=65000;w=3600`)
	resp.Header.Add("Beta-RateLimit", `"global-app-quota";r=11000;t=600`)
	l.Done(&Call{Tenant: "a"}, resp)
	if spent := flushSpent(t, b, ledger, fixedNow.Truncate(time.Hour)); spent != 54000 {
		t.Errorf("pool spent %d after Jira said r=11000 of q=65000, want 54000", spent)
	}
	// A later, lower count does not lower the ledger (leases Jira has not
	// seen yet would be granted twice).
	resp.Header.Set("Beta-RateLimit", `"global-app-quota";r=30000;t=500`)
	l.Done(&Call{Tenant: "a"}, resp)
	if spent := flushSpent(t, b, ledger, fixedNow.Truncate(time.Hour)); spent != 54000 {
		t.Errorf("pool spent %d after a lower count, want 54000 kept", spent)
	}
}

// flushSpent flushes b's pending figures and returns the ledger's pool
// spend in the window starting at start.
func flushSpent(t *testing.T, b *Budget, ledger *MemoryLedger, start time.Time) int64 {
	t.Helper()
	if err := b.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	spent, _ := ledger.Spent(start)
	return spent
}

// TestBudgetObserveCountsTheSentWindow: Jira counts a call in the window
// it was sent in. An answer with r=0 to a call sent just before the reset
// and read just after must not mark the new window spent, and an older
// window's figures do not replace a newer one's still to be flushed.
func TestBudgetObserveCountsTheSentWindow(t *testing.T) {
	start := fixedNow.Truncate(time.Hour)
	now := start.Add(time.Hour + 100*time.Millisecond) // just past the reset
	ledger := NewMemoryLedger()
	b := NewBudget(BudgetOptions{Store: ledger, Points: 1000, Now: func() time.Time { return now }})
	l := NewLimiter(LimiterOptions{Now: func() time.Time { return now }, Budget: b})
	resp := &http.Response{StatusCode: 200, Header: http.Header{}}
	resp.Header.Add("RateLimit-Policy", `"global-app-quota";q=1000;w=3600`)
	resp.Header.Add("RateLimit", `"global-app-quota";r=0;t=1`)
	l.Done(&Call{Tenant: "a", sent: start.Add(time.Hour - 100*time.Millisecond)}, resp)
	if spent := flushSpent(t, b, ledger, start.Add(time.Hour)); spent != 0 {
		t.Errorf("new window spent %d after a late answer from the old one, want 0", spent)
	}
	if spent, _ := ledger.Spent(start); spent != 1000 {
		t.Errorf("old window spent %d, want 1000 (r=0 of q=1000)", spent)
	}
	if err := b.Take(t.Context(), "a", 2); err != nil {
		t.Errorf("take in the new window: %v", err)
	}

	// Newer first, older second: the newer is what Flush sends.
	b.Observe("a", false, 1000, 900, start.Add(time.Hour+50*time.Millisecond))
	b.Observe("a", false, 1000, 0, start.Add(time.Hour-time.Second))
	if spent := flushSpent(t, b, ledger, start.Add(time.Hour)); spent != 100 {
		t.Errorf("new window spent %d, want 100 (r=900 of q=1000; the older r=0 dropped)", spent)
	}
}

// TestBudgetLeaseCoversTheNextCall: near the reset a lease is sized to
// what the tenant draws until then, but never below the cost of its last
// call: a background refill of 1 point would leave a 2-point call short.
func TestBudgetLeaseCoversTheNextCall(t *testing.T) {
	start := fixedNow.Truncate(time.Hour)
	now := start.Add(time.Hour - 3*time.Second)
	ledger := NewMemoryLedger()
	b := NewBudget(BudgetOptions{Store: ledger, Points: 100000, LeaseMin: 1, Now: func() time.Time { return now }})
	for i := range 10 {
		now = start.Add(time.Hour - 3*time.Second + time.Duration(i)*100*time.Millisecond)
		if err := b.Take(t.Context(), "a", 5); err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
	}
	now = start.Add(time.Hour - time.Millisecond)
	tl := b.lease("a")
	tl.mu.Lock()
	got, err := b.leaseLocked(t.Context(), "a", tl, 0) // a background refill
	tl.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got < 5 {
		t.Errorf("refill a millisecond before the reset leased %d, want at least the last call's 5", got)
	}
}

func TestEstimatePoints(t *testing.T) {
	tests := []struct {
		name, method, path, query string
		want                      int64
	}{
		{"one issue (documented: 2)", "GET", "/rest/api/3/issue/ABC-123", "", 2},
		{"create (documented: 1)", "POST", "/rest/api/3/issue", "", 1},
		{"group members, 8 users (documented: 17)", "GET", "/rest/api/3/group/member", "maxResults=8", 17},
		{"one user", "GET", "/rest/api/3/user", "accountId=5b10", 3},
		{"search default page", "GET", "/rest/api/3/search/jql", "jql=x", 51},
		{"POST search reads", "POST", "/rest/api/3/search/jql", "", 51},
		{"delete", "DELETE", "/rest/api/3/issue/ABC-1", "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EstimatePoints(tc.method, tc.path, tc.query); got != tc.want {
				t.Errorf("EstimatePoints = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEndpointTemplateAndIssue(t *testing.T) {
	tests := []struct{ method, path, endpoint, issue string }{
		{"POST", "/rest/api/3/issue/ABC-1/comment", "/rest/api/3/issue/{id}/comment", "ABC-1"},
		{"GET", "/rest/api/3/issue/10001", "/rest/api/3/issue/{id}", ""},
		{"POST", "/rest/api/3/issue/bulk", "/rest/api/3/issue/bulk", ""},
		{"GET", "/rest/agile/1.0/board/7", "/rest/agile/1.0/board/{id}", ""},
	}
	for _, tc := range tests {
		if got := EndpointTemplate(tc.method, tc.path); got != tc.endpoint {
			t.Errorf("EndpointTemplate(%s) = %s, want %s", tc.path, got, tc.endpoint)
		}
		if got := IssueOf(tc.method, tc.path); got != tc.issue {
			t.Errorf("IssueOf(%s %s) = %q, want %q", tc.method, tc.path, got, tc.issue)
		}
	}
}

// BenchmarkGateAdmit is the hot path: no pause, budget lease in hand.
func BenchmarkGateAdmit(b *testing.B) {
	bud := NewBudget(BudgetOptions{Points: 1 << 60, LeaseMax: 1 << 40})
	l := NewLimiter(LimiterOptions{Budget: bud})
	c := &Call{Tenant: "jira:0f3b8c1e-5f0a-4c38-9a57-5d0c2b4a7e11", Method: "GET", Path: "/rest/api/3/issue/ABC-123"}
	ctx := b.Context()
	_, _ = l.Admit(ctx, c)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Admit(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGateAdmitSerial is BenchmarkGateAdmit on one goroutine.
func BenchmarkGateAdmitSerial(b *testing.B) {
	bud := NewBudget(BudgetOptions{Points: 1 << 60, LeaseMax: 1 << 40})
	l := NewLimiter(LimiterOptions{Budget: bud})
	c := &Call{Tenant: "jira:0f3b8c1e-5f0a-4c38-9a57-5d0c2b4a7e11", Method: "GET", Path: "/rest/api/3/issue/ABC-123"}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Admit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBudgetReturnsIdleLease: a lease not drawn on for LeaseIdle goes back
// to the ledger at Flush; a lease in use stays.
func TestBudgetReturnsIdleLease(t *testing.T) {
	now := fixedNow
	ledger := NewMemoryLedger()
	b := NewBudget(BudgetOptions{Store: ledger, Points: 1000, LeaseMin: 50, LeaseIdle: 2 * time.Second, Now: func() time.Time { return now }})
	for _, tenant := range []string{"idle", "busy"} {
		if err := b.Take(t.Context(), tenant, 2); err != nil {
			t.Fatal(err)
		}
	}
	ws := fixedNow.Truncate(time.Hour)
	for step := range 4 {
		now = fixedNow.Add(time.Duration(step) * time.Second)
		if err := b.Take(t.Context(), "busy", 1); err != nil {
			t.Fatal(err)
		}
		if err := b.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	_, per := ledger.Spent(ws)
	if per["idle"] != 2 {
		t.Errorf("idle tenant holds %d points in the ledger after 3 s idle, want 2 (the 48 unused returned)", per["idle"])
	}
	if per["busy"] != 50 {
		t.Errorf("busy tenant holds %d, want its lease of 50 kept", per["busy"])
	}
	if l := b.Lease("idle"); l.Left != 0 || l.Granted != 2 {
		t.Errorf("idle lease after return: %+v", l)
	}
	// The tenant comes back: it leases again.
	if err := b.Take(t.Context(), "idle", 2); err != nil {
		t.Errorf("take after the return: %v", err)
	}
}

// TestBudgetTier2: each tenant spends its own quota (default: Free), a
// larger edition's quota comes from TenantQuota, and Jira's
// tenant-app-quota replaces it.
func TestBudgetTier2(t *testing.T) {
	now := fixedNow
	ledger := NewMemoryLedger()
	quotas := map[string]int64{"big": Tier2Quota(EditionStandard, 2000)}
	b := NewBudget(BudgetOptions{Store: ledger, Points: 100, Tier2: true, LeaseMax: 1000, Now: func() time.Time { return now },
		TenantQuota: func(t string) int64 { return quotas[t] }})
	spend := func(tenant string, n int) int {
		ok := 0
		for range n {
			if b.Take(t.Context(), tenant, 100) == nil {
				ok++
			}
		}
		return ok
	}
	// The app pool (100) does not apply: each tenant has its own quota.
	if got := spend("free", 700); got != 650 {
		t.Errorf("free tenant spent %d×100 points, want 650 (65,000)", got)
	}
	if got := spend("big", 1300); got != 1200 {
		t.Errorf("standard 2,000-user tenant spent %d×100, want 1200 (120,000)", got)
	}
	l := NewLimiter(LimiterOptions{Now: func() time.Time { return now }, Budget: b})
	resp := &http.Response{StatusCode: 200, Header: http.Header{}}
	resp.Header.Add("RateLimit-Policy", `"tenant-app-quota";q=70000;w=3600`)
	resp.Header.Add("RateLimit", `"tenant-app-quota";r=5000;t=600`)
	l.Done(&Call{Tenant: "free"}, resp)
	now = now.Add(time.Second) // past the deny
	if got := spend("free", 100); got != 50 {
		t.Errorf("after Jira reported q=70000, the free tenant spent %d×100 more, want 50", got)
	}
}

// TestFairGrantCeiling: a borrowing grant carries the pool spend it may not
// push past (the pool less the others' reserve), which a shared ledger
// checks in its UPDATE; a grant within the share may use the pool up to
// the clock's part.
func TestFairGrantCeiling(t *testing.T) {
	tests := []struct {
		name           string
		pol            SharePolicy
		poolSpent      int64
		me             TenantUse
		want           int64
		grant, ceiling int64
	}{
		// The other tenant keeps 75 (as in TestFairGrant): 1000 − 75.
		{name: "borrowing stops at the reserve", pol: SharePolicy{Lead: 1, LendAhead: true}, poolSpent: 500, me: TenantUse{Spent: 450}, want: 1000, grant: 425, ceiling: 925},
		// Half-way the clock's part (600) is lower than the reserve's.
		{name: "borrowing stops at the clock", poolSpent: 500, me: TenantUse{Spent: 450}, want: 1000, grant: 100, ceiling: 600},
		{name: "within the share the pool is the ceiling", pol: SharePolicy{Lead: 1}, poolSpent: 100, me: TenantUse{Spent: 50}, want: 10, grant: 10, ceiling: 1000},
		// Half-way the tenant may hold 600 − 50 more: a ceiling of 650
		// stops instances leasing on one snapshot from passing it.
		{name: "within the share the clock is the ceiling", poolSpent: 100, me: TenantUse{Spent: 50}, want: 10, grant: 10, ceiling: 650},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, c := FairGrantCeiling(tc.pol, 1000, tc.poolSpent, tc.me, []TenantUse{{Spent: 50}}, tc.want, 30*time.Minute, time.Hour)
			if g != tc.grant || c != tc.ceiling {
				t.Errorf("grant %d ceiling %d, want %d and %d", g, c, tc.grant, tc.ceiling)
			}
		})
	}
}
