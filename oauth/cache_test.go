package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// countingExchanger hands out numbered tokens; gate, when set, holds every
// exchange until it is closed.
type countingExchanger struct {
	n        atomic.Int64
	gate     chan struct{}
	started  chan struct{} // receives once per exchange start, if set
	lifetime time.Duration
	now      func() time.Time
	err      error
}

func (c *countingExchanger) Exchange(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (*Token, error) {
	n := c.n.Add(1)
	if c.started != nil {
		c.started <- struct{}{}
	}
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	life := c.lifetime
	if life == 0 {
		life = 900 * time.Second
	}
	return &Token{AccessToken: fmt.Sprintf("%s/%s/%d", t.ClientKey, accountID, n), TokenType: "Bearer", Expiry: now().Add(life), Scopes: scopes}, nil
}

// concurrentSameUser starts n goroutines asking for the same user token while
// the exchange is held, then releases it, and returns the distinct tokens.
func concurrentSameUser(t testing.TB, n int) (*countingExchanger, *Cache, map[string]int) {
	ex := &countingExchanger{gate: make(chan struct{})}
	c := NewCache(ex, CacheOptions{})
	tenant := testTenant("https://acme.atlassian.net")
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	ready := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-ready
			tok, err := c.Token(context.Background(), tenant, "acc-1", scope.Set{scope.Read, scope.Write})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[tok.AccessToken]++
			mu.Unlock()
		})
	}
	close(ready)
	// Let the callers pile up on the held exchange before releasing it.
	for c.Stats().Misses+c.Stats().Hits < uint64(n) {
		time.Sleep(time.Millisecond)
	}
	close(ex.gate)
	wg.Wait()
	return ex, c, got
}

func TestCacheConcurrentCallersOneExchange(t *testing.T) {
	for _, n := range []int{200, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ex, c, got := concurrentSameUser(t, n)
			if ex.n.Load() != 1 {
				t.Errorf("%d exchanges for %d concurrent callers, want 1", ex.n.Load(), n)
			}
			if len(got) != 1 || got["client-key-1/acc-1/1"] != n {
				t.Errorf("tokens handed out: %v", got)
			}
			if s := c.Stats(); s.Exchanges != 1 || s.Hits+s.Misses != uint64(n) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestCacheKeyNormalisesScopes(t *testing.T) {
	ex := &countingExchanger{}
	c := NewCache(ex, CacheOptions{})
	tenant := testTenant("https://acme.atlassian.net")
	ctx := t.Context()
	a, _ := c.Token(ctx, tenant, "acc", scope.Set{scope.Write, scope.Read})
	b, _ := c.Token(ctx, tenant, "acc", scope.Set{"read", "WRITE", scope.Read})
	if a == nil || a != b {
		t.Errorf("same scope set in another order or case gave another token: %v %v", a, b)
	}
	other, _ := c.Token(ctx, tenant, "acc", scope.Set{scope.Read})
	user2, _ := c.Token(ctx, tenant, "acc-2", scope.Set{scope.Write, scope.Read})
	t2 := *tenant
	t2.ClientKey = "other-tenant"
	tenant2, _ := c.Token(ctx, &t2, "acc", scope.Set{scope.Write, scope.Read})
	if other == a || user2 == a || tenant2 == a {
		t.Error("different scope set, user or tenant shared a token")
	}
	if ex.n.Load() != 4 {
		t.Errorf("%d exchanges, want 4", ex.n.Load())
	}
}

func TestCacheExpiryWithInjectedClock(t *testing.T) {
	var mu sync.Mutex
	now := fixedNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ex := &countingExchanger{now: clock}
	c := NewCache(ex, CacheOptions{Now: clock, Margin: 30 * time.Second})
	tenant := testTenant("https://acme.atlassian.net")
	get := func() string {
		tok, err := c.Token(t.Context(), tenant, "acc", nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	first := get()
	advance(869 * time.Second) // 31 s before expiry: still fresh
	if got := get(); got != first {
		t.Errorf("token replaced %s before its refresh time", 869*time.Second)
	}
	advance(1 * time.Second) // 30 s before expiry: refresh
	second := get()
	if second == first {
		t.Error("token not refreshed within the margin")
	}
	if s := c.Stats(); s.Exchanges != 2 || s.Hits != 1 || s.Misses != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestCacheShortLivedTokenUsesHalfLife(t *testing.T) {
	now := fixedNow
	clock := func() time.Time { return now }
	ex := &countingExchanger{now: clock, lifetime: 20 * time.Second}
	c := NewCache(ex, CacheOptions{Now: clock, Margin: time.Minute})
	tenant := testTenant("https://acme.atlassian.net")
	a, _ := c.Token(t.Context(), tenant, "acc", nil)
	now = now.Add(9 * time.Second)
	b, _ := c.Token(t.Context(), tenant, "acc", nil)
	if a != b {
		t.Error("a 20 s token whose lifetime is shorter than the margin was not reused at all")
	}
	now = now.Add(time.Second)
	if cNew, _ := c.Token(t.Context(), tenant, "acc", nil); cNew == a {
		t.Error("not refreshed at half life")
	}
}

// TestCacheExpirySynctest runs the cache on the real clock inside a synctest
// bubble: 15 minutes pass instantly.
func TestCacheExpirySynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &countingExchanger{}
		c := NewCache(ex, CacheOptions{})
		tenant := testTenant("https://acme.atlassian.net")
		a, _ := c.Token(t.Context(), tenant, "acc", nil)
		time.Sleep(14 * time.Minute)
		b, _ := c.Token(t.Context(), tenant, "acc", nil)
		time.Sleep(31 * time.Second) // now 29 s before expiry, inside the 30 s margin
		d, _ := c.Token(t.Context(), tenant, "acc", nil)
		if a != b || d == a || ex.n.Load() != 2 {
			t.Errorf("a=%v b=%v d=%v exchanges=%d", a, b, d, ex.n.Load())
		}
	})
}

func TestCacheCancelledCallerDoesNotFailOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &countingExchanger{gate: make(chan struct{}), started: make(chan struct{}, 1)}
		c := NewCache(ex, CacheOptions{})
		tenant := testTenant("https://acme.atlassian.net")

		leaderCtx, cancelLeader := context.WithCancel(t.Context())
		leaderErr := make(chan error, 1)
		go func() {
			_, err := c.Token(leaderCtx, tenant, "acc", nil)
			leaderErr <- err
		}()
		<-ex.started // the leader's exchange is running
		var otherTok *Token
		var otherErr error
		done := make(chan struct{})
		go func() {
			otherTok, otherErr = c.Token(t.Context(), tenant, "acc", nil)
			close(done)
		}()
		synctest.Wait()
		cancelLeader()
		if err := <-leaderErr; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller got %v, want context.Canceled", err)
		}
		close(ex.gate)
		<-done
		if otherErr != nil || otherTok == nil {
			t.Fatalf("other caller failed: %v", otherErr)
		}
		if ex.n.Load() != 1 {
			t.Errorf("%d exchanges", ex.n.Load())
		}
		// And the token was stored for later callers.
		if again, _ := c.Token(t.Context(), tenant, "acc", nil); again != otherTok {
			t.Error("the token of the detached exchange was not cached")
		}
	})
}

func TestCacheExchangeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := &countingExchanger{gate: make(chan struct{})} // never opened
		c := NewCache(ex, CacheOptions{ExchangeTimeout: 10 * time.Second})
		_, err := c.Token(context.Background(), testTenant("https://acme.atlassian.net"), "acc", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want DeadlineExceeded after the cache's own timeout", err)
		}
	})
}

func TestCacheErrorsAreNotCached(t *testing.T) {
	ex := &countingExchanger{err: &Error{StatusCode: 400, Code: "invalid_grant", Server: "s"}}
	c := NewCache(ex, CacheOptions{})
	tenant := testTenant("https://acme.atlassian.net")
	for range 2 {
		if _, err := c.Token(t.Context(), tenant, "acc", nil); !errors.Is(err, ErrInvalidGrant) {
			t.Fatalf("err = %v", err)
		}
	}
	if ex.n.Load() != 2 || c.Stats().ExchangeErrors != 2 {
		t.Errorf("exchanges %d, stats %+v", ex.n.Load(), c.Stats())
	}
}

func TestCacheInvalidateAndEvict(t *testing.T) {
	ex := &countingExchanger{}
	c := NewCache(ex, CacheOptions{})
	tenant := testTenant("https://acme.atlassian.net")
	ctx := t.Context()
	first, _ := c.Token(ctx, tenant, "acc", nil)
	if !c.Invalidate(tenant, "acc", nil, first) {
		t.Fatal("Invalidate(current token) = false")
	}
	second, _ := c.Token(ctx, tenant, "acc", nil)
	if second == first {
		t.Fatal("invalidated token handed out again")
	}
	if c.Invalidate(tenant, "acc", nil, first) {
		t.Error("Invalidate with a stale token dropped the newer one")
	}
	if again, _ := c.Token(ctx, tenant, "acc", nil); again != second {
		t.Error("newer token lost")
	}
	key, _ := KeyFor(tenant, "acc", nil)
	c.Evict(key)
	if third, _ := c.Token(ctx, tenant, "acc", nil); third == second {
		t.Error("Evict kept the token")
	}
	c.Token(ctx, tenant, "acc-2", nil)
	other := *tenant
	other.ClientKey = "other"
	c.Token(ctx, &other, "acc", nil)
	if n := c.EvictTenant(tenant.ClientKey); n != 2 {
		t.Errorf("EvictTenant dropped %d, want 2", n)
	}
	if c.Stats().Len != 1 {
		t.Errorf("len %d, want 1 (the other tenant's)", c.Stats().Len)
	}
}

func TestCacheIsBounded(t *testing.T) {
	ex := &countingExchanger{}
	c := NewCache(ex, CacheOptions{Size: 8})
	tenant := testTenant("https://acme.atlassian.net")
	for i := range 100 {
		c.Token(t.Context(), tenant, fmt.Sprintf("acc-%d", i), nil)
	}
	if n := c.Stats().Len; n != 8 {
		t.Errorf("cache holds %d tokens, want 8", n)
	}
	// The most recent user is still cached, the first one is not.
	before := ex.n.Load()
	c.Token(t.Context(), tenant, "acc-99", nil)
	c.Token(t.Context(), tenant, "acc-0", nil)
	if ex.n.Load()-before != 1 {
		t.Errorf("%d new exchanges, want 1 (for the evicted acc-0)", ex.n.Load()-before)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	ex := &countingExchanger{}
	c := NewCache(ex, CacheOptions{})
	tenant := testTenant("https://acme.atlassian.net")
	ctx := context.Background()
	scopes := scope.Set{scope.Read, scope.Write}
	if _, err := c.Token(ctx, tenant, "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", scopes); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx, tenant, "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", scopes); err != nil {
			b.Fatal(err)
		}
	}
	if ex.n.Load() != 1 {
		b.Fatalf("%d exchanges", ex.n.Load())
	}
}

func BenchmarkCacheHitParallel(b *testing.B) {
	ex := &countingExchanger{}
	c := NewCache(ex, CacheOptions{})
	tenant := testTenant("https://acme.atlassian.net")
	ctx := context.Background()
	c.Token(ctx, tenant, "acc", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Token(ctx, tenant, "acc", nil)
		}
	})
}

// BenchmarkCacheConcurrent1000 measures a burst of 1,000 concurrent callers
// for one user and reports the exchanges per burst (must be 1).
func BenchmarkCacheConcurrent1000(b *testing.B) {
	var exchanges int64
	for b.Loop() {
		ex, _, _ := concurrentSameUser(b, 1000)
		exchanges += ex.n.Load()
	}
	b.ReportMetric(float64(exchanges)/float64(b.N), "exchanges/burst")
	if exchanges != int64(b.N) {
		b.Fatalf("%d exchanges over %d bursts", exchanges, b.N)
	}
}
