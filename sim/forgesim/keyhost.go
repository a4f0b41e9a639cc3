package forgesim

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// JWKSPath is where KeyHost serves its key set, as Forge's CDN does.
const JWKSPath = "/.well-known/jwks.json"

// GenerateKey returns a fresh 2048-bit RSA key. Generation is slow (tens of
// milliseconds); tests should generate a few keys and reuse them.
func GenerateKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }

// KeyHost serves a JWKS on loopback, counts fetches, and can be told to fail,
// hang or serve arbitrary bytes.
type KeyHost struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	kids   []string // serving order
	keys   map[string]*rsa.PrivateKey
	status int    // non-zero: answer with this status
	body   []byte // non-nil: serve these bytes verbatim
	block  chan struct{}
}

// NewKeyHost starts a JWKS host serving the given keys. Close it when done.
func NewKeyHost(keys map[string]*rsa.PrivateKey) *KeyHost {
	h := &KeyHost{keys: map[string]*rsa.PrivateKey{}}
	for kid, k := range keys {
		h.Add(kid, k)
	}
	h.srv = httptest.NewServer(h)
	return h
}

// URL is the JWKS URL to configure in the verifier.
func (h *KeyHost) URL() string { return h.srv.URL + JWKSPath }

// Client is an HTTP client for the host.
func (h *KeyHost) Client() *http.Client { return h.srv.Client() }

// Close stops the server, releasing any blocked requests first.
func (h *KeyHost) Close() {
	h.Unblock()
	h.srv.Close()
}

// Fetches is the number of JWKS requests served (or attempted) so far.
func (h *KeyHost) Fetches() int64 { return h.fetches.Load() }

// Add publishes key under kid (replacing any key with that kid).
func (h *KeyHost) Add(kid string, key *rsa.PrivateKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.keys[kid]; !ok {
		h.kids = append(h.kids, kid)
	}
	h.keys[kid] = key
}

// Remove unpublishes kid.
func (h *KeyHost) Remove(kid string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.keys, kid)
	for i, k := range h.kids {
		if k == kid {
			h.kids = append(h.kids[:i], h.kids[i+1:]...)
			break
		}
	}
}

// Rotate publishes a new key and, unless keepOld, unpublishes all others.
func (h *KeyHost) Rotate(kid string, key *rsa.PrivateKey, keepOld bool) {
	if !keepOld {
		h.mu.Lock()
		h.kids, h.keys = nil, map[string]*rsa.PrivateKey{}
		h.mu.Unlock()
	}
	h.Add(kid, key)
}

// FailWith makes every fetch answer status (0 restores normal service).
func (h *KeyHost) FailWith(status int) {
	h.mu.Lock()
	h.status = status
	h.mu.Unlock()
}

// ServeBody makes every fetch answer 200 with body verbatim (nil restores).
func (h *KeyHost) ServeBody(body []byte) {
	h.mu.Lock()
	h.body = body
	h.mu.Unlock()
}

// Block makes fetches hang until Unblock or until the client gives up.
func (h *KeyHost) Block() {
	h.mu.Lock()
	if h.block == nil {
		h.block = make(chan struct{})
	}
	h.mu.Unlock()
}

// Unblock releases hanging fetches.
func (h *KeyHost) Unblock() {
	h.mu.Lock()
	if h.block != nil {
		close(h.block)
		h.block = nil
	}
	h.mu.Unlock()
}

// ServeHTTP serves the JWKS at JWKSPath.
func (h *KeyHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != JWKSPath || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	h.fetches.Add(1)
	h.mu.Lock()
	block, status, body := h.block, h.status, h.body
	pubs := make([]Key, 0, len(h.kids))
	for _, kid := range h.kids {
		pubs = append(pubs, Key{KID: kid, Public: &h.keys[kid].PublicKey})
	}
	h.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if body == nil {
		body = JWKS(pubs...)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// Key is one public key for JWKS.
type Key struct {
	KID    string
	Public *rsa.PublicKey
	// Use and Alg override "sig" and "RS256"; "-" omits the member.
	Use, Alg string
}

// JWKS renders RSA public keys as a JSON Web Key Set.
func JWKS(keys ...Key) []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use,omitempty"`
		Alg string `json:"alg,omitempty"`
		N   string `json:"n"`
		E   string `json:"e"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		use, alg := pick(k.Use, "sig"), pick(k.Alg, "RS256")
		set.Keys = append(set.Keys, jwk{
			Kty: "RSA", Kid: k.KID, Use: use, Alg: alg,
			N: base64.RawURLEncoding.EncodeToString(k.Public.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.Public.E)).Bytes()),
		})
	}
	b, _ := json.Marshal(set)
	return b
}

func pick(v, def string) string {
	switch v {
	case "":
		return def
	case "-":
		return ""
	}
	return v
}
