package connect

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/internal/keyset"
)

// InstallKeys fetches and caches the RSA public keys that sign install and
// uninstall callbacks, from <BaseURL>/<kid>. A rotated key always gets a new
// kid, so a key is cached by kid for as long as it stays in the bounded
// cache; concurrent requests for one kid share one fetch. It is a
// keyset.Remote with one fetch per kid; this type adds the URL, the PEM
// parsing and the Connect error sentinels.
//
// Anyone can post an install with any kid, so fetches are bounded (issue 16
// item 7): a kid the key server did not know is remembered for NegativeTTL
// (negative cache), at most MaxConcurrent fetches run at once, and each
// source (the client address the caller puts in the context with
// WithSource) may cause at most FetchesPerMinute fetches a minute, all
// sources together GlobalFetchesPerMinute.
type InstallKeys struct {
	baseURL string
	client  *http.Client
	remote  *keyset.Remote
}

// WithSource names the source of a request (its client address) for the
// per-source fetch limit.
func WithSource(ctx context.Context, source string) context.Context {
	return keyset.WithSource(ctx, source)
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
	k := &InstallKeys{baseURL: strings.TrimSuffix(o.BaseURL, "/"), client: o.HTTPClient}
	k.remote = keyset.NewRemote(keyset.RemoteOptions{
		Fetch:         k.fetch,
		Timeout:       o.Timeout,
		NegativeTTL:   o.NegativeTTL,
		CacheSize:     o.CacheSize,
		MaxConcurrent: o.MaxConcurrent,
		Allow:         keyset.NewLimiter(o.FetchesPerMinute, o.GlobalFetchesPerMinute, o.Now).Allow,
		Now:           o.Now,
	})
	return k
}

// Fetches reports how many requests were made to the key server.
func (k *InstallKeys) Fetches() int64 { return k.remote.Fetches() }

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

// Key returns the key for kid, from the cache or the key server. Errors
// wrap ErrInvalidKID, ErrUnknownKID or ErrKeyServer.
func (k *InstallKeys) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if !ValidKID(kid) {
		return nil, &VerifyError{Err: ErrInvalidKID, Detail: fmt.Sprintf("%.40q", kid)}
	}
	key, err := k.remote.Key(ctx, kid)
	if err != nil {
		return nil, keyError(kid, err)
	}
	return key, nil
}

// keyError turns the keyset's own errors into this package's; the fetch's
// errors already are.
func keyError(kid string, err error) error {
	var ke *keyset.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch ke.Reason {
	case keyset.Recent:
		return &VerifyError{Err: ErrUnknownKID, Detail: kid + " (the key server did not know it recently)"}
	case keyset.Limited:
		return &VerifyError{Err: ErrUnknownKID, Detail: kid + " (not fetched: too many unknown kids from this source; try again in a minute)"}
	case keyset.Busy:
		return fmt.Errorf("%w: too many key fetches in flight", ErrKeyServer)
	case keyset.Canceled:
		return fmt.Errorf("%w: %v", ErrKeyServer, ke.Err)
	}
	return &VerifyError{Err: ErrUnknownKID, Detail: kid}
}

// Cached reports how many keys are cached.
func (k *InstallKeys) Cached() int { return k.remote.Cached() }

// fetch is the keyset's Fetch: GET <BaseURL>/<kid>, a PEM key. 404 and 403
// mean the key server does not know the kid.
func (k *InstallKeys) fetch(ctx context.Context, kid string) (map[string]*rsa.PublicKey, error) {
	status, body, err := keyset.Get(ctx, k.client, k.baseURL+"/"+kid, maxKeyBody, "")
	switch {
	case errors.Is(err, keyset.ErrTooLarge):
		return nil, fmt.Errorf("%w: key %s is larger than %d bytes", ErrKeyServer, kid, maxKeyBody)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrKeyServer, err)
	case status == http.StatusNotFound || status == http.StatusForbidden:
		return nil, keyset.Unknown(&VerifyError{Err: ErrUnknownKID, Detail: fmt.Sprintf("%s (key server answered %d)", kid, status)})
	case status != http.StatusOK:
		return nil, fmt.Errorf("%w: key server answered %d for kid %s", ErrKeyServer, status, kid)
	}
	key, err := ParseRSAPublicKeyPEM(body)
	if err != nil {
		return nil, keyset.Unknown(&VerifyError{Err: ErrUnknownKID, Detail: fmt.Sprintf("%s: %v", kid, err)})
	}
	return map[string]*rsa.PublicKey{kid: key}, nil
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
