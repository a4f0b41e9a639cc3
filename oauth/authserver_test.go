package oauth

import (
	"encoding/json"
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

	"github.com/connect-doctor/connect-doctor/tenant"
)

// fakeAuthServer is an httptest authorization server that checks every
// request the way Atlassian's does (and more strictly): the form, the scope
// encoding, and every claim of the HS256 assertion. A violation is reported
// with t.Errorf and answered with invalid_request.
type fakeAuthServer struct {
	t        *testing.T
	srv      *httptest.Server
	secret   string
	clientID string // expected oauthClientId
	tenant   string // expected tnt
	now      func() time.Time

	// wantScope is the exact scope form value expected; "" = must be absent.
	wantScope string
	// respond, when set, answers instead of the default 900 s token.
	respond func(w http.ResponseWriter, r *http.Request, claims *assertionCheck)

	mu       sync.Mutex
	requests int
	calls    atomic.Int64
}

type assertionCheck struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Tnt string `json:"tnt"`
	Aud string `json:"aud"`
	jwt.RegisteredClaims
}

func newFakeAuthServer(t *testing.T, secret, clientID, tenantBase string, now func() time.Time) *fakeAuthServer {
	f := &fakeAuthServer{t: t, secret: secret, clientID: clientID, tenant: tenantBase, now: now}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAuthServer) fail(w http.ResponseWriter, format string, args ...any) {
	f.t.Helper()
	msg := fmt.Sprintf(format, args...)
	f.t.Errorf("auth server: %s", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": msg})
}

func (f *fakeAuthServer) handle(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/oauth2/token" {
		f.fail(w, "%s %s, want POST /oauth2/token", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.fail(w, "Content-Type %q", ct)
		return
	}
	if a := r.Header.Get("Accept"); a != "application/json" {
		f.fail(w, "Accept %q", a)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	if strings.Contains(string(raw), "+") || strings.Contains(string(raw), "%2B") {
		f.fail(w, "body %q contains a plus sign: scopes must be separated by encoded spaces", raw)
		return
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		f.fail(w, "form: %v", err)
		return
	}
	for k := range form {
		if k != "grant_type" && k != "assertion" && k != "scope" {
			f.fail(w, "unexpected form field %q", k)
			return
		}
		if len(form[k]) != 1 {
			f.fail(w, "form field %q repeated", k)
			return
		}
	}
	if g := form.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.fail(w, "grant_type %q", g)
		return
	}
	sc, has := form["scope"]
	switch {
	case f.wantScope == "" && has:
		f.fail(w, "scope %q sent although the token is not narrowed", sc)
		return
	case f.wantScope != "" && (!has || sc[0] != f.wantScope):
		f.fail(w, "scope %q, want %q", sc, f.wantScope)
		return
	}
	var claims assertionCheck
	tok, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(f.now), jwt.WithLeeway(5*time.Second),
	).ParseWithClaims(form.Get("assertion"), &claims, func(*jwt.Token) (any, error) { return []byte(f.secret), nil })
	if err != nil {
		f.fail(w, "assertion: %v", err)
		return
	}
	if typ := tok.Header["typ"]; typ != "JWT" {
		f.fail(w, "typ %v", typ)
	}
	// Decode the payload by hand too: aud must be a plain string and no
	// unexpected claim may be present.
	var rawClaims map[string]any
	parts := strings.Split(form.Get("assertion"), ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	json.Unmarshal(payload, &rawClaims)
	if _, ok := rawClaims["aud"].(string); !ok {
		f.fail(w, "aud %v is not a plain string", rawClaims["aud"])
		return
	}
	for k := range rawClaims {
		switch k {
		case "iss", "sub", "tnt", "aud", "iat", "exp":
		default:
			f.fail(w, "unexpected claim %q", k)
			return
		}
	}
	checks := []struct{ name, got, want string }{
		{"iss", claims.Iss, "urn:atlassian:connect:clientid:" + f.clientID},
		{"tnt", claims.Tnt, f.tenant},
		{"aud", claims.Aud, f.srv.URL},
	}
	for _, c := range checks {
		if c.got != c.want {
			f.fail(w, "%s = %q, want %q", c.name, c.got, c.want)
			return
		}
	}
	account, ok := strings.CutPrefix(claims.Sub, "urn:atlassian:connect:useraccountid:")
	if !ok || account == "" {
		f.fail(w, "sub %q", claims.Sub)
		return
	}
	if claims.IssuedAt == nil || claims.ExpiresAt == nil {
		f.fail(w, "iat/exp missing")
		return
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > 60*time.Second || life <= 0 {
		f.fail(w, "exp − iat = %s, must be in (0, 60 s]", life)
		return
	}
	if ahead := claims.ExpiresAt.Sub(f.now()); ahead > 60*time.Second {
		f.fail(w, "exp is %s from now", ahead)
		return
	}
	if f.respond != nil {
		f.respond(w, r, &claims)
		return
	}
	n := f.calls.Load()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"tok-%s-%d","expires_in":900,"token_type":"Bearer"}`, account, n)
}

func testTenant(base string) *tenant.Tenant {
	return &tenant.Tenant{
		ClientKey:     "client-key-1",
		AppKey:        "my-app",
		BaseURL:       base,
		OAuthClientID: "oauth-client-42",
		SharedSecret:  "0123456789abcdef0123456789abcdef-secret",
		State:         tenant.StateInstalled,
	}
}
