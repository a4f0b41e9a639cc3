package panel

import (
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// limiter is a token bucket per tenant: perMinute checks may burst, and
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
	b, ok := l.buckets.Get(key)
	if !ok {
		b = &bucket{tokens: l.perMinute, last: now}
		l.buckets.Add(key, b)
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(l.perMinute, b.tokens+elapsed.Minutes()*l.perMinute)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
	return false, wait
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
