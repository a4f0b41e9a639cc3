package forge

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// Key set defaults.
const (
	DefaultKeySetTimeout  = 5 * time.Second
	DefaultKeySetCooldown = 10 * time.Second
	DefaultKeySetMaxAge   = time.Hour
	DefaultKeySetBodyCap  = 256 << 10
	maxKIDLen             = 256
	minRSABits            = 2048
)

// KeySource finds the RSA key that signed a token. Verifier takes the one it
// needs; tests may use StaticKeys.
type KeySource interface {
	Key(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// StaticKeys is a fixed KeySource, e.g. for tests.
type StaticKeys map[string]*rsa.PublicKey

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q", ErrFITUnknownKID, kid)
}

// KeySetOptions tunes remote key sets. Zero fields mean the defaults.
type KeySetOptions struct {
	HTTPClient *http.Client
	Timeout    time.Duration // per fetch
	Cooldown   time.Duration // minimum gap between fetches
	MaxAge     time.Duration // refresh a set older than this on next use
	BodyCap    int64         // maximum JWKS body size in bytes
	Now        func() time.Time
}

// KeySets caches one RemoteKeySet per URL so verifiers that share it fetch
// each key set once.
type KeySets struct {
	opts KeySetOptions
	mu   sync.Mutex
	sets map[string]*RemoteKeySet
}

// NewKeySets returns an empty cache.
func NewKeySets(opts KeySetOptions) *KeySets {
	return &KeySets{opts: opts, sets: map[string]*RemoteKeySet{}}
}

// For returns the cached key set for url, creating it on first use.
func (k *KeySets) For(url string) *RemoteKeySet {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.sets[url]; ok {
		return s
	}
	s := NewRemoteKeySet(url, k.opts)
	k.sets[url] = s
	return s
}

// RemoteKeySet is a JWKS fetched over HTTP and cached, go-oidc style: keys
// are parsed once into *rsa.PublicKey; an unknown kid triggers one refresh
// shared by all concurrent callers; refreshes are at least Cooldown apart
// (an unknown kid during the cooldown fails fast with ErrFITUnknownKID).
type RemoteKeySet struct {
	url  string
	opts KeySetOptions

	mu        sync.RWMutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt, successful or not
	lastErr   error
	inflight  *inflight
}

type inflight struct {
	done chan struct{}
	err  error
}

// NewRemoteKeySet returns an empty key set for url; nothing is fetched until
// the first Key call.
func NewRemoteKeySet(url string, opts KeySetOptions) *RemoteKeySet {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultKeySetTimeout
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = DefaultKeySetCooldown
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultKeySetMaxAge
	}
	if opts.BodyCap <= 0 {
		opts.BodyCap = DefaultKeySetBodyCap
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.Timeout}
	}
	return &RemoteKeySet{url: url, opts: opts}
}

// URL is the key set's address.
func (r *RemoteKeySet) URL() string { return r.url }

// Key returns the key for kid, refreshing the set once when kid is unknown
// or the set is older than MaxAge. Errors wrap ErrFITUnknownKID,
// ErrJWKSUnavailable or the context's error.
func (r *RemoteKeySet) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if kid == "" || len(kid) > maxKIDLen {
		return nil, fmt.Errorf("%w: kid is empty or longer than %d bytes", ErrFITUnknownKID, maxKIDLen)
	}
	now := r.opts.Now()
	r.mu.RLock()
	key, ok := r.keys[kid]
	fresh := r.keys != nil && now.Sub(r.fetchedAt) < r.opts.MaxAge
	r.mu.RUnlock()
	if ok && fresh {
		return key, nil
	}

	err := r.refresh(ctx, now)
	r.mu.RLock()
	key, ok = r.keys[kid]
	r.mu.RUnlock()
	switch {
	case ok:
		// Found, possibly in a stale set whose refresh failed: keep
		// serving known keys rather than failing every request.
		return key, nil
	case err != nil && !errors.Is(err, errCooldown):
		return nil, err
	}
	return nil, fmt.Errorf("%w: kid %q is not in %s", ErrFITUnknownKID, kid, r.url)
}

var errCooldown = errors.New("forge: key set refreshed recently")

// refresh fetches the set unless a fetch is running (then it waits for that
// one) or the last attempt was within the cooldown.
func (r *RemoteKeySet) refresh(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	f := r.inflight
	if f == nil {
		if !r.triedAt.IsZero() && now.Sub(r.triedAt) < r.opts.Cooldown {
			err := r.lastErr
			r.mu.Unlock()
			if err != nil {
				return err
			}
			return errCooldown
		}
		f = &inflight{done: make(chan struct{})}
		r.inflight = f
		r.triedAt = now
		// The fetch outlives any one caller: it runs under its own
		// timeout, detached from the first caller's cancellation.
		go r.fetch(context.WithoutCancel(ctx), f)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("forge: waiting for key set %s: %w", r.url, ctx.Err())
	}
}

func (r *RemoteKeySet) fetch(ctx context.Context, f *inflight) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	keys, err := r.download(ctx)
	r.mu.Lock()
	if err == nil {
		r.keys = keys
		r.fetchedAt = r.opts.Now()
	}
	r.lastErr = err
	r.inflight = nil
	f.err = err
	r.mu.Unlock()
	close(f.done)
}

func (r *RemoteKeySet) download(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKSUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrJWKSUnavailable, r.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: GET %s: status %d", ErrJWKSUnavailable, r.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.BodyCap+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrJWKSUnavailable, r.url, err)
	}
	if int64(len(body)) > r.opts.BodyCap {
		return nil, fmt.Errorf("%w: GET %s: body larger than %d bytes", ErrJWKSUnavailable, r.url, r.opts.BodyCap)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrJWKSUnavailable, r.url, err)
	}
	return keys, nil
}

// ErrJWKSMalformed is wrapped by ParseJWKS errors.
var ErrJWKSMalformed = errors.New("malformed JWKS")

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// ParseJWKS reads a JSON Web Key Set and returns its usable keys by kid:
// kty RSA, use "sig" or absent, alg "RS256" or absent, a kid, and a modulus
// of at least 2048 bits. Other keys are skipped; a set with no usable key is
// an error.
func ParseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKSMalformed, err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") ||
			k.Kid == "" || len(k.Kid) > maxKIDLen {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no RSA signing key (kty RSA, use sig, alg RS256) among %d keys", ErrJWKSMalformed, len(set.Keys))
	}
	return keys, nil
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n64)
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(e64)
	if err != nil {
		return nil, err
	}
	if len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad exponent")
	}
	n := new(big.Int).SetBytes(nb)
	e := int(new(big.Int).SetBytes(eb).Int64())
	if n.BitLen() < minRSABits || e < 3 || e%2 == 0 {
		return nil, errors.New("weak key")
	}
	return &rsa.PublicKey{N: n, E: e}, nil
}
