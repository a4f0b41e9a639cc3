package connect

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/tenant"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const testSecret = "tenant-shared-secret-0123456789abcdef"

// memTenants is a TenantLookup backed by a map; fresh reads come from next.
type memTenants struct {
	mu      sync.Mutex
	cached  map[string]*tenant.Tenant
	current map[string]*tenant.Tenant
	fresh   int
}

func newMemTenants(ts ...*tenant.Tenant) *memTenants {
	m := &memTenants{cached: map[string]*tenant.Tenant{}, current: map[string]*tenant.Tenant{}}
	for _, t := range ts {
		m.cached[t.ClientKey], m.current[t.ClientKey] = t, t
	}
	return m
}

func (m *memTenants) LookupTenant(_ context.Context, ck string, fresh bool) (*tenant.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	src := m.cached
	if fresh {
		m.fresh++
		src = m.current
	}
	t, ok := src[ck]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTenant, ck)
	}
	if fresh {
		m.cached[ck] = t
	}
	return t, nil
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reqClaims(iss, qsh string, mod func(*Claims)) *Claims {
	c := &Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: iss, Subject: "557058:user", IssuedAt: jwt.NewNumericDate(testNow.Add(-10 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(testNow.Add(170 * time.Second)),
	}, QSH: qsh}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestRequestVerifier(t *testing.T) {
	installed := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	other := &tenant.Tenant{ClientKey: "ck-b", SharedSecret: "other-tenant-secret-0123456789", State: tenant.StateInstalled}
	disabled := &tenant.Tenant{ClientKey: "ck-dis", SharedSecret: testSecret, State: tenant.StateDisabled}
	gone := &tenant.Tenant{ClientKey: "ck-gone", SharedSecret: testSecret, State: tenant.StateUninstalled}
	weak := &tenant.Tenant{ClientKey: "ck-weak", SharedSecret: "short", State: tenant.StateInstalled}
	v := NewRequestVerifier(newMemTenants(installed, other, disabled, gone, weak),
		RequestVerifierOptions{AppKey: "connect-doctor", BasePath: "/app", Now: func() time.Time { return testNow }})

	const uri = "/app/admin?lic=none&xdm_e=https%3A%2F%2Facme.atlassian.net"
	good := QSH(CanonicalRequest("GET", uri, "/app"))
	hs := func(iss, qsh string, mod func(*Claims)) string {
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims(iss, qsh, mod), nil)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubPEM, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPEM})

	tests := []struct {
		name   string
		method string
		uri    string
		token  string
		opts   VerifyOptions
		want   error
		status int
	}{
		{"valid request token", "GET", uri, hs("ck-a", good, nil), VerifyOptions{}, nil, 200},
		{"empty token", "GET", uri, "", VerifyOptions{}, ErrNoToken, 401},
		{"garbage", "GET", uri, "not.a.jwt", VerifyOptions{}, ErrMalformedToken, 401},
		{"two parts", "GET", uri, "abc.def", VerifyOptions{}, ErrMalformedToken, 401},
		{"alg none", "GET", uri, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, reqClaims("ck-a", good, nil), nil), VerifyOptions{}, ErrUnsupportedAlg, 401},
		{"HS384", "GET", uri, sign(t, jwt.SigningMethodHS384, []byte(testSecret), reqClaims("ck-a", good, nil), nil), VerifyOptions{}, ErrUnsupportedAlg, 401},
		{"RS256 on a request route", "GET", uri, sign(t, jwt.SigningMethodRS256, rsaKey, reqClaims("ck-a", good, nil), nil), VerifyOptions{}, ErrUnsupportedAlg, 401},
		{"HS256 keyed with an RSA public key PEM", "GET", uri, sign(t, jwt.SigningMethodHS256, pemBytes, reqClaims("ck-a", good, nil), nil), VerifyOptions{}, ErrBadSignature, 401},
		{"unknown tenant", "GET", uri, hs("ck-zzz", good, nil), VerifyOptions{}, ErrUnknownTenant, 401},
		{"no iss", "GET", uri, hs("", good, nil), VerifyOptions{}, ErrMissingClaim, 401},
		{"our own outgoing token", "GET", uri, hs("connect-doctor", good, nil), VerifyOptions{}, ErrOwnToken, 401},
		{"our own JWT-bearer assertion", "GET", uri, hs("urn:atlassian:connect:clientid:abc", good, nil), VerifyOptions{}, ErrOwnToken, 401},
		{"token of tenant A claiming tenant B", "GET", uri, hs("ck-b", good, nil), VerifyOptions{}, ErrBadSignature, 401},
		{"expired", "GET", uri, hs("ck-a", good, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-31 * time.Second)) }), VerifyOptions{}, ErrExpired, 401},
		{"expired within leeway", "GET", uri, hs("ck-a", good, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-20 * time.Second)) }), VerifyOptions{}, nil, 200},
		{"no exp", "GET", uri, hs("ck-a", good, func(c *Claims) { c.ExpiresAt = nil }), VerifyOptions{}, ErrMissingClaim, 401},
		{"exp zero", "GET", uri, hs("ck-a", good, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Unix(0, 0)) }), VerifyOptions{}, ErrExpired, 401},
		{"no iat", "GET", uri, hs("ck-a", good, func(c *Claims) { c.IssuedAt = nil }), VerifyOptions{}, ErrMissingClaim, 401},
		{"lifetime of 100 years", "GET", uri, hs("ck-a", good, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.AddDate(100, 0, 0)) }), VerifyOptions{}, ErrLifetimeTooLong, 401},
		{"lifetime just over an hour", "GET", uri, hs("ck-a", good, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(MaxTokenLifetime + time.Second)) }), VerifyOptions{}, ErrLifetimeTooLong, 401},
		{"huge exp number", "GET", uri, rawClaims(t, `{"iss":"ck-a","iat":1795000000,"exp":1e300,"qsh":"`+good+`"}`), VerifyOptions{}, ErrMalformedToken, 401},
		{"negative iat", "GET", uri, rawClaims(t, `{"iss":"ck-a","iat":-5,"exp":1795000000,"qsh":"`+good+`"}`), VerifyOptions{}, ErrMalformedToken, 401},
		{"iat in the future", "GET", uri, hs("ck-a", good, func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(5 * time.Minute)) }), VerifyOptions{}, ErrNotYetValid, 401},
		{"nbf in the future", "GET", uri, hs("ck-a", good, func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(5 * time.Minute)) }), VerifyOptions{}, ErrNotYetValid, 401},
		{"no qsh", "GET", uri, hs("ck-a", "", nil), VerifyOptions{}, ErrQSHMissing, 401},
		{"qsh of another path", "GET", uri, hs("ck-a", QSH(CanonicalRequest("GET", "/app/other", "/app")), nil), VerifyOptions{}, ErrQSHMismatch, 401},
		{"qsh of another method", "POST", uri, hs("ck-a", good, nil), VerifyOptions{}, ErrQSHMismatch, 401},
		{"qsh of another query", "GET", uri + "&extra=1", hs("ck-a", good, nil), VerifyOptions{}, ErrQSHMismatch, 401},
		{"context token on a request route", "GET", uri, hs("ck-a", ContextQSH, nil), VerifyOptions{}, ErrContextTokenNotAllowed, 401},
		{"context token on a context route", "GET", "/app/api/installation", hs("ck-a", ContextQSH, nil), VerifyOptions{Kind: ContextToken}, nil, 200},
		{"page token on a context route", "GET", uri, hs("ck-a", good, nil), VerifyOptions{Kind: ContextToken}, ErrContextTokenRequired, 401},
		{"disabled tenant", "GET", uri, sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-dis", good, nil), nil), VerifyOptions{}, ErrTenantDisabled, 403},
		{"disabled tenant on the enabled callback", "GET", uri, sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-dis", good, nil), nil), VerifyOptions{AllowDisabled: true}, nil, 200},
		{"uninstalled tenant", "GET", uri, sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-gone", good, nil), nil), VerifyOptions{AllowDisabled: true}, ErrTenantUninstalled, 403},
		{"tenant with a weak secret", "GET", uri, sign(t, jwt.SigningMethodHS256, []byte("short"), reqClaims("ck-weak", good, nil), nil), VerifyOptions{}, ErrWeakSecret, 401},
		{"empty HMAC key", "GET", uri, sign(t, jwt.SigningMethodHS256, []byte{}, reqClaims("ck-a", good, nil), nil), VerifyOptions{}, ErrBadSignature, 401},
		{"oversized token", "GET", uri, strings.Repeat("a", MaxTokenLength+1), VerifyOptions{}, ErrTokenTooLarge, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.method, tt.uri, tt.token, tt.opts)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got.Tenant == nil || got.AccountID() != "557058:user" {
					t.Fatalf("verified = %+v", got)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if p := ProblemFor(err); p.Status != tt.status || p.Code == "" {
				t.Fatalf("problem = %+v, want status %d", p, tt.status)
			}
		})
	}
}

// rawClaims signs literal claims JSON with the test secret.
func rawClaims(t *testing.T, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

func TestDependencyErrorsDoNotLeak(t *testing.T) {
	err := fmt.Errorf("%w: get tenant: failed to connect to user=postgres database=prod: 10.0.0.5:5432: connection refused", ErrStore)
	if p := ProblemFor(err); p.Status != 503 || strings.Contains(p.Message, "10.0.0.5") || strings.Contains(p.Message, "postgres") {
		t.Fatalf("problem leaks the dependency's error: %+v", p)
	}
}

func TestQSHMismatchReportsCanonical(t *testing.T) {
	v := NewRequestVerifier(newMemTenants(&tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}),
		RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return testNow }})
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-a", "deadbeef", nil), nil)
	_, err := v.Verify(context.Background(), "GET", "/admin?b=2&a=1", tok, VerifyOptions{})
	p := ProblemFor(err)
	if p.Code != "qsh_mismatch" || p.Canonical != "GET&/admin&a=1&b=2" {
		t.Fatalf("problem = %+v", p)
	}
}

func TestRequestVerifierRereadsTenantAfterRotation(t *testing.T) {
	old := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	m := newMemTenants(old)
	rotated := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: "rotated-secret-by-another-instance", State: tenant.StateInstalled}
	m.current["ck-a"] = rotated // another instance handled the reinstall
	v := NewRequestVerifier(m, RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return testNow }})
	qsh := QSH(CanonicalRequest("GET", "/x", ""))
	newTok := sign(t, jwt.SigningMethodHS256, []byte(rotated.SharedSecret), reqClaims("ck-a", qsh, nil), nil)
	if _, err := v.Verify(context.Background(), "GET", "/x", newTok, VerifyOptions{}); err != nil {
		t.Fatalf("token with the new secret refused: %v", err)
	}
	if m.fresh != 1 {
		t.Fatalf("fresh reads = %d, want 1", m.fresh)
	}
	oldTok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-a", qsh, nil), nil)
	if _, err := v.Verify(context.Background(), "GET", "/x", oldTok, VerifyOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("token with the old secret: %v", err)
	}
}

// keyServer serves PEM public keys by kid and counts fetches.
type keyServer struct {
	*httptest.Server
	hits  atomic.Int64
	keys  map[string]*rsa.PrivateKey
	fail  atomic.Int32 // status to answer instead, 0 = none
	delay time.Duration
}

func newKeyServer(t *testing.T, keys map[string]*rsa.PrivateKey) *keyServer {
	ks := &keyServer{keys: keys}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.hits.Add(1)
		if ks.delay > 0 {
			select {
			case <-time.After(ks.delay):
			case <-r.Context().Done():
				return
			}
		}
		if s := ks.fail.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		k, ok := ks.keys[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}))
	t.Cleanup(ks.Close)
	return ks
}

var (
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
)

func testRSAKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	rsaOnce.Do(func() {
		for i := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k
		}
	})
	return rsaKeys[0], rsaKeys[1]
}

func installClaims(iss, aud, qsh string, mod func(*Claims)) *Claims {
	c := &Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: iss, Subject: "admin-account", Audience: jwt.ClaimStrings{aud},
		IssuedAt: jwt.NewNumericDate(testNow.Add(-5 * time.Second)), ExpiresAt: jwt.NewNumericDate(testNow.Add(175 * time.Second)),
	}, QSH: qsh}
	if mod != nil {
		mod(c)
	}
	return c
}

func TestInstallVerifier(t *testing.T) {
	key, attacker := testRSAKeys(t)
	ks := newKeyServer(t, map[string]*rsa.PrivateKey{"kid-1": key})
	keys := NewInstallKeys(InstallKeysOptions{BaseURL: ks.URL, Timeout: 500 * time.Millisecond})
	const base = "https://doctor.example.com/app"
	v := NewInstallVerifier(keys, InstallVerifierOptions{BaseURL: base, Now: func() time.Time { return testNow }})
	qsh := QSH(CanonicalRequest("POST", "/app/installed", "/app"))
	rs := func(kid string, k *rsa.PrivateKey, c *Claims) string {
		h := map[string]any{}
		if kid != "" {
			h["kid"] = kid
		}
		return sign(t, jwt.SigningMethodRS256, k, c, h)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	tests := []struct {
		name      string
		token     string
		clientKey string
		want      error
		status    int
	}{
		{"valid", rs("kid-1", key, installClaims("ck-1", base, qsh, nil)), "ck-1", nil, 204},
		{"aud with trailing slash", rs("kid-1", key, installClaims("ck-1", base+"/", qsh, nil)), "ck-1", nil, 204},
		{"HS256 install", sign(t, jwt.SigningMethodHS256, []byte(testSecret), installClaims("ck-1", base, qsh, nil), map[string]any{"kid": "kid-1"}), "ck-1", ErrUnsupportedAlg, 401},
		{"HS256 keyed with the RSA public key PEM", sign(t, jwt.SigningMethodHS256, pemBytes, installClaims("ck-1", base, qsh, nil), map[string]any{"kid": "kid-1"}), "ck-1", ErrUnsupportedAlg, 401},
		{"forged with another RSA key", rs("kid-1", attacker, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrBadSignature, 401},
		{"no kid", rs("", key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrInvalidKID, 401},
		{"kid with slash", rs("a/b", key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrInvalidKID, 401},
		{"kid with dot-dot", rs("..", key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrInvalidKID, 401},
		{"kid with encoded slash", rs("a%2Fb", key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrInvalidKID, 401},
		{"kid with query", rs("a?x=1", key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrInvalidKID, 401},
		{"very long kid", rs(strings.Repeat("k", 200), key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrInvalidKID, 401},
		{"unknown kid", rs("kid-unknown", key, installClaims("ck-1", base, qsh, nil)), "ck-1", ErrUnknownKID, 401},
		{"wrong aud", rs("kid-1", key, installClaims("ck-1", "https://evil.example.com", qsh, nil)), "ck-1", ErrAudience, 401},
		{"iss differs from payload clientKey", rs("kid-1", key, installClaims("ck-1", base, qsh, nil)), "ck-2", ErrIssuerMismatch, 401},
		{"wrong qsh", rs("kid-1", key, installClaims("ck-1", base, QSH("POST&/uninstalled&"), nil)), "ck-1", ErrQSHMismatch, 401},
		{"context qsh on install", rs("kid-1", key, installClaims("ck-1", base, ContextQSH, nil)), "ck-1", ErrContextTokenNotAllowed, 401},
		{"no qsh", rs("kid-1", key, installClaims("ck-1", base, "", nil)), "ck-1", ErrQSHMissing, 401},
		{"expired", rs("kid-1", key, installClaims("ck-1", base, qsh, func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Minute)) })), "ck-1", ErrExpired, 401},
		{"no exp", rs("kid-1", key, installClaims("ck-1", base, qsh, func(c *Claims) { c.ExpiresAt = nil })), "ck-1", ErrMissingClaim, 401},
		{"no iat", rs("kid-1", key, installClaims("ck-1", base, qsh, func(c *Claims) { c.IssuedAt = nil })), "ck-1", ErrMissingClaim, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), "POST", "/app/installed", tt.token, tt.clientKey)
			if tt.want == nil {
				if err != nil || c.Issuer != "ck-1" {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if p := ProblemFor(err); p.Status != tt.status {
				t.Fatalf("status %d, want %d", p.Status, tt.status)
			}
		})
	}
}

func TestInstallKeysCacheAndFailures(t *testing.T) {
	key, _ := testRSAKeys(t)
	t.Run("one fetch for many concurrent installs", func(t *testing.T) {
		ks := newKeyServer(t, map[string]*rsa.PrivateKey{"kid-1": key})
		ks.delay = 20 * time.Millisecond
		keys := NewInstallKeys(InstallKeysOptions{BaseURL: ks.URL})
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := keys.Key(context.Background(), "kid-1"); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for range 10 {
			if _, err := keys.Key(context.Background(), "kid-1"); err != nil {
				t.Fatal(err)
			}
		}
		if n := ks.hits.Load(); n != 1 {
			t.Fatalf("key server hit %d times, want 1", n)
		}
	})
	t.Run("server error is unavailable, then cached keys keep working", func(t *testing.T) {
		ks := newKeyServer(t, map[string]*rsa.PrivateKey{"kid-1": key, "kid-2": key})
		keys := NewInstallKeys(InstallKeysOptions{BaseURL: ks.URL})
		if _, err := keys.Key(context.Background(), "kid-1"); err != nil {
			t.Fatal(err)
		}
		ks.fail.Store(500)
		_, err := keys.Key(context.Background(), "kid-2")
		if !errors.Is(err, ErrKeyServer) || ProblemFor(err).Status != 503 {
			t.Fatalf("500 from key server: %v", err)
		}
		if _, err := keys.Key(context.Background(), "kid-1"); err != nil {
			t.Fatalf("cached key: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		ks := newKeyServer(t, map[string]*rsa.PrivateKey{"kid-1": key})
		ks.delay = 2 * time.Second
		keys := NewInstallKeys(InstallKeysOptions{BaseURL: ks.URL, Timeout: 50 * time.Millisecond})
		start := time.Now()
		_, err := keys.Key(context.Background(), "kid-1")
		if !errors.Is(err, ErrKeyServer) || time.Since(start) > time.Second {
			t.Fatalf("timeout: %v after %v", err, time.Since(start))
		}
	})
	t.Run("not a PEM key", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>hi</html>") }))
		defer srv.Close()
		_, err := NewInstallKeys(InstallKeysOptions{BaseURL: srv.URL}).Key(context.Background(), "kid-1")
		if !errors.Is(err, ErrUnknownKID) {
			t.Fatalf("html body: %v", err)
		}
	})
}

func TestTokenFromRequest(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		query  string
		want   string
		err    error
	}{
		{"header", []string{"JWT abc.def.ghi"}, "", "abc.def.ghi", nil},
		{"header lower-case scheme", []string{"jwt abc.def.ghi"}, "", "abc.def.ghi", nil},
		{"query", nil, "jwt=abc.def.ghi&x=1", "abc.def.ghi", nil},
		{"same in both", []string{"JWT abc.def.ghi"}, "jwt=abc.def.ghi", "abc.def.ghi", nil},
		{"different in both", []string{"JWT abc.def.ghi"}, "jwt=xyz.def.ghi", "", ErrDuplicateToken},
		{"duplicate query", nil, "jwt=a.b.c&jwt=d.e.f", "", ErrDuplicateToken},
		{"duplicate through an encoded key", nil, "jwt=a.b.c&%6Awt=d.e.f", "", ErrDuplicateToken},
		{"repeated identical query", nil, "jwt=a.b.c&x=1&jwt=a.b.c", "a.b.c", nil},
		{"jwt-like keys are not the token", nil, "jwtx=a.b.c&xjwt=d", "", ErrNoToken},
		{"two headers", []string{"JWT a.b.c", "JWT a.b.c"}, "", "", ErrDuplicateToken},
		{"bearer scheme", []string{"Bearer abc.def.ghi"}, "", "", ErrAuthScheme},
		{"no scheme", []string{"abc.def.ghi"}, "", "", ErrAuthScheme},
		{"empty JWT", []string{"JWT "}, "", "", ErrAuthScheme},
		{"nothing", nil, "", "", ErrNoToken},
		{"oversized header", []string{"JWT " + strings.Repeat("a", MaxTokenLength+1)}, "", "", ErrTokenTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x?"+tt.query, nil)
			for _, h := range tt.header {
				r.Header.Add("Authorization", h)
			}
			got, err := TokenFromRequest(r)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func FuzzVerifyRequestToken(f *testing.F) {
	tn := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	v := NewRequestVerifier(newMemTenants(tn), RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return testNow }})
	good := QSH(CanonicalRequest("GET", "/x", ""))
	valid, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, reqClaims("ck-a", good, nil)).SignedString([]byte(testSecret))
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, reqClaims("ck-a", good, nil)).SignedString([]byte("attacker-secret-0123456789"))
	f.Add(valid)
	f.Add(forged)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJjay1hIn0.")
	f.Add(strings.Repeat(".", 1000))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		res, err := v.Verify(context.Background(), "GET", "/x", tok, VerifyOptions{})
		if err == nil {
			// Only a token signed with the tenant secret may pass; the
			// fuzzer cannot mint one except by reusing the seed.
			if _, perr := jwt.ParseWithClaims(tok, &Claims{}, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return testNow }), jwt.WithLeeway(DefaultLeeway)); perr != nil {
				t.Fatalf("accepted a token that does not verify with the secret: %q", tok)
			}
			if res.Tenant.ClientKey != "ck-a" {
				t.Fatalf("wrong tenant")
			}
			return
		}
		if p := ProblemFor(err); p.Status != 401 && p.Status != 403 {
			t.Fatalf("status %d for %v", p.Status, err)
		}
	})
}

func BenchmarkVerifyRequestToken(b *testing.B) {
	tn := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	v := NewRequestVerifier(newMemTenants(tn), RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return testNow }})
	uri := "/admin?lic=none&tz=Europe%2FBerlin&cp=&user_id=&loc=en-US&xdm_e=https%3A%2F%2Facme.atlassian.net&xdm_c=channel-x&xdm_p=1"
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, reqClaims("ck-a", QSH(CanonicalRequest("GET", uri, "")), nil)).SignedString([]byte(testSecret))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), "GET", uri, tok, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifiedTokenCacheNeverOutlivesTheTruth: a token verified once is
// remembered, but a reinstall (new secret), its expiry or an uninstall
// still refuse it.
func TestVerifiedTokenCacheNeverOutlivesTheTruth(t *testing.T) {
	now := testNow
	tn := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	m := newMemTenants(tn)
	v := NewRequestVerifier(m, RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return now }})
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-a", ContextQSH, nil), nil)
	ctxOpts := VerifyOptions{Kind: ContextToken}
	for i := range 3 {
		if _, err := v.Verify(context.Background(), "GET", "/api/x", tok, ctxOpts); err != nil {
			t.Fatalf("verify %d: %v", i, err)
		}
	}
	if v.verified.Len() != 1 {
		t.Fatalf("cache holds %d tokens", v.verified.Len())
	}
	// A context token cached on a context route is still refused on a page route.
	if _, err := v.Verify(context.Background(), "GET", "/admin", tok, VerifyOptions{}); !errors.Is(err, ErrContextTokenNotAllowed) {
		t.Fatalf("cached context token on a page route: %v", err)
	}
	// Uninstall: the cached token is refused with 403.
	m.mu.Lock()
	m.cached["ck-a"] = &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateUninstalled}
	m.mu.Unlock()
	if _, err := v.Verify(context.Background(), "GET", "/api/x", tok, ctxOpts); !errors.Is(err, ErrTenantUninstalled) {
		t.Fatalf("cached token after uninstall: %v", err)
	}
	// Reinstall with a new secret: the cached token no longer verifies.
	rotated := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: "a-brand-new-secret-after-reinstall", State: tenant.StateInstalled}
	m.mu.Lock()
	m.cached["ck-a"], m.current["ck-a"] = rotated, rotated
	m.mu.Unlock()
	if _, err := v.Verify(context.Background(), "GET", "/api/x", tok, ctxOpts); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("cached token after the secret rotated: %v", err)
	}
	// Expiry is checked on every hit.
	fresh := sign(t, jwt.SigningMethodHS256, []byte(rotated.SharedSecret), reqClaims("ck-a", ContextQSH, nil), nil)
	if _, err := v.Verify(context.Background(), "GET", "/api/x", fresh, ctxOpts); err != nil {
		t.Fatal(err)
	}
	// A record re-read from the store (another pointer) with the same
	// secret keeps the cached verification.
	reread := *rotated
	m.mu.Lock()
	m.cached["ck-a"] = &reread
	m.mu.Unlock()
	if _, err := v.Verify(context.Background(), "GET", "/api/x", fresh, ctxOpts); err != nil {
		t.Fatalf("cached token with a re-read record: %v", err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := v.Verify(context.Background(), "GET", "/api/x", fresh, ctxOpts); !errors.Is(err, ErrExpired) {
		t.Fatalf("cached token past exp: %v", err)
	}
}

// A cached page token remembers the request its qsh matched: the same
// request again is accepted without hashing, any other request is
// canonicalised and refused, and the first request still works after.
func TestVerifiedTokenRemembersItsQSHRequest(t *testing.T) {
	tn := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	v := NewRequestVerifier(newMemTenants(tn), RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return testNow }})
	uri := "/admin?lic=none&xdm_e=https%3A%2F%2Facme.atlassian.net"
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), reqClaims("ck-a", QSH(CanonicalRequest("GET", uri, "")), nil), nil)
	steps := []struct {
		name, method, uri string
		wantErr           error
	}{
		{"first sight", "GET", uri, nil},
		{"same request from the cache", "GET", uri, nil},
		{"another query", "GET", "/admin?lic=active&xdm_e=https%3A%2F%2Facme.atlassian.net", ErrQSHMismatch},
		{"another method", "POST", uri, ErrQSHMismatch},
		{"a longer URI with the same prefix", "GET", uri + "&x=1", ErrQSHMismatch},
		{"the jwt parameter is not part of qsh", "GET", uri + "&jwt=" + tok, nil},
		{"the first request again", "GET", uri, nil},
	}
	for _, st := range steps {
		_, err := v.Verify(context.Background(), st.method, st.uri, tok, VerifyOptions{})
		if (st.wantErr == nil) != (err == nil) || (st.wantErr != nil && !errors.Is(err, st.wantErr)) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
	}
	if v.verified.Len() != 1 {
		t.Fatalf("cache holds %d tokens", v.verified.Len())
	}
}

func BenchmarkVerifyRequestTokenCold(b *testing.B) {
	tn := &tenant.Tenant{ClientKey: "ck-a", SharedSecret: testSecret, State: tenant.StateInstalled}
	v := NewRequestVerifier(newMemTenants(tn), RequestVerifierOptions{AppKey: "app", Now: func() time.Time { return testNow }, VerifiedCacheSize: -1})
	uri := "/admin?lic=none&tz=Europe%2FBerlin&cp=&user_id=&loc=en-US&xdm_e=https%3A%2F%2Facme.atlassian.net&xdm_c=channel-x&xdm_p=1"
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, reqClaims("ck-a", QSH(CanonicalRequest("GET", uri, "")), nil)).SignedString([]byte(testSecret))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), "GET", uri, tok, VerifyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
