package panel_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/internal/redact"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/storage"
)

type diagnosis struct {
	Status  int    `json:"status"`
	Verdict string `json:"verdict"`
	Summary string `json:"summary"`
	Causes  []struct {
		Code     string   `json:"code"`
		Evidence []string `json:"evidence"`
		Fix      string   `json:"fix"`
	} `json:"causes"`
}

type checkResult struct {
	ID       string `json:"id"`
	Stored   bool   `json:"stored"`
	Request  panel.CheckedRequest
	Response struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"response"`
	Preflight struct {
		Outcome      string `json:"outcome"`
		Status       int    `json:"status"`
		MissingScope string `json:"missingScope"`
	} `json:"preflight"`
	Diagnosis diagnosis `json:"diagnosis"`
	Failure   *httperr.Detail
}

func (d diagnosis) top() string {
	if len(d.Causes) == 0 {
		return ""
	}
	return d.Causes[0].Code
}

func TestInstallationForAdminAndForOthers(t *testing.T) {
	e := newEnv(t, envOptions{})
	var admin panel.InstallationView
	r := e.call("admin", "GET", "/api/installation", nil)
	if r.status != 200 {
		t.Fatalf("admin: %d %s", r.status, r.body)
	}
	r.decode(t, &admin)
	if admin.Viewer.Admin == nil || !*admin.Viewer.Admin || admin.Details == nil || admin.Details.InstalledAt == "" || admin.Viewer.Refusal != nil {
		t.Fatalf("admin view: %s", r.body)
	}
	if admin.ClientKey != e.sim.ClientKey() || admin.BaseURL != e.sim.URL() || admin.State != "installed" || admin.AppKey != appKey {
		t.Fatalf("installation facts: %s", r.body)
	}
	// The scope table (issue 18 item 10): the declared READ and
	// ACT_AS_USER, then NONE, adding up to the reachable count.
	sum := 0
	for _, sc := range admin.Scopes {
		sum += sc.Operations
	}
	if len(admin.Scopes) != 3 || admin.Scopes[0].Scope != "READ" || admin.Scopes[0].Source != panel.SourceDeclared || admin.Scopes[0].Operations < 100 ||
		admin.Scopes[2].Scope != "NONE" || admin.Scopes[2].Source != panel.SourceNone || admin.Scopes[2].Operations == 0 ||
		sum != admin.Reachable || admin.Operations < 700 {
		t.Fatalf("scope counts: %+v (sum %d) reachable %d of %d", admin.Scopes, sum, admin.Reachable, admin.Operations)
	}
	// Each row counts what the explorer's scope filter lists.
	for _, sc := range admin.Scopes {
		var page panel.EndpointPage
		e.call("admin", "GET", "/api/endpoints?limit=1&scope="+sc.Scope, nil).decode(t, &page)
		if page.Total != sc.Operations {
			t.Fatalf("row %s counts %d, the explorer lists %d", sc.Scope, sc.Operations, page.Total)
		}
	}
	// Who is looking (item 9): the display name from Jira's user API.
	if want := e.sim.User("admin"); admin.Viewer.DisplayName != want.DisplayName || admin.Viewer.AccountID != want.AccountID || admin.Viewer.Hidden != nil {
		t.Fatalf("viewer: %+v, want %s", admin.Viewer, want.DisplayName)
	}

	var user panel.InstallationView
	r = e.call("user", "GET", "/api/installation", nil)
	r.decode(t, &user)
	if r.status != 200 || user.Details != nil || user.Viewer.Admin == nil || *user.Viewer.Admin || user.Viewer.Refusal == nil || user.Viewer.Refusal.Code != "not_jira_admin" {
		t.Fatalf("regular user must get the summary without details and a refusal: %d %s", r.status, r.body)
	}
	// Item 11: the banner says exactly what is hidden and what is not.
	if len(user.Viewer.Hidden) != 3 || !strings.Contains(strings.Join(user.Viewer.Hidden, ";"), "History") ||
		!strings.Contains(strings.Join(user.Viewer.Available, ";"), "Endpoint explorer") || user.Viewer.DisplayName != e.sim.User("user").DisplayName {
		t.Fatalf("regular user's viewer: %+v", user.Viewer)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("API answers must not be cached: %q", r.header.Get("Cache-Control"))
	}
}

// TestViewerNameIsAskedOfJiraAndCached (issue 18 item 9): the display
// name comes from GET /rest/api/3/user as the app, once per NameTTL.
func TestViewerNameIsAskedOfJiraAndCached(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.sim.ResetRequests()
	const path = "/rest/api/3/user"
	for range 3 {
		var v panel.InstallationView
		e.call("admin", "GET", "/api/installation", nil).decode(t, &v)
		if v.Viewer.DisplayName != e.sim.User("admin").DisplayName {
			t.Fatalf("display name %q", v.Viewer.DisplayName)
		}
	}
	if n := e.countRequests("GET", path); n != 1 {
		t.Fatalf("%d user lookups for three loads, want 1 (cached)", n)
	}
	for _, rq := range e.sim.Requests() {
		if rq.Path == path && rq.AuthScheme != "JWT" {
			t.Fatalf("the lookup must be made as the app, got %s", rq.AuthScheme)
		}
	}
	// A renamed user shows the new name once the entry expires.
	u := e.sim.User("admin")
	u.DisplayName = "Renamed Admin"
	if err := e.sim.UpdateUser(u); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(panel.DefaultNameTTL - time.Second)
	var v panel.InstallationView
	if e.call("admin", "GET", "/api/installation", nil).decode(t, &v); v.Viewer.DisplayName == "Renamed Admin" {
		t.Fatal("the name was asked again before NameTTL")
	}
	e.clock.Advance(2 * time.Second)
	if e.call("admin", "GET", "/api/installation", nil).decode(t, &v); v.Viewer.DisplayName != "Renamed Admin" {
		t.Fatalf("after NameTTL: %q", v.Viewer.DisplayName)
	}
	if n := e.countRequests("GET", path); n != 2 {
		t.Fatalf("%d user lookups, want 2", n)
	}
}

func TestAdminCheckIsAskedOfJiraAndCached(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.sim.ResetRequests()
	const probe = "/rest/api/3/permissions/check"
	for range 3 {
		if r := e.call("admin", "GET", "/api/checks", nil); r.status != 200 {
			t.Fatalf("history as admin: %d %s", r.status, r.body)
		}
	}
	if n := e.countRequests("POST", probe); n != 1 {
		t.Fatalf("%d permission probes for three admin calls, want 1 (cached)", n)
	}
	for _, rq := range e.sim.Requests() {
		if rq.Path == probe && rq.AuthScheme != "JWT" {
			t.Fatalf("the probe must be made as the app, got %s", rq.AuthScheme)
		}
	}
	e.clock.Advance(2 * time.Minute)
	e.call("admin", "GET", "/api/checks", nil)
	if n := e.countRequests("POST", probe); n != 2 {
		t.Fatalf("%d probes after the cache expired, want 2", n)
	}
	// A user who loses Administer Jira is refused once the cache expires.
	u := e.sim.User("admin")
	u.SiteAdmin = false
	if err := e.sim.UpdateUser(u); err != nil {
		t.Fatal(err)
	}
	if r := e.call("admin", "GET", "/api/checks", nil); r.status != 200 {
		t.Fatalf("still cached: %d", r.status)
	}
	e.clock.Advance(2 * time.Minute)
	if r := e.call("admin", "GET", "/api/checks", nil); r.status != 403 || r.code() != "not_jira_admin" {
		t.Fatalf("after losing the permission: %d %s", r.status, r.body)
	}
}

func TestAdminOnlyRoutesRefuseOthers(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ name, method, path string }{
		{"history", "GET", "/api/checks"},
		{"one check", "GET", "/api/checks/0000000000000000000000000000000a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("user", tc.method, tc.path, nil)
			if r.status != 403 || r.code() != "not_jira_admin" || !strings.Contains(string(r.body), "Administer Jira") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	t.Run("check as the app", func(t *testing.T) {
		e.sim.ResetRequests()
		r := e.call("user", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"})
		if r.status != 403 || r.code() != "not_jira_admin" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if n := e.countRequests("GET", "/rest/api/3/myself"); n != 0 {
			t.Fatalf("the refused check reached Jira %d times", n)
		}
	})
	t.Run("admin check unavailable", func(t *testing.T) {
		e.clock.Advance(2 * time.Minute) // expire the cached probe
		e.sim.SetFault(jirasim.Fault{Kind: jirasim.Unavailable, Count: 1})
		defer e.sim.ClearFaults()
		r := e.call("user", "GET", "/api/checks", nil)
		if r.status != 502 || r.code() != "admin_check_failed" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestCheckAsAppExplainsMissingAdminScope(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/2/permissions", "as": "app"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var c checkResult
	r.decode(t, &c)
	if c.Response.Status != 403 || c.Preflight.Outcome != "scope_missing" || c.Preflight.MissingScope != "ADMIN" {
		t.Fatalf("check: %s", r.body)
	}
	if c.Diagnosis.top() != "scope_missing" || !strings.Contains(strings.Join(c.Diagnosis.Causes[0].Evidence, " "), "ADMIN") ||
		!strings.Contains(c.Diagnosis.Causes[0].Fix, `"admin"`) {
		t.Fatalf("diagnosis: %+v", c.Diagnosis)
	}
	if !c.Stored || c.ID == "" {
		t.Fatalf("not stored: %s", r.body)
	}
	// Reopened from the history, it is the same answer.
	g := e.call("admin", "GET", "/api/checks/"+c.ID, nil)
	var again checkResult
	g.decode(t, &again)
	if g.status != 200 || again.ID != c.ID || again.Diagnosis.top() != "scope_missing" || again.Response.Status != 403 {
		t.Fatalf("reopen: %d %s", g.status, g.body)
	}
	if strings.Contains(string(r.body), "eyJ") {
		t.Fatal("a signed token reached the browser")
	}
}

func TestCheckAsUser(t *testing.T) {
	e := newEnv(t, envOptions{})
	t.Run("myself is 200 for a regular user", func(t *testing.T) {
		r := e.call("user", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "identity": "user"})
		var c checkResult
		r.decode(t, &c)
		if r.status != 200 || c.Response.Status != 200 || c.Diagnosis.Verdict != "ok" || c.Request.AccountID != e.sim.User("user").AccountID {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if !strings.Contains(c.Response.Body, e.sim.User("user").AccountID) {
			t.Fatalf("body: %s", c.Response.Body)
		}
	})
	t.Run("permissions is 401 token scope", func(t *testing.T) {
		r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/2/permissions", "as": "user"})
		var c checkResult
		r.decode(t, &c)
		if c.Response.Status != 401 || c.Diagnosis.top() != "token_scope_missing" {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("failed token exchange is diagnosed", func(t *testing.T) {
		e.sim.SetFault(jirasim.Fault{Kind: jirasim.TokenServerDown})
		defer e.sim.ClearFaults()
		e.app.Tokens.EvictTenant(e.sim.ClientKey())
		r := e.call("user", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "user"})
		var c checkResult
		r.decode(t, &c)
		if r.status != 200 || c.Response.Status != 0 || c.Failure == nil || c.Failure.Code != "token_exchange_failed" || len(c.Diagnosis.Causes) == 0 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestCheckInputValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	site := e.sim.URL()
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"absolute URL", map[string]any{"method": "GET", "path": site + "/rest/api/3/myself", "as": "app"}, 400, "absolute_url"},
		{"other host", map[string]any{"method": "GET", "path": "https://evil.example/rest/api/3/myself", "as": "app"}, 400, "absolute_url"},
		{"scheme-relative host", map[string]any{"method": "GET", "path": "//evil.example/rest/api/3/myself", "as": "app"}, 400, "absolute_url"},
		{"backslash host", map[string]any{"method": "GET", "path": `/\evil.example/rest/api/3/myself`, "as": "app"}, 400, "absolute_url"},
		{"encoded host", map[string]any{"method": "GET", "path": "/%2F%2Fevil.example/rest/api/3/myself", "as": "app"}, 400, "path_not_allowed"},
		{"encoded host inside rest", map[string]any{"method": "GET", "path": "/rest/%2F%2Fevil.example/x", "as": "app"}, 400, "absolute_url"},
		{"embedded URL", map[string]any{"method": "GET", "path": "/rest/http:%2F%2Fevil.example", "as": "app"}, 400, "absolute_url"},
		{"user info", map[string]any{"method": "GET", "path": "http://admin@evil.example/rest/api/3/myself", "as": "app"}, 400, "absolute_url"},
		{"dot dot", map[string]any{"method": "GET", "path": "/rest/api/3/../../admin", "as": "app"}, 400, "path_not_allowed"},
		{"encoded dot dot", map[string]any{"method": "GET", "path": "/rest/api/3/%2e%2e/%2e%2e/secure", "as": "app"}, 400, "path_not_allowed"},
		{"double encoded dot dot", map[string]any{"method": "GET", "path": "/rest/api/3/%252e%252e/x", "as": "app"}, 400, "path_not_allowed"},
		{"escape from rest", map[string]any{"method": "GET", "path": "/rest/..%2fplugins/servlet", "as": "app"}, 400, "path_not_allowed"},
		{"not rest", map[string]any{"method": "GET", "path": "/plugins/servlet/ac", "as": "app"}, 400, "path_not_allowed"},
		{"relative without slash", map[string]any{"method": "GET", "path": "rest/api/3/myself", "as": "app"}, 400, "path_not_allowed"},
		{"control character", map[string]any{"method": "GET", "path": "/rest/api/3/myself%0d%0aX-Evil:1", "as": "app"}, 400, "path_not_allowed"},
		{"fragment", map[string]any{"method": "GET", "path": "/rest/api/3/myself#x", "as": "app"}, 400, "path_not_allowed"},
		{"empty path", map[string]any{"method": "GET", "path": "", "as": "app"}, 400, "path_not_allowed"},
		{"method not in the list", map[string]any{"method": "TRACE", "path": "/rest/api/3/myself", "as": "app"}, 400, "method_not_allowed_for_checks"},
		{"bad identity", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "root"}, 400, "invalid_identity"},
		{"GET with body", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app", "body": map[string]any{"a": 1}}, 400, "get_with_body"},
		{"check body too large", map[string]any{"method": "POST", "path": "/rest/api/3/search/jql", "as": "app", "body": map[string]any{"jql": strings.Repeat("x", panel.MaxCheckBody)}}, 413, "body_too_large"},
		{"request too large", `{"method":"POST","path":"/rest/api/3/x","as":"app","body":"` + strings.Repeat("x", panel.MaxAPIBody) + `"}`, 413, "body_too_large"},
		{"not JSON", "{method: GET}", 400, "invalid_json"},
		{"two JSON values", `{"method":"GET"} {}`, 400, "invalid_json"},
	}
	e.sim.ResetRequests()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("admin", "POST", "/api/checks", tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	for _, rq := range e.sim.Requests() {
		if rq.Path != "/rest/api/3/permissions/check" {
			t.Errorf("a refused check reached Jira: %s %s", rq.Method, rq.Path)
		}
	}
	// Queries are kept, and a valid path with an encoded character works.
	r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself?expand=groups%2CapplicationRoles", "as": "app"})
	var c checkResult
	r.decode(t, &c)
	if r.status != 200 || c.Response.Status != 200 {
		t.Fatalf("valid path with query: %d %s", r.status, r.body)
	}
}

// TestCheckRateLimitPerAccount (issue 16 item 5): one user spending their
// budget neither blocks another user nor the administrator's checks as the
// app; each refusal is 429 rate_limited with Retry-After.
func TestCheckRateLimitPerAccount(t *testing.T) {
	e := newEnv(t, envOptions{settings: map[string]string{"CHECKS_PER_MINUTE": "3", "ACCOUNT_CHECKS_PER_MINUTE": "2"}})
	check := map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "user"}
	for i := range 2 {
		if r := e.call("user", "POST", "/api/checks", check); r.status != 200 {
			t.Fatalf("check %d: %d %s", i, r.status, r.body)
		}
	}
	r := e.call("user", "POST", "/api/checks", check)
	if r.status != 429 || r.code() != "rate_limited" {
		t.Fatalf("third check of the same user: %d %s", r.status, r.body)
	}
	if s := retryAfter(t, r); s < 1 || s > 30 {
		t.Fatalf("Retry-After %d s, want the time until one check is allowed (30 s)", s)
	}
	// Another viewer on the same site still has their own budget, and the
	// administrator's checks as the app have a ceiling of their own.
	if r := e.call("admin", "POST", "/api/checks", check); r.status != 200 {
		t.Fatalf("another user after the first one's budget: %d %s", r.status, r.body)
	}
	for i := range 2 {
		if r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"}); r.status != 200 {
			t.Fatalf("admin check as the app %d: %d %s", i, r.status, r.body)
		}
	}
	// The site's ceiling for checks as users (3) is now spent.
	if r := e.call("admin", "POST", "/api/checks", check); r.status != 429 || !strings.Contains(string(r.body), "This site") {
		t.Fatalf("site ceiling: %d %s", r.status, r.body)
	}
	// Invalid input does not use up the budget and is still answered 400.
	if r := e.call("user", "POST", "/api/checks", map[string]any{"method": "GET", "path": "//x", "as": "user"}); r.status != 400 {
		t.Fatalf("validation first: %d", r.status)
	}
	e.clock.Advance(31 * time.Second)
	if r := e.call("user", "POST", "/api/checks", check); r.status != 200 {
		t.Fatalf("after the refill: %d %s", r.status, r.body)
	}
	if r := e.call("user", "POST", "/api/checks", check); r.status != 429 {
		t.Fatalf("one token refilled in 30 s, not two: %d", r.status)
	}
}

func TestHistoryPaginationAndRetention(t *testing.T) {
	e := newEnv(t, envOptions{settings: map[string]string{"CHECK_HISTORY_LIMIT": "3"}})
	paths := []string{"/rest/api/3/myself", "/rest/api/3/serverInfo", "/rest/api/2/permissions", "/rest/api/3/project/search", "/rest/api/3/myself?expand=groups"}
	for _, p := range paths {
		e.clock.Advance(time.Second)
		if r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": p, "as": "app"}); r.status != 200 {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	var got []string
	cursor, pages := "", 0
	for {
		q := "/api/checks?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := e.call("admin", "GET", q, nil)
		var page panel.HistoryPage
		r.decode(t, &page)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		pages++
		for _, it := range page.Items {
			got = append(got, it.Path)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := []string{paths[4], paths[3], paths[2]}
	if strings.Join(got, " ") != strings.Join(want, " ") || pages != 2 {
		t.Fatalf("history %v in %d pages, want newest first and only the last 3: %v", got, pages, want)
	}
	for _, tc := range []struct{ name, path, code string }{
		{"bad cursor", "/api/checks?cursor=zzz", "invalid_cursor"},
		{"bad limit", "/api/checks?limit=-1", "invalid_limit"},
	} {
		if r := e.call("admin", "GET", tc.path, nil); r.status != 400 || r.code() != tc.code {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	if r := e.call("admin", "GET", "/api/checks/0000000000000000000000000000000a", nil); r.status != 404 || r.code() != "not_found" {
		t.Errorf("unknown id: %d %s", r.status, r.body)
	}
}

func TestEndpointExplorer(t *testing.T) {
	e := newEnv(t, envOptions{})
	var page panel.EndpointPage
	r := e.call("user", "GET", "/api/endpoints?q=permissions&scope=admin&limit=200", nil)
	r.decode(t, &page)
	if r.status != 200 || page.Total == 0 || len(page.Items) != page.Total {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var found bool
	for _, it := range page.Items {
		if it.ConnectScope != "ADMIN" {
			t.Fatalf("scope filter let %s through", it.ConnectScope)
		}
		if it.OperationID == "getAllPermissions" {
			found = true
			if it.AsApp.Outcome != "scope_missing" || it.AsApp.Status != 403 || it.AsViewer.Status != 401 || it.AsApp.Reason == "" {
				t.Fatalf("predictions: %+v", it)
			}
		}
	}
	if !found {
		t.Fatal("getAllPermissions not found")
	}
	// The viewer's missing Administer Jira shows in the "as you" column.
	r = e.call("user", "GET", "/api/endpoints?q=myself", nil)
	r.decode(t, &page)
	if len(page.Items) == 0 || page.Items[0].AsViewer.Outcome != "allowed" {
		t.Fatalf("myself: %s", r.body)
	}
	r = e.call("user", "GET", "/api/endpoints?permission=admin&scope=read&limit=200", nil)
	r.decode(t, &page)
	var needsAdmin int
	for _, it := range page.Items {
		if it.AsViewer.Outcome == "needs_admin" {
			needsAdmin++
		}
	}
	if needsAdmin == 0 {
		t.Fatalf("no needs_admin prediction for a non-admin viewer: %s", r.body)
	}
	// Pagination.
	var p1, p2 panel.EndpointPage
	e.call("admin", "GET", "/api/endpoints?limit=3", nil).decode(t, &p1)
	if len(p1.Items) != 3 || p1.NextCursor != "3" {
		t.Fatalf("page 1: %+v", p1.NextCursor)
	}
	e.call("admin", "GET", "/api/endpoints?limit=3&cursor="+p1.NextCursor, nil).decode(t, &p2)
	if len(p2.Items) != 3 || p2.Items[0].OperationID == p1.Items[0].OperationID {
		t.Fatalf("page 2 repeats page 1")
	}
	for _, tc := range []struct{ path, code string }{
		{"/api/endpoints?cursor=abc", "invalid_cursor"},
		{"/api/endpoints?limit=0", "invalid_limit"},
	} {
		if r := e.call("admin", "GET", tc.path, nil); r.status != 400 || r.code() != tc.code {
			t.Errorf("%s: %d %s", tc.path, r.status, r.body)
		}
	}
	// One operation by id, with its path parameters.
	var op panel.EndpointView
	r = e.call("admin", "GET", "/api/endpoints/getIssue", nil)
	r.decode(t, &op)
	if r.status != 200 || op.Method != "GET" || len(op.Params) != 1 || op.Params[0] != "issueIdOrKey" || op.AsApp.Outcome != "allowed" {
		t.Fatalf("getIssue: %d %s", r.status, r.body)
	}
	if r := e.call("admin", "GET", "/api/endpoints/noSuchOperation", nil); r.status != 404 || r.code() != "not_found" {
		t.Fatalf("unknown operation: %d", r.status)
	}
}

func TestExplainRoute(t *testing.T) {
	e := newEnv(t, envOptions{})
	raw := "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n{\"message\":\"Request not in an authorized API scope\",\"status-code\":403}"
	curl := "> GET /rest/api/2/permissions HTTP/1.1\r\n> Host: " + strings.TrimPrefix(e.sim.URL(), "http://") + "\r\n> Authorization: Bearer abc.def\r\n>\r\n< HTTP/1.1 401 Unauthorized\r\n< Content-Type: application/json\r\n<\r\n{\"message\":\"Unauthorized\"}"
	cases := []struct {
		name    string
		body    any
		status  int
		code    string
		verdict string
	}{
		{"curl -i", map[string]any{"raw": raw}, 200, "", "authorization"},
		{"HAR paste", map[string]any{"raw": `{"log":{"entries":[` +
			`{"request":{"method":"GET","url":"https://acme.atlassian.net/rest/api/3/myself","headers":[]},"response":{"status":200,"headers":[],"content":{"text":"{}"}}},` +
			`{"request":{"method":"GET","url":"https://acme.atlassian.net/rest/api/2/permissions","headers":[{"name":"Authorization","value":"Bearer abc"}]},"response":{"status":403,"headers":[{"name":"Content-Type","value":"application/json"}],"content":{"text":"{\"message\":\"Request not in an authorized API scope\"}"}}}]}}`}, 200, "", "authorization"},
		{"HAR without entries", map[string]any{"raw": `{"log":{"entries":[]}}`}, 400, "unparseable_exchange", ""},
		{"HAR not JSON", map[string]any{"raw": `{"log": {"entries": [`}, 400, "unparseable_exchange", ""},
		{"curl -v", map[string]any{"raw": curl, "as": "user"}, 200, "", "authorization"},
		{"structured", map[string]any{"request": map[string]any{"method": "GET", "url": e.sim.URL() + "/rest/api/2/permissions"},
			"response": map[string]any{"status": 403, "headers": map[string]string{"Content-Type": "application/json"}, "body": `{"message":"Request not in an authorized API scope"}`}}, 200, "", "authorization"},
		{"nothing", map[string]any{}, 400, "unparseable_exchange", ""},
		{"not HTTP", map[string]any{"raw": "hello there"}, 400, "unparseable_exchange", ""},
		{"bad status", map[string]any{"response": map[string]any{"status": 42}}, 400, "unparseable_exchange", ""},
		{"bad identity", map[string]any{"raw": raw, "as": "root"}, 400, "invalid_identity", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call("user", "POST", "/api/explain", tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if tc.verdict != "" {
				var d diagnosis
				r.decode(t, &d)
				if d.Verdict != tc.verdict || len(d.Causes) == 0 {
					t.Fatalf("diagnosis: %s", r.body)
				}
			}
		})
	}
	var d diagnosis
	e.call("user", "POST", "/api/explain", map[string]any{"raw": raw}).decode(t, &d)
	if d.top() != "scope_missing" {
		t.Fatalf("pasted scope refusal: %+v", d)
	}
}

func TestScopeAdvice(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.call("user", "POST", "/api/scopes/advice", map[string]any{"operations": []string{
		"GET /rest/api/3/myself", "GET /rest/api/2/permissions", "GET /rest/api/2/settings/columns", "createIssue", "FROB /nothing",
	}})
	var a panel.AdviceView
	r.decode(t, &a)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var list []string
	for _, x := range a.Scopes {
		list = append(list, string(x))
	}
	scopes := strings.Join(list, ",")
	// ADMIN implies WRITE (createIssue) and READ (myself).
	if scopes != "ADMIN" {
		t.Fatalf("minimal scopes %s: %s", scopes, r.body)
	}
	if strings.Join(a.MissingFromDeclared, ",") != "ADMIN" {
		t.Fatalf("missing from declared: %v", a.MissingFromDeclared)
	}
	if len(a.Inaccessible) != 1 || len(a.Unknown) != 1 || len(a.Operations) != 4 {
		t.Fatalf("inaccessible %d unknown %d operations %d: %s", len(a.Inaccessible), len(a.Unknown), len(a.Operations), r.body)
	}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"empty", map[string]any{"operations": []string{}}},
		{"too many", map[string]any{"operations": make([]string, panel.MaxAdviceOps+1)}},
	} {
		if r := e.call("user", "POST", "/api/scopes/advice", tc.body); r.status != 400 || r.code() != "no_operations" {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
}

func TestAPIRequiresAContextToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	routes := []struct{ method, path string }{
		{"GET", "/api/installation"}, {"GET", "/api/endpoints"}, {"GET", "/api/endpoints/getIssue"}, {"POST", "/api/checks"},
		{"GET", "/api/checks"}, {"GET", "/api/checks/0000000000000000000000000000000a"}, {"POST", "/api/explain"}, {"POST", "/api/scopes/advice"},
	}
	page, err := e.sim.ModuleURL(appKey, "connect-doctor-admin", e.sim.User("admin").AccountID)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(page)
	pageTok := pu.Query().Get("jwt")
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if r := e.call("", rt.method, rt.path, nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("no token: %d %s", r.status, r.body)
			}
			req, _ := http.NewRequest(rt.method, e.base+rt.path, nil)
			req.Header.Set("Authorization", "JWT "+pageTok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("a page (request) token on an API route: %d", resp.StatusCode)
			}
		})
	}
}

// The encoded installation answer is kept per tenant record and viewer: a
// changed record (reinstall, new description, new scopes) is answered
// afresh at once, and each viewer still gets their own answer.
func TestInstallationAnswerFollowsTheTenantRecord(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	get := func(role string) panel.InstallationView {
		t.Helper()
		var v panel.InstallationView
		r := e.call(role, "GET", "/api/installation", nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("%s: %d %q %s", role, r.status, r.header.Get("Content-Type"), r.body)
		}
		r.decode(t, &v)
		return v
	}
	first := get("admin")
	if again := get("admin"); again.Details == nil || again.Details.Description != first.Details.Description {
		t.Fatalf("second answer differs: %+v", again.Details)
	}
	if user := get("user"); user.Details != nil || user.Viewer.AccountID == first.Viewer.AccountID {
		t.Fatalf("a regular user got the administrator's answer: %+v", user.Viewer)
	}
	ten, err := e.app.Store.Get(ctx, e.sim.ClientKey())
	if err != nil {
		t.Fatal(err)
	}
	ten.Description = "described again " + t.Name()
	if err := e.app.Store.SaveInstall(ctx, ten); err != nil {
		t.Fatal(err)
	}
	e.app.Tenants.Invalidate(ten.ClientKey)
	if got := get("admin"); got.Details == nil || got.Details.Description != ten.Description {
		t.Fatalf("the answer did not follow the new record: %+v", got.Details)
	}
}

// TestHistoryStoresNoPersonalData (issue 16 item 13): the live answer
// shows Jira's body as it came; the history (API and database row) keeps
// it with personal fields and e-mail addresses redacted, and rows written
// by older versions are redacted by Rewrite.
func TestHistoryStoresNoPersonalData(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.call("user", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "user"})
	var live panel.CheckResult
	r.decode(t, &live)
	if !strings.Contains(live.Response.Body, "emailAddress") || !strings.Contains(live.Response.Body, "@") {
		t.Fatalf("control: the live answer lacks the user's e-mail: %s", live.Response.Body)
	}
	email := e.sim.User("user").Email
	personal := []string{email, e.sim.User("user").DisplayName, "avatar-management"}
	h := e.call("admin", "GET", "/api/checks/"+live.ID, nil)
	if h.status != 200 || !strings.Contains(string(h.body), redact.Mark) {
		t.Fatalf("history item: %d %s", h.status, h.body)
	}
	var row storage.CheckRow
	if err := e.app.DB.Gorm.First(&row, "id = ?", live.ID).Error; err != nil {
		t.Fatal(err)
	}
	for _, p := range personal {
		if strings.Contains(string(h.body), p) || strings.Contains(row.Result, p) {
			t.Errorf("the history keeps %q", p)
		}
	}
	if !strings.Contains(row.Result, live.Request.AccountID) {
		t.Error("the viewer's accountId is not kept")
	}
	// A row as an older version stored it: Jira's body in clear.
	old := &storage.CheckRow{ClientKey: row.ClientKey, AccountID: row.AccountID, Identity: "user", Method: "GET",
		Path: "/rest/api/3/user/search?query=" + strings.ReplaceAll(email, "@", "%40"), Result: strings.Replace(row.Result, redact.Mark, email, 1)}
	old.Result = `{"request":{"path":"/rest/api/3/user/search"},"response":{"status":200,"body":"[{\"accountId\":\"a1\",\"emailAddress\":\"` + email + `\",\"displayName\":\"Ann Lee\"}]"}}`
	if err := e.app.Checks.Add(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	rd := redact.New()
	n, err := e.app.Checks.Rewrite(t.Context(), func(r *storage.CheckRow) bool { return panel.RedactRow(rd, r) })
	if err != nil || n != 1 {
		t.Fatalf("Rewrite: %d rows, %v; want exactly the old row", n, err)
	}
	var got storage.CheckRow
	if err := e.app.DB.Gorm.First(&got, "id = ?", old.ID).Error; err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{email, "Ann Lee", strings.ReplaceAll(email, "@", "%40")} {
		if strings.Contains(got.Result, p) || strings.Contains(got.Path, p) {
			t.Errorf("the rewritten row keeps %q: %s %s", p, got.Path, got.Result)
		}
	}
	if n, _ := e.app.Checks.Rewrite(t.Context(), func(r *storage.CheckRow) bool { return panel.RedactRow(rd, r) }); n != 0 {
		t.Errorf("a second Rewrite changed %d rows", n)
	}
}
