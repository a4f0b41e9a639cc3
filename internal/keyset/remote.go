package keyset

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/connect-doctor/connect-doctor/internal/ttlcache"
	"golang.org/x/sync/singleflight"
)

// Defaults of RemoteOptions.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultCacheSize    = 64
	DefaultNegativeSize = 4096
)

// RemoteOptions configure a Remote. Zero fields mean the defaults.
type RemoteOptions struct {
	// Fetch downloads keys; it is given the kid asked for and a context
	// that ends after Timeout. A key server that serves one key per kid
	// returns that key; a JWKS returns every key (set Whole). An error
	// wrapped with Unknown means the server does not know the kid.
	Fetch func(ctx context.Context, kid string) (map[string]*rsa.PublicKey, error)
	// Whole: one fetch returns the whole set, shared by every kid and
	// replacing the keys fetched before (a JWKS). Otherwise each kid is
	// fetched, cached and remembered as unknown on its own.
	Whole bool
	// Timeout bounds one fetch, including the wait for a fetch slot
	// (default 5 s). The fetch is shared, so it is detached from the
	// caller that starts it; each caller still stops waiting when its
	// own context ends.
	Timeout time.Duration
	// MaxAge: keys older than this are fetched again on their next use,
	// and served stale while that fails (0: kept until evicted).
	MaxAge time.Duration
	// MinInterval is the least time between two fetches of a kid (of the
	// set when Whole); meanwhile a missing kid fails at once with the
	// last fetch's error or NotFound.
	MinInterval time.Duration
	// NegativeTTL is how long an Unknown answer is remembered.
	NegativeTTL time.Duration
	// CacheSize bounds the kids (sets) whose keys are kept (default 64);
	// NegativeSize the kids remembered as unknown or failed (default
	// 4096).
	CacheSize, NegativeSize int
	// MaxConcurrent bounds simultaneous fetches (0: no bound).
	MaxConcurrent int
	// Allow, when set, is asked before each fetch (a rate limit, e.g. a
	// Limiter's Allow); false fails the call with Reason Limited. The
	// caller that starts a fetch is charged; callers that join it are not.
	Allow func(ctx context.Context) bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Remote is a Source of keys fetched with RemoteOptions.Fetch and cached.
// It is safe for concurrent use.
type Remote struct {
	o        RemoteOptions
	keys     *ttlcache.Cache[string, keys]    // by group: kid, or "" when Whole
	attempts *ttlcache.Cache[string, attempt] // groups not to fetch again yet
	flights  singleflight.Group
	sem      chan struct{}
	fetches  atomic.Int64
}

type keys struct {
	m       map[string]*rsa.PublicKey
	fetched time.Time
}

type attempt struct {
	until time.Time
	err   error // nil: the fetch succeeded
}

// NewRemote builds an empty Remote; nothing is fetched before the first
// Key call.
func NewRemote(o RemoteOptions) *Remote {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.NegativeSize <= 0 {
		o.NegativeSize = DefaultNegativeSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Remote{o: o,
		keys:     ttlcache.New[string, keys](ttlcache.Options{Size: o.CacheSize}),
		attempts: ttlcache.New[string, attempt](ttlcache.Options{Size: o.NegativeSize}),
	}
	if o.MaxConcurrent > 0 {
		r.sem = make(chan struct{}, o.MaxConcurrent)
	}
	return r
}

// Fetches reports how many fetches were started.
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// Cached reports how many kids (sets, when Whole) have keys cached.
func (r *Remote) Cached() int { return r.keys.Len() }

func (r *Remote) group(kid string) string {
	if r.o.Whole {
		return ""
	}
	return kid
}

// Key implements Source: a cached key that is not older than MaxAge, or
// else one fetch shared by every caller asking for the kid (the set) at the
// time. A stale key is served when its refresh fails. The errors are the
// fetch's own, or an *Error.
func (r *Remote) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	g := r.group(kid)
	key, stale := r.cached(g, kid)
	if key != nil {
		return key, nil
	}
	if _, held, err := r.held(g, kid); held {
		if stale != nil {
			return stale, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, &Error{Reason: NotFound, KID: kid}
	}
	ch := r.flights.DoChan(g, func() (any, error) { return r.fetch(ctx, g, kid) })
	select {
	case <-ctx.Done():
		if stale != nil {
			return stale, nil
		}
		return nil, &Error{Reason: Canceled, KID: kid, Err: ctx.Err()}
	case res := <-ch:
		if res.Err != nil {
			if stale != nil {
				return stale, nil
			}
			return nil, res.Err
		}
		if k, ok := res.Val.(map[string]*rsa.PublicKey)[kid]; ok {
			return k, nil
		}
		return nil, &Error{Reason: NotFound, KID: kid}
	}
}

// cached returns the cached key of kid if it is fresh, else the stale one
// (or neither).
func (r *Remote) cached(g, kid string) (fresh, stale *rsa.PublicKey) {
	ks, ok := r.keys.Get(g)
	if !ok {
		return nil, nil
	}
	k, ok := ks.m[kid]
	switch {
	case !ok:
		return nil, nil
	case r.o.MaxAge <= 0 || r.o.Now().Sub(ks.fetched) < r.o.MaxAge:
		return k, nil
	}
	return nil, k
}

// held reports whether group g must not be fetched yet and, if so, what
// the last fetch gave: its keys, or its error as a Recent *Error.
func (r *Remote) held(g, kid string) (map[string]*rsa.PublicKey, bool, error) {
	a, ok := r.attempts.Get(g)
	if !ok || !r.o.Now().Before(a.until) {
		return nil, false, nil
	}
	if a.err != nil {
		return nil, true, &Error{Reason: Recent, KID: kid, Err: a.err}
	}
	ks, _ := r.keys.Get(g)
	return ks.m, true, nil
}

// fetch runs once per flight. It looks at the cache again first: a caller
// that found nothing may start its flight just after another one ended.
func (r *Remote) fetch(ctx context.Context, g, kid string) (map[string]*rsa.PublicKey, error) {
	if k, _ := r.cached(g, kid); k != nil {
		return map[string]*rsa.PublicKey{kid: k}, nil
	}
	if m, held, err := r.held(g, kid); held {
		return m, err
	}
	start := r.o.Now()
	if r.o.Allow != nil && !r.o.Allow(ctx) {
		return nil, &Error{Reason: Limited, KID: kid}
	}
	// The fetch is shared: a caller giving up must not cancel it for the
	// others.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.Timeout)
	defer cancel()
	if r.sem != nil {
		select {
		case r.sem <- struct{}{}:
			defer func() { <-r.sem }()
		case <-fctx.Done():
			return nil, &Error{Reason: Busy, KID: kid}
		}
	}
	r.fetches.Add(1)
	m, err := r.o.Fetch(fctx, kid)
	end := r.o.Now()
	if err == nil {
		r.keys.Add(g, keys{m: m, fetched: end})
	}
	until := start.Add(r.o.MinInterval)
	if err != nil && errors.Is(err, ErrUnknownKID) {
		until = later(until, end.Add(r.o.NegativeTTL))
	}
	if until.After(end) {
		r.attempts.Add(g, attempt{until: until, err: err})
	} else {
		r.attempts.Remove(g)
	}
	return m, err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Get is the HTTP GET of a key fetch: it returns the status and, for a 200,
// the body, read up to limit bytes (a longer body is ErrTooLarge). The body
// of another status is drained up to 4 KiB and dropped. accept, when not
// empty, is sent as the Accept header.
func Get(ctx context.Context, client *http.Client, url string, limit int64, accept string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, nil, fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, limit)
	}
	return resp.StatusCode, body, nil
}
