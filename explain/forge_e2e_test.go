package explain_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// e2eClock is the adjustable clock of the end-to-end tests.
type e2eClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *e2eClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *e2eClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type forgeWorld struct {
	clock *e2eClock
	site  *forgesim.Site
	// got is the last request Forge delivered to the recording remote.
	mu  sync.Mutex
	got http.Header
	rem *httptest.Server
}

func newForgeWorld(t *testing.T, scopes []string, env string) *forgeWorld {
	t.Helper()
	k, err := testKey()
	if err != nil {
		t.Fatal(err)
	}
	w := &forgeWorld{clock: &e2eClock{t: testNow}}
	w.site = forgesim.NewSite(forgesim.SiteOptions{CloudID: forgeCloud, SiteURL: "https://acme.atlassian.net", Scopes: scopes, Environment: env,
		Now: w.clock.Now, Seed: 11, Key: k, KID: "forge/prod-1", Invoker: forgesim.InvokerOptions{Retries: -1}})
	t.Cleanup(w.site.Close)
	w.rem = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		w.got = r.Header.Clone()
		w.mu.Unlock()
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.rem.Close)
	return w
}

// deliver has Forge call the recording remote and returns the headers it got.
func (w *forgeWorld) deliver(t *testing.T, spec forgesim.InvocationSpec) http.Header {
	t.Helper()
	spec.InstallationID = w.site.InstallationID()
	if _, err := w.site.Invoker().Invoke(context.Background(), w.rem.URL, "/forge/api/checks", spec); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got
}

// exchange performs a real request and captures it for the engine.
func exchange(t *testing.T, method, url string, h http.Header) (explain.Request, explain.Response) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return explain.Request{Method: method, URL: url, Header: h}, explain.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func bearerHdr(tok string) http.Header {
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return h
}

func granularMyself() []string {
	return []string{"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"}
}

// TestForgeEndToEnd feeds real exchanges with the forgesim gateway, the
// simulated site and a FIT-verifying remote to the engine.
func TestForgeEndToEnd(t *testing.T) {
	cases := []struct {
		name   string
		scopes []string
		env    string
		run    func(t *testing.T, w *forgeWorld) explain.Input
		top    string
		fix    []string
		status int
	}{
		{name: "admin check as the app succeeds", scopes: forgesim.DefaultScopes(), status: 200, top: "",
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				inv := w.deliver(t, forgesim.InvocationSpec{WithSystemToken: true})
				req, resp := exchange(t, "GET", w.site.APIBaseURL()+"/rest/api/3/mypermissions?permissions=ADMINISTER", bearerHdr(inv.Get(forgesim.HeaderSystemToken)))
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, ForgeInvocation: inv, Now: w.clock.Now()}}
			}},
		{name: "missing granular scope as the user", scopes: append([]string{"read:app-user-token", "read:app-system-token"}, granularMyself()[:3]...), status: 403,
			top: explain.MissingScopeGrants, fix: []string{"Add read:avatar:jira to permissions.scopes"},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				inv := w.deliver(t, forgesim.InvocationSpec{Kind: forgesim.KindUI, AccountID: forgeUser, WithSystemToken: true, WithUserToken: true})
				req, resp := exchange(t, "GET", w.site.APIBaseURL()+"/rest/api/3/myself", bearerHdr(inv.Get(forgesim.HeaderUserToken)))
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, ForgeInvocation: inv, Now: w.clock.Now()}}
			}},
		{name: "missing classic scope as the app", scopes: []string{"read:app-system-token", "read:jira-work"}, status: 401,
			top: explain.OAuthScopeMismatch, fix: []string{"Add read:jira-user"},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				inv := w.deliver(t, forgesim.InvocationSpec{WithSystemToken: true})
				req, resp := exchange(t, "GET", w.site.APIBaseURL()+"/rest/api/3/myself", bearerHdr(inv.Get(forgesim.HeaderSystemToken)))
				in, _ := w.site.Gateway().Installation(w.site.InstallationID())
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, GrantedScopes: in.Scopes, Now: w.clock.Now()}}
			}},
		{name: "connect scopes only", scopes: []string{"read:connect-jira", "admin:connect-jira", "read:app-system-token"}, status: 401,
			top: explain.ConnectScopesOnlyOnForgePath, fix: []string{"manage:jira-configuration", "read:jira-user"},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				inv := w.deliver(t, forgesim.InvocationSpec{WithSystemToken: true})
				req, resp := exchange(t, "GET", w.site.APIBaseURL()+"/rest/api/3/myself", bearerHdr(inv.Get(forgesim.HeaderSystemToken)))
				in, _ := w.site.Gateway().Installation(w.site.InstallationID())
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, GrantedScopes: in.Scopes, Now: w.clock.Now()}}
			}},
		{name: "site URL instead of the gateway", scopes: forgesim.DefaultScopes(), status: 401,
			top: explain.SiteURLInsteadOfAPIGateway, fix: []string{"https://api.atlassian.com/ex/jira/" + forgeCloud + "/rest/api/3/myself"},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				site := httptest.NewServer(w.site.Gateway().SiteHandler())
				t.Cleanup(site.Close)
				inv := w.deliver(t, forgesim.InvocationSpec{WithSystemToken: true})
				req, resp := exchange(t, "GET", site.URL+"/rest/api/3/myself", bearerHdr(inv.Get(forgesim.HeaderSystemToken)))
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, TenantBaseURL: site.URL, ForgeInvocation: inv, Now: w.clock.Now()}}
			}},
		{name: "cached system token expired", scopes: forgesim.DefaultScopes(), status: 401, top: explain.ForgeTokenExpired,
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				inv := w.deliver(t, forgesim.InvocationSpec{WithSystemToken: true})
				w.clock.Add(forgesim.DefaultSystemTokenTTL + time.Minute)
				req, resp := exchange(t, "GET", w.site.APIBaseURL()+"/rest/api/3/myself", bearerHdr(inv.Get(forgesim.HeaderSystemToken)))
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, Now: w.clock.Now()}}
			}},
		{name: "user token wanted in a scheduled trigger", scopes: forgesim.DefaultScopes(), status: 401, top: explain.ForgeTokenAbsent, fix: []string{"offlineUserAuthToken", "ari:cloud:jira::site/" + forgeCloud},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				inv := w.deliver(t, forgesim.InvocationSpec{Kind: forgesim.KindScheduled, AccountID: forgeUser, WithSystemToken: true, WithUserToken: true})
				req, resp := exchange(t, "GET", w.site.APIBaseURL()+"/rest/api/3/myself", bearerHdr(inv.Get(forgesim.HeaderUserToken)))
				return explain.Input{Request: req, Response: resp, Context: explain.Context{Path: explain.PathForge, Identity: explain.IdentityUser, ForgeInvocation: inv, Now: w.clock.Now()}}
			}},
		{name: "development install refused by a production remote", scopes: forgesim.DefaultScopes(), env: "DEVELOPMENT", status: 401, top: explain.FITDevEnvironment, fix: []string{"FORGE_ALLOWED_ENVIRONMENTS"},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				return remoteExchange(t, w, 0)
			}},
		{name: "FIT expired by a remote whose clock runs ahead", scopes: forgesim.DefaultScopes(), status: 401, top: explain.FITExpired, fix: []string{"NTP"},
			run: func(t *testing.T, w *forgeWorld) explain.Input {
				return remoteExchange(t, w, 50*time.Second)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newForgeWorld(t, tc.scopes, tc.env)
			in := tc.run(t, w)
			if in.Response.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", in.Response.Status, tc.status, in.Response.Body)
			}
			d := engine.Diagnose(in)
			top, ok := d.Top()
			if tc.top == "" {
				if d.Verdict != explain.VerdictOK || (ok && top.Confidence >= 0.5) {
					t.Fatalf("a success was diagnosed\n%s", dump(d))
				}
				return
			}
			if !ok || top.Code != tc.top {
				t.Fatalf("top cause %v, want %s\n%s", top.Code, tc.top, dump(d))
			}
			if top.Confidence < 0.8 {
				t.Errorf("confidence %.2f", top.Confidence)
			}
			for _, f := range tc.fix {
				if !strings.Contains(top.Fix, f) {
					t.Errorf("fix lacks %q: %s", f, top.Fix)
				}
			}
		})
	}
}

// remoteExchange delivers an installed event to a remote that verifies the
// FIT with the forge package (production only, clock ahead by skew) and
// returns the exchange with the engine's context.
func remoteExchange(t *testing.T, w *forgeWorld, skew time.Duration) explain.Input {
	t.Helper()
	remoteNow := func() time.Time { return w.clock.Now().Add(skew) }
	v, err := forge.NewVerifier(forge.Config{AppID: w.site.AppID(), JWKSURL: w.site.JWKSURL(), HTTPClient: w.site.KeyHost().Client(), Now: remoteNow, Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var in explain.Input
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		if _, err := v.VerifyRequest(r); err != nil {
			httperr.Write(rec, err)
		} else {
			rec.WriteHeader(http.StatusNoContent)
		}
		rec.Header().Set("Date", remoteNow().UTC().Format(http.TimeFormat))
		mu.Lock()
		in = explain.Input{Request: explain.Request{Method: r.Method, URL: "https://connect-doctor.example.com" + r.URL.RequestURI(), Header: r.Header.Clone(), HasBody: true},
			Response: explain.Response{Status: rec.Code, Header: rec.Header().Clone(), Body: bytes.Clone(rec.Body.Bytes())},
			Context:  explain.Context{Path: explain.PathForge, ForgeAppID: w.site.AppID(), Now: remoteNow()}}
		mu.Unlock()
		for k, vs := range rec.Header() {
			rw.Header()[k] = vs
		}
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	resp, err := w.site.Install(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp
	mu.Lock()
	defer mu.Unlock()
	return in
}
