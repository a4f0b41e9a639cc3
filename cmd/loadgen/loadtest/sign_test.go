package loadtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

// testSigner shares one RSA key between the tests (generation is slow).
func testSigner(t *testing.T) *InstallSigner {
	t.Helper()
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	s, err := newInstallSigner("loadgen-test-kid", testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lookup is a one-tenant store for the request verifier.
type lookup struct{ t *tenant.Tenant }

func (l lookup) LookupTenant(_ context.Context, clientKey string, _ bool) (*tenant.Tenant, error) {
	if l.t == nil || clientKey != l.t.ClientKey {
		return nil, connect.ErrUnknownTenant
	}
	return l.t, nil
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func stored(t Tenant, secret string) lookup {
	return lookup{&tenant.Tenant{ClientKey: t.ClientKey, SharedSecret: secret, State: tenant.StateInstalled}}
}

func TestRequestTokenVerifies(t *testing.T) {
	ten := NewSeed().Tenants(3)[2]
	tests := []struct {
		name      string
		basePath  string
		signURI   string // what the token's qsh covers
		sendURI   string // what the app receives
		secret    string // what the app stored
		verifyAt  time.Time
		wantErr   error
		wantAccID string
	}{
		{name: "admin page", signURI: pageURI("", ten), sendURI: pageURI("", ten) + "&jwt=x", secret: ten.Secret, verifyAt: fixedNow, wantAccID: "557058:u1"},
		{name: "base path removed", basePath: "/doctor", signURI: pageURI("/doctor", ten), sendURI: pageURI("/doctor", ten), secret: ten.Secret, verifyAt: fixedNow, wantAccID: "557058:u1"},
		{name: "within the 30s leeway after exp", signURI: "/admin", sendURI: "/admin", secret: ten.Secret, verifyAt: fixedNow.Add(JiraPageTokenTTL + 20*time.Second), wantAccID: "557058:u1"},
		{name: "other secret", signURI: "/admin", sendURI: "/admin", secret: "another-secret-0123456789abcdef0123", verifyAt: fixedNow, wantErr: connect.ErrBadSignature},
		{name: "other query", signURI: "/admin?a=1", sendURI: "/admin?a=2", secret: ten.Secret, verifyAt: fixedNow, wantErr: connect.ErrQSHMismatch},
		{name: "expired", signURI: "/admin", sendURI: "/admin", secret: ten.Secret, verifyAt: fixedNow.Add(JiraPageTokenTTL + time.Minute), wantErr: connect.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := RequestToken(ten, "557058:u1", "GET", tt.signURI, tt.basePath, fixedNow, JiraPageTokenTTL)
			if err != nil {
				t.Fatal(err)
			}
			v := connect.NewRequestVerifier(stored(ten, tt.secret), connect.RequestVerifierOptions{
				AppKey: "connect-doctor", BasePath: tt.basePath, Now: func() time.Time { return tt.verifyAt }})
			got, err := v.Verify(context.Background(), "GET", tt.sendURI, tok, connect.VerifyOptions{Kind: connect.RequestToken})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("minted request token refused: %v", err)
			}
			if got.Tenant.ClientKey != ten.ClientKey || got.AccountID() != tt.wantAccID || got.Claims.QSH == connect.ContextQSH {
				t.Fatalf("verified %+v", got.Claims)
			}
		})
	}
}

func TestContextTokenVerifies(t *testing.T) {
	ten := NewSeed().Tenants(1)[0]
	tok, err := ContextToken(ten, "", fixedNow, JiraContextTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	v := connect.NewRequestVerifier(stored(ten, ten.Secret), connect.RequestVerifierOptions{Now: func() time.Time { return fixedNow.Add(14 * time.Minute) }})
	got, err := v.Verify(context.Background(), "GET", "/api/installation", tok, connect.VerifyOptions{Kind: connect.ContextToken})
	if err != nil {
		t.Fatalf("minted context token refused: %v", err)
	}
	if got.Claims.QSH != connect.ContextQSH || got.AccountID() != "" {
		t.Fatalf("claims %+v", got.Claims)
	}
	// A context token is no page token.
	if _, err := v.Verify(context.Background(), "GET", "/admin", tok, connect.VerifyOptions{Kind: connect.RequestToken}); !errors.Is(err, connect.ErrContextTokenNotAllowed) {
		t.Fatalf("context token on a page: %v", err)
	}
}

func TestInstallTokenVerifiesWithKeyServer(t *testing.T) {
	s := testSigner(t)
	ks := httptest.NewServer(s)
	defer ks.Close()
	keys := connect.NewInstallKeys(connect.InstallKeysOptions{BaseURL: ks.URL})
	const app = "http://127.0.0.1:8080/doctor"
	ten := NewSeed().Tenants(1)[0]
	tok, err := s.InstallToken(ten.ClientKey, app, "POST", "/doctor/installed", fixedNow, JiraPageTokenTTL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		baseURL string
		uri     string
		client  string
		wantErr error
	}{
		{name: "as Jira signs it", baseURL: app, uri: "/doctor/installed", client: ten.ClientKey},
		{name: "other app", baseURL: "https://other.example.com", uri: "/doctor/installed", client: ten.ClientKey, wantErr: connect.ErrAudience},
		{name: "other clientKey in the payload", baseURL: app, uri: "/doctor/installed", client: "someone-else", wantErr: connect.ErrIssuerMismatch},
		{name: "replayed on uninstalled", baseURL: app, uri: "/doctor/uninstalled", client: ten.ClientKey, wantErr: connect.ErrQSHMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := connect.NewInstallVerifier(keys, connect.InstallVerifierOptions{BaseURL: tt.baseURL, Now: func() time.Time { return fixedNow.Add(time.Minute) }})
			c, err := v.Verify(context.Background(), "POST", tt.uri, tok, tt.client)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("minted install token refused: %v", err)
			}
			if c.Issuer != ten.ClientKey || c.ExpiresAt.Sub(c.IssuedAt.Time) != JiraPageTokenTTL {
				t.Fatalf("claims %+v", c)
			}
		})
	}
	if keys.Cached() != 1 {
		t.Fatalf("%d keys cached, want the one kid", keys.Cached())
	}
}

func TestKeyServer(t *testing.T) {
	s := testSigner(t)
	ks := httptest.NewServer(s)
	defer ks.Close()
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/" + s.KID, 200, "-----BEGIN PUBLIC KEY-----"},
		{"GET", "/other-kid", 404, ""},
		{"GET", "/", 404, ""},
		{"POST", "/" + s.KID, 405, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, ks.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.HasPrefix(string(b), tt.body) {
			t.Errorf("%s %s: %d %.40q", tt.method, tt.path, resp.StatusCode, b)
		}
	}
}

func TestSeedTenants(t *testing.T) {
	seed := NewSeed()
	a, b := seed.Tenants(50), seed.Tenants(50)
	other := NewSeed().Tenants(50)
	secrets := map[string]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("tenant %d differs for one seed: %+v %+v", i, a[i], b[i])
		}
		if len(a[i].Secret) < 32 || secrets[a[i].Secret] {
			t.Fatalf("secret %d is short or repeated", i)
		}
		secrets[a[i].Secret] = true
		if a[i].ClientKey == other[i].ClientKey || a[i].Secret == other[i].Secret {
			t.Fatalf("two seeds share tenant %d", i)
		}
		p := InstallPayload(a[i], "connect-doctor")
		if _, err := connect.ParsePayload(mustJSON(t, p), connect.EventInstalled); err != nil {
			t.Fatalf("install payload refused: %v", err)
		}
	}
	if !strings.HasSuffix(a[7].BaseURL, ".atlassian.net") {
		t.Fatalf("base URL %s is not allowed by default", a[7].BaseURL)
	}
	back, err := ParseSeed(seed.String())
	if err != nil || back.String() != seed.String() {
		t.Fatalf("seed round trip: %v", err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("zz", 16), strings.Repeat("ab", 17)} {
		if _, err := ParseSeed(bad); err == nil {
			t.Errorf("ParseSeed(%q) accepted", bad)
		}
	}
}

// Every kind, the baseline included, is sent with the headers a browser
// sends, so that the app answers them as it answers Jira's iframe and the
// panel's fetch() calls, and the baseline is measured the same way.
func TestRequestsCarryBrowserHeaders(t *testing.T) {
	target := Target{URL: "http://127.0.0.1:1", AppBaseURL: "http://127.0.0.1:1"}
	plan := &AuthPlan{Target: target, Tenants: NewSeed().Tenants(3), PerTenant: 2, ContextShare: 0.5,
		PageTTL: JiraPageTokenTTL, ContextTTL: JiraContextTokenTTL}
	if err := plan.Sign(fixedNow); err != nil {
		t.Fatal(err)
	}
	var reqs []*http.Request
	for _, byKind := range *plan.pool.Load() {
		for _, rs := range byKind {
			reqs = append(reqs, rs...)
		}
	}
	base, err := BaselinePicker(target)
	if err != nil {
		t.Fatal(err)
	}
	reqs = append(reqs, base(nil).HTTP)
	if len(reqs) != 3*2*2+1 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		if r.Header.Get("Accept-Encoding") != acceptEncoding || r.Header.Get("User-Agent") != userAgent {
			t.Fatalf("%s %s: Accept-Encoding %q, User-Agent %q", r.Method, r.URL.Path, r.Header.Get("Accept-Encoding"), r.Header.Get("User-Agent"))
		}
	}
}
