package keyset

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Limiter bounds fetches a minute per source (the client address a caller
// puts in the context with WithSource) and over all sources, each with a
// token bucket. Its Allow fits RemoteOptions.Allow.
type Limiter struct {
	perSource, global int
	now               func() time.Time
	mu                sync.Mutex
	sources           *lru.Cache[string, *bucket]
	all               bucket
}

// NewLimiter allows perSource fetches a minute from each source and global
// from all of them together; now is the clock (nil: time.Now). It tracks
// the 4096 most recent sources.
func NewLimiter(perSource, global int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	src, _ := lru.New[string, *bucket](4096)
	return &Limiter{perSource: perSource, global: global, now: now, sources: src}
}

// Allow takes one token from the caller's source and one from the global
// bucket, or reports false.
func (l *Limiter) Allow(ctx context.Context) bool {
	src, _ := ctx.Value(sourceKey{}).(string)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.sources.Get(src)
	if !ok {
		b = &bucket{}
		l.sources.Add(src, b)
	}
	if !b.take(now, l.perSource) {
		return false
	}
	return l.all.take(now, l.global)
}

type sourceKey struct{}

// WithSource names the source of a request (its client address) for the
// per-source limit.
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// bucket is a token bucket refilled at perMinute tokens a minute, full at
// first use.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, perMinute int) bool {
	if b.last.IsZero() {
		b.tokens, b.last = float64(perMinute), now
	}
	b.tokens += now.Sub(b.last).Minutes() * float64(perMinute)
	if b.tokens > float64(perMinute) {
		b.tokens = float64(perMinute)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
