package storage_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// instances returns n RateStores on one database: separate connection
// pools on PostgreSQL (as separate processes would have), the same file on
// SQLite.
func instances(t *testing.T, dialect string, n int) []*storage.RateStore {
	t.Helper()
	var out []*storage.RateStore
	if dialect == "sqlite" {
		db := storagetest.SQLite(t)
		for range n {
			out = append(out, storage.NewRateStore(db, nil))
		}
		return out
	}
	url := storagetest.PostgresURL(t)
	for i := range n {
		db, err := storage.Open(t.Context(), storage.OpenOptions{DatabaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, storage.NewRateStore(db, nil))
	}
	return out
}

func eachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

// TestRateStoreSharedBudget: three instances lease concurrently from one
// pool; the ledger never grants more than the pool, the noisy tenant
// borrows the idle rest, and a quiet tenant keeps its share.
func TestRateStoreSharedBudget(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		stores := instances(t, dialect, 3)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		const pool = 3000
		var budgets []*jira.Budget
		// Lead 1: the clock does not hold lending back (a cold window at
		// its first instant would allow 10%); this test is about the
		// reserve and the ceiling under concurrent instances.
		for _, s := range stores {
			budgets = append(budgets, jira.NewBudget(jira.BudgetOptions{Store: s, Points: pool, Now: clock, LeaseMax: 50, Policy: jira.SharePolicy{Lead: 1}}))
		}
		// The quiet tenant arrives first, with a little spend.
		for _, b := range budgets {
			if err := b.Take(t.Context(), "quiet", 1); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		noisy := 0
		for _, b := range budgets {
			wg.Go(func() {
				for range 2000 {
					if err := b.Take(context.Background(), "noisy", 2); err != nil {
						if !errors.Is(err, jira.ErrRateLimited) {
							t.Error(err)
						}
						return
					}
					mu.Lock()
					noisy += 2
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		spent, per, err := stores[0].Spent(t.Context(), now.Truncate(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if spent > pool {
			t.Errorf("pool over-granted: %d of %d", spent, pool)
		}
		if per["noisy"] < pool/2 || per["noisy"] > pool-per["quiet"] {
			t.Errorf("noisy leased %d (used %d), quiet %d of %d", per["noisy"], noisy, per["quiet"], pool)
		}
		// The quiet tenant still gets its calls through on every instance.
		for i, b := range budgets {
			if err := b.Take(t.Context(), "quiet", 1); err != nil {
				t.Errorf("instance %d: quiet tenant refused after the noisy one: %v", i, err)
			}
		}
	})
}

// TestRateStorePauses: a pause one instance publishes is seen by another
// at its next Sync and refuses calls there; an ended pause is not.
func TestRateStorePauses(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		stores := instances(t, dialect, 2)
		a := jira.NewLimiter(jira.LimiterOptions{Store: stores[0]})
		b := jira.NewLimiter(jira.LimiterOptions{Store: stores[1]})
		resp := &http.Response{StatusCode: 429, Header: http.Header{}}
		resp.Header.Set("RateLimit-Reason", jira.ReasonJiraGlobalQuota)
		resp.Header.Set("Retry-After", "120")
		call := &jira.Call{Tenant: "t1", Method: "GET", Path: "/rest/api/3/myself"}
		a.Done(call, resp)
		if _, err := b.Admit(t.Context(), &jira.Call{Tenant: "t2", Method: "GET", Path: "/rest/api/3/myself"}); err != nil {
			t.Fatalf("b refused before syncing: %v", err)
		}
		if err := b.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err := b.Admit(t.Context(), &jira.Call{Tenant: "t2", Method: "GET", Path: "/rest/api/3/myself"})
		le, ok := errors.AsType[*jira.LimitedError](err)
		if !ok || le.Scope != jira.ScopeGlobal || le.Reason != jira.ReasonJiraGlobalQuota || time.Until(le.Until) < 100*time.Second {
			t.Errorf("b after sync: %v, want the global pause for about 120 s", err)
		}
		// A tenant pause from b reaches a, and only for that tenant.
		resp.Header.Set("RateLimit-Reason", jira.ReasonJiraTenantQuota)
		c := jira.NewLimiter(jira.LimiterOptions{Store: stores[1]})
		c.Done(&jira.Call{Tenant: "t3"}, resp)
		if err := a.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		ps := a.Pauses("t3")
		if len(ps) != 2 {
			t.Errorf("a sees pauses %+v for t3, want global and tenant", ps)
		}
	})
}

// TestRateStoreReturnAndTier2: returned points go back to the tenant and
// the pool (never below zero); a Tier 2 lease is bounded by the tenant's
// own quota, not the pool.
func TestRateStoreReturnAndTier2(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		s := instances(t, dialect, 1)[0]
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ws := now.Truncate(time.Hour)
		// Lead 1: a lone tenant in a cold window (no history) is not held
		// to the clock's 10%; this test is about returns.
		req := jira.LeaseRequest{Window: ws, Length: time.Hour, Now: now, Tenant: "a", Want: 300, Budget: 1000, Policy: jira.SharePolicy{Lead: 1}}
		if g, err := s.Lease(t.Context(), req); err != nil || g != 300 {
			t.Fatalf("lease: %d, %v", g, err)
		}
		if err := s.Return(t.Context(), ws, "a", 100); err != nil {
			t.Fatal(err)
		}
		if err := s.Return(t.Context(), ws, "a", 500); err != nil { // more than held
			t.Fatal(err)
		}
		if err := s.Return(t.Context(), ws, "nobody", 50); err != nil {
			t.Fatal(err)
		}
		pool, per, err := s.Spent(t.Context(), ws)
		if err != nil {
			t.Fatal(err)
		}
		if pool != 0 || per["a"] != 0 {
			t.Errorf("after returning everything: pool %d, tenant %d, want 0, 0", pool, per["a"])
		}
		// Tier 2: a 1,500-point tenant quota over a 1,000-point pool.
		t2 := req
		t2.Tenant, t2.TenantQuota, t2.Want = "b", 1500, 1200
		got := int64(0)
		for range 3 {
			g, err := s.Lease(t.Context(), t2)
			if err != nil {
				t.Fatal(err)
			}
			got += g
		}
		if got != 1500 {
			t.Errorf("Tier 2 tenant leased %d, want its quota 1500", got)
		}
	})
}

// TestListenRatePauses: a pause published by one instance is announced on
// RateChannel; the listener of another instance syncs and its limiter then
// refuses calls, before any poll.
func TestListenRatePauses(t *testing.T) {
	url := storagetest.PostgresURL(t)
	var stores []*storage.RateStore
	for i := range 2 {
		db, err := storage.Open(t.Context(), storage.OpenOptions{DatabaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if _, err := db.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		stores = append(stores, storage.NewRateStore(db, nil))
	}
	other := jira.NewLimiter(jira.LimiterOptions{Store: stores[1]})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	connected := make(chan struct{}, 1)
	synced := make(chan struct{}, 16)
	first := true
	go storage.ListenRatePauses(ctx, url, func() {
		_ = other.Sync(ctx)
		if first {
			first = false
			connected <- struct{}{}
			return
		}
		synced <- struct{}{}
	}, nil)
	<-connected // the listener syncs once when it connects
	p := jira.Pause{Scope: jira.ScopeGlobal, Reason: "jira-quota-global-based", Until: time.Now().Add(time.Hour)}
	if err := stores[0].Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	select {
	case <-synced:
	case <-time.After(30 * time.Second):
		t.Fatal("no notification reached the other instance")
	}
	if _, err := other.Admit(t.Context(), &jira.Call{Tenant: "t", Method: "GET", Path: "/rest/api/3/myself"}); !errors.Is(err, jira.ErrRateLimited) {
		t.Errorf("the other instance admitted a call after the notification: %v", err)
	}
}

// TestRateStoreClockAcrossInstances: with the default policy a lone
// tenant at the start of a window may hold only the clock's part of the
// pool (10%); three instances leasing for it at once, on one snapshot,
// cannot together pass it (the ceiling carries the cap to the UPDATE).
func TestRateStoreClockAcrossInstances(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string) {
		stores := instances(t, dialect, 3)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		req := jira.LeaseRequest{Window: now, Length: time.Hour, Now: now, Tenant: "a", Want: 80, Budget: 1000}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got int64
		for _, s := range stores {
			wg.Go(func() {
				for range 5 {
					g, err := s.Lease(context.Background(), req)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got += g
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		spent, _, err := stores[0].Spent(t.Context(), now)
		if err != nil {
			t.Fatal(err)
		}
		if got > 100 || spent != got {
			t.Errorf("three instances leased %d (ledger %d) for a lone tenant at the window's start, want at most 100 (10%% of 1000)", got, spent)
		}
		if got < 80 {
			t.Errorf("leased %d, want the first lease of 80 at least", got)
		}
	})
}
