package storage

import (
	"context"
	"time"

	"github.com/connect-doctor/connect-doctor/internal/ttlcache"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TenantGetter is what the cache needs from the store.
type TenantGetter interface {
	Get(ctx context.Context, clientKey string) (*tenant.Tenant, error)
}

// TenantCache is a bounded, short-lived in-memory cache of tenants in front
// of the store, implementing connect.TenantLookup. It is correct with
// several instances sharing one database because the verifier re-reads the
// tenant (fresh=true) once before answering 401 for a bad signature, so a
// secret rotated by another instance is picked up at the first request that
// uses it; state changes made elsewhere are seen within TTL (at once with
// the pg_notify listener, which calls Invalidate).
//
// The tenants it returns are shared by every request that looks them up
// in the meantime: callers must not modify them.
type TenantCache struct {
	store TenantGetter
	lru   *ttlcache.Cache[string, *tenant.Tenant]
}

// NewTenantCache builds a cache of at most size tenants, each kept for ttl.
func NewTenantCache(store TenantGetter, size int, ttl time.Duration) *TenantCache {
	if size <= 0 {
		size = 10000
	}
	if ttl <= 0 {
		ttl = 10 * time.Second
	}
	return &TenantCache{store: store, lru: ttlcache.New[string, *tenant.Tenant](ttlcache.Options{Size: size, TTL: ttl})}
}

// LookupTenant returns the cached tenant, or reads it from the store when
// fresh is set or it is not cached. Unknown tenants are not cached.
func (c *TenantCache) LookupTenant(ctx context.Context, clientKey string, fresh bool) (*tenant.Tenant, error) {
	if !fresh {
		if t, ok := c.lru.Get(clientKey); ok {
			return t, nil
		}
	}
	t, err := c.store.Get(ctx, clientKey)
	if err != nil {
		c.lru.Remove(clientKey)
		return nil, err
	}
	c.lru.Add(clientKey, t)
	return t, nil
}

// Invalidate drops a tenant after a local write.
func (c *TenantCache) Invalidate(clientKey string) { c.lru.Remove(clientKey) }

// Purge drops every cached tenant.
func (c *TenantCache) Purge() { c.lru.Purge() }

// Len reports how many tenants are cached.
func (c *TenantCache) Len() int { return c.lru.Len() }
