package forge

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/connect-doctor/connect-doctor/internal/keyset"
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

// KeySource finds the RSA key that signed a token. Verifier takes the ones
// it needs: RemoteKeySets, or StaticKeys in tests.
type KeySource = keyset.Source

// StaticKeys is a fixed KeySource, e.g. for tests.
type StaticKeys = keyset.Static

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
// (an unknown kid during the cooldown fails fast with ErrFITUnknownKID, a
// failed refresh is answered with its error until the cooldown ends); a set
// older than MaxAge is refreshed on its next use and its keys are served
// while that fails. It is a keyset.Remote fetching the whole set; this type
// adds the URL, the JWKS parsing and the Forge error sentinels.
type RemoteKeySet struct {
	url    string
	opts   KeySetOptions
	remote *keyset.Remote
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
	r := &RemoteKeySet{url: url, opts: opts}
	r.remote = keyset.NewRemote(keyset.RemoteOptions{
		Fetch:       r.download,
		Whole:       true,
		Timeout:     opts.Timeout,
		MaxAge:      opts.MaxAge,
		MinInterval: opts.Cooldown,
		Now:         opts.Now,
	})
	return r
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
	key, err := r.remote.Key(ctx, kid)
	if err != nil {
		return nil, keyError(kid, r.url, err)
	}
	return key, nil
}

// keyError turns the keyset's own errors (from a RemoteKeySet, StaticKeys
// or any keyset.Source) into this package's; a fetch's errors already are.
// A cancelled wait stays a context error, which the verifier reports as
// ErrJWKSUnavailable.
func keyError(kid, where string, err error) error {
	var ke *keyset.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch ke.Reason {
	case keyset.Recent:
		return ke.Err // the failed refresh's own error, until the cooldown ends
	case keyset.Canceled:
		return fmt.Errorf("forge: waiting for key set %s: %w", where, ke.Err)
	case keyset.Busy:
		return fmt.Errorf("%w: %s: too many fetches in flight", ErrJWKSUnavailable, where)
	}
	return fmt.Errorf("%w: kid %q is not in %s", ErrFITUnknownKID, kid, where)
}

// download is the keyset's Fetch: GET the JWKS, at most BodyCap bytes.
func (r *RemoteKeySet) download(ctx context.Context, _ string) (map[string]*rsa.PublicKey, error) {
	status, body, err := keyset.Get(ctx, r.opts.HTTPClient, r.url, r.opts.BodyCap, "application/json")
	switch {
	case errors.Is(err, keyset.ErrTooLarge):
		return nil, fmt.Errorf("%w: GET %s: body larger than %d bytes", ErrJWKSUnavailable, r.url, r.opts.BodyCap)
	case err != nil:
		return nil, fmt.Errorf("%w: GET %s: %v", ErrJWKSUnavailable, r.url, err)
	case status != http.StatusOK:
		return nil, fmt.Errorf("%w: GET %s: status %d", ErrJWKSUnavailable, r.url, status)
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
