package jira_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// e2eApp is the smallest Connect app the simulator can install: it serves a
// descriptor and keeps the install payload (it does not verify callbacks;
// the app core does that and is tested elsewhere).
type e2eApp struct {
	srv    *httptest.Server
	key    string
	scopes []string

	mu      sync.Mutex
	payload struct {
		Key, ClientKey, SharedSecret, BaseURL, DisplayURL, OAuthClientID, ProductType string
	}
}

func newE2EApp(t *testing.T, key string, scopes ...string) *e2eApp {
	a := &e2eApp{key: key, scopes: scopes}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /atlassian-connect.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"key": a.key, "name": "E2E " + a.key, "baseUrl": a.srv.URL,
			"authentication": map[string]string{"type": "jwt"},
			"lifecycle":      map[string]string{"installed": "/installed", "uninstalled": "/uninstalled", "enabled": "/enabled", "disabled": "/disabled"},
			"apiMigrations":  map[string]bool{"signed-install": true, "context-qsh": true},
			"scopes":         a.scopes,
		})
	})
	mux.HandleFunc("POST /installed", func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err := json.Unmarshal(raw, &a.payload); err != nil {
			t.Errorf("install payload: %v", err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, ev := range []string{"uninstalled", "enabled", "disabled"} {
		mux.HandleFunc("POST /"+ev, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	}
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *e2eApp) tenant() *tenant.Tenant {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.payload
	return &tenant.Tenant{
		ClientKey: p.ClientKey, AppKey: p.Key, BaseURL: p.BaseURL, DisplayURL: p.DisplayURL, ProductType: p.ProductType,
		OAuthClientID: p.OAuthClientID, SharedSecret: p.SharedSecret, State: tenant.StateInstalled,
	}
}

// e2eSetup installs an app declaring READ, WRITE and ACT_AS_USER (no
// ADMIN) into a fresh simulator and returns a client wired to the
// simulator's authorization server.
func e2eSetup(t *testing.T) (*jirasim.Sim, *tenant.Tenant, *jira.Client, *oauth.Cache) {
	sim, err := jirasim.New(jirasim.Options{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	app := newE2EApp(t, "com.example.e2e", "READ", "WRITE", "ACT_AS_USER")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := sim.InstallApp(ctx, app.srv.URL+"/atlassian-connect.json"); err != nil {
		t.Fatal(err)
	}
	tenant := app.tenant()
	if tenant.SharedSecret == "" || tenant.OAuthClientID == "" || tenant.BaseURL != sim.URL() {
		t.Fatalf("install payload incomplete: clientKey %q baseUrl %q oauthClientId %q", tenant.ClientKey, tenant.BaseURL, tenant.OAuthClientID)
	}
	tokens := oauth.NewCache(&oauth.Exchanger{TokenURL: sim.AuthServerURL(), Timeout: 10 * time.Second}, oauth.CacheOptions{})
	// A client-side timeout so a stuck simulator fails the test quickly.
	client := jira.New(jira.Options{AppKey: "com.example.e2e", Version: "e2e", Tokens: tokens,
		HTTP: &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 10 * time.Second}}})
	return sim, tenant, client, tokens
}

func TestE2EMyself(t *testing.T) {
	sim, tenant, client, tokens := e2eSetup(t)
	type me struct {
		AccountID string `json:"accountId"`
	}
	resp, err := client.AsApp(tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got me
	json.Unmarshal(resp.Body, &got)
	if bot := sim.User("bot:com.example.e2e"); got.AccountID == "" || got.AccountID != bot.AccountID {
		t.Errorf("as app: accountId %q, want the bot user %q", got.AccountID, bot.AccountID)
	}

	user := sim.User("user")
	for range 2 {
		resp, err = client.AsUser(tenant, user.AccountID).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(resp.Body, &got)
		if got.AccountID != user.AccountID {
			t.Errorf("as user: accountId %q, want %q", got.AccountID, user.AccountID)
		}
	}
	if s := tokens.Stats(); s.Exchanges != 1 || s.Hits != 1 {
		t.Errorf("token cache %+v, want 1 exchange and 1 hit", s)
	}
}

func TestE2EPermissionsNeedsAdminScope(t *testing.T) {
	sim, tenant, client, _ := e2eSetup(t)
	_, err := client.AsApp(tenant).Call(t.Context(), "GET", "/rest/api/2/permissions", nil)
	ae, ok := errors.AsType[*jira.APIError](err)
	if !ok || ae.StatusCode != http.StatusForbidden || ae.Identity != jira.IdentityApp {
		t.Fatalf("as app without ADMIN: %v", err)
	}
	if ae.Message() == "" {
		t.Errorf("no message in %q", ae.Body)
	}

	// The simulator's documented status for an impersonation token lacking
	// the operation's scope is 401 (Options.UserTokenScopeDenialStatus);
	// the client refreshes the token once, then reports it.
	_, err = client.AsUser(tenant, sim.User("admin").AccountID).Call(t.Context(), "GET", "/rest/api/2/permissions", nil)
	ae, ok = errors.AsType[*jira.APIError](err)
	if !ok || ae.StatusCode != http.StatusUnauthorized || ae.Identity != jira.IdentityUser || ae.Attempts != 2 || ae.Cause != jira.CauseTokenRefreshed {
		t.Fatalf("as user: %v (%+v)", err, ae)
	}
}

func TestE2EEditIssue(t *testing.T) {
	sim, tenant, client, _ := e2eSetup(t)
	body := []byte(`{"fields":{"summary":"Renamed by the e2e test"}}`)
	resp, err := client.AsApp(tenant).Call(t.Context(), "PUT", "/rest/api/3/issue/DOC-1", body)
	if err != nil || resp.Status != http.StatusNoContent {
		t.Fatalf("as app: %v", err)
	}
	resp, err = client.AsUser(tenant, sim.User("admin").AccountID).Call(t.Context(), "PUT", "/rest/api/3/issue/DOC-1?notifyUsers=false", body)
	if err != nil || resp.Status != http.StatusNoContent {
		t.Fatalf("as admin user: %v", err)
	}
	resp, err = client.AsApp(tenant).Call(t.Context(), "GET", "/rest/api/3/issue/DOC-1?fields=summary", nil)
	if err != nil {
		t.Fatal(err)
	}
	var issue struct {
		Fields struct {
			Summary string `json:"summary"`
		} `json:"fields"`
	}
	json.Unmarshal(resp.Body, &issue)
	if issue.Fields.Summary != "Renamed by the e2e test" {
		t.Errorf("summary %q", issue.Fields.Summary)
	}
}

func TestE2EPermissionProbes(t *testing.T) {
	sim, tenant, client, _ := e2eSetup(t)
	admin, user := sim.User("admin"), sim.User("user")
	p, err := client.MyPermissions(t.Context(), tenant, admin.AccountID, "ADMINISTER", "BROWSE_PROJECTS")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Global["ADMINISTER"] || !p.Has("BROWSE_PROJECTS") {
		t.Errorf("admin: %+v", p)
	}
	p, err = client.MyPermissions(t.Context(), tenant, user.AccountID, "ADMINISTER")
	if err != nil {
		t.Fatal(err)
	}
	if p.Has("ADMINISTER") {
		t.Errorf("regular user holds ADMINISTER: %+v", p)
	}
	got, err := client.CheckPermissions(t.Context(), tenant, user.AccountID, "ADMINISTER")
	if err != nil {
		t.Fatal(err)
	}
	if got["ADMINISTER"] {
		t.Errorf("check: %v", got)
	}
	got, err = client.CheckPermissions(t.Context(), tenant, admin.AccountID, "ADMINISTER")
	if err != nil || !got["ADMINISTER"] {
		t.Errorf("check admin: %v %v", got, err)
	}
}

// TestE2EFaults drives the retry decorator and the oauth errors with the
// simulator's faults; sleeps are recorded, not slept.
func TestE2EFaults(t *testing.T) {
	sim, tenant, _, _ := e2eSetup(t)
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	tokens := oauth.NewCache(&oauth.Exchanger{TokenURL: sim.AuthServerURL(), Timeout: 10 * time.Second}, oauth.CacheOptions{})
	client := jira.New(jira.Options{AppKey: "com.example.e2e", Tokens: tokens,
		Retry: jira.RetryPolicy{Sleep: sleep, MaxRetryAfter: 10 * time.Second}})

	sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, RetryAfter: time.Second, Count: 1})
	if _, err := client.AsApp(tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil); err != nil {
		t.Fatalf("429 once then 200: %v", err)
	}
	if len(waits) != 1 || waits[0] < time.Second || waits[0] > 1300*time.Millisecond {
		t.Errorf("waits %v, want one in [1s, 1.3s] (Retry-After plus up to 30%% jitter)", waits)
	}

	sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, RetryAfter: time.Minute, Count: 1})
	_, err := client.AsApp(tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	if ae, ok := errors.AsType[*jira.APIError](err); !ok || ae.StatusCode != 429 || ae.RetryAfter != time.Minute || ae.Cause != jira.CauseRetryAfterCap {
		t.Errorf("429 beyond the cap: %v", err)
	}
	sim.ClearFaults()

	sim.SetFault(jirasim.Fault{Kind: jirasim.Unavailable, Count: 1})
	_, err = client.AsApp(tenant).Call(t.Context(), "POST", "/rest/api/3/permissions/check", []byte(`{"accountId":"x","globalPermissions":["ADMINISTER"]}`))
	if ae, ok := errors.AsType[*jira.APIError](err); !ok || ae.StatusCode != 503 || ae.Attempts != 1 || ae.Cause != jira.CauseNotIdempotent {
		t.Errorf("POST on 503 without Retry-After: %v", err)
	}
	sim.ClearFaults()

	sim.SetFault(jirasim.Fault{Kind: jirasim.TokenServerDown, Drop: true})
	_, err = client.AsUser(tenant, sim.User("user").AccountID).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	if !errors.Is(err, jira.ErrToken) || !errors.Is(err, oauth.ErrNetwork) {
		t.Errorf("token server down: %v", err)
	}
	sim.ClearFaults()

	_, err = client.AsUser(tenant, sim.User("inactive").AccountID).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	if oe, ok := errors.AsType[*oauth.Error](err); !ok || oe.Code != "invalid_grant" {
		t.Errorf("inactive user: %v", err)
	}
}
