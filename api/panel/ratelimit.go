package panel

import (
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// limiter is a token bucket per key: perMinute checks may burst, and
// the bucket refills at perMinute per minute. Buckets live in a bounded
// LRU, so an unbounded number of tenants cannot exhaust memory (an evicted
// tenant starts with a full bucket again).
type limiter struct {
	mu        sync.Mutex
	perMinute float64
	buckets   *lru.Cache[string, *bucket]
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, size int) *limiter {
	c, _ := lru.New[string, *bucket](size)
	return &limiter{perMinute: float64(perMinute), buckets: c}
}

// allow takes one token from key's bucket. When none is left it reports
// how long until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

func (l *limiter) refill(key string, now time.Time) *bucket {
	b, ok := l.buckets.Get(key)
	if !ok {
		b = &bucket{tokens: l.perMinute, last: now}
		l.buckets.Add(key, b)
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.perMinute, b.tokens+elapsed.Minutes()*l.perMinute)
		b.last = now
	}
	return b
}

func (l *limiter) wait(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
}

// checkBudget is the check rate limit: a bucket per (tenant, account)
// under a per-tenant ceiling, itself split by identity so that checks as
// yourself (any user) never spend the budget of checks as the app (Jira
// administrators only). A check spends from both buckets or from neither.
type checkBudget struct {
	mu      sync.Mutex
	account *limiter // key: clientKey, identity, accountId
	tenant  *limiter // key: clientKey, identity
}

func newCheckBudget(perAccount, perTenant, size int) *checkBudget {
	return &checkBudget{account: newLimiter(perAccount, size), tenant: newLimiter(perTenant, size)}
}

// Budget scopes a refusal names.
const (
	budgetAccount = "account"
	budgetTenant  = "site"
)

// allow spends one check of accountID on clientKey as identity. A refusal
// names the budget that ran out and how long until it refills.
func (cb *checkBudget) allow(clientKey, identity, accountID string, now time.Time) (ok bool, scope string, wait time.Duration) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	cb.account.mu.Lock()
	defer cb.account.mu.Unlock()
	cb.tenant.mu.Lock()
	defer cb.tenant.mu.Unlock()
	tk := clientKey + "\x00" + identity
	a := cb.account.refill(tk+"\x00"+accountID, now)
	t := cb.tenant.refill(tk, now)
	switch {
	case a.tokens < 1:
		return false, budgetAccount, cb.account.wait(a)
	case t.tokens < 1:
		return false, budgetTenant, cb.tenant.wait(t)
	}
	a.tokens--
	t.tokens--
	return true, "", 0
}

// retryAfterSeconds rounds a wait up to whole seconds (at least 1), as the
// Retry-After header wants.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
