package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// The attack matrix: every way issue 7 §1 lists to get a request, a
// lifecycle callback or a check accepted without the right credentials,
// each sent to the real router of a fully built app (SQLite and
// PostgreSQL), asserting the status, the error code and that nothing was
// stored or changed.

var (
	attackerOnce sync.Once
	attackerKey  *rsa.PrivateKey
)

// attackerRSA is an RSA key that Atlassian's key server does not know.
func attackerRSA() *rsa.PrivateKey {
	attackerOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		attackerKey = k
	})
	return attackerKey
}

// Tenants of the matrix and their secrets.
const (
	ckA, ckB, ckDisabled, ckUninstalled, ckWeak = "ck-a", "ck-b", "ck-disabled", "ck-uninstalled", "ck-weak"
	secretA                                     = "tenant-a-shared-secret-0123456789abcdef"
	secretB                                     = "tenant-b-shared-secret-0123456789abcdef"
	secretDisabled                              = "tenant-disabled-secret-0123456789abcdef"
	secretUninstalled                           = "tenant-uninstalled-secret-0123456789abc"
	secretWeak                                  = "short-secr" // 10 bytes: stored by an old version, never by the lifecycle
	pagePath                                    = "/admin?lic=none&xdm_e=https%3A%2F%2Facme.atlassian.net"
)

// attackEnv is one app with the matrix's tenants installed, and a canary
// server that SSRF attempts try to reach.
type attackEnv struct {
	t      *testing.T
	h      *harness
	canary *httptest.Server
	hits   atomic.Int64
}

func newAttackEnv(t *testing.T, databaseURL string) *attackEnv {
	t.Helper()
	e := &attackEnv{t: t, h: newHarness(t, databaseURL)}
	e.canary = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		w.WriteHeader(200)
	}))
	t.Cleanup(e.canary.Close)
	for _, ten := range []struct{ ck, secret string }{{ckA, secretA}, {ckB, secretB}, {ckDisabled, secretDisabled}, {ckUninstalled, secretUninstalled}} {
		if r := e.h.signedLifecycle("/installed", payload(ten.ck, ten.secret, "installed"), nil); r.StatusCode != 204 {
			t.Fatalf("install %s: %d %s", ten.ck, r.StatusCode, errorCode(t, r))
		}
	}
	if r := e.h.do("POST", "/disabled", "JWT "+hsToken(ckDisabled, secretDisabled, "POST", "/disabled"), mustJSON(payload(ckDisabled, "", "disabled"))); r.StatusCode != 204 {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	if r := e.h.signedLifecycle("/uninstalled", payload(ckUninstalled, "", "uninstalled"), nil); r.StatusCode != 204 {
		t.Fatalf("uninstall: %d", r.StatusCode)
	}
	// A secret shorter than MinSecretLength can only come from an older
	// version or a manual edit; the verifier must still refuse it as a key.
	weak := &tenant.Tenant{ClientKey: ckWeak, AppKey: "connect-doctor", BaseURL: "https://weak.atlassian.net", SharedSecret: secretWeak}
	if err := e.h.app.Store.SaveInstall(context.Background(), weak); err != nil {
		t.Fatal(err)
	}
	return e
}

// snapshot is every tenant row (secrets as stored, states, timestamps) and
// the number of stored checks.
func (e *attackEnv) snapshot() string {
	e.t.Helper()
	var rows []storage.TenantRow
	if err := e.h.app.DB.Gorm.Order("client_key").Find(&rows).Error; err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	var checks int64
	if err := e.h.app.DB.Gorm.Model(&storage.CheckRow{}).Count(&checks).Error; err != nil {
		e.t.Fatalf("snapshot: %v", err)
	}
	b, _ := json.Marshal(rows)
	return fmt.Sprintf("%d tenants, %d checks: %s", len(rows), checks, b)
}

// --- token minting -------------------------------------------------------

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rawJSON marshals v unless it already is raw JSON text.
func rawJSON(v any) []byte {
	switch x := v.(type) {
	case string:
		return []byte(x)
	case []byte:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// mintHS signs header.claims with HMAC-SHA256 under key, whatever the
// header says (so "alg" can lie).
func mintHS(header, claims any, key []byte) string {
	signing := b64(rawJSON(header)) + "." + b64(rawJSON(claims))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

var hsHeader = map[string]any{"typ": "JWT", "alg": "HS256"}

// reqClaims are the claims Jira puts in a request token for method/uri.
func reqClaims(iss, method, uri string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": iss, "sub": "user-1", "iat": now.Unix(), "exp": now.Add(3 * time.Minute).Unix(),
		"qsh": connect.RequestQSH(method, uri, "")}
}

// with returns a copy of m with the changes applied (nil value deletes).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func pageClaims(iss string) map[string]any { return reqClaims(iss, "GET", pagePath) }

func ctxClaims(iss string) map[string]any {
	return with(reqClaims(iss, "GET", "/"), "qsh", connect.ContextQSH, "context",
		map[string]any{"user": map[string]any{"accountId": "user-1"}})
}

// mintRS signs claims RS256 with key and the given header fields.
func mintRS(key *rsa.PrivateKey, header map[string]any, claims map[string]any) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

// installClaims are the claims of a genuine lifecycle callback to path.
func (e *attackEnv) installClaims(iss, path string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": iss, "sub": "admin", "aud": []string{e.h.base}, "iat": now.Unix(),
		"exp": now.Add(3 * time.Minute).Unix(), "qsh": connect.RequestQSH("POST", path, "")}
}

func rsaPublicPEM(k *rsa.PrivateKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// --- requests -------------------------------------------------------------

// request builds a request to the app. headers are name/value pairs; a
// name may repeat.
func (e *attackEnv) request(method, pathAndQuery string, body []byte, headers ...string) *http.Request {
	req, err := http.NewRequest(method, e.h.addr+pathAndQuery, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

func (e *attackEnv) page(token string) *http.Request {
	return e.request("GET", pagePath, nil, "Authorization", "JWT "+token)
}

func (e *attackEnv) ctxGET(token string) *http.Request {
	return e.request("GET", "/api/installation", nil, "Authorization", "JWT "+token)
}

func (e *attackEnv) lifecycle(path, token string, body map[string]any) *http.Request {
	return e.request("POST", path, mustJSON(body), "Authorization", "JWT "+token)
}

// check is POST /api/checks as tenant A's viewer asking for path.
func (e *attackEnv) check(path string) *http.Request {
	body := mustJSON(map[string]any{"method": "GET", "path": path, "as": "app"})
	return e.request("POST", "/api/checks", body, "Authorization", "JWT "+mintHS(hsHeader, ctxClaims(ckA), []byte(secretA)))
}

func (e *attackEnv) canaryHost() string { return strings.TrimPrefix(e.canary.URL, "http://") }

// attackCase is one attack: what it models, the request, the answer.
type attackCase struct {
	name   string
	attack string
	req    func(e *attackEnv) *http.Request
	status int
	code   string
}

func attackCases() []attackCase {
	rs := func(kid string, key *rsa.PrivateKey) func(e *attackEnv) *http.Request {
		return func(e *attackEnv) *http.Request {
			p := payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed")
			return e.lifecycle("/installed", mintRS(key, map[string]any{"kid": kid}, e.installClaims(ckA, "/installed")), p)
		}
	}
	badBase := func(base string) func(e *attackEnv) *http.Request {
		return func(e *attackEnv) *http.Request {
			p := payload("ck-new", "new-tenant-secret-0123456789abcdef", "installed")
			p["baseUrl"] = base
			b, auth := e.h.signLifecycle("/installed", p, nil)
			return e.request("POST", "/installed", b, "Authorization", auth)
		}
	}
	// genuine signs an install callback for clientKey ck-new as Atlassian
	// would, after changing the payload and the claims.
	genuine := func(path string, body func(map[string]any), claims func(e *attackEnv, c map[string]any)) func(e *attackEnv) *http.Request {
		return func(e *attackEnv) *http.Request {
			event := strings.TrimPrefix(path, "/")
			p := payload("ck-new", "new-tenant-secret-0123456789abcdef", event)
			if body != nil {
				body(p)
			}
			c := e.installClaims("ck-new", path)
			if claims != nil {
				claims(e, c)
			}
			return e.lifecycle(path, mintRS(e.h.fake.key, map[string]any{"kid": e.h.fake.kid}, c), p)
		}
	}
	page := func(header, claims any, key string) func(e *attackEnv) *http.Request {
		return func(e *attackEnv) *http.Request { return e.page(mintHS(header, claims, []byte(key))) }
	}
	pageA := func(claims map[string]any) func(e *attackEnv) *http.Request {
		return page(hsHeader, claims, secretA)
	}
	alg := func(a string) func(e *attackEnv) *http.Request {
		return page(map[string]any{"typ": "JWT", "alg": a}, pageClaims(ckA), secretA)
	}
	now := time.Now()
	ssrf := func(path func(e *attackEnv) string) func(e *attackEnv) *http.Request {
		return func(e *attackEnv) *http.Request { return e.check(path(e)) }
	}
	fixed := func(p string) func(e *attackEnv) string { return func(*attackEnv) string { return p } }

	return []attackCase{
		// alg confusion on request routes
		{"alg none", "unsigned token with alg none on a page route", alg("none"), 401, "unsupported_alg"},
		{"alg None", "alg none with different case (None)", alg("None"), 401, "unsupported_alg"},
		{"alg nOnE", "alg none with mixed case (nOnE)", alg("nOnE"), 401, "unsupported_alg"},
		{"alg none empty signature", "alg none with the signature part empty, as RFC 7519 unsecured JWTs are", func(e *attackEnv) *http.Request {
			tok := mintHS(map[string]any{"alg": "none"}, pageClaims(ckA), nil)
			return e.page(tok[:strings.LastIndexByte(tok, '.')+1])
		}, 401, "unsupported_alg"},
		{"alg missing", "header without alg", page(map[string]any{"typ": "JWT"}, pageClaims(ckA), secretA), 401, "unsupported_alg"},
		{"alg lower-case hs256", "alg spelled hs256 to slip past an exact allow-list", alg("hs256"), 401, "unsupported_alg"},
		{"alg HS512", "another HMAC algorithm than HS256", alg("HS512"), 401, "unsupported_alg"},
		{"alg duplicate key", "header with alg twice, none last (JSON parsers disagree on duplicates)",
			page(`{"alg":"HS256","alg":"none"}`, pageClaims(ckA), secretA), 401, "unsupported_alg"},
		{"RS256 on page route", "RS256 token signed with Atlassian's install key, sent to an HS256 page route", func(e *attackEnv) *http.Request {
			return e.page(mintRS(e.h.fake.key, map[string]any{"kid": e.h.fake.kid}, pageClaims(ckA)))
		}, 401, "unsupported_alg"},
		{"RS256 on context route", "RS256 token on a context-token API route", func(e *attackEnv) *http.Request {
			return e.ctxGET(mintRS(e.h.fake.key, map[string]any{"kid": e.h.fake.kid}, ctxClaims(ckA)))
		}, 401, "unsupported_alg"},
		{"RS256 on enabled callback", "RS256 token on the HS256 enabled callback", func(e *attackEnv) *http.Request {
			return e.lifecycle("/enabled", mintRS(e.h.fake.key, map[string]any{"kid": e.h.fake.kid}, reqClaims(ckDisabled, "POST", "/enabled")), payload(ckDisabled, "", "enabled"))
		}, 401, "unsupported_alg"},

		// alg confusion and forgery on the install route
		{"install HS256 with RSA public key PEM", "alg confusion: HS256 MAC keyed with Atlassian's public key PEM", func(e *attackEnv) *http.Request {
			hdr := map[string]any{"typ": "JWT", "alg": "HS256", "kid": e.h.fake.kid}
			return e.lifecycle("/installed", mintHS(hdr, e.installClaims(ckA, "/installed"), rsaPublicPEM(e.h.fake.key)), payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed"))
		}, 401, "unsupported_alg"},
		{"install HS256 with tenant secret", "reinstall signed HS256 with the tenant's (leaked) shared secret", func(e *attackEnv) *http.Request {
			return e.lifecycle("/installed", mintHS(hsHeader, e.installClaims(ckA, "/installed"), []byte(secretA)), payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed"))
		}, 401, "unsupported_alg"},
		{"install alg none", "unsigned install callback (alg none)", func(e *attackEnv) *http.Request {
			return e.lifecycle("/installed", mintHS(map[string]any{"alg": "none", "kid": e.h.fake.kid}, e.installClaims(ckA, "/installed"), nil), payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed"))
		}, 401, "unsupported_alg"},
		{"install alg NONE", "unsigned install callback, alg upper case", func(e *attackEnv) *http.Request {
			return e.lifecycle("/installed", mintHS(map[string]any{"alg": "NONE", "kid": e.h.fake.kid}, e.installClaims(ckA, "/installed"), nil), payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed"))
		}, 401, "unsupported_alg"},
		{"reinstall signed by attacker key, real kid", "reinstall of tenant A (new secret) signed by an attacker's RSA key under Atlassian's kid", rs("test-kid-1", attackerRSA()), 401, "bad_signature"},
		{"reinstall signed by attacker key, own kid", "reinstall signed by an attacker's key under a kid the key server does not know", rs("attacker-kid-1", attackerRSA()), 401, "unknown_kid"},
		{"uninstall signed by attacker key", "uninstall of tenant A signed by an attacker's RSA key", func(e *attackEnv) *http.Request {
			return e.lifecycle("/uninstalled", mintRS(attackerRSA(), map[string]any{"kid": e.h.fake.kid}, e.installClaims(ckA, "/uninstalled")), payload(ckA, "", "uninstalled"))
		}, 401, "bad_signature"},

		// kid injection into the key server URL
		{"kid missing", "install token without kid", kidCase(nil), 401, "invalid_kid"},
		{"kid ../", "kid with ../ to walk the key server's path", kidCase("../../admin/keys"), 401, "invalid_kid"},
		{"kid %2F", "kid with an encoded slash", kidCase("x%2F..%2Fevil"), 401, "invalid_kid"},
		{"kid ?", "kid with a query to change the key URL", kidCase("test-kid-1?host=evil"), 401, "invalid_kid"},
		{"kid #", "kid with a fragment", kidCase("test-kid-1#x"), 401, "invalid_kid"},
		{"kid absolute URL", "kid that is a URL of the attacker's key server", kidCase("https://evil.example/key"), 401, "invalid_kid"},
		{"kid very long", "kid of 4 KiB", kidCase(strings.Repeat("k", 4096)), 401, "invalid_kid"},
		{"kid not a string", "kid as a JSON number", kidCase(12345), 401, "invalid_kid"},
		{"kid NUL", "kid with a NUL byte", kidCase("test-kid-1\x00"), 401, "invalid_kid"},

		// lifecycle payload and claims
		{"install baseUrl private IP", "install whose baseUrl is a private address (SSRF via later Jira calls)", badBase("https://10.0.0.1"), 403, "host_not_allowed"},
		{"install baseUrl metadata IP", "baseUrl pointing at the cloud metadata service", badBase("https://169.254.169.254"), 403, "host_not_allowed"},
		{"install baseUrl loopback", "baseUrl on loopback", badBase("https://127.0.0.1:8080"), 403, "host_not_allowed"},
		{"install baseUrl IPv6 loopback", "baseUrl [::1]", badBase("https://[::1]/"), 403, "host_not_allowed"},
		{"install baseUrl http", "plain http Atlassian host", badBase("http://acme.atlassian.net"), 403, "host_not_allowed"},
		{"install baseUrl userinfo", "userinfo trick https://x.atlassian.net@evil", badBase("https://x.atlassian.net@evil.example"), 403, "host_not_allowed"},
		{"install baseUrl suffix", "allowed domain as a prefix of the attacker's domain", badBase("https://acme.atlassian.net.evil.example"), 403, "host_not_allowed"},
		{"install baseUrl two labels", "wildcard matching more than one label", badBase("https://a.b.atlassian.net"), 403, "host_not_allowed"},
		{"install baseUrl fragment", "allowed host after a fragment", badBase("https://evil.example#.atlassian.net"), 403, "host_not_allowed"},
		{"install baseUrl query", "allowed host inside a query", badBase("https://evil.example?.atlassian.net"), 403, "host_not_allowed"},
		{"install baseUrl backslash", "backslash userinfo trick", badBase(`https://evil.example\@acme.atlassian.net`), 403, "host_not_allowed"},
		{"install baseUrl scheme", "javascript: scheme", badBase("javascript://acme.atlassian.net/%0aalert(1)"), 403, "host_not_allowed"},
		{"install clientKey mismatch", "attacker's own site's genuine install token, body claiming another clientKey",
			genuine("/installed", nil, func(_ *attackEnv, c map[string]any) { c["iss"] = "ck-attackers-site" }), 401, "client_key_mismatch"},
		{"install wrong audience", "genuine install token minted for another vendor's app (aud)",
			genuine("/installed", nil, func(_ *attackEnv, c map[string]any) { c["aud"] = []string{"https://other-app.example.com"} }), 401, "wrong_audience"},
		{"install no audience", "install token without aud", genuine("/installed", nil, func(_ *attackEnv, c map[string]any) { delete(c, "aud") }), 401, "wrong_audience"},
		{"install token replayed on uninstall", "install token (qsh of /installed) replayed on /uninstalled",
			func(e *attackEnv) *http.Request {
				return e.lifecycle("/uninstalled", mintRS(e.h.fake.key, map[string]any{"kid": e.h.fake.kid}, e.installClaims(ckA, "/installed")), payload(ckA, "", "uninstalled"))
			}, 401, "qsh_mismatch"},
		{"install context-qsh", "install token with qsh context-qsh", genuine("/installed", nil, func(_ *attackEnv, c map[string]any) { c["qsh"] = connect.ContextQSH }), 401, "context_token_not_allowed"},
		{"install no qsh", "install token without qsh", genuine("/installed", nil, func(_ *attackEnv, c map[string]any) { delete(c, "qsh") }), 401, "qsh_missing"},
		{"install expired", "captured install callback replayed after exp", genuine("/installed", nil, func(_ *attackEnv, c map[string]any) {
			c["iat"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-7*time.Minute).Unix()
		}), 401, "expired"},
		{"install no exp", "install token without exp (replayable forever)", genuine("/installed", nil, func(_ *attackEnv, c map[string]any) { delete(c, "exp") }), 401, "missing_claim"},
		{"install missing clientKey", "payload without clientKey", genuine("/installed", func(p map[string]any) { delete(p, "clientKey") }, nil), 400, "payload_invalid"},
		{"install missing sharedSecret", "payload without sharedSecret", genuine("/installed", func(p map[string]any) { delete(p, "sharedSecret") }, nil), 400, "payload_invalid"},
		{"install missing baseUrl", "payload without baseUrl", genuine("/installed", func(p map[string]any) { delete(p, "baseUrl") }, nil), 400, "payload_invalid"},
		{"install missing key", "payload without the app key", genuine("/installed", func(p map[string]any) { delete(p, "key") }, nil), 400, "payload_invalid"},
		{"install empty secret", "payload with an empty shared secret (HMAC with an empty key)", genuine("/installed", func(p map[string]any) { p["sharedSecret"] = "" }, nil), 400, "payload_invalid"},
		{"install short secret", "payload with a 4-byte shared secret", genuine("/installed", func(p map[string]any) { p["sharedSecret"] = "abcd" }, nil), 400, "payload_invalid"},
		{"install wrong eventType", "uninstalled payload posted to /installed", genuine("/installed", func(p map[string]any) { p["eventType"] = "uninstalled" }, nil), 400, "payload_wrong_event"},
		{"install malformed UTF-8", "payload that is not UTF-8", func(e *attackEnv) *http.Request {
			b := bytes.Replace(mustJSON(payload(ckA, secretA, "installed")), []byte("Acme Jira"), []byte("Acme \xff\xfe Jira"), 1)
			_, auth := e.h.signLifecycle("/installed", payload(ckA, secretA, "installed"), nil)
			return e.request("POST", "/installed", b, "Authorization", auth)
		}, 400, "payload_malformed"},
		{"install trailing JSON", "two JSON objects in one body (parser differential)", func(e *attackEnv) *http.Request {
			b, auth := e.h.signLifecycle("/installed", payload(ckA, secretA, "installed"), nil)
			return e.request("POST", "/installed", append(b, []byte(`{"clientKey":"ck-b"}`)...), "Authorization", auth)
		}, 400, "payload_malformed"},
		{"install oversized body", "65 KiB lifecycle body", func(e *attackEnv) *http.Request {
			p := payload(ckA, secretA, "installed")
			p["description"] = strings.Repeat("x", connect.MaxLifecycleBody)
			b, auth := e.h.signLifecycle("/installed", p, nil)
			return e.request("POST", "/installed", b, "Authorization", auth)
		}, 413, "payload_too_large"},
		{"install unsigned", "install callback without any token", func(e *attackEnv) *http.Request {
			return e.request("POST", "/installed", mustJSON(payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed")))
		}, 401, "no_token"},

		// time claims
		{"exp missing", "request token without exp", pageA(with(pageClaims(ckA), "exp", nil)), 401, "missing_claim"},
		{"exp zero", "exp 0 (1970)", pageA(with(pageClaims(ckA), "exp", 0)), 401, "expired"},
		{"exp null", "exp null", page(hsHeader, strings.Replace(string(rawJSON(pageClaims(ckA))), `"exp":`, `"exp":null,"x":`, 1), secretA), 401, "missing_claim"},
		{"exp as string", "exp as a JSON string", pageA(with(pageClaims(ckA), "exp", fmt.Sprint(now.Add(time.Hour).Unix()))), 401, "malformed_token"},
		{"exp huge float", "exp 1e300, past int64 (conversion must not wrap into validity on any platform)", pageA(with(pageClaims(ckA), "exp", 1e300)), 401, "malformed_token"},
		{"exp in a century", "a validly signed token meant to live 100 years (stolen once, usable forever)", pageA(with(pageClaims(ckA), "exp", now.AddDate(100, 0, 0).Unix())), 401, "token_lifetime_too_long"},
		{"exp expired", "token expired 5 minutes ago", pageA(with(pageClaims(ckA), "iat", now.Add(-8*time.Minute).Unix(), "exp", now.Add(-5*time.Minute).Unix())), 401, "expired"},
		{"iat missing", "request token without iat", pageA(with(pageClaims(ckA), "iat", nil)), 401, "missing_claim"},
		{"iat future", "iat one hour ahead (pre-minted token)", pageA(with(pageClaims(ckA), "iat", now.Add(time.Hour).Unix(), "exp", now.Add(time.Hour+3*time.Minute).Unix())), 401, "not_yet_valid"},
		{"nbf future", "nbf ten minutes ahead", pageA(with(pageClaims(ckA), "nbf", now.Add(10*time.Minute).Unix())), 401, "not_yet_valid"},

		// keys
		{"empty HMAC key", "token for tenant A signed with an empty key", page(hsHeader, pageClaims(ckA), ""), 401, "bad_signature"},
		{"short HMAC key", "token for tenant A signed with a one-byte key", page(hsHeader, pageClaims(ckA), "k"), 401, "bad_signature"},
		{"tenant with short secret", "valid token of a tenant whose stored secret is too short to be an HMAC key", page(hsHeader, pageClaims(ckWeak), secretWeak), 401, "weak_secret"},
		{"tenant B secret, tenant A iss", "token claiming tenant A, signed with tenant B's secret", page(hsHeader, pageClaims(ckA), secretB), 401, "bad_signature"},
		{"tenant A token, iss of B", "tenant A's valid token re-issued with iss of tenant B", page(hsHeader, pageClaims(ckB), secretA), 401, "bad_signature"},
		{"signature stripped", "valid token with its signature removed", func(e *attackEnv) *http.Request {
			tok := mintHS(hsHeader, pageClaims(ckA), []byte(secretA))
			return e.page(tok[:strings.LastIndexByte(tok, '.')+1])
		}, 401, "bad_signature"},
		{"claims swapped", "valid signature with different claims pasted in", func(e *attackEnv) *http.Request {
			good := strings.Split(mintHS(hsHeader, pageClaims(ckA), []byte(secretA)), ".")
			evil := b64(mustJSON(with(pageClaims(ckA), "sub", "admin-user")))
			return e.page(good[0] + "." + evil + "." + good[2])
		}, 401, "bad_signature"},

		// tenants
		{"unknown tenant", "token whose iss is no installed tenant", page(hsHeader, pageClaims("ck-nobody"), secretA), 401, "unknown_tenant"},
		{"iss missing", "token without iss", pageA(with(pageClaims(ckA), "iss", nil)), 401, "missing_claim"},
		{"iss SQL injection", "iss crafted as SQL", page(hsHeader, pageClaims("x' OR '1'='1"), secretA), 401, "unknown_tenant"},
		{"iss invalid UTF-8", "iss that is not UTF-8 (must not be folded into a valid clientKey)", page(hsHeader, `{"iss":"ck-a\xff","iat":1,"exp":1,"qsh":"x"}`, secretA), 401, "malformed_token"},
		{"iss NUL byte", "iss with a NUL byte (PostgreSQL text cannot hold NUL)", page(hsHeader, pageClaims("ck-a\x00"), secretA), 401, "unknown_tenant"},
		{"iss very long", "iss of 4000 characters", page(hsHeader, pageClaims(strings.Repeat("c", 4000)), secretA), 401, "unknown_tenant"},
		{"uninstalled tenant page", "page token of a tenant that uninstalled the app", page(hsHeader, pageClaims(ckUninstalled), secretUninstalled), 403, "tenant_uninstalled"},
		{"uninstalled tenant context", "context token of a tenant that uninstalled the app", func(e *attackEnv) *http.Request {
			return e.ctxGET(mintHS(hsHeader, ctxClaims(ckUninstalled), []byte(secretUninstalled)))
		}, 403, "tenant_uninstalled"},
		{"disabled tenant page", "page token of a tenant that disabled the app", page(hsHeader, pageClaims(ckDisabled), secretDisabled), 403, "tenant_disabled"},
		{"disabled tenant context", "context token of a tenant that disabled the app", func(e *attackEnv) *http.Request {
			return e.ctxGET(mintHS(hsHeader, ctxClaims(ckDisabled), []byte(secretDisabled)))
		}, 403, "tenant_disabled"},
		{"enabled replay after uninstall", "HS256 enabled callback replayed after the uninstall", func(e *attackEnv) *http.Request {
			return e.lifecycle("/enabled", mintHS(hsHeader, reqClaims(ckUninstalled, "POST", "/enabled"), []byte(secretUninstalled)), payload(ckUninstalled, "", "enabled"))
		}, 403, "tenant_uninstalled"},
		{"disabled replay after uninstall", "disabled callback replayed after the uninstall", func(e *attackEnv) *http.Request {
			return e.lifecycle("/disabled", mintHS(hsHeader, reqClaims(ckUninstalled, "POST", "/disabled"), []byte(secretUninstalled)), payload(ckUninstalled, "", "disabled"))
		}, 403, "tenant_uninstalled"},
		{"enabled for another tenant", "tenant A's signed enabled callback whose body names tenant B", func(e *attackEnv) *http.Request {
			return e.lifecycle("/enabled", mintHS(hsHeader, reqClaims(ckA, "POST", "/enabled"), []byte(secretA)), payload(ckDisabled, "", "enabled"))
		}, 403, "client_key_mismatch"},

		// qsh binding
		{"qsh other path", "page token replayed on another path", pageA(reqClaims(ckA, "GET", "/admin?view=history")), 401, "qsh_mismatch"},
		{"qsh other method", "token for POST replayed as GET", pageA(reqClaims(ckA, "POST", pagePath)), 401, "qsh_mismatch"},
		{"qsh other query", "token with one query parameter changed", pageA(reqClaims(ckA, "GET", strings.Replace(pagePath, "lic=none", "lic=active", 1))), 401, "qsh_mismatch"},
		{"qsh extra query parameter", "parameter appended to a signed URL", func(e *attackEnv) *http.Request {
			return e.request("GET", pagePath+"&view=history", nil, "Authorization", "JWT "+mintHS(hsHeader, pageClaims(ckA), []byte(secretA)))
		}, 401, "qsh_mismatch"},
		{"qsh missing", "request token without qsh", pageA(with(pageClaims(ckA), "qsh", nil)), 401, "qsh_missing"},
		{"qsh upper-case hex", "qsh of the right request in upper-case hex", func(e *attackEnv) *http.Request {
			c := pageClaims(ckA)
			c["qsh"] = strings.ToUpper(c["qsh"].(string))
			return e.page(mintHS(hsHeader, c, []byte(secretA)))
		}, 401, "qsh_mismatch"},
		{"context-qsh on page route", "context token (not bound to a request) on an iframe page", func(e *attackEnv) *http.Request {
			return e.page(mintHS(hsHeader, ctxClaims(ckA), []byte(secretA)))
		}, 401, "context_token_not_allowed"},
		{"context-qsh on enabled callback", "context token on the enabled lifecycle callback", func(e *attackEnv) *http.Request {
			return e.lifecycle("/enabled", mintHS(hsHeader, ctxClaims(ckDisabled), []byte(secretDisabled)), payload(ckDisabled, "", "enabled"))
		}, 401, "context_token_not_allowed"},
		{"context-qsh on disabled callback", "context token on the disabled lifecycle callback", func(e *attackEnv) *http.Request {
			return e.lifecycle("/disabled", mintHS(hsHeader, ctxClaims(ckA), []byte(secretA)), payload(ckA, "", "disabled"))
		}, 401, "context_token_not_allowed"},
		{"page token on context route", "request-bound page token used on an API route", func(e *attackEnv) *http.Request {
			return e.ctxGET(mintHS(hsHeader, reqClaims(ckA, "GET", "/api/installation"), []byte(secretA)))
		}, 401, "context_token_required"},

		// our own outgoing tokens
		{"own app JWT replayed", "the JWT the app signs for Jira (iss = app key) sent back to the app", func(e *attackEnv) *http.Request {
			tok, err := jira.SignAppToken("connect-doctor", &tenant.Tenant{ClientKey: ckA, SharedSecret: secretA, BaseURL: "https://acme.atlassian.net"}, "GET", pagePath, time.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			return e.page(tok)
		}, 401, "own_token_rejected"},
		{"own app JWT on context route", "app JWT with qsh context-qsh on an API route", func(e *attackEnv) *http.Request {
			return e.ctxGET(mintHS(hsHeader, with(ctxClaims("connect-doctor"), "aud", []string{ckA}), []byte(secretA)))
		}, 401, "own_token_rejected"},
		{"own OAuth assertion replayed", "the JWT-bearer assertion the app sends to the auth server, replayed on the API", func(e *attackEnv) *http.Request {
			tok, err := oauth.Assertion{OAuthClientID: "oauth-1", AccountID: "user-1", TenantBaseURL: "https://acme.atlassian.net",
				Audience: oauth.ServerProduction}.Sign(secretA, time.Now())
			if err != nil {
				e.t.Fatal(err)
			}
			return e.ctxGET(tok)
		}, 401, "own_token_rejected"},

		// token transport
		{"duplicate jwt parameter", "two different jwt query parameters", func(e *attackEnv) *http.Request {
			a, b := mintHS(hsHeader, pageClaims(ckA), []byte(secretA)), mintHS(hsHeader, pageClaims(ckB), []byte(secretB))
			return e.request("GET", pagePath+"&jwt="+a+"&jwt="+b, nil)
		}, 401, "duplicate_token"},
		{"duplicate Authorization header", "two Authorization headers", func(e *attackEnv) *http.Request {
			a, b := mintHS(hsHeader, pageClaims(ckA), []byte(secretA)), mintHS(hsHeader, pageClaims(ckB), []byte(secretB))
			return e.request("GET", pagePath, nil, "Authorization", "JWT "+a, "Authorization", "JWT "+b)
		}, 401, "duplicate_token"},
		{"header and parameter differ", "a token in the header and another in the query", func(e *attackEnv) *http.Request {
			a, b := mintHS(hsHeader, pageClaims(ckA), []byte(secretA)), mintHS(hsHeader, pageClaims(ckB), []byte(secretB))
			return e.request("GET", pagePath+"&jwt="+b, nil, "Authorization", "JWT "+a)
		}, 401, "duplicate_token"},
		{"Bearer scheme", "the token under the Bearer scheme", func(e *attackEnv) *http.Request {
			return e.request("GET", pagePath, nil, "Authorization", "Bearer "+mintHS(hsHeader, pageClaims(ckA), []byte(secretA)))
		}, 401, "auth_scheme_invalid"},
		{"no token", "no credentials at all", func(e *attackEnv) *http.Request { return e.request("GET", pagePath, nil) }, 401, "no_token"},
		{"oversized Authorization header", "Authorization header of 9 KiB", func(e *attackEnv) *http.Request {
			return e.request("GET", pagePath, nil, "Authorization", "JWT "+strings.Repeat("a", connect.MaxTokenLength+100))
		}, 401, "token_too_large"},
		{"oversized jwt parameter", "jwt query parameter of 9 KiB", func(e *attackEnv) *http.Request {
			return e.request("GET", pagePath+"&jwt="+strings.Repeat("a", connect.MaxTokenLength+100), nil)
		}, 401, "token_too_large"},
		{"oversized query", "40 KiB query string around a jwt parameter", func(e *attackEnv) *http.Request {
			return e.request("GET", pagePath+"&pad="+strings.Repeat("p", 40<<10)+"&jwt=x.y.z", nil)
		}, 401, "token_too_large"},
		{"dot flood", "token made of 8000 dots (CVE-2025-30204 shape)", func(e *attackEnv) *http.Request {
			return e.page(strings.Repeat(".", 8000))
		}, 401, "malformed_token"},
		{"oversized API body", "300 KiB body on a context route", func(e *attackEnv) *http.Request {
			body := mustJSON(map[string]any{"raw": strings.Repeat("x", 300<<10)})
			return e.request("POST", "/api/explain", body, "Authorization", "JWT "+mintHS(hsHeader, ctxClaims(ckA), []byte(secretA)))
		}, 413, "body_too_large"},
		{"oversized chunked API body", "300 KiB body without Content-Length", func(e *attackEnv) *http.Request {
			body := mustJSON(map[string]any{"raw": strings.Repeat("x", 300<<10)})
			r := e.request("POST", "/api/explain", nil, "Authorization", "JWT "+mintHS(hsHeader, ctxClaims(ckA), []byte(secretA)))
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = -1
			return r
		}, 413, "body_too_large"},

		// malformed tokens
		{"two parts", "token with two parts", func(e *attackEnv) *http.Request { return e.page("eyJhbGciOiJIUzI1NiJ9.e30") }, 401, "malformed_token"},
		{"four parts", "token with four parts", func(e *attackEnv) *http.Request {
			return e.page(mintHS(hsHeader, pageClaims(ckA), []byte(secretA)) + ".x")
		}, 401, "malformed_token"},
		{"base64 padding", "header with base64 padding (the MAC covers the padded text)", func(e *attackEnv) *http.Request {
			hdr := base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256", "typ":"JWT"}`)) // 28 bytes: "==" padding
			signing := hdr + "." + b64(rawJSON(pageClaims(ckA)))
			m := hmac.New(sha256.New, []byte(secretA))
			m.Write([]byte(signing))
			return e.page(signing + "." + b64(m.Sum(nil)))
		}, 401, "malformed_token"},
		{"base64 standard alphabet", "claims in standard (not URL) base64 with + and /", func(e *attackEnv) *http.Request {
			c := with(pageClaims(ckA), "sub", "??>>??>>")
			signing := b64(rawJSON(hsHeader)) + "." + base64.RawStdEncoding.EncodeToString(rawJSON(c))
			m := hmac.New(sha256.New, []byte(secretA))
			m.Write([]byte(signing))
			return e.page(signing + "." + b64(m.Sum(nil)))
		}, 401, "malformed_token"},
		{"header not JSON", "header that decodes to non-JSON", page("not json", pageClaims(ckA), secretA), 401, "malformed_token"},
		{"claims not JSON", "claims that decode to non-JSON", page(hsHeader, "{iss:ck-a}", secretA), 401, "malformed_token"},
		{"claims JSON array", "claims that are a JSON array", page(hsHeader, `["ck-a"]`, secretA), 401, "malformed_token"},
		{"claims invalid UTF-8 syntax", "invalid UTF-8 bytes between JSON tokens", page(hsHeader, "{\"iss\":\"ck-a\"\xff}", secretA), 401, "malformed_token"},
		{"aud wrong type", "aud as a JSON number", pageA(with(pageClaims(ckA), "aud", 42)), 401, "malformed_token"},

		// SSRF through POST /api/checks
		{"ssrf absolute URL", "check of an absolute URL to an internal host", ssrf(func(e *attackEnv) string { return e.canary.URL + "/rest/api/3/myself" }), 400, "absolute_url"},
		{"ssrf metadata URL", "check of the cloud metadata service", ssrf(fixed("http://169.254.169.254/latest/meta-data/")), 400, "absolute_url"},
		{"ssrf scheme-relative", "//host: a scheme-relative URL", ssrf(func(e *attackEnv) string { return "//" + e.canaryHost() + "/rest/api/3/myself" }), 400, "absolute_url"},
		{"ssrf backslashes", `\\host: backslashes browsers read as //`, ssrf(func(e *attackEnv) string { return `\\` + e.canaryHost() + `\rest` }), 400, "absolute_url"},
		{"ssrf slash backslash", `/\host`, ssrf(func(e *attackEnv) string { return `/\` + e.canaryHost() + `/rest/api/3/myself` }), 400, "absolute_url"},
		{"ssrf scheme without slashes", "https:host/rest", ssrf(func(e *attackEnv) string { return "http:" + e.canaryHost() + "/rest/api/3/myself" }), 400, "absolute_url"},
		{"ssrf dot-dot", "../ out of /rest", ssrf(fixed("/rest/api/3/../../../admin")), 400, "path_not_allowed"},
		{"ssrf encoded dot-dot", "%2e%2e out of /rest", ssrf(fixed("/rest/api/3/%2e%2e/%2e%2e/secure/admin")), 400, "path_not_allowed"},
		{"ssrf double-encoded dot-dot", "%252e%252e", ssrf(fixed("/rest/%252e%252e/%252e%252e/secure")), 400, "path_not_allowed"},
		{"ssrf encoded host", "/rest/%2F%2Fhost: an encoded // inside the path", ssrf(func(e *attackEnv) string { return "/rest/%2F%2F" + e.canaryHost() + "/x" }), 400, "absolute_url"},
		{"ssrf double-encoded URL", "an encoded absolute URL after /rest/", ssrf(func(e *attackEnv) string {
			return "/rest/" + url.PathEscape(url.PathEscape(e.canary.URL+"/x"))
		}), 400, "absolute_url"},
		{"ssrf userinfo", "user@host form", ssrf(func(e *attackEnv) string {
			return "https://acme.atlassian.net@" + e.canaryHost() + "/rest/api/3/myself"
		}), 400, "absolute_url"},
		{"ssrf outside rest", "a relative path outside /rest/", ssrf(fixed("/secure/admin/ViewApplicationProperties.jspa")), 400, "path_not_allowed"},
		{"ssrf CRLF", "header injection via CR LF in the path", ssrf(fixed("/rest/api/3/myself\r\nHost: evil")), 400, "path_not_allowed"},
		{"ssrf encoded CRLF", "encoded CR LF in the path", ssrf(fixed("/rest/api/3/myself%0d%0aHost:%20evil")), 400, "path_not_allowed"},
	}
}

// kidCase is a genuine install callback (signed by Atlassian's key)
// whose kid header is replaced (nil: no kid).
func kidCase(kid any) func(e *attackEnv) *http.Request {
	return func(e *attackEnv) *http.Request {
		hdr := map[string]any{}
		if kid != nil {
			hdr["kid"] = kid
		}
		p := payload(ckA, "attacker-chosen-secret-0123456789abcdef", "installed")
		return e.lifecycle("/installed", mintRS(e.h.fake.key, hdr, e.installClaims(ckA, "/installed")), p)
	}
}

// controls are the unmodified requests the attacks are derived from: they
// must succeed, so that each attack fails for the reason it names.
func (e *attackEnv) controls(t *testing.T) {
	t.Helper()
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"page token", e.page(mintHS(hsHeader, pageClaims(ckA), []byte(secretA))), 200},
		{"page token in the query", e.request("GET", pagePath+"&jwt="+mintHS(hsHeader, pageClaims(ckA), []byte(secretA)), nil), 200},
		{"same token in header and query", func() *http.Request {
			tok := mintHS(hsHeader, pageClaims(ckA), []byte(secretA))
			return e.request("GET", pagePath+"&jwt="+tok, nil, "Authorization", "JWT "+tok)
		}(), 200},
		{"context token", e.request("POST", "/api/explain", mustJSON(map[string]any{"raw": "HTTP/1.1 401 Unauthorized\r\n\r\n"}),
			"Authorization", "JWT "+mintHS(hsHeader, ctxClaims(ckA), []byte(secretA))), 200},
	} {
		resp := send(t, c.req)
		if resp.StatusCode != c.status {
			t.Fatalf("control %q: status %d (%s), want %d", c.name, resp.StatusCode, resp.code, c.status)
		}
	}
}

type answer struct {
	StatusCode int
	code       string
	body       string
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &env)
	return answer{StatusCode: resp.StatusCode, code: env.Error.Code, body: string(b)}
}

// TestAttackMatrix sends every attack to the app on SQLite and on
// PostgreSQL; each must be refused with its status and error code and
// leave the tenants (rows, secrets, states) and the check history as they
// were, without any request reaching the SSRF canary.
func TestAttackMatrix(t *testing.T) {
	cases := attackCases()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] || c.attack == "" || c.code == "" || c.status == 0 {
			t.Fatalf("case %q: duplicate name or missing attack/status/code", c.name)
		}
		seen[c.name] = true
	}
	if len(cases) < 60 {
		t.Fatalf("only %d attack cases", len(cases))
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := ""
			if db == "postgres" {
				dsn = storagetest.PostgresURL(t)
			}
			e := newAttackEnv(t, dsn)
			e.controls(t)
			passed, failed := 0, 0
			for _, c := range cases {
				ok := t.Run(c.name, func(t *testing.T) {
					e.t = t
					before := e.snapshot()
					resp := send(t, c.req(e))
					if resp.StatusCode != c.status || resp.code != c.code {
						t.Errorf("attack: %s\ngot %d %q, want %d %q\nbody: %.300s", c.attack, resp.StatusCode, resp.code, c.status, c.code, resp.body)
					}
					if after := e.snapshot(); after != before {
						t.Errorf("attack: %s\nthe stored state changed:\nbefore %s\nafter  %s", c.attack, before, after)
					}
					if n := e.hits.Load(); n != 0 {
						t.Errorf("attack: %s\n%d request(s) reached the SSRF canary", c.attack, n)
					}
				})
				if ok {
					passed++
				} else {
					failed++
				}
			}
			e.t = t
			summary := fmt.Sprintf("attack matrix: %d passed, %d failed", passed, failed)
			fmt.Println(summary)
			t.Logf("%s (%s)", summary, db)
		})
	}
}

// FuzzHTTPToken drives token extraction and verification through the real
// router (header and query parsing, TokenFromRequest, the verifier, the
// error envelope) with arbitrary Authorization headers and query strings,
// on the page route (request tokens) and an API route (context tokens).
// The app may answer 200 only for a token an independent golang-jwt check
// accepts (HS256 with tenant A's secret, exp and iat valid, the route's
// qsh); every other answer must be a 401/403 error envelope with a code.
func FuzzHTTPToken(f *testing.F) {
	h := newHarness(f, "")
	if r := h.signedLifecycle("/installed", payload(ckA, secretA, "installed"), nil); r.StatusCode != 204 {
		f.Fatalf("install: %d", r.StatusCode)
	}
	handler := h.app.Server.Handler()
	page := mintHS(hsHeader, pageClaims(ckA), []byte(secretA))
	ctx := mintHS(hsHeader, ctxClaims(ckA), []byte(secretA))
	q := strings.TrimPrefix(pagePath, "/admin?")
	// Controls: the valid seeds are accepted, so the oracle below is used.
	for _, c := range []struct{ method, target, auth string }{
		{"GET", pagePath, "JWT " + page}, {"GET", pagePath + "&jwt=" + page, ""}, {"POST", "/api/explain", "JWT " + ctx},
	} {
		req := httptest.NewRequest(c.method, c.target, strings.NewReader(`{"raw":"HTTP/1.1 401 Unauthorized\r\n\r\n"}`))
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			f.Fatalf("control %s %s: %d %s", c.method, c.target, rec.Code, rec.Body.String())
		}
	}
	f.Add("JWT "+page, q, false)
	f.Add("", q+"&jwt="+page, false)
	f.Add("JWT "+page, q+"&jwt="+page, false)
	f.Add("JWT "+ctx, "", true)
	f.Add("JWT "+ctx, "jwt="+ctx, true)
	f.Add("JWT "+page, "", true)
	f.Add("JWT "+ctx, q, false)
	f.Add("Bearer "+page, q, false)
	f.Add("JWT "+mintHS(map[string]any{"alg": "none"}, pageClaims(ckA), nil), q, false)
	f.Add("JWT "+mintHS(hsHeader, pageClaims("ck-nobody"), []byte(secretA)), q, false)
	f.Add("JWT a.b.c", "jwt=a.b.c&jwt=d.e.f", false)
	f.Add("JWT "+strings.Repeat(".", 100), "%6Awt=x", true)
	f.Fuzz(func(t *testing.T, auth, rawQuery string, contextRoute bool) {
		method, path, kind := "GET", "/admin", connect.RequestToken
		var body io.Reader
		if contextRoute {
			method, path, kind = "POST", "/api/explain", connect.ContextToken
			body = strings.NewReader(`{"raw":"HTTP/1.1 401 Unauthorized\r\n\r\n"}`)
		}
		target := path
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		req, err := http.NewRequest(method, "http://app.test"+target, body)
		if err != nil || req.URL.Path != path {
			return // not a request a client could send to this route
		}
		req.RequestURI = req.URL.RequestURI()
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			if why := independentlyValid(req, kind); why != "" {
				t.Fatalf("%s %s with Authorization %q accepted (200), but %s", method, req.RequestURI, auth, why)
			}
			return
		}
		var env httperr.Body
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code == "" {
			t.Fatalf("status %d without an error envelope: %.200q", rec.Code, rec.Body.String())
		}
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
			t.Fatalf("status %d (%s) for a token problem; want 401 or 403", rec.Code, env.Error.Code)
		}
		if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("401 %s without WWW-Authenticate", env.Error.Code)
		}
	})
}

// independentlyValid re-checks an accepted request with golang-jwt alone
// and returns why it should not have been accepted ("" if it is valid).
func independentlyValid(r *http.Request, kind connect.TokenKind) string {
	tok := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(a), " ")
		if !strings.EqualFold(scheme, "JWT") {
			return "the Authorization scheme is " + scheme
		}
		tok = strings.TrimSpace(rest)
	}
	if vals := r.URL.Query()["jwt"]; len(vals) > 0 {
		for _, v := range vals {
			if tok != "" && v != tok {
				return "it carries two different tokens"
			}
			tok = v
		}
	}
	var c connect.Claims
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(connect.DefaultLeeway)).ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(secretA), nil })
	switch {
	case err != nil:
		return "golang-jwt refuses the token: " + err.Error()
	case c.Issuer != ckA:
		return "iss is " + c.Issuer
	case kind == connect.ContextToken && c.QSH != connect.ContextQSH:
		return "a context route accepted qsh " + c.QSH
	case kind == connect.RequestToken && c.QSH != connect.RequestQSH(r.Method, r.URL.RequestURI(), ""):
		return "qsh does not match " + connect.CanonicalRequest(r.Method, r.URL.RequestURI(), "")
	}
	return ""
}
