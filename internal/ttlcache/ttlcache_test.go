package ttlcache

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestGetAddRemovePurge(t *testing.T) {
	c := New[string, int](Options{Size: 4})
	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache hit")
	}
	c.Add("a", 1)
	c.Add("a", 2)
	if v, ok := c.Get("a"); !ok || v != 2 || c.Len() != 1 {
		t.Fatalf("Get(a) = %d, %v; Len %d", v, ok, c.Len())
	}
	c.Remove("a")
	if _, ok := c.Get("a"); ok {
		t.Fatal("removed entry returned")
	}
	c.Add("b", 1)
	c.Add("c", 1)
	c.Purge()
	if c.Len() != 0 {
		t.Fatalf("Len after Purge %d", c.Len())
	}
}

func TestExpiry(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	c := New[string, string](Options{Size: 10, TTL: time.Minute, Now: clk.now})
	c.Add("k", "v")
	clk.t = clk.t.Add(time.Minute - time.Nanosecond)
	if _, ok := c.Get("k"); !ok {
		t.Fatal("expired before its TTL")
	}
	clk.t = clk.t.Add(time.Nanosecond)
	if _, ok := c.Get("k"); ok {
		t.Fatal("returned at its TTL")
	}
	c.Add("k", "w") // re-adding restarts the TTL
	if v, ok := c.Get("k"); !ok || v != "w" {
		t.Fatal("re-added entry missing")
	}
}

func TestBoundedWithTTL(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	c := New[int, int](Options{Size: 32, TTL: time.Minute, Now: clk.now})
	for i := range 32 {
		c.Add(i, i)
	}
	clk.t = clk.t.Add(2 * time.Minute) // all expired
	c.Add(100, 100)
	if c.Len() != 1 {
		t.Fatalf("expired entries were not evicted first: Len %d", c.Len())
	}
	for i := range 1000 {
		c.Add(200+i, i)
		if c.Len() > 32 {
			t.Fatalf("Len %d over the bound after %d adds", c.Len(), i+1)
		}
	}
	if v, ok := c.Get(1199); !ok || v != 999 {
		t.Fatal("the newest entry is missing")
	}
}

func TestBoundedWithoutTTL(t *testing.T) {
	for _, size := range []int{1, 2, 16, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := New[string, int](Options{Size: size})
			for i := range 10 * size {
				c.Add(strconv.Itoa(i), i)
				if c.Len() > size {
					t.Fatalf("Len %d over %d", c.Len(), size)
				}
				if _, ok := c.Get(strconv.Itoa(i)); !ok {
					t.Fatalf("entry %d missing right after Add", i)
				}
			}
			// Replacing an entry of a full cache evicts nothing.
			n := c.Len()
			last := strconv.Itoa(10*size - 1)
			c.Add(last, -1)
			if c.Len() != n {
				t.Fatalf("replacing changed Len %d → %d", n, c.Len())
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[int, int](Options{Size: 64, TTL: time.Hour})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k := (g*7919 + i) % 200
				if v, ok := c.Get(k); ok && v != k {
					t.Errorf("Get(%d) = %d", k, v)
					return
				}
				c.Add(k, k)
				if i%97 == 0 {
					c.Remove(k)
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 64 {
		t.Fatalf("Len %d over the bound", c.Len())
	}
}

func BenchmarkGetParallel(b *testing.B) {
	c := New[string, *int](Options{Size: 8192, TTL: time.Minute})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("%0400d", i) // token-sized keys
		v := i
		c.Add(keys[i], &v)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}
