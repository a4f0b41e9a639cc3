package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// app is the smallest Connect app the simulator installs: it serves a
// valid descriptor and answers 204 to every lifecycle callback (it does not
// verify the install token; the app core does that and is tested
// elsewhere).
type app struct {
	key    string
	scopes []string
	srv    *httptest.Server
	// secret is the shared secret of the current installation and
	// previous the one before the last reinstall, as the app's store
	// would hold them.
	secret, previous string
	oauthClientID    string
	state            string // "installed", "disabled", "uninstalled"
}

func newApp(t *testing.T, key string, scopes ...string) *app {
	t.Helper()
	a := &app{key: key, scopes: scopes}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /atlassian-connect.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"key": a.key, "name": "E2E " + a.key, "baseUrl": a.srv.URL,
			"authentication": map[string]string{"type": "jwt"},
			"lifecycle":      map[string]string{"installed": "/installed", "uninstalled": "/uninstalled", "enabled": "/enabled", "disabled": "/disabled"},
			"apiMigrations":  map[string]bool{"signed-install": true, "context-qsh": true},
			"scopes":         a.scopes,
			"modules": map[string]any{"adminPages": []map[string]any{
				{"key": "doctor-admin", "url": "/admin?tab=checks", "name": map[string]string{"value": "Connect Doctor"}},
			}},
		})
	})
	for _, ev := range []string{"installed", "uninstalled", "enabled", "disabled"} {
		mux.HandleFunc("POST /"+ev, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		})
	}
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// declared is the descriptor's scope set.
func (a *app) declared() scope.Set {
	s, err := scope.ParseList(a.scopes)
	if err != nil {
		panic(err)
	}
	return s
}

// fixture is one simulated site with the apps the cases use.
type fixture struct {
	sim    *jirasim.Sim
	now    time.Time
	cat    *catalog.Catalog
	engine *explain.Engine
	client *http.Client
	apps   map[string]*app
}

// Apps installed on the site.
const (
	appBasic    = "e2e.basic"    // READ, ACT_AS_USER
	appAdmin    = "e2e.admin"    // READ, ADMIN, ACT_AS_USER
	appNoAAU    = "e2e.noaau"    // READ only
	appBotPerm  = "e2e.botperm"  // READ, ADMIN; its bot user lost Administer Jira
	appStale    = "e2e.stale"    // reinstalled: the app still signs with the old secret
	appGone     = "e2e.gone"     // uninstalled
	appDisabled = "e2e.disabled" // disabled
	appBotGone  = "e2e.botgone"  // READ; its bot user was deactivated
)

// newFixture starts a site with opts (Seed and Now are set here) and
// installs the apps.
func newFixture(t *testing.T, opts jirasim.Options) *fixture {
	t.Helper()
	// The simulator's clock is frozen at the wall clock of the start of
	// the run: its Date headers come from the wall clock (net/http), so a
	// clock far from it would make every exchange look skewed.
	now := time.Now().UTC().Truncate(time.Second)
	opts.Seed, opts.Now = 5, func() time.Time { return now }
	sim, err := jirasim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cat := catalog.Default()
	f := &fixture{
		sim: sim, now: now, cat: cat, engine: explain.New(cat),
		client: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		apps: map[string]*app{},
	}
	for key, scopes := range map[string][]string{
		appBasic:    {"READ", "ACT_AS_USER"},
		appAdmin:    {"READ", "ADMIN", "ACT_AS_USER"},
		appNoAAU:    {"READ"},
		appBotPerm:  {"READ", "ADMIN"},
		appStale:    {"READ"},
		appGone:     {"READ", "ACT_AS_USER"},
		appDisabled: {"READ", "ACT_AS_USER"},
		appBotGone:  {"READ"},
	} {
		a := newApp(t, key, scopes...)
		f.apps[key] = a
		f.install(t, a)
	}

	// The bot user of appBotPerm loses Administer Jira.
	bot := sim.User("bot:" + appBotPerm)
	if bot.AccountID == "" {
		t.Fatal("no bot user for " + appBotPerm)
	}
	bot.SiteAdmin = false
	if err := sim.UpdateUser(bot); err != nil {
		t.Fatal(err)
	}
	// The bot user of appBotGone is deactivated.
	gone := sim.User("bot:" + appBotGone)
	gone.Active = false
	if err := sim.UpdateUser(gone); err != nil {
		t.Fatal(err)
	}
	// appStale is reinstalled: a new shared secret, the old one kept.
	f.install(t, f.apps[appStale])
	ctx := t.Context()
	if err := sim.Uninstall(ctx, appGone); err != nil {
		t.Fatal(err)
	}
	f.apps[appGone].state = string(tenant.StateUninstalled)
	if err := sim.Disable(ctx, appDisabled); err != nil {
		t.Fatal(err)
	}
	f.apps[appDisabled].state = string(tenant.StateDisabled)
	return f
}

func (f *fixture) install(t *testing.T, a *app) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	in, err := f.sim.InstallApp(ctx, a.srv.URL+"/atlassian-connect.json")
	if err != nil {
		t.Fatalf("install %s: %v", a.key, err)
	}
	if in.SharedSecret == "" || in.OAuthClientID == "" {
		t.Fatalf("install %s: incomplete installation %+v", a.key, in)
	}
	if a.secret != "" {
		a.previous = a.secret
	}
	a.secret, a.oauthClientID, a.state = in.SharedSecret, in.OAuthClientID, string(tenant.StateInstalled)
}

func (f *fixture) app(key string) *app { return f.apps[key] }

// tenant is the app's record of the site.
func (f *fixture) tenant(a *app) *tenant.Tenant {
	return &tenant.Tenant{
		ClientKey: f.sim.ClientKey(), AppKey: a.key, BaseURL: f.sim.URL(), DisplayURL: f.sim.URL(),
		ProductType: "jira", OAuthClientID: a.oauthClientID, SharedSecret: a.secret, Scopes: a.declared(),
		State: tenant.State(a.state),
	}
}

// appJWT is the token the app's Jira client signs for a request.
func (f *fixture) appJWT(t *testing.T, a *app, method, relURL string) string {
	t.Helper()
	tok, err := jira.SignAppToken(a.key, f.tenant(a), method, relURL, f.now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claims are the claims of a correct app JWT for method and relURL; cases
// change one of them to reproduce a mistake.
func (f *fixture) claims(a *app, method, relURL string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": a.key, "iat": f.now.Unix(), "exp": f.now.Add(3 * time.Minute).Unix(),
		"qsh": connect.RequestQSH(method, relURL, ""), "aud": []string{f.sim.ClientKey()},
	}
}

// sign hand-signs claims with HS256.
func sign(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// exchanger performs the JWT-bearer grant against the simulator's
// authorization server, on the simulator's clock.
func (f *fixture) exchanger() *oauth.Exchanger {
	return &oauth.Exchanger{TokenURL: f.sim.AuthServerURL(), Now: func() time.Time { return f.now }, Timeout: 5 * time.Second}
}

// userToken obtains a real user access token from the simulator.
func (f *fixture) userToken(t *testing.T, a *app, accountID string, scopes scope.Set) (string, error) {
	t.Helper()
	tok, err := f.exchanger().Exchange(t.Context(), f.tenant(a), accountID, scopes)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// request builds a request to the site with relURL ("/rest/…?…").
func (f *fixture) request(t *testing.T, method, relURL string, body io.Reader) *http.Request {
	t.Helper()
	return newRequest(t, method, f.sim.URL()+relURL, body)
}

func newRequest(t *testing.T, method, rawURL string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	return req
}

// send performs req for real and captures the exchange as the engine
// takes it: method, absolute URL, headers (Authorization included), body
// presence; status, headers and body of the answer. A transport failure
// is returned as err with a zero Response.
func (f *fixture) send(t *testing.T, req *http.Request) (explain.Request, explain.Response, error) {
	t.Helper()
	ereq := explain.Request{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(),
		HasBody: req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0}
	resp, err := f.client.Do(req)
	if err != nil {
		return ereq, explain.Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ereq, explain.Response{}, err
	}
	return ereq, explain.Response{Status: resp.StatusCode, Header: resp.Header.Clone(), Body: body}, nil
}

// context is what the admin panel knows when it runs a check for app a as
// identity: the tenant's baseUrl, declared scopes, app key, clientKey,
// current and previous shared secrets, the app's record of the
// installation and the clock.
func (f *fixture) context(a *app, identity string) explain.Context {
	c := explain.Context{
		TenantBaseURL: f.sim.URL(), DeclaredScopes: a.declared(), AppKey: a.key, ClientKey: f.sim.ClientKey(),
		SharedSecret: a.secret, Identity: identity, TenantState: a.state, Now: f.now,
	}
	if a.previous != "" {
		c.PreviousSecrets = []string{a.previous}
	}
	return c
}

// withPreflight adds the preflight the admin panel computes before a call.
func (f *fixture) withPreflight(in explain.Input, tokenScopes scope.Set) explain.Input {
	if in.Context.DeclaredScopes == nil || in.Context.Identity == "" {
		return in
	}
	u, err := url.Parse(in.Request.URL)
	if err != nil || !strings.HasPrefix(in.Request.URL, f.sim.URL()) {
		return in
	}
	pf := preflight.Predict(f.cat, preflight.Input{Method: in.Request.Method, Path: u.EscapedPath(),
		Identity: preflight.Identity(in.Context.Identity), DeclaredScopes: in.Context.DeclaredScopes, TokenScopes: tokenScopes})
	in.Context.Preflight = &pf
	return in
}

// mustStatus fails the case when the simulator did not produce the
// failure the case is about (a broken setup, not an engine miss).
func mustStatus(t *testing.T, resp explain.Response, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("request failed: %v", err)
	}
	if resp.Status != want {
		t.Fatalf("simulator answered %d, want %d; body %s", resp.Status, want, truncate(string(resp.Body), 300))
	}
}

func mustFail(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("the request succeeded; the case needs it to fail")
	}
}

func mustOAuthError(t *testing.T, err error, code string) *oauth.Error {
	t.Helper()
	oe, ok := errors.AsType[*oauth.Error](err)
	if !ok {
		t.Fatalf("exchange error %v is not an *oauth.Error", err)
	}
	if oe.Code != code {
		t.Fatalf("exchange error code %q (%v), want %q", oe.Code, err, code)
	}
	return oe
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
