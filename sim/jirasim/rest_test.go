package jirasim

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

func TestAppJWTClaims(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ")
	const uri = "/rest/api/3/myself?expand=groups,applicationRoles&x=a%20b"
	wrongSecret := *in
	wrongSecret.SharedSecret = strings.Repeat("x", 64)
	tests := []struct {
		name   string
		auth   func() string
		status int
		anon   bool // the answer is Jira's anonymous 401
	}{
		{"correct", func() string { return "JWT " + appToken(in, clk.Now(), "GET", uri, nil) }, 200, false},
		{"wrong secret", func() string { return "JWT " + appToken(&wrongSecret, clk.Now(), "GET", uri, nil) }, 401, false},
		{"qsh of another path", func() string { return "JWT " + appToken(in, clk.Now(), "GET", "/rest/api/3/myself", nil) }, 401, false},
		{"qsh with plus-joined query", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) {
				c.QSH = connect.QSH("GET&/rest/api/3/myself&expand=groups,applicationRoles&x=a+b")
			})
		}, 401, false},
		{"no qsh", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.QSH = "" })
		}, 401, false},
		{"context qsh", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.QSH = connect.ContextQSH })
		}, 401, false},
		{"expired", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(-time.Second)) })
		}, 401, false},
		{"no exp", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.ExpiresAt = nil })
		}, 401, false},
		{"iss is the clientKey", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.Issuer = in.ClientKey })
		}, 401, false},
		{"unknown iss", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.Issuer = "other-app" })
		}, 401, false},
		{"sub impersonation", func() string {
			return "JWT " + appToken(in, clk.Now(), "GET", uri, func(c *connect.Claims) { c.Subject = s.User("user").AccountID })
		}, 403, false},
		{"garbage", func() string { return "JWT not.a.jwt" }, 401, false},
		{"JWT with the Bearer scheme", func() string { return "Bearer " + appToken(in, clk.Now(), "GET", uri, nil) }, 401, true},
		{"lower-case scheme", func() string { return "jwt " + appToken(in, clk.Now(), "GET", uri, nil) }, 401, true},
		{"basic", func() string { return "Basic dXNlcjpwYXNz" }, 401, true},
		{"none", func() string { return "" }, 401, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", s.URL()+uri, nil, map[string]string{"Authorization": tc.auth(), "Accept": "application/json"})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 401 {
				return
			}
			m := r.json(t)
			if tc.anon {
				if m["message"] != anonMessage || m["status-code"] != 401.0 {
					t.Errorf("body = %s", r.body)
				}
				if r.header.Get("WWW-Authenticate") == "" || r.header.Get("X-Seraph-LoginReason") == "" {
					t.Errorf("anonymous 401 without WWW-Authenticate / X-Seraph-LoginReason: %v", r.header)
				}
			} else if m["message"] == anonMessage {
				t.Errorf("a rejected JWT got the anonymous body")
			}
		})
	}
	// On an operation open to anonymous users, a JWT sent with the Bearer
	// scheme silently runs as anonymous: an empty search, not an error.
	const search = "/rest/api/3/search/jql?jql=project%20%3D%20DOC&fields=summary,status"
	r := do(t, "GET", s.URL()+search, nil, map[string]string{"Authorization": "Bearer " + appToken(in, clk.Now(), "GET", search, nil)})
	if r.status != 200 || r.body != "{\"isLast\":true,\"issues\":[]}\n" {
		t.Errorf("Bearer JWT search: %d %s", r.status, r.body)
	}
	r = asApp(t, s, in, clk.Now(), "GET", search, nil)
	if issues, _ := r.json(t)["issues"].([]any); r.status != 200 || len(issues) != 3 {
		t.Errorf("JWT search: %d %s", r.status, r.body)
	}
	// The JWT query parameter works like the header.
	u := "/rest/api/3/myself"
	if r := do(t, "GET", s.URL()+u+"?jwt="+appToken(in, clk.Now(), "GET", u, nil), nil, nil); r.status != 200 {
		t.Errorf("jwt query parameter: %d", r.status)
	}
}

func TestAnonymousAllowedOperationRunsAnonymous(t *testing.T) {
	s, _ := newSim(t, nil)
	r := do(t, "GET", s.URL()+"/rest/api/3/serverInfo", nil, nil)
	if r.status != 200 || r.json(t)["deploymentType"] != "Cloud" {
		t.Fatalf("serverInfo anonymously: %d %s", r.status, r.body)
	}
	// getIssue allows anonymous access, but the anonymous user may browse
	// nothing: asked to authenticate.
	if r := do(t, "GET", s.URL()+"/rest/api/3/issue/DOC-1", nil, nil); r.status != 401 {
		t.Errorf("anonymous issue read: %d", r.status)
	}
}

func TestClockSkewJudgesJWTOnSiteClock(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ")
	tok := appToken(in, clk.Now(), "GET", "/rest/api/3/myself", nil) // exp = now+3m
	s.SetFault(Fault{Kind: ClockSkew, Skew: 5 * time.Minute, AppKey: "test-app"})
	r := do(t, "GET", s.URL()+"/rest/api/3/myself", nil, map[string]string{"Authorization": "JWT " + tok})
	if r.status != 401 {
		t.Fatalf("token valid on the app's clock but expired on the skewed site: %d", r.status)
	}
	r = do(t, "GET", s.URL()+"/rest/api/3/serverInfo", nil, nil)
	if st, _ := r.json(t)["serverTime"].(string); !strings.HasPrefix(st, clk.Now().Add(5*time.Minute).UTC().Format("2006-01-02T15:04")) {
		// Anonymous: the global skew does not apply to this app-less call.
		_ = st
	}
	s.ClearFaults()
	r = do(t, "GET", s.URL()+"/rest/api/3/myself", nil, map[string]string{"Authorization": "JWT " + tok})
	if r.status != 200 {
		t.Fatalf("after clearing the skew: %d", r.status)
	}
}

func TestConnectScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		method string
		uri    string
		body   string
		status int
	}{
		{"READ reads", []string{"READ"}, "GET", "/rest/api/3/issue/DOC-1", "", 200},
		{"READ cannot write", []string{"READ"}, "PUT", "/rest/api/3/issue/DOC-1", `{"fields":{"summary":"x"}}`, 403},
		{"WRITE implies READ", []string{"write"}, "GET", "/rest/api/3/issue/DOC-1", "", 200},
		{"WRITE writes", []string{"WRITE"}, "PUT", "/rest/api/3/issue/DOC-1", `{"fields":{"summary":"x"}}`, 204},
		{"WRITE cannot delete", []string{"WRITE"}, "DELETE", "/rest/api/3/issue/DOC-2", "", 403},
		{"DELETE deletes", []string{"DELETE"}, "DELETE", "/rest/api/3/issue/DOC-2", "", 204},
		{"PROJECT_ADMIN is not ADMIN", []string{"PROJECT_ADMIN"}, "GET", "/rest/api/3/application-properties", "", 403},
		{"ADMIN administers", []string{"ADMIN"}, "GET", "/rest/api/3/application-properties", "", 200},
		{"permissions needs ADMIN", []string{"READ"}, "GET", "/rest/api/2/permissions", "", 403},
		{"INACCESSIBLE even with ADMIN", []string{"ADMIN", "ACT_AS_USER", "ACCESS_EMAIL_ADDRESSES"}, "GET", "/rest/api/3/settings/columns", "", 403},
		{"INACCESSIBLE v2 twin", []string{"ADMIN"}, "GET", "/rest/api/2/settings/columns", "", 403},
		{"email needs ACCESS_EMAIL_ADDRESSES", []string{"ADMIN"}, "GET", "/rest/api/3/user/email?accountId=ADMIN", "", 403},
		{"email with ACCESS_EMAIL_ADDRESSES", []string{"READ", "ACCESS_EMAIL_ADDRESSES"}, "GET", "/rest/api/3/user/email?accountId=ADMIN", "", 200},
		{"mypreferences needs ACT_AS_USER", []string{"ADMIN"}, "GET", "/rest/api/3/mypreferences?key=x", "", 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, clk, _, in := installed(t, nil, tc.scopes...)
			uri := strings.ReplaceAll(tc.uri, "ADMIN", s.User("admin").AccountID)
			var body *strings.Reader
			r := func() result {
				if tc.body != "" {
					body = strings.NewReader(tc.body)
					return asApp(t, s, in, clk.Now(), tc.method, uri, body)
				}
				return asApp(t, s, in, clk.Now(), tc.method, uri, nil)
			}()
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 403 {
				if m := r.json(t); m["message"] != "Request not in an authorized API scope" {
					t.Errorf("scope refusal body = %s", r.body)
				}
			}
		})
	}
}

func TestScopeDenialStatusOption(t *testing.T) {
	s, clk, _, in := installed(t, func(o *Options) {
		o.ScopeDenialStatus = 401
		o.ScopeDenialMessage = "Unauthorized; scope does not match"
	}, "READ")
	r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/application-properties", nil)
	if r.status != 401 || r.json(t)["message"] != "Unauthorized; scope does not match" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestBotPermissions(t *testing.T) {
	// By default the bot holds Administer Jira; scopes limit it.
	s, clk, _, in := installed(t, nil, "ADMIN")
	if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/application-properties", nil); r.status != 200 {
		t.Fatalf("admin app: %d", r.status)
	}
	bot := s.User("bot:test-app")
	if bot.AccountID != in.BotAccountID || bot.AccountType != "app" {
		t.Fatalf("bot = %+v", bot)
	}
	bot.SiteAdmin = false
	if err := s.UpdateUser(bot); err != nil {
		t.Fatal(err)
	}
	r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/application-properties", nil)
	if r.status != 403 {
		t.Fatalf("bot without Administer Jira: %d", r.status)
	}
	m := r.json(t)
	if msgs, _ := m["errorMessages"].([]any); len(msgs) != 1 || msgs[0] != permissionMessage {
		t.Errorf("permission body = %s", r.body)
	}
	if _, ok := m["errors"].(map[string]any); !ok {
		t.Errorf("permission body lacks errors: %s", r.body)
	}
	// myself answers the bot.
	r = asApp(t, s, in, clk.Now(), "GET", "/rest/api/2/myself", nil)
	if r.status != 200 || r.json(t)["accountId"] != in.BotAccountID {
		t.Errorf("myself as app: %d %s", r.status, r.body)
	}
}

func TestOtherRules(t *testing.T) {
	s, clk, _, in := installed(t, nil, "ADMIN")
	tests := []struct {
		name   string
		method string
		uri    string
		body   string
		accept string
		status int
		html   bool
	}{
		{"GET with a body", "GET", "/rest/api/3/myself", `{"a":1}`, "application/json", 403, false},
		{"unknown path", "GET", "/rest/api/3/no-such-thing", "", "application/json", 404, false},
		{"wrong method", "PATCH", "/rest/api/3/myself", "", "application/json", 405, false},
		{"HTML error page", "GET", "/rest/api/3/settings/columns", "", "text/html", 403, true},
		{"v2 twin", "GET", "/rest/api/2/issue/DOC-1?expand=names,renderedFields", "", "application/json", 200, false},
		{"latest twin", "GET", "/rest/api/latest/serverInfo", "", "", 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "JWT " + appToken(in, clk.Now(), tc.method, tc.uri, nil)}
			if tc.accept != "" {
				h["Accept"] = tc.accept
			}
			var r result
			if tc.body != "" {
				r = do(t, tc.method, s.URL()+tc.uri, strings.NewReader(tc.body), h)
			} else {
				r = do(t, tc.method, s.URL()+tc.uri, nil, h)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			isHTML := strings.HasPrefix(r.header.Get("Content-Type"), "text/html")
			if isHTML != tc.html {
				t.Errorf("HTML = %v, want %v (%s)", isHTML, tc.html, r.header.Get("Content-Type"))
			}
		})
	}
	// v2 renders descriptions as plain text, v3 as ADF.
	r2 := asApp(t, s, in, clk.Now(), "GET", "/rest/api/2/issue/DOC-1", nil).json(t)
	r3 := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/issue/DOC-1", nil).json(t)
	if _, ok := r2["fields"].(map[string]any)["description"].(string); !ok {
		t.Error("v2 description is not a string")
	}
	if _, ok := r3["fields"].(map[string]any)["description"].(map[string]any); !ok {
		t.Error("v3 description is not ADF")
	}
}

func TestIssueLifecycle(t *testing.T) {
	s, clk, _, in := installed(t, nil, "DELETE")
	r := asApp(t, s, in, clk.Now(), "POST", "/rest/api/3/issue", strings.NewReader(`{"fields":{"project":{"key":"DOC"},"summary":"New one","issuetype":{"name":"Bug"}}}`))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	key, _ := r.json(t)["key"].(string)
	if key != "DOC-4" {
		t.Fatalf("key = %q", key)
	}
	r = asApp(t, s, in, clk.Now(), "POST", "/rest/api/3/issue", strings.NewReader(`{"fields":{"project":{"key":"DOC"},"issuetype":{"name":"Bug"}}}`))
	if r.status != 400 || r.json(t)["errors"].(map[string]any)["summary"] != "You must specify a summary of the issue." {
		t.Fatalf("create without summary: %d %s", r.status, r.body)
	}
	if r = asApp(t, s, in, clk.Now(), "PUT", "/rest/api/3/issue/"+key, strings.NewReader(`{"fields":{"summary":"Renamed"}}`)); r.status != 204 {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}
	r = asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/issue/"+key+"?fields=summary", nil)
	if f := r.json(t)["fields"].(map[string]any); f["summary"] != "Renamed" || len(f) != 1 {
		t.Fatalf("get after edit: %s", r.body)
	}
	if r = asApp(t, s, in, clk.Now(), "DELETE", "/rest/api/3/issue/"+key, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	r = asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/issue/"+key, nil)
	if r.status != 404 || !strings.Contains(r.body, issueHiddenMessage) {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ")
	s.ResetRequests()
	asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil)
	do(t, "GET", s.URL()+"/rest/api/3/myself", nil, nil)
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d", len(reqs))
	}
	if reqs[0].AuthScheme != "JWT" || reqs[0].Status != 200 || reqs[0].AppKey != "test-app" || reqs[0].Operation != "getCurrentUser" || reqs[0].AccountID != in.BotAccountID {
		t.Errorf("first = %+v", reqs[0])
	}
	if reqs[1].AuthScheme != "" || reqs[1].Status != http.StatusUnauthorized || reqs[1].Reason != "anonymous" {
		t.Errorf("second = %+v", reqs[1])
	}
}
