package oauth

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TokenExchanger obtains a fresh token; *Exchanger implements it.
type TokenExchanger interface {
	Exchange(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (*Token, error)
}

// Cache defaults.
const (
	DefaultCacheSize       = 10_000
	DefaultMargin          = 30 * time.Second
	DefaultCacheExchangeTO = 30 * time.Second
)

// CacheOptions configure a Cache; zero fields take the defaults.
type CacheOptions struct {
	Size   int           // maximum number of tokens kept (LRU); 0 = DefaultCacheSize
	Margin time.Duration // a token is refreshed this long before it expires; 0 = DefaultMargin
	Now    func() time.Time
	// ExchangeTimeout bounds one exchange, which runs detached from the
	// context of the caller that started it; 0 = DefaultCacheExchangeTO.
	ExchangeTimeout time.Duration
}

// Key identifies a cached token: the tenant, the user and the normalised
// scope set (the "scope" form value; "" = the app's scopes).
type Key struct {
	ClientKey string
	AccountID string
	Scopes    string
}

// KeyFor returns the cache key for a token request.
func KeyFor(t *tenant.Tenant, accountID string, scopes scope.Set) (Key, error) {
	if t == nil {
		return Key{}, fmt.Errorf("%w: no tenant", ErrAssertion)
	}
	m, err := scopeMask(scopes)
	if err != nil {
		return Key{}, err
	}
	return Key{ClientKey: t.ClientKey, AccountID: accountID, Scopes: scopeStrings[m]}, nil
}

func (k Key) flightKey() string { return k.ClientKey + "\x00" + k.AccountID + "\x00" + k.Scopes }

type entry struct {
	tok       *Token
	refreshAt time.Time
}

// CacheStats are cumulative counters.
type CacheStats struct {
	Hits, Misses   uint64 // lookups answered from the cache / not
	Exchanges      uint64 // exchanges started (at most one per key at a time)
	ExchangeErrors uint64
	Evictions      uint64 // explicit evictions (Evict, Invalidate, EvictTenant)
	Len            int    // tokens held now
}

// Cache hands out user tokens, exchanging only when no fresh token is held.
// It is bounded (LRU), runs one exchange per key at a time whatever the
// number of callers, and lets a caller give up (context cancelled) without
// failing the others: the exchange runs under context.WithoutCancel plus its
// own timeout. Tokens are replaced Margin before they expire (or at half
// their lifetime, if that is sooner).
type Cache struct {
	ex      TokenExchanger
	lru     *lru.Cache[Key, entry]
	group   singleflight.Group
	now     func() time.Time
	margin  time.Duration
	timeout time.Duration

	hits, misses, exchanges, exchangeErrors, evictions atomic.Uint64
}

// NewCache returns a cache in front of ex.
func NewCache(ex TokenExchanger, opts CacheOptions) *Cache {
	if opts.Size <= 0 {
		opts.Size = DefaultCacheSize
	}
	if opts.Margin <= 0 {
		opts.Margin = DefaultMargin
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ExchangeTimeout <= 0 {
		opts.ExchangeTimeout = DefaultCacheExchangeTO
	}
	l, err := lru.New[Key, entry](opts.Size)
	if err != nil { // only for size <= 0, excluded above
		panic(err)
	}
	return &Cache{ex: ex, lru: l, now: opts.Now, margin: opts.Margin, timeout: opts.ExchangeTimeout}
}

// Token returns a fresh token for accountID on the tenant, from the cache
// when one is held. A cancelled ctx makes this caller return ctx.Err() while
// an exchange it started carries on for the others.
func (c *Cache) Token(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (*Token, error) {
	key, err := KeyFor(t, accountID, scopes)
	if err != nil {
		return nil, err
	}
	if tok, ok := c.lookup(key); ok {
		c.hits.Add(1)
		return tok, nil
	}
	c.misses.Add(1)
	ch := c.group.DoChan(key.flightKey(), func() (any, error) {
		// A flight that finished between our lookup and this one may
		// already have stored a token.
		if tok, ok := c.lookup(key); ok {
			return tok, nil
		}
		c.exchanges.Add(1)
		xctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		tok, err := c.ex.Exchange(xctx, t, accountID, scopes)
		if err != nil {
			c.exchangeErrors.Add(1)
			return nil, err
		}
		c.store(key, tok)
		return tok, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Token), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("oauth: waiting for a token: %w", context.Cause(ctx))
	}
}

func (c *Cache) lookup(key Key) (*Token, bool) {
	e, ok := c.lru.Get(key)
	if !ok || !c.now().Before(e.refreshAt) {
		return nil, false
	}
	return e.tok, true
}

func (c *Cache) store(key Key, tok *Token) {
	now := c.now()
	margin := c.margin
	if half := tok.Expiry.Sub(now) / 2; half < margin {
		margin = half
	}
	c.lru.Add(key, entry{tok: tok, refreshAt: tok.Expiry.Add(-margin)})
}

// Evict drops the token held for key, if any.
func (c *Cache) Evict(key Key) {
	if c.lru.Remove(key) {
		c.evictions.Add(1)
	}
}

// Invalidate drops the token held for (tenant, accountID, scopes) if it is
// still stale (the token Jira just refused); a token another caller has
// fetched since is kept. It reports whether a token was dropped.
func (c *Cache) Invalidate(t *tenant.Tenant, accountID string, scopes scope.Set, stale *Token) bool {
	key, err := KeyFor(t, accountID, scopes)
	if err != nil {
		return false
	}
	e, ok := c.lru.Peek(key)
	if !ok || (stale != nil && e.tok != stale && e.tok.AccessToken != stale.AccessToken) {
		return false
	}
	if c.lru.Remove(key) {
		c.evictions.Add(1)
		return true
	}
	return false
}

// UserToken is Token's access token alone: the Cache as the jira client's
// source of user tokens (jira.UserTokens).
func (c *Cache) UserToken(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (string, error) {
	tok, err := c.Token(ctx, t, accountID, scopes)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// ForgetUserToken is Invalidate for the access token Jira refused.
func (c *Cache) ForgetUserToken(t *tenant.Tenant, accountID string, scopes scope.Set, stale string) bool {
	return c.Invalidate(t, accountID, scopes, &Token{AccessToken: stale})
}

// EvictTenant drops every token of a tenant (call it on uninstall or
// reinstall) and returns how many it dropped.
func (c *Cache) EvictTenant(clientKey string) int {
	n := 0
	for _, k := range c.lru.Keys() {
		if k.ClientKey == clientKey && c.lru.Remove(k) {
			n++
		}
	}
	c.evictions.Add(uint64(n))
	return n
}

// Stats returns the counters.
func (c *Cache) Stats() CacheStats {
	return CacheStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(),
		Exchanges: c.exchanges.Load(), ExchangeErrors: c.exchangeErrors.Load(),
		Evictions: c.evictions.Load(), Len: c.lru.Len(),
	}
}

var _ TokenExchanger = (*Exchanger)(nil)
