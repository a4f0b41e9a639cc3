// Package ttlcache is a bounded in-memory map for the request hot path:
// tenants by clientKey, verified tokens, rendered answers. Reads take a
// shared lock and allocate nothing; entries may expire after a fixed time;
// when the map is full, expired entries go first, then arbitrary ones.
//
// It is not an LRU on purpose: an LRU moves an entry on every read, which
// needs an exclusive lock, and these caches are read on every request and
// written rarely. Their bounds are far above the working set (10,000
// tenants, 8,192 tokens), so which entry leaves when one must matters
// little; what matters is that it never grows without bound.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps K to V for at most Size entries, each for at most TTL. It is
// safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu   sync.RWMutex
	m    map[K]entry[V]
	size int
	ttl  time.Duration
	now  func() time.Time
}

type entry[V any] struct {
	v       V
	expires time.Time // zero: never
}

// Options configure a Cache.
type Options struct {
	// Size bounds the number of entries (at least 1).
	Size int
	// TTL is how long an entry is returned after Add; 0 keeps it until
	// it is removed or evicted.
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New builds an empty cache.
func New[K comparable, V any](o Options) *Cache[K, V] {
	if o.Size < 1 {
		o.Size = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache[K, V]{m: make(map[K]entry[V]), size: o.Size, ttl: o.TTL, now: o.Now}
}

// Get returns the value of k if it is cached and not expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || (!e.expires.IsZero() && !c.now().Before(e.expires)) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Add caches v under k (replacing any value), evicting first if the cache
// is full.
func (c *Cache[K, V]) Add(k K, v V) {
	e := entry[V]{v: v}
	if c.ttl > 0 {
		e.expires = c.now().Add(c.ttl)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.size {
		c.evictLocked()
	}
	c.m[k] = e
}

// evictLocked makes room: every expired entry, or failing that about one
// sixteenth of the entries (at least one), so that a full cache pays for
// a scan once per size/16 additions rather than on each.
func (c *Cache[K, V]) evictLocked() {
	if c.ttl > 0 {
		now := c.now()
		n := len(c.m)
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) < n {
			return
		}
	}
	drop := max(c.size/16, 1)
	for k := range c.m { // map iteration order is unspecified: arbitrary victims
		if drop == 0 {
			break
		}
		delete(c.m, k)
		drop--
	}
}

// Remove drops k.
func (c *Cache[K, V]) Remove(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// Purge drops every entry.
func (c *Cache[K, V]) Purge() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// Len is the number of entries held, expired ones included until they
// are evicted.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
