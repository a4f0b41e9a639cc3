package jira_test

import (
	"context"
	"errors"
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

	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// gateway is a fake api.atlassian.com/ex/jira/<cloudId>: it accepts the
// bearer tokens in good and answers scripted statuses per request.
type gateway struct {
	srv    *httptest.Server
	mu     sync.Mutex
	good   map[string]bool
	script []int // statuses to answer first, in order
	seen   []string
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{good: map[string]bool{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		io.Copy(io.Discard, r.Body)
		g.seen = append(g.seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		if len(g.script) > 0 {
			st := g.script[0]
			g.script = g.script[1:]
			w.WriteHeader(st)
			fmt.Fprintf(w, `{"code":%d,"message":"scripted"}`, st)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !g.good[tok] || !strings.HasPrefix(r.URL.Path, "/ex/jira/cloud-1/rest/") {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"code":401,"message":"Unauthorized"}`)
			return
		}
		io.WriteString(w, `{"accountId":"x","globalPermissions":["ADMINISTER"]}`)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

// tokens is a BearerSource handing out tok-1, tok-2, … after each refresh.
type tokens struct {
	n           atomic.Int64
	refreshable bool
	fail        error
}

func (s *tokens) Bearer(context.Context) (string, error) {
	if s.fail != nil {
		return "", s.fail
	}
	return fmt.Sprintf("tok-%d", s.n.Load()+1), nil
}

func (s *tokens) Refresh(string) bool {
	if !s.refreshable {
		return false
	}
	s.n.Add(1)
	return true
}

func forgeClient(g *gateway, check func(string) error) *jira.Client {
	return jira.New(jira.Options{AppKey: "connect-doctor", Version: "1", ForgeBaseCheck: check,
		Retry: jira.RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}})
}

func allowHost(host string) func(string) error {
	return func(raw string) error {
		u, err := url.Parse(raw)
		if err != nil || u.Host != host {
			return fmt.Errorf("host of %q is not allowed", raw)
		}
		return nil
	}
}

func TestForgeIdentity(t *testing.T) {
	g := newGateway(t)
	host := strings.TrimPrefix(g.srv.URL, "http://")
	mkTenant := func(base string) *tenant.Tenant {
		return &tenant.Tenant{ClientKey: "ari:cloud:ecosystem::installation/i", BaseURL: "https://acme.atlassian.net",
			APIBaseURL: base, State: tenant.StateInstalled}
	}
	gw := g.srv.URL + "/ex/jira/cloud-1"
	tests := []struct {
		name      string
		tenant    *tenant.Tenant
		check     func(string) error
		user      string
		path      string
		script    []int
		good      []string
		src       *tokens
		wantErr   error
		status    int
		identity  string
		attempts  int
		wantToken string
	}{
		{name: "app token to the gateway", tenant: mkTenant(gw), check: allowHost(host), path: "/rest/api/3/myself",
			good: []string{"tok-1"}, src: &tokens{}, status: 200, attempts: 1, wantToken: "Bearer tok-1"},
		{name: "user token", tenant: mkTenant(gw), check: allowHost(host), user: "acc-1", path: "/rest/api/3/myself",
			good: []string{"tok-1"}, src: &tokens{}, status: 200, attempts: 1, wantToken: "Bearer tok-1"},
		{name: "503 then 200 is retried", tenant: mkTenant(gw), check: allowHost(host), path: "/rest/api/3/myself",
			script: []int{503}, good: []string{"tok-1"}, src: &tokens{}, status: 200, attempts: 2},
		{name: "401 with a refreshable source is retried once with a new token", tenant: mkTenant(gw), check: allowHost(host), user: "acc-1",
			path: "/rest/api/3/myself", good: []string{"tok-2"}, src: &tokens{refreshable: true}, status: 200, attempts: 2, wantToken: "Bearer tok-2"},
		{name: "401 from a Forge-delivered token is final, typed", tenant: mkTenant(gw), check: allowHost(host), path: "/rest/api/3/myself",
			src: &tokens{}, status: 401, identity: jira.IdentityForgeApp, attempts: 1},
		{name: "403 names the user identity", tenant: mkTenant(gw), check: allowHost(host), user: "acc-1", path: "/rest/api/3/myself",
			script: []int{403}, src: &tokens{}, status: 403, identity: jira.IdentityForgeUser, attempts: 1},
		{name: "host outside FORGE_API_HOSTS", tenant: mkTenant(gw), check: allowHost("api.atlassian.com"), path: "/rest/api/3/myself",
			src: &tokens{}, wantErr: jira.ErrTenant},
		{name: "site URL as apiBaseUrl is refused", tenant: mkTenant("https://acme.atlassian.net"), check: allowHost(host), path: "/rest/api/3/myself",
			src: &tokens{}, wantErr: jira.ErrTenant},
		{name: "no allow-list configured", tenant: mkTenant(gw), path: "/rest/api/3/myself", src: &tokens{}, wantErr: jira.ErrConfig},
		{name: "no Forge installation", tenant: mkTenant(""), check: allowHost(host), path: "/rest/api/3/myself", src: &tokens{}, wantErr: jira.ErrTenant},
		{name: "absolute URL refused", tenant: mkTenant(gw), check: allowHost(host), path: "https://evil.example/rest/api/3/myself", src: &tokens{}, wantErr: jira.ErrAbsoluteURL},
		{name: "dot segments refused", tenant: mkTenant(gw), check: allowHost(host), path: "/rest/api/3/%2e%2e/%2e%2e/x", src: &tokens{}, wantErr: jira.ErrPathNotAllowed},
		{name: "no token", tenant: mkTenant(gw), check: allowHost(host), path: "/rest/api/3/myself", src: &tokens{fail: errors.New("no system token stored")}, wantErr: jira.ErrToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.mu.Lock()
			g.script, g.good, g.seen = tc.script, map[string]bool{}, nil
			for _, k := range tc.good {
				g.good[k] = true
			}
			g.mu.Unlock()
			c := forgeClient(g, tc.check)
			d := c.AsForgeApp(tc.tenant, tc.src)
			if tc.user != "" {
				d = c.AsForgeUser(tc.tenant, tc.user, tc.src)
			}
			resp, err := d.Call(t.Context(), "GET", tc.path, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if n := len(g.requests()); n != 0 {
					t.Fatalf("%d requests sent", n)
				}
				return
			}
			if resp == nil || resp.Status != tc.status || resp.Attempts != tc.attempts {
				t.Fatalf("resp %+v err %v", resp, err)
			}
			if tc.status >= 400 {
				ae, ok := errors.AsType[*jira.APIError](err)
				if !ok || ae.Identity != tc.identity || ae.StatusCode != tc.status || ae.ClientKey != tc.tenant.ClientKey {
					t.Fatalf("APIError %+v", err)
				}
				if tc.user != "" && ae.AccountID != tc.user {
					t.Fatalf("account %q", ae.AccountID)
				}
			}
			reqs := g.requests()
			last := reqs[len(reqs)-1]
			if !strings.HasPrefix(last, "GET /ex/jira/cloud-1/rest/api/3/myself ") {
				t.Fatalf("sent %q", last)
			}
			if tc.wantToken != "" && !strings.HasSuffix(last, tc.wantToken) {
				t.Fatalf("sent %q, want %s", last, tc.wantToken)
			}
		})
	}
}

func TestForgeCheckPermissionsAs(t *testing.T) {
	g := newGateway(t)
	g.good["tok-1"] = true
	host := strings.TrimPrefix(g.srv.URL, "http://")
	c := forgeClient(g, allowHost(host))
	tn := &tenant.Tenant{ClientKey: "ck", APIBaseURL: g.srv.URL + "/ex/jira/cloud-1", State: tenant.StateInstalled}
	for range 2 {
		got, err := c.CheckPermissionsAs(t.Context(), c.AsForgeApp(tn, &tokens{}), "acc-1", "ADMINISTER", "SYSTEM_ADMIN")
		if err != nil || !got["ADMINISTER"] || got["SYSTEM_ADMIN"] {
			t.Fatalf("%v %v", got, err)
		}
	}
	if n := len(g.requests()); n != 1 {
		t.Fatalf("%d requests, want 1 (cached)", n)
	}
	c.ForgetPermissions("ck")
	if _, err := c.CheckPermissionsAs(t.Context(), c.AsForgeApp(tn, &tokens{}), "acc-1", "ADMINISTER"); err != nil {
		t.Fatal(err)
	}
	if n := len(g.requests()); n != 2 {
		t.Fatalf("%d requests after ForgetPermissions", n)
	}
}
