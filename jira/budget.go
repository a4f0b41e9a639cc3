package jira

// The points budget shared by every instance of the app. The hot path
// (Budget.Take) only decrements a local lease; leases of points are taken
// from a shared ledger (BudgetStore: the app's database, or MemoryLedger
// for one process) in batches sized to about half a second of the
// tenant's spend, so there is no database round trip per request. The
// ledger splits the app's hourly pool fairly between tenants (FairGrant).

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of BudgetOptions.
const (
	DefaultPoolPoints = 65000 // Tier 1: points per hour per app
	DefaultHeadroom   = 1.5
)

// SharePolicy says how the ledger splits the pool between tenants.
type SharePolicy struct {
	// FirstCome disables fair sharing: any tenant may take the whole pool.
	FirstCome bool
	// NoBorrow caps each tenant at its equal share even when others leave
	// theirs idle.
	NoBorrow bool
	// LendAhead lends an other tenant's share ahead of time on its
	// projected spend: it keeps only what its rate projects it will need
	// (× Headroom, at least Floor). By default (false) every other tenant
	// keeps the part of its equal share the time left is owed,
	// share × (1 − elapsed/window), whatever it spent so far: only
	// capacity whose time has passed unused is idle, and a tenant whose
	// rate was underestimated (it started late, or was idle last window)
	// is never left short. The pool is still used up by the reset; a
	// borrower only gets it as time passes.
	LendAhead bool
	// Headroom scales the spend projected for the rest of the window that
	// is kept for each other active tenant when one borrows beyond its
	// share (default 1.5).
	Headroom float64
	// Floor is kept for each other active tenant however little it is
	// projected to need (within its unspent share): its next leases.
	// Budget sets it to 2 × LeaseMin when zero.
	Floor int64
	// Lead is how far ahead of the window's clock lending may run, as a
	// fraction of the pool (default 0.1): by elapsed e of window w,
	// borrowing may raise the pool's spend to at most (e/w + Lead) of the
	// pool, and no one tenant's spend may pass that either, even within
	// its share (which matters only while fewer than 1/Lead tenants are
	// known: a share of a tenth of the pool or more). The ledger knows
	// only tenants that spent this window or the last: one that starts
	// calling later (or after an idle window) still finds the pool's
	// free part. Every policy but FirstCome. Zero means the default.
	Lead float64
}

// DefaultLead is SharePolicy.Lead's default.
const DefaultLead = 0.1

// TenantUse is one tenant's spend as the ledger knows it.
type TenantUse struct {
	Tenant    string
	Spent     int64 // this window
	PrevSpent int64 // the previous window
}

// FairGrant decides how many of want points tenant me may lease now.
// The pool is budget points per window, of which poolSpent are spent or
// leased; others are the other tenants active in this window or the
// previous one; elapsed is the time into the window.
//
// Equal share: each active tenant is owed budget/n. A tenant within its
// share gets what it asks. Beyond it, it may borrow what the others will
// not need: each other tenant keeps min(its unspent share, the larger of
// its share × the fraction of the window left (unless LendAhead), its
// spend rate (this window, or the last one, whichever is higher) × time
// left × Headroom, and Floor × the fraction of the window left); a
// tenant with no spend in the last window keeps its whole unspent share
// for the first tenth of the window, before its rate can be projected.
// Neither the pool's spend (by borrowing) nor any one tenant's may pass
// the clock's part of the pool (SharePolicy.Lead).
func FairGrant(pol SharePolicy, budget, poolSpent int64, me TenantUse, others []TenantUse, want int64, elapsed, window time.Duration) int64 {
	g, _ := FairGrantCeiling(pol, budget, poolSpent, me, others, want, elapsed, window)
	return g
}

// FairGrantCeiling is FairGrant and the pool spend the grant must not
// push past: for a grant within the tenant's share the pool's spend plus
// what the tenant may still take (the pool, or the clock's part), for a
// borrowing one also the pool less the others' reserve. A shared ledger
// applies the grant only while the pool's spend + grant stays within the
// ceiling, so that instances granting on the same snapshot cannot
// together eat the reserve or pass the clock.
func FairGrantCeiling(pol SharePolicy, budget, poolSpent int64, me TenantUse, others []TenantUse, want int64, elapsed, window time.Duration) (int64, int64) {
	free := budget - poolSpent
	if free <= 0 || want <= 0 {
		return 0, budget
	}
	if pol.FirstCome {
		return min(want, free), budget
	}
	lead := pol.Lead
	if lead <= 0 {
		lead = DefaultLead
	}
	if window <= 0 {
		return 0, budget
	}
	// The clock's part of the pool: what lending may have spent by now,
	// and what any one tenant may have. A tenant the ledger has not seen
	// yet this window or the last (a new one, one idle last window) is
	// not counted in the shares: the clock keeps its part free.
	paced := int64(float64(budget) * min(1, elapsed.Seconds()/window.Seconds()+lead))
	free = min(free, max(paced-me.Spent, 0))
	if free <= 0 {
		return 0, budget
	}
	// The ceiling never lets the pool pass poolSpent + free: instances
	// leasing on one snapshot cannot together take a tenant past the clock.
	share := budget / int64(1+len(others))
	own := max(share-me.Spent, 0)
	if want <= own {
		return min(want, free), poolSpent + free
	}
	if pol.NoBorrow {
		return min(own, free), poolSpent + free
	}
	headroom := pol.Headroom
	if headroom <= 0 {
		headroom = DefaultHeadroom
	}
	left := max(window-elapsed, 0).Seconds()
	el := max(elapsed, window/10).Seconds()
	var reserve float64
	for _, u := range others {
		unspent := float64(max(share-u.Spent, 0))
		if u.PrevSpent == 0 && elapsed < window/10 {
			// No history yet: too early to project, keep its whole share.
			reserve += unspent
			continue
		}
		rate := max(float64(u.Spent)/el, float64(u.PrevSpent)/window.Seconds())
		// The floor (its next leases) shrinks with the time left: points
		// kept for a tenant that will not ask before the reset are lost
		// at the reset, so late in the window they flow to borrowers.
		floor := float64(pol.Floor) * left / window.Seconds()
		if !pol.LendAhead {
			// Its share of the time left: lent only once that time passes.
			floor = max(floor, float64(share)*left/window.Seconds())
		}
		reserve += min(unspent, max(rate*left*headroom, floor))
	}
	lendable := min(int64(float64(budget-poolSpent)-reserve), paced-poolSpent)
	borrow := max(lendable-own, 0)
	return min(own+min(want-own, borrow), free), min(poolSpent+free, max(poolSpent+lendable, poolSpent+own))
}

// BudgetStore is the shared ledger. Lease grants up to Want points to the
// tenant for the window (counting them as spent); Return gives back points
// leased but not used (an idle lease), so that other tenants and instances
// can spend them before the reset; Observe records what Jira reported for
// the app's pool (quota q, remaining r).
type BudgetStore interface {
	Lease(ctx context.Context, r LeaseRequest) (int64, error)
	Return(ctx context.Context, window time.Time, tenant string, points int64) error
	Observe(ctx context.Context, window time.Time, quota, remaining int64) error
}

// LeaseRequest asks the ledger for points.
type LeaseRequest struct {
	Window time.Time     // start of the window
	Length time.Duration // window length
	Now    time.Time
	Tenant string
	Want   int64
	Budget int64 // the configured pool, used until Jira reports a quota
	Policy SharePolicy
	// TenantQuota > 0: Tier 2, the tenant has a quota of its own (the
	// pool and the fair share do not apply); the grant is what is left of
	// it.
	TenantQuota int64
}

// Tier2Grant is the grant on Tier 2: want, up to what is left of the
// tenant's own quota.
func Tier2Grant(quota, spent, want int64) int64 {
	return max(min(want, quota-spent), 0)
}

// BudgetOptions configure a Budget.
type BudgetOptions struct {
	Store  BudgetStore // nil: a MemoryLedger (one process)
	Points int64       // the pool per window (default 65,000)
	Window time.Duration
	Policy SharePolicy
	// LeaseMin/LeaseMax bound one lease (default 5 and 5,000 points);
	// LeaseSpan sizes it to that much of the tenant's recent spend
	// (default 500 ms).
	LeaseMin, LeaseMax int64
	LeaseSpan          time.Duration
	// LeaseIdle: a lease not drawn on for this long is returned to the
	// ledger by Flush (default 5 s), so that points leased by a tenant
	// that went quiet are not lost at the reset.
	LeaseIdle time.Duration
	// DenyFor: after the ledger refused a lease, calls of that tenant are
	// refused locally for this long before asking again (default 250 ms).
	DenyFor time.Duration
	// Tier2: each tenant has its own hourly quota (Jira's Tier 2) instead
	// of a share of the app's pool. TenantQuota gives it (nil: the Free
	// edition's, Tier2Quota(EditionFree, 0)); a tenant-app-quota q= Jira
	// reports replaces it for that tenant.
	Tier2       bool
	TenantQuota func(tenant string) int64
	Now         func() time.Time
}

// Budget is the per-instance view of the shared budget. Safe for
// concurrent use.
type Budget struct {
	o       BudgetOptions
	tenants sync.Map // string → *tenantLease
	obs     struct {
		sync.Mutex
		window   time.Time
		quota    int64
		left     int64
		pending  bool
		lastSent time.Time
	}
}

type tenantLease struct {
	window atomic.Int64 // UnixNano of the window the lease belongs to
	left   atomic.Int64
	deny   atomic.Int64 // UnixNano until which leases are not asked for
	refill atomic.Bool
	mu     sync.Mutex // serialises leasing and returning
	// asked counts the points every take asked for, granted or not: the
	// tenant's demand, which sizes the next lease.
	asked    atomic.Int64
	used     atomic.Int64
	lastAt   time.Time
	lastAsk  int64
	lastUsed int64
	granted  atomic.Int64 // this window, for the panel
	last     atomic.Int64 // the last lease's size
	cost     atomic.Int64 // the last take's points: a lease covers at least one more call
	quota    atomic.Int64 // Tier 2: Jira's tenant-app-quota, 0 when not seen
	idleAsk  int64        // Flush: asked at the last change
	idleFrom time.Time    // Flush: when asked last changed
}

// NewBudget returns a Budget.
func NewBudget(o BudgetOptions) *Budget {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Window <= 0 {
		o.Window = time.Hour
	}
	if o.Points <= 0 {
		o.Points = DefaultPoolPoints
	}
	if o.LeaseMin <= 0 {
		o.LeaseMin = 5
	}
	if o.LeaseMax <= 0 {
		o.LeaseMax = 5000
	}
	if o.LeaseSpan <= 0 {
		o.LeaseSpan = 500 * time.Millisecond
	}
	if o.DenyFor <= 0 {
		o.DenyFor = 250 * time.Millisecond
	}
	if o.LeaseIdle <= 0 {
		o.LeaseIdle = 5 * time.Second
	}
	if o.Store == nil {
		o.Store = NewMemoryLedger()
	}
	if o.Policy.Floor <= 0 {
		o.Policy.Floor = 2 * o.LeaseMin
	}
	return &Budget{o: o}
}

func (b *Budget) lease(tenant string) *tenantLease {
	if v, ok := b.tenants.Load(tenant); ok {
		return v.(*tenantLease)
	}
	v, _ := b.tenants.LoadOrStore(tenant, &tenantLease{})
	return v.(*tenantLease)
}

// Take charges points to tenant's local lease; when the lease is short it
// asks the ledger (refilling in the background before it runs out). It
// returns a *LimitedError (ReasonBudget) when the tenant's fair share is
// spent.
func (b *Budget) Take(ctx context.Context, tenant string, points int64) error {
	return b.take(ctx, tenant, points, b.o.Now())
}

// take is Take at now (the Limiter passes the time it already read).
func (b *Budget) take(ctx context.Context, tenant string, points int64, now time.Time) error {
	tl := b.lease(tenant)
	w := now.Truncate(b.o.Window).UnixNano()
	tl.asked.Add(points)
	if tl.cost.Load() != points {
		tl.cost.Store(points)
	}
	if tl.window.Load() == w {
		if d := tl.deny.Load(); d > now.UnixNano() {
			return &LimitedError{Reason: ReasonBudget, Scope: ScopeTenant, Until: time.Unix(0, d), Tenant: tenant, Key: tenant}
		}
		if left := tl.left.Add(-points); left >= 0 {
			tl.used.Add(points)
			// Refill in the background with half the last lease still
			// left, so that a busy tenant never waits for the ledger.
			if left < max(points*4+b.o.LeaseMin, tl.last.Load()/2) && tl.refill.CompareAndSwap(false, true) {
				go b.refillAsync(tenant, tl)
			}
			return nil
		}
		tl.left.Add(points)
	}
	return b.takeSlow(ctx, tenant, tl, points)
}

func (b *Budget) refillAsync(tenant string, tl *tenantLease) {
	defer tl.refill.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	_, _ = b.leaseLocked(ctx, tenant, tl, 0)
}

func (b *Budget) takeSlow(ctx context.Context, tenant string, tl *tenantLease, points int64) error {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	now := b.o.Now()
	if tl.window.Load() == now.Truncate(b.o.Window).UnixNano() {
		if left := tl.left.Add(-points); left >= 0 {
			tl.used.Add(points)
			return nil
		}
		tl.left.Add(points)
		if d := tl.deny.Load(); d > now.UnixNano() {
			return &LimitedError{Reason: ReasonBudget, Scope: ScopeTenant, Until: time.Unix(0, d), Tenant: tenant, Key: tenant}
		}
	}
	if _, err := b.leaseLocked(ctx, tenant, tl, points); err != nil {
		return err
	}
	if left := tl.left.Add(-points); left >= 0 {
		tl.used.Add(points)
		return nil
	}
	tl.left.Add(points)
	until := now.Add(b.o.DenyFor)
	if end := now.Truncate(b.o.Window).Add(b.o.Window); until.After(end) {
		until = end
	}
	tl.deny.Store(until.UnixNano())
	return &LimitedError{Reason: ReasonBudget, Scope: ScopeTenant, Until: until, Tenant: tenant, Key: tenant}
}

// leaseLocked asks the ledger for a lease sized to recent spend (at least
// need) and adds it; tl.mu is held. A new window drops the old lease.
func (b *Budget) leaseLocked(ctx context.Context, tenant string, tl *tenantLease, need int64) (int64, error) {
	now := b.o.Now()
	ws := now.Truncate(b.o.Window)
	if tl.window.Load() != ws.UnixNano() {
		tl.window.Store(ws.UnixNano())
		tl.left.Store(0)
		tl.deny.Store(0)
		tl.granted.Store(0)
	}
	// The lease covers LeaseSpan of the tenant's demand (granted or
	// not: a refused tenant's use says nothing of what it needs).
	asked := tl.asked.Load()
	want := b.o.LeaseMin
	used := tl.used.Load()
	var spend float64 // points drawn per second since the last lease
	if !tl.lastAt.IsZero() {
		if dt := now.Sub(tl.lastAt); dt > 0 {
			rate := float64(asked-tl.lastAsk) / dt.Seconds()
			spend = float64(used-tl.lastUsed) / dt.Seconds()
			want = int64(rate * b.o.LeaseSpan.Seconds())
		}
	}
	want = min(max(want, b.o.LeaseMin, need), max(b.o.LeaseMax, need))
	if spend > 0 {
		// Points leased but not drawn before the reset are lost: near the
		// end of the window a lease covers no more than what the tenant
		// can draw until then at the pace it draws now (× 1.5; demand
		// counts refused calls, which cost nothing and come faster), and
		// at least this call, or one more like the last (a background
		// refill has no call of its own: a 1-point lease would not cover
		// a 2-point call). It leases again when half is used.
		untilReset := ws.Add(b.o.Window).Sub(now).Seconds()
		want = max(min(want, int64(math.Ceil(1.5*spend*untilReset))), need, tl.cost.Load(), 1)
	}
	tl.lastAt, tl.lastAsk, tl.lastUsed = now, asked, used
	b.obs.Lock()
	budget := b.o.Points
	if b.obs.quota > 0 && b.obs.window.Equal(ws) {
		budget = b.obs.quota
	}
	b.obs.Unlock()
	req := LeaseRequest{Window: ws, Length: b.o.Window, Now: now, Tenant: tenant, Want: want, Budget: budget, Policy: b.o.Policy}
	if b.o.Tier2 {
		req.TenantQuota = b.tenantQuota(tenant, tl)
	}
	got, err := b.o.Store.Lease(ctx, req)
	if err != nil {
		// The ledger is unreachable: fail open on this instance rather
		// than stop every call; Jira's own 429s still pause.
		got = need
	}
	if got > 0 {
		tl.left.Add(got)
		tl.granted.Add(got)
	}
	tl.last.Store(got)
	return got, nil
}

func (b *Budget) tenantQuota(tenant string, tl *tenantLease) int64 {
	if q := tl.quota.Load(); q > 0 {
		return q
	}
	if b.o.TenantQuota != nil {
		if q := b.o.TenantQuota(tenant); q > 0 {
			return q
		}
	}
	return Tier2Quota(EditionFree, 0)
}

// Observe records the pool's quota and remaining points from Jira's
// headers on the answer to a call sent at sent; the ledger gets them at
// the next Flush, counted in the window the call was sent in (an answer
// from just before a reset must not mark the new window spent). A
// tenant's quota (perTenant, Tier 2) replaces the configured one for that
// tenant.
func (b *Budget) Observe(tenant string, perTenant bool, quota, remaining int64, sent time.Time) {
	if perTenant {
		if b.o.Tier2 && quota > 0 {
			b.lease(tenant).quota.Store(quota)
		}
		return
	}
	w := sent.Truncate(b.o.Window)
	b.obs.Lock()
	if !w.Before(b.obs.window) {
		b.obs.window, b.obs.quota, b.obs.left, b.obs.pending = w, quota, remaining, true
	}
	b.obs.Unlock()
}

// Flush returns idle leases to the ledger, forgets tenants not seen for a
// window and sends the latest observation (Limiter.Run calls it every
// poll interval).
func (b *Budget) Flush(ctx context.Context) error {
	err := b.returnIdle(ctx)
	b.obs.Lock()
	if !b.obs.pending {
		b.obs.Unlock()
		return err
	}
	w, q, r := b.obs.window, b.obs.quota, b.obs.left
	b.obs.pending = false
	b.obs.Unlock()
	return errors.Join(err, b.o.Store.Observe(ctx, w, q, r))
}

// returnIdle gives back the unused part of every lease whose tenant asked
// for nothing during LeaseIdle.
func (b *Budget) returnIdle(ctx context.Context) error {
	now := b.o.Now()
	ws := now.Truncate(b.o.Window)
	var errs []error
	b.tenants.Range(func(k, v any) bool {
		tenant, tl := k.(string), v.(*tenantLease)
		w := tl.window.Load()
		if w != ws.UnixNano() {
			if w < ws.Add(-b.o.Window).UnixNano() && tl.quota.Load() == 0 {
				b.tenants.CompareAndDelete(k, v) // not seen for a window
			}
			return true
		}
		tl.mu.Lock()
		defer tl.mu.Unlock()
		if a := tl.asked.Load(); a != tl.idleAsk || tl.idleFrom.IsZero() {
			tl.idleAsk, tl.idleFrom = a, now
			return true
		}
		if now.Sub(tl.idleFrom) < b.o.LeaseIdle {
			return true
		}
		if n := tl.left.Swap(0); n > 0 {
			tl.granted.Add(-n)
			if err := b.o.Store.Return(ctx, ws, tenant, n); err != nil {
				errs = append(errs, err)
			}
		}
		return true
	})
	return errors.Join(errs...)
}

// TenantLease is one tenant's local lease state, for the panel.
type TenantLease struct {
	Granted int64     // leased to this instance in the current window
	Left    int64     // not yet used
	Denied  time.Time // refused until, when the share is spent
}

// Lease returns tenant's lease on this instance.
func (b *Budget) Lease(tenant string) TenantLease {
	v, ok := b.tenants.Load(tenant)
	if !ok {
		return TenantLease{}
	}
	tl := v.(*tenantLease)
	if tl.window.Load() != b.o.Now().Truncate(b.o.Window).UnixNano() {
		return TenantLease{}
	}
	out := TenantLease{Granted: tl.granted.Load(), Left: max(tl.left.Load(), 0)}
	if d := tl.deny.Load(); d > 0 {
		out.Denied = time.Unix(0, d)
	}
	return out
}

// MemoryLedger is a BudgetStore for one process.
type MemoryLedger struct {
	mu      sync.Mutex
	windows map[int64]*memWindow
}

type memWindow struct {
	budget int64
	spent  int64
	quota  int64 // from Jira, 0 when not observed
	use    map[string]int64
}

// NewMemoryLedger returns an empty ledger.
func NewMemoryLedger() *MemoryLedger { return &MemoryLedger{windows: map[int64]*memWindow{}} }

// ErrLedger wraps ledger failures.
var ErrLedger = errors.New("jira: budget ledger")

func (m *MemoryLedger) window(start time.Time, budget int64) *memWindow {
	k := start.UnixNano()
	w, ok := m.windows[k]
	if !ok {
		w = &memWindow{budget: budget, use: map[string]int64{}}
		m.windows[k] = w
		for old := range m.windows {
			if old < k-int64(48*time.Hour) {
				delete(m.windows, old)
			}
		}
	}
	return w
}

// Lease implements BudgetStore.
func (m *MemoryLedger) Lease(_ context.Context, r LeaseRequest) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.window(r.Window, r.Budget)
	budget := w.budget
	if w.quota > 0 {
		budget = w.quota
	}
	prev := m.windows[r.Window.Add(-r.Length).UnixNano()]
	me := TenantUse{Tenant: r.Tenant, Spent: w.use[r.Tenant]}
	seen := map[string]bool{r.Tenant: true}
	var others []TenantUse
	for t, s := range w.use {
		if !seen[t] {
			seen[t] = true
			u := TenantUse{Tenant: t, Spent: s}
			if prev != nil {
				u.PrevSpent = prev.use[t]
			}
			others = append(others, u)
		}
	}
	if prev != nil {
		me.PrevSpent = prev.use[r.Tenant]
		for t, s := range prev.use {
			if !seen[t] {
				seen[t] = true
				others = append(others, TenantUse{Tenant: t, PrevSpent: s})
			}
		}
	}
	g := FairGrant(r.Policy, budget, w.spent, me, others, r.Want, r.Now.Sub(r.Window), r.Length)
	if r.TenantQuota > 0 {
		g = Tier2Grant(r.TenantQuota, me.Spent, r.Want)
	}
	if g > 0 || w.use[r.Tenant] == 0 {
		w.use[r.Tenant] += g // a zero row still marks the tenant active
	}
	w.spent += g
	return g, nil
}

// Return implements BudgetStore.
func (m *MemoryLedger) Return(_ context.Context, window time.Time, tenant string, points int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.windows[window.UnixNano()]
	if !ok || points <= 0 {
		return nil
	}
	n := min(points, w.use[tenant])
	w.use[tenant] -= n
	w.spent = max(w.spent-n, 0)
	return nil
}

// Observe implements BudgetStore: Jira's figures raise the ledger's
// estimate of the pool's spend when Jira counted more (an estimate was
// low). They never lower it: Jira does not count points leased but not yet
// spent, so lowering would grant them twice.
func (m *MemoryLedger) Observe(_ context.Context, window time.Time, quota, remaining int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.window(window, quota)
	w.quota = quota
	w.spent = max(w.spent, quota-remaining)
	return nil
}

// Spent returns the pool's spend in the window starting at start and each
// tenant's.
func (m *MemoryLedger) Spent(start time.Time) (int64, map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.windows[start.UnixNano()]
	if !ok {
		return 0, nil
	}
	out := make(map[string]int64, len(w.use))
	for k, v := range w.use {
		out[k] = v
	}
	return w.spent, out
}
