package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

var (
	keyOnce sync.Once
	siteKey *rsa.PrivateKey
)

// fakeAtlassian signs lifecycle callbacks as Jira does and serves the key.
type fakeAtlassian struct {
	keys *httptest.Server
	kid  string
	key  *rsa.PrivateKey
}

func newFakeAtlassian(t testing.TB) *fakeAtlassian {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		siteKey = k
	})
	f := &fakeAtlassian{kid: "test-kid-1", key: siteKey}
	f.keys = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimPrefix(r.URL.Path, "/") != f.kid {
			http.NotFound(w, r)
			return
		}
		der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}))
	t.Cleanup(f.keys.Close)
	return f
}

type harness struct {
	t    testing.TB
	app  *app.App
	srv  *httptest.Server
	fake *fakeAtlassian
	logs *bytes.Buffer
	base string // the app's BASE_URL (aud of install tokens)
	addr string // where this instance listens
}

func newHarness(t testing.TB, databaseURL string) *harness {
	t.Helper()
	return newHarnessWith(t, databaseURL, newFakeAtlassian(t), "")
}

// newHarnessWith builds an instance; with publicBase set, the app believes
// it is reached at that URL (several instances behind one load balancer)
// while it listens on its own loopback port.
func newHarnessWith(t testing.TB, databaseURL string, fake *fakeAtlassian, publicBase string) *harness {
	t.Helper()
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &harness{t: t, fake: fake, logs: logs}
	// The app's base URL must be known before the listener starts.
	h.srv = httptest.NewUnstartedServer(nil)
	h.addr = "http://" + h.srv.Listener.Addr().String()
	h.base = h.addr
	if publicBase != "" {
		h.base = publicBase
	}
	env := map[string]string{
		"BASE_URL": h.base, "DATA_DIR": t.TempDir(), "CONNECT_INSTALL_KEYS_URL": fake.keys.URL,
		"ALLOWED_HOSTS": "*.atlassian.net,127.0.0.1:9", "DATABASE_URL": databaseURL,
		"ENCRYPTION_KEY": strings.Repeat("ab", 32),
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, app.BuildOptions{Logger: logger, Version: "test", Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	h.app = app
	h.srv.Config.Handler = app.Server.Handler()
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func payload(clientKey, secret, event string) map[string]any {
	return map[string]any{
		"key": "connect-doctor", "clientKey": clientKey, "sharedSecret": secret, "serverVersion": "1",
		"pluginsVersion": "1.0", "baseUrl": "https://acme.atlassian.net", "displayUrl": "https://jira.acme.com",
		"productType": "jira", "description": "Acme Jira", "serviceEntitlementNumber": "SEN-1", "eventType": event,
		"oauthClientId": "oauth-1", "cloudId": "cloud-1", "installationId": "ari:cloud:ecosystem::installation/1",
	}
}

// signedLifecycle posts an RS256-signed installed/uninstalled callback.
func (h *harness) signedLifecycle(path string, body map[string]any, mod func(*connect.Claims)) *http.Response {
	b, auth := h.signLifecycle(path, body, mod)
	return h.do("POST", path, auth, b)
}

// signLifecycle returns the body and Authorization header of a signed
// lifecycle callback.
func (h *harness) signLifecycle(path string, body map[string]any, mod func(*connect.Claims)) ([]byte, string) {
	b, _ := json.Marshal(body)
	now := time.Now()
	c := &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: body["clientKey"].(string), Subject: "admin", Audience: jwt.ClaimStrings{h.base},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
	}, QSH: connect.RequestQSH("POST", path, "")}
	if mod != nil {
		mod(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = h.fake.kid
	s, _ := tok.SignedString(h.fake.key)
	return b, "JWT " + s
}

// hsToken mints an HS256 request token as Jira does.
func hsToken(clientKey, secret, method, uri string) string {
	now := time.Now()
	c := &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: clientKey, Subject: "user-1", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
	}, QSH: connect.RequestQSH(method, uri, "")}
	s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	return s
}

func contextToken(clientKey, secret string) string {
	now := time.Now()
	c := &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: clientKey, Subject: "user-1", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
	}, QSH: connect.ContextQSH}
	s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	return s
}

func (h *harness) do(method, path, auth string, body []byte) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.addr+path, bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var body httperr.Body
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("status %d: body is not the error envelope: %v", resp.StatusCode, err)
	}
	return body.Error.Code
}

func eachDatabase(t *testing.T, f func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newHarness(t, "")) })
	t.Run("postgres", func(t *testing.T) { f(t, newHarness(t, storagetest.PostgresURL(t))) })
}

func TestLifecycleEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, h *harness) {
		const oldSecret = "first-shared-secret-0123456789abcdef"
		const newSecret = "second-shared-secret-0123456789abcdef"
		if r := h.signedLifecycle("/installed", payload("ck-e2e", oldSecret, "installed"), nil); r.StatusCode != 204 {
			t.Fatalf("install: %d %s", r.StatusCode, errorCode(t, r))
		}
		page := "/admin?lic=none&xdm_e=https%3A%2F%2Facme.atlassian.net"
		if r := h.do("GET", page, "JWT "+hsToken("ck-e2e", oldSecret, "GET", page), nil); r.StatusCode != 200 {
			t.Fatalf("page with the installed secret: %d", r.StatusCode)
		}
		// Reinstall rotates the secret.
		if r := h.signedLifecycle("/installed", payload("ck-e2e", newSecret, "installed"), nil); r.StatusCode != 204 {
			t.Fatalf("reinstall: %d", r.StatusCode)
		}
		if r := h.do("GET", page, "JWT "+hsToken("ck-e2e", oldSecret, "GET", page), nil); r.StatusCode != 401 || errorCode(t, r) != "bad_signature" {
			t.Fatalf("old secret after reinstall: %d", r.StatusCode)
		}
		if r := h.do("GET", page, "JWT "+hsToken("ck-e2e", newSecret, "GET", page), nil); r.StatusCode != 200 {
			t.Fatalf("new secret after reinstall: %d", r.StatusCode)
		}
		// Context token on the API route; refused on the page route.
		r := h.do("GET", "/api/installation", "JWT "+contextToken("ck-e2e", newSecret), nil)
		if r.StatusCode != 200 {
			t.Fatalf("context route: %d", r.StatusCode)
		}
		raw, _ := io.ReadAll(r.Body)
		if strings.Contains(string(raw), newSecret) || !strings.Contains(string(raw), `"clientKey":"ck-e2e"`) {
			t.Fatalf("installation view: %s", raw)
		}
		if r := h.do("GET", page, "JWT "+contextToken("ck-e2e", newSecret), nil); r.StatusCode != 401 || errorCode(t, r) != "context_token_not_allowed" {
			t.Fatalf("context token on a page: %d", r.StatusCode)
		}
		// Disable, then enable.
		dis := payload("ck-e2e", "", "disabled")
		b, _ := json.Marshal(dis)
		if r := h.do("POST", "/disabled", "JWT "+hsToken("ck-e2e", newSecret, "POST", "/disabled"), b); r.StatusCode != 204 {
			t.Fatalf("disabled: %d", r.StatusCode)
		}
		if r := h.do("GET", page, "JWT "+hsToken("ck-e2e", newSecret, "GET", page), nil); r.StatusCode != 403 || errorCode(t, r) != "tenant_disabled" {
			t.Fatalf("page while disabled: %d", r.StatusCode)
		}
		en, _ := json.Marshal(payload("ck-e2e", "", "enabled"))
		if r := h.do("POST", "/enabled", "JWT "+hsToken("ck-e2e", newSecret, "POST", "/enabled"), en); r.StatusCode != 204 {
			t.Fatalf("enabled: %d", r.StatusCode)
		}
		if r := h.do("GET", page, "JWT "+hsToken("ck-e2e", newSecret, "GET", page), nil); r.StatusCode != 200 {
			t.Fatalf("page after enable: %d", r.StatusCode)
		}
		// Uninstall: row kept, tokens refused with 403.
		if r := h.signedLifecycle("/uninstalled", payload("ck-e2e", "", "uninstalled"), nil); r.StatusCode != 204 {
			t.Fatalf("uninstall: %d", r.StatusCode)
		}
		if r := h.do("GET", page, "JWT "+hsToken("ck-e2e", newSecret, "GET", page), nil); r.StatusCode != 403 || errorCode(t, r) != "tenant_uninstalled" {
			t.Fatalf("page after uninstall: %d", r.StatusCode)
		}
		if r := h.do("POST", "/enabled", "JWT "+hsToken("ck-e2e", newSecret, "POST", "/enabled"), en); r.StatusCode != 403 {
			t.Fatalf("enabled replay after uninstall: %d", r.StatusCode)
		}
		tn, err := h.app.Store.Get(context.Background(), "ck-e2e")
		if err != nil || tn.State != tenant.StateUninstalled {
			t.Fatalf("stored tenant: %+v %v", tn, err)
		}
		evs, _ := h.app.Store.Events(context.Background(), "ck-e2e", 50)
		if len(evs) < 6 { // 5 accepted + the refused replay
			t.Fatalf("lifecycle log has %d events", len(evs))
		}
		// No secret in the logs or in plain text in the database.
		logs := h.logs.String()
		for _, s := range []string{oldSecret, newSecret} {
			if strings.Contains(logs, s) {
				t.Fatal("a shared secret reached the logs")
			}
			var n int64
			h.app.DB.Gorm.Raw("SELECT count(*) FROM tenants WHERE shared_secret_enc LIKE ?", "%"+s+"%").Scan(&n)
			if n != 0 {
				t.Fatal("a shared secret is stored in plain text")
			}
		}
		if strings.Contains(logs, "eyJ") {
			t.Fatal("a JWT reached the logs")
		}
	})
}

func TestInstallRejections(t *testing.T) {
	eachDatabase(t, func(t *testing.T, h *harness) {
		const secret = "install-secret-0123456789abcdef"
		tests := []struct {
			name   string
			path   string
			body   func() map[string]any
			mod    func(*connect.Claims)
			raw    []byte // instead of a signed body
			auth   string
			status int
			code   string
		}{
			{name: "host not allowed", path: "/installed", body: func() map[string]any {
				p := payload("ck-r", secret, "installed")
				p["baseUrl"] = "https://evil.example.com"
				return p
			}, status: 403, code: "host_not_allowed"},
			{name: "userinfo trick", path: "/installed", body: func() map[string]any {
				p := payload("ck-r", secret, "installed")
				p["baseUrl"] = "https://x.atlassian.net@evil.com"
				return p
			}, status: 403, code: "host_not_allowed"},
			{name: "http site", path: "/installed", body: func() map[string]any {
				p := payload("ck-r", secret, "installed")
				p["baseUrl"] = "http://acme.atlassian.net"
				return p
			}, status: 403, code: "host_not_allowed"},
			{name: "private IP", path: "/installed", body: func() map[string]any {
				p := payload("ck-r", secret, "installed")
				p["baseUrl"] = "https://10.0.0.1"
				return p
			}, status: 403, code: "host_not_allowed"},
			{name: "short secret", path: "/installed", body: func() map[string]any { return payload("ck-r", "short", "installed") }, status: 400, code: "payload_invalid"},
			{name: "missing clientKey", path: "/installed", body: func() map[string]any {
				p := payload("ck-r", secret, "installed")
				delete(p, "clientKey")
				p["clientKey"] = ""
				return p
			}, status: 400, code: "payload_invalid"},
			{name: "wrong app key", path: "/installed", body: func() map[string]any {
				p := payload("ck-r", secret, "installed")
				p["key"] = "other-app"
				return p
			}, status: 400, code: "wrong_app_key"},
			{name: "clientKey mismatch", path: "/installed", body: func() map[string]any { return payload("ck-r", secret, "installed") },
				mod: func(c *connect.Claims) { c.Issuer = "ck-other" }, status: 401, code: "client_key_mismatch"},
			{name: "wrong audience", path: "/installed", body: func() map[string]any { return payload("ck-r", secret, "installed") },
				mod: func(c *connect.Claims) { c.Audience = jwt.ClaimStrings{"https://other.example.com"} }, status: 401, code: "wrong_audience"},
			{name: "malformed JSON", path: "/installed", raw: []byte(`{"clientKey":`), auth: "JWT x.y.z", status: 400, code: "payload_malformed"},
			{name: "unsigned install", path: "/installed", raw: mustJSON(payload("ck-r", secret, "installed")), status: 401, code: "no_token"},
			{name: "HS256 install", path: "/installed", raw: mustJSON(payload("ck-r", secret, "installed")),
				auth: "JWT " + hsToken("ck-r", secret, "POST", "/installed"), status: 401, code: "unsupported_alg"},
			{name: "oversized body", path: "/installed", raw: bytes.Repeat([]byte("x"), connect.MaxLifecycleBody+10), auth: "JWT x.y.z", status: 413, code: "payload_too_large"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var r *http.Response
				if tt.raw != nil {
					r = h.do("POST", tt.path, tt.auth, tt.raw)
				} else {
					r = h.signedLifecycle(tt.path, tt.body(), tt.mod)
				}
				if r.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
				}
				if c := errorCode(t, r); c != tt.code {
					t.Fatalf("code %q, want %q", c, tt.code)
				}
			})
		}
		if _, err := h.app.Store.Get(context.Background(), "ck-r"); err == nil {
			t.Fatal("a rejected install stored a tenant")
		}
		evs, _ := h.app.Store.Events(context.Background(), "", 100)
		rejected := 0
		for _, e := range evs {
			if e.Outcome == storage.OutcomeRejected {
				rejected++
			}
		}
		if rejected < len(tests)-2 {
			t.Fatalf("only %d rejected attempts logged", rejected)
		}
	})
}

func TestConcurrentInstallsSameClientKey(t *testing.T) {
	eachDatabase(t, func(t *testing.T, h *harness) {
		var wg sync.WaitGroup
		codes := make(chan int, 12)
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := h.signedLifecycle("/installed", payload("ck-conc", fmt.Sprintf("concurrent-secret-%02d-0123456789", i), "installed"), nil)
				codes <- r.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != 204 {
				t.Fatalf("concurrent install answered %d", c)
			}
		}
		tn, err := h.app.Store.Get(context.Background(), "ck-conc")
		if err != nil || !strings.HasPrefix(tn.SharedSecret, "concurrent-secret-") {
			t.Fatalf("stored: %+v %v", tn, err)
		}
		page := "/admin"
		if r := h.do("GET", page, "JWT "+hsToken("ck-conc", tn.SharedSecret, "GET", page), nil); r.StatusCode != 200 {
			t.Fatalf("stored secret does not verify: %d", r.StatusCode)
		}
	})
}

func TestHealthAndUnknownRoutes(t *testing.T) {
	h := newHarness(t, "")
	if r := h.do("GET", "/healthz", "", nil); r.StatusCode != 200 {
		t.Fatalf("healthz %d", r.StatusCode)
	}
	if r := h.do("GET", "/readyz", "", nil); r.StatusCode != 200 {
		t.Fatalf("readyz %d", r.StatusCode)
	}
	if r := h.do("GET", "/nope", "", nil); r.StatusCode != 404 || errorCode(t, r) != "not_found" {
		t.Fatalf("unknown route %d", r.StatusCode)
	}
	r := h.do("GET", "/atlassian-connect.json", "", nil)
	var d connect.Descriptor
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.BaseURL != h.base || d.Key != "connect-doctor" {
		t.Fatalf("descriptor: %+v %v", d, err)
	}
	h.app.DB.Close()
	if r := h.do("GET", "/readyz", "", nil); r.StatusCode != 503 {
		t.Fatalf("readyz with the database closed: %d", r.StatusCode)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
