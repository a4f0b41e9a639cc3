package forgesim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// clock is an adjustable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	cloudA = "0c3c2d1e-1111-2222-3333-444455556666"
	cloudB = "9f8e7d6c-5555-4444-3333-222211110000"
	instA  = "ari:cloud:ecosystem::installation/aaaaaaaa-0000-4000-8000-000000000001"
	instB  = "ari:cloud:ecosystem::installation/bbbbbbbb-0000-4000-8000-000000000002"
	user1  = "5b10ac8d82e05b22cc7d4ef5"
)

func newGateway(t *testing.T, c *clock, scopes []string) *forgesim.Gateway {
	t.Helper()
	g := forgesim.NewGateway(forgesim.GatewayOptions{Now: c.Now, Seed: 7})
	t.Cleanup(g.Close)
	g.AddSite(cloudA, "https://acme.atlassian.net")
	g.AddSite(cloudB, "https://other.atlassian.net")
	g.Install(forgesim.InstallationSpec{InstallationID: instA, AppID: forgesim.DefaultAppID, CloudID: cloudA, Scopes: scopes})
	g.Install(forgesim.InstallationSpec{InstallationID: instB, AppID: forgesim.DefaultAppID, CloudID: cloudB, Scopes: scopes})
	return g
}

func call(t *testing.T, method, url, token string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The literal bodies of forge.md §3 O1 and O2.
const (
	bodyO1 = `{"code":401,"message":"Unauthorized; scope does not match"}`
	bodyO2 = `{"errorMessages":["Access to the resource was denied due to missing scope grants. Your app was granted the following scopes: [].\nThe resource can be accessed by having one of these groups of scopes:\n * [read:jira-user]\n * [read:application-role:jira, read:group:jira, read:user:jira, read:avatar:jira]\n"]}`
)

func TestGatewayAnswers(t *testing.T) {
	granularMyself := []string{"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"}
	cases := []struct {
		name       string
		scopes     []string
		kind       string // system | user
		admin      bool
		method     string
		path       string // after the gateway URL
		advance    time.Duration
		revoke     bool
		wantStatus int
		wantBody   string // exact, when set
		wantHas    string // substring, when set
	}{
		{name: "system token myself", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 200, wantHas: `"accountType":"app"`},
		{name: "user token myself", scopes: forgesim.DefaultScopes(), kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 200, wantHas: `"accountId":"` + user1 + `"`},
		{name: "user API: another account's display name", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/user?accountId=" + user1, wantStatus: 200, wantHas: `"accountId":"` + user1 + `","accountType":"atlassian","active":true,"displayName":`},
		{name: "user API without accountId", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/user", wantStatus: 400, wantHas: "accountId"},
		{name: "v2 path maps to the v3 operation", scopes: forgesim.DefaultScopes(), kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/2/myself", wantStatus: 200, wantHas: user1},
		{name: "system token lacks scope: O1", scopes: []string{"read:app-system-token", "read:jira-work"}, kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 401, wantBody: bodyO1},
		{name: "user token with no scopes: O2 verbatim", scopes: []string{}, kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 403, wantBody: bodyO2},
		{name: "user token lists granted scopes", scopes: []string{"read:app-user-token", "read:jira-work"}, kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 403, wantHas: `granted the following scopes: [read:app-user-token, read:jira-work].`},
		{name: "granular set complete", scopes: granularMyself, kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 200},
		{name: "granular set incomplete (all-of)", scopes: granularMyself[:3], kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 401, wantBody: bodyO1},
		{name: "connect scopes do not count", scopes: []string{"read:connect-jira", "admin:connect-jira", "read:app-system-token"}, kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 401, wantBody: bodyO1},
		{name: "connect-only operation", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudA + "/rest/atlassian-connect/1/addons/com.example/properties", wantStatus: 401, wantBody: bodyO1},
		{name: "anonymous operation needs no scope", scopes: []string{}, kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/serverInfo", wantStatus: 200, wantHas: `"baseUrl":"https://acme.atlassian.net"`},
		{name: "expired token", scopes: forgesim.DefaultScopes(), kind: "system", advance: forgesim.DefaultSystemTokenTTL, path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 401, wantBody: `{"code":401,"message":"Unauthorized"}`},
		{name: "revoked token", scopes: forgesim.DefaultScopes(), kind: "system", revoke: true, path: "/ex/jira/" + cloudA + "/rest/api/3/myself", wantStatus: 401, wantBody: `{"code":401,"message":"Unauthorized"}`},
		{name: "token of another site", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudB + "/rest/api/3/myself", wantStatus: 401, wantBody: `{"code":401,"message":"Unauthorized"}`},
		{name: "unknown cloudId", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/11111111-2222-3333-4444-555555555555/rest/api/3/myself", wantStatus: 404, wantBody: `{"code":404,"message":"Not Found"}`},
		{name: "no /ex/jira prefix", scopes: forgesim.DefaultScopes(), kind: "system", path: "/rest/api/3/myself", wantStatus: 404, wantBody: `{"code":404,"message":"Not Found"}`},
		{name: "unknown operation", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/nothing-here", wantStatus: 404, wantHas: "errorMessages"},
		{name: "admin check: app bot with manage:jira-configuration", scopes: forgesim.DefaultScopes(), kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/permissions", wantStatus: 200, wantHas: "ADMINISTER"},
		{name: "admin operation: user without ADMINISTER", scopes: forgesim.DefaultScopes(), kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/3/announcementBanner", wantStatus: 403, wantBody: `{"errorMessages":["You do not have permission to perform this action."],"errors":{}}`},
		{name: "admin operation: admin user", scopes: forgesim.DefaultScopes(), kind: "user", admin: true, path: "/ex/jira/" + cloudA + "/rest/api/3/announcementBanner", wantStatus: 200, wantHas: "getBanner"},
		{name: "admin operation: app bot without manage:jira-configuration", scopes: []string{"read:app-system-token", "read:permission:jira"}, kind: "system", path: "/ex/jira/" + cloudA + "/rest/api/3/permissions", wantStatus: 200},
		{name: "admin check: admin user", scopes: forgesim.DefaultScopes(), kind: "user", admin: true, path: "/ex/jira/" + cloudA + "/rest/api/3/mypermissions?permissions=ADMINISTER", wantStatus: 200, wantHas: `"havePermission":true`},
		{name: "mypermissions: regular user", scopes: forgesim.DefaultScopes(), kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/3/mypermissions?permissions=ADMINISTER", wantStatus: 200, wantHas: `"havePermission":false`},
		{name: "project search", scopes: forgesim.DefaultScopes(), kind: "user", path: "/ex/jira/" + cloudA + "/rest/api/3/project/search", wantStatus: 200, wantHas: `"key":"DOC"`},
		{name: "write without write scope", scopes: forgesim.DefaultScopes(), kind: "user", method: "POST", path: "/ex/jira/" + cloudA + "/rest/api/3/issue", wantStatus: 403, wantHas: "missing scope grants"},
		{name: "generic write", scopes: append(forgesim.DefaultScopes(), "write:jira-work"), kind: "user", method: "POST", path: "/ex/jira/" + cloudA + "/rest/api/3/issue", wantStatus: 201, wantHas: `"id":"10001"`},
		{name: "generic delete", scopes: append(forgesim.DefaultScopes(), "write:jira-work"), kind: "system", method: "DELETE", path: "/ex/jira/" + cloudA + "/rest/api/3/issue/DOC-1", wantStatus: 204},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			g := newGateway(t, c, tc.scopes)
			if tc.admin {
				g.SetAdmin(user1, true)
			}
			var tok string
			if tc.kind == "user" {
				tok, _ = g.UserToken(instA, user1)
			} else {
				tok, _ = g.SystemToken(instA)
			}
			if tok == "" {
				t.Fatal("no token issued")
			}
			if tc.revoke && !g.Revoke(tok) {
				t.Fatal("revoke: unknown token")
			}
			c.Add(tc.advance)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			st, body := call(t, method, g.URL()+tc.path, tok, nil)
			want := tc.wantStatus
			if st != want {
				t.Fatalf("status %d, want %d: %s", st, want, body)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body\n got %s\nwant %s", body, tc.wantBody)
			}
			if tc.wantHas != "" && !strings.Contains(body, tc.wantHas) {
				t.Errorf("body lacks %q: %s", tc.wantHas, body)
			}
			reqs := g.Requests()
			if len(reqs) != 1 || reqs[0].Status != st || reqs[0].Method != method {
				t.Errorf("recorded %+v", reqs)
			}
		})
	}
}

func TestSiteHandlerRefusesForgeToken(t *testing.T) {
	c := newClock()
	g := newGateway(t, c, forgesim.DefaultScopes())
	site := httptest.NewServer(g.SiteHandler())
	defer site.Close()
	tok, _ := g.SystemToken(instA)
	st, body := call(t, "GET", site.URL+"/rest/api/3/myself", tok, nil)
	if st != 401 || !strings.Contains(body, forgesim.SiteTokenMessage) {
		t.Fatalf("site answered %d %s", st, body)
	}
	st, body = call(t, "GET", site.URL+"/rest/api/3/myself", "", nil)
	if st != 401 || !strings.Contains(body, "Client must be authenticated") {
		t.Fatalf("anonymous: %d %s", st, body)
	}
	if r := g.Requests(); len(r) != 2 || r[0].TokenKind != forgesim.TokenSystem || !strings.HasPrefix(r[0].Path, "site:") {
		t.Errorf("recorded %+v", r)
	}
}

func graphql(t *testing.T, g *forgesim.Gateway, token string, body any) (int, forgesim.OfflineTokenResponse) {
	t.Helper()
	b, _ := json.Marshal(body)
	st, out := call(t, "POST", g.URL()+"/graphql", token, b)
	var r forgesim.OfflineTokenResponse
	if st == 200 {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("graphql body %s: %v", out, err)
		}
	}
	return st, r
}

func TestOfflineUserAuthToken(t *testing.T) {
	c := newClock()
	g := newGateway(t, c, forgesim.DefaultScopes())
	sys, _ := g.SystemToken(instA)
	usr, _ := g.UserToken(instA, user1)
	vars := func(ctxID, userID string) map[string]any {
		return map[string]any{"query": forgesim.OfflineTokenMutation, "variables": map[string]any{"input": map[string]any{"contextIds": []string{ctxID}, "userId": userID}}}
	}
	cases := []struct {
		name    string
		token   string
		body    any
		status  int
		success bool
		errHas  string
	}{
		{"variables", sys, vars(forgesim.SiteARI(cloudA), user1), 200, true, ""},
		{"inline arguments", sys, map[string]any{"query": `mutation { offlineUserAuthToken(input: {contextIds: ["` + forgesim.SiteARI(cloudA) + `"], userId: "` + user1 + `"}) { success errors { message } authToken { token ttl } } }`}, 200, true, ""},
		{"another site's context", sys, vars(forgesim.SiteARI(cloudB), user1), 200, false, "contextIds"},
		{"no user", sys, vars(forgesim.SiteARI(cloudA), ""), 200, false, "userId"},
		{"user token instead of system token", usr, vars(forgesim.SiteARI(cloudA), user1), 200, false, "system token"},
		{"no token", "", vars(forgesim.SiteARI(cloudA), user1), 401, false, ""},
		{"another query", sys, map[string]any{"query": "{ me { id } }"}, 400, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, r := graphql(t, g, tc.token, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
			if st != 200 {
				return
			}
			p := r.Data.OfflineUserAuthToken
			if p == nil || p.Success != tc.success {
				t.Fatalf("payload %+v", p)
			}
			if !tc.success {
				if len(p.Errors) == 0 || !strings.Contains(p.Errors[0].Message, tc.errHas) || p.AuthToken != nil {
					t.Errorf("errors %+v", p.Errors)
				}
				return
			}
			if p.AuthToken == nil || p.AuthToken.TTL != int64(forgesim.DefaultOfflineTokenTTL/time.Second) {
				t.Fatalf("authToken %+v", p.AuthToken)
			}
			// The offline token acts as the user and is refused with the
			// user-token 403 when a scope is missing.
			st, body := call(t, "GET", g.URL()+"/ex/jira/"+cloudA+"/rest/api/3/myself", p.AuthToken.Token, nil)
			if st != 200 || !strings.Contains(body, user1) {
				t.Errorf("offline token on myself: %d %s", st, body)
			}
			st, body = call(t, "POST", g.URL()+"/ex/jira/"+cloudA+"/rest/api/3/issue", p.AuthToken.Token, []byte("{}"))
			if st != 403 || !strings.Contains(body, "missing scope grants") {
				t.Errorf("offline token on createIssue: %d %s", st, body)
			}
			c.Add(forgesim.DefaultOfflineTokenTTL)
			if st, _ := call(t, "GET", g.URL()+"/ex/jira/"+cloudA+"/rest/api/3/myself", p.AuthToken.Token, nil); st != 401 {
				t.Errorf("offline token after its ttl: %d", st)
			}
			c.Add(-forgesim.DefaultOfflineTokenTTL)
		})
	}
}

func TestGatewayLifecycleOfInstallation(t *testing.T) {
	c := newClock()
	g := newGateway(t, c, []string{"read:app-system-token"})
	tok, exp := g.SystemToken(instA)
	if want := c.Now().Add(forgesim.DefaultSystemTokenTTL); !exp.Equal(want) {
		t.Errorf("exp %v, want %v", exp, want)
	}
	url := g.URL() + "/ex/jira/" + cloudA + "/rest/api/3/myself"
	if st, _ := call(t, "GET", url, tok, nil); st != 401 {
		t.Fatalf("before upgrade: %d", st)
	}
	if err := g.SetScopes(instA, []string{"read:app-system-token", "read:jira-user"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := call(t, "GET", url, tok, nil); st != 200 {
		t.Fatalf("after upgrade: %d", st)
	}
	g.Uninstall(instA)
	if st, _ := call(t, "GET", url, tok, nil); st != 401 {
		t.Fatalf("after uninstall: %d", st)
	}
	if tok, _ := g.SystemToken(instA); tok != "" {
		t.Error("a token was issued for an uninstalled installation")
	}
	if err := g.SetScopes("nope", nil); err == nil {
		t.Error("SetScopes on an unknown installation succeeded")
	}
	other, _ := g.SystemToken(instB)
	g.RevokeAll(instB)
	if st, _ := call(t, "GET", g.URL()+"/ex/jira/"+cloudB+"/rest/api/3/serverInfo", other, nil); st != 401 {
		t.Errorf("after RevokeAll: %d", st)
	}
}

func ExampleMissingGrantsText() {
	fmt.Printf("%q\n", forgesim.MissingGrantsText([]string{}, [][]string{{"read:jira-user"}, {"read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"}}))
	// Output:
	// "Access to the resource was denied due to missing scope grants. Your app was granted the following scopes: [].\nThe resource can be accessed by having one of these groups of scopes:\n * [read:jira-user]\n * [read:application-role:jira, read:group:jira, read:user:jira, read:avatar:jira]\n"
}
