package forge

import (
	"container/heap"
	"sync"
	"time"
)

// replayCache remembers jti values until their token's exp. It is bounded:
// when full it first drops expired entries, then the entries that expire
// soonest (their tokens have the least life left to be replayed in).
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time
	h    expHeap
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// check records jti until exp and reports false if it was already recorded
// and has not expired at now.
func (c *replayCache) check(jti string, exp, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.seen[jti]; ok && now.Before(e) {
		return false
	}
	c.evict(now)
	for len(c.seen) >= c.max && c.h.Len() > 0 {
		it := heap.Pop(&c.h).(entry)
		if c.seen[it.jti].Equal(it.exp) {
			delete(c.seen, it.jti)
		}
	}
	c.seen[jti] = exp
	heap.Push(&c.h, entry{jti: jti, exp: exp})
	return true
}

// evict drops entries expired at now.
func (c *replayCache) evict(now time.Time) {
	for c.h.Len() > 0 && !now.Before(c.h[0].exp) {
		it := heap.Pop(&c.h).(entry)
		if c.seen[it.jti].Equal(it.exp) {
			delete(c.seen, it.jti)
		}
	}
}

func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type entry struct {
	jti string
	exp time.Time
}

type expHeap []entry

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
