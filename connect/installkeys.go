package connect

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// InstallKeys fetches and caches the RSA public keys that sign install and
// uninstall callbacks, from <BaseURL>/<kid>. A rotated key always gets a new
// kid, so a key is cached by kid for as long as it stays in the bounded
// cache; concurrent requests for one kid share one fetch.
//
// Anyone can post an install with any kid, so fetches are bounded (issue 16
// item 7): a kid the key server did not know is remembered for NegativeTTL
// (negative cache), at most MaxConcurrent fetches run at once, and each
// source (the client address the caller puts in the context with
// WithSource) may cause at most FetchesPerMinute fetches a minute, all
// sources together GlobalFetchesPerMinute.
type InstallKeys struct {
	baseURL      string
	client       *http.Client
	timeout      time.Duration
	now          func() time.Time
	cache        *lru.Cache[string, *rsa.PublicKey]
	unknown      *lru.Cache[string, time.Time] // kid -> until
	negTTL       time.Duration
	sem          chan struct{}
	group        singleflight.Group
	mu           sync.Mutex
	sources      *lru.Cache[string, *bucket]
	global       *bucket
	perSrc       int
	globalPerMin int
	fetches      atomic.Int64
}

// bucket is a token bucket refilled at perMinute tokens a minute.
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

type sourceKey struct{}

// WithSource names the source of a request (its client address) for the
// per-source fetch limit.
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// InstallKeysOptions configures InstallKeys.
type InstallKeysOptions struct {
	BaseURL    string        // e.g. https://connect-install-keys.atlassian.com
	HTTPClient *http.Client  // nil: a client with Timeout
	Timeout    time.Duration // per fetch; 0 means 5 s
	CacheSize  int           // keys kept; 0 means 64
	// NegativeTTL keeps a kid the key server did not know (0: 5 min).
	NegativeTTL time.Duration
	// MaxConcurrent bounds simultaneous fetches (0: 4).
	MaxConcurrent int
	// FetchesPerMinute per source (0: 10) and GlobalFetchesPerMinute
	// for all sources (0: 60).
	FetchesPerMinute, GlobalFetchesPerMinute int
	Now                                      func() time.Time
}

// maxKeyBody caps the key server's answer: a PEM RSA public key is < 1 KiB.
const maxKeyBody = 16 << 10

// NewInstallKeys builds the key source.
func NewInstallKeys(o InstallKeysOptions) *InstallKeys {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 64
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.Timeout}
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = 5 * time.Minute
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	if o.FetchesPerMinute <= 0 {
		o.FetchesPerMinute = 10
	}
	if o.GlobalFetchesPerMinute <= 0 {
		o.GlobalFetchesPerMinute = 60
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c, _ := lru.New[string, *rsa.PublicKey](o.CacheSize)
	neg, _ := lru.New[string, time.Time](4096)
	src, _ := lru.New[string, *bucket](4096)
	return &InstallKeys{baseURL: strings.TrimSuffix(o.BaseURL, "/"), client: o.HTTPClient, timeout: o.Timeout, now: o.Now, cache: c,
		unknown: neg, negTTL: o.NegativeTTL, sem: make(chan struct{}, o.MaxConcurrent), sources: src,
		global: &bucket{}, perSrc: o.FetchesPerMinute, globalPerMin: o.GlobalFetchesPerMinute}
}

// Fetches reports how many requests were made to the key server.
func (k *InstallKeys) Fetches() int64 { return k.fetches.Load() }

// allowFetch applies the per-source and global fetch limits.
func (k *InstallKeys) allowFetch(ctx context.Context) bool {
	src, _ := ctx.Value(sourceKey{}).(string)
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.sources.Get(src)
	if !ok {
		b = &bucket{}
		k.sources.Add(src, b)
	}
	if !b.take(now, k.perSrc) {
		return false
	}
	return k.global.take(now, k.globalPerMin)
}

// ValidKID reports whether kid is safe to append to the key server URL:
// 1–128 characters of letters, digits, '-', '_' and '.', with no "..".
// Anything with '/', '%', '?' or '#' could change the key URL and is refused.
func ValidKID(kid string) bool {
	if kid == "" || len(kid) > 128 || kid == "." || kid == ".." || strings.Contains(kid, "..") {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// PublicKey returns the key for kid, from the cache or the key server.
func (k *InstallKeys) PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if !ValidKID(kid) {
		return nil, &VerifyError{Err: ErrInvalidKID, Detail: fmt.Sprintf("%.40q", kid)}
	}
	if key, ok := k.cache.Get(kid); ok {
		return key, nil
	}
	if until, ok := k.unknown.Get(kid); ok && k.now().Before(until) {
		return nil, &VerifyError{Err: ErrUnknownKID, Detail: kid + " (the key server did not know it recently)"}
	}
	ch := k.group.DoChan(kid, func() (any, error) {
		// Charged to the caller that starts the fetch; callers joining an
		// in-flight fetch of the same kid cost nothing.
		if !k.allowFetch(ctx) {
			return nil, &VerifyError{Err: ErrUnknownKID, Detail: kid + " (not fetched: too many unknown kids from this source; try again in a minute)"}
		}
		// The fetch is shared: a caller giving up must not cancel it for
		// the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
		defer cancel()
		select {
		case k.sem <- struct{}{}:
			defer func() { <-k.sem }()
		case <-fctx.Done():
			return nil, fmt.Errorf("%w: too many key fetches in flight", ErrKeyServer)
		}
		key, err := k.fetch(fctx, kid)
		var ve *VerifyError
		switch {
		case err == nil:
			k.cache.Add(kid, key)
		case errors.As(err, &ve) && errors.Is(ve.Err, ErrUnknownKID):
			k.unknown.Add(kid, k.now().Add(k.negTTL))
		}
		return key, err
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrKeyServer, ctx.Err())
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*rsa.PublicKey), nil
	}
}

// Cached reports how many keys are cached.
func (k *InstallKeys) Cached() int { return k.cache.Len() }

func (k *InstallKeys) fetch(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	k.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.baseURL+"/"+kid, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyServer, err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyServer, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeyBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading key %s: %v", ErrKeyServer, kid, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		return nil, &VerifyError{Err: ErrUnknownKID, Detail: fmt.Sprintf("%s (key server answered %d)", kid, resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: key server answered %d for kid %s", ErrKeyServer, resp.StatusCode, kid)
	case len(body) > maxKeyBody:
		return nil, fmt.Errorf("%w: key %s is larger than %d bytes", ErrKeyServer, kid, maxKeyBody)
	}
	key, err := ParseRSAPublicKeyPEM(body)
	if err != nil {
		return nil, &VerifyError{Err: ErrUnknownKID, Detail: fmt.Sprintf("%s: %v", kid, err)}
	}
	return key, nil
}

// ParseRSAPublicKeyPEM parses a PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY"
// (PKCS#1) block holding an RSA key of at least 2048 bits.
func ParseRSAPublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM public key")
	}
	var key *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("not an RSA public key")
		}
		key = rk
	case "RSA PUBLIC KEY":
		rk, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		key = rk
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("RSA key of %d bits is too short", key.N.BitLen())
	}
	return key, nil
}
