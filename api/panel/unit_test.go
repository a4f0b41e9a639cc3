package panel

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestPathCode: the panel maps the Jira client's path sentinels to its
// codes (the validation itself is jira.ValidatePath's, tested there).
func TestPathCode(t *testing.T) {
	cases := []struct {
		name, path, code string
	}{
		{"absolute", "https://evil.example/rest/api/3/myself", CodeAbsoluteURL},
		{"encoded host", "/rest/%2f%2fevil.example/", CodeAbsoluteURL},
		{"dot dot", "/rest/api/../../x", CodePathNotAllowed},
		{"tomcat path parameter", "/rest/api/3/..;/..;/secure", CodePathNotAllowed},
		{"too long", "/rest/" + strings.Repeat("a", MaxPathLength), CodePathNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := jira.ValidatePath(tc.path)
			if err == nil || pathCode(err) != tc.code {
				t.Fatalf("jira.ValidatePath(%q) = %v, code %q; want %q", tc.path, err, pathCode(err), tc.code)
			}
		})
	}
}

func TestLimiterRefillsPerTenant(t *testing.T) {
	l := newLimiter(3, 2)
	t0 := time.Unix(1_700_000_000, 0)
	for i := range 3 {
		if ok, _ := l.allow("a", t0); !ok {
			t.Fatalf("burst %d refused", i)
		}
	}
	ok, wait := l.allow("a", t0)
	if ok || wait != 20*time.Second {
		t.Fatalf("4th: ok=%v wait=%v, want 20s (3 per minute)", ok, wait)
	}
	if ok, _ := l.allow("b", t0); !ok {
		t.Fatal("another tenant shares the bucket")
	}
	if ok, _ := l.allow("a", t0.Add(19*time.Second)); ok {
		t.Fatal("refilled too early")
	}
	if ok, _ := l.allow("a", t0.Add(20*time.Second)); !ok {
		t.Fatal("not refilled after 20 s")
	}
	// A clock going backwards never mints tokens.
	if ok, _ := l.allow("a", t0); ok {
		t.Fatal("a clock step back refilled the bucket")
	}
	// The LRU bound: a third tenant evicts the least recently used one.
	l.allow("c", t0)
	if l.buckets.Len() != 2 {
		t.Fatalf("%d buckets kept, want 2", l.buckets.Len())
	}
	if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Fatalf("retryAfterSeconds rounds up: %d", got)
	}
	if got := retryAfterSeconds(0); got != 1 {
		t.Fatalf("retryAfterSeconds minimum: %d", got)
	}
}

func TestCSPSources(t *testing.T) {
	p := &Panel{Deps: Deps{APJSURL: "https://connect-cdn.atl-paas.net/all.js"}}
	got := p.csp("https://acme.atlassian.net", "https://jira.acme.com/")
	if !strings.Contains(got, "frame-ancestors https://acme.atlassian.net https://jira.acme.com") ||
		!strings.Contains(got, "script-src 'self' https://connect-cdn.atl-paas.net/all.js;") {
		t.Fatalf("csp: %s", got)
	}
	if got := p.csp("javascript:alert(1)", ""); !strings.HasSuffix(got, "frame-ancestors 'none'") {
		t.Fatalf("a non-http baseUrl must not be an ancestor: %s", got)
	}
	// Without AllowedHosts, a stored URL must still be a plain origin.
	for _, bad := range []string{"https://*", "https://*.com", "https://a b.example", "https://x.example:0", "https://x.example:",
		"https://ex\uff0eample.com", "https://user@x.example", "https://-x.example"} {
		if got := p.csp("https://acme.atlassian.net", bad); !strings.HasSuffix(got, "frame-ancestors https://acme.atlassian.net") {
			t.Fatalf("displayUrl %q: %s", bad, got)
		}
	}
	p.APJSURL = "https://x.example/all.js; script-src *"
	if got := p.csp("https://acme.atlassian.net", "https://acme.atlassian.net"); strings.Contains(got, "*") || strings.Count(got, "acme") != 1 {
		t.Fatalf("injection or duplicate: %s", got)
	}
}

func TestTrimBodyKeepsRunes(t *testing.T) {
	body := []byte(strings.Repeat("é", 10)) // 20 bytes
	s, cut := trimBody(body, 5)
	if !cut || s != "éé" {
		t.Fatalf("trimBody = %q %v", s, cut)
	}
	s, cut = trimBody([]byte{0xff, 'a'}, 10)
	if cut || s != "\uFFFDa" {
		t.Fatalf("invalid bytes: %q", s)
	}
}

func TestQueryValueAgreesWithParseQuery(t *testing.T) {
	cases := []struct{ name, raw string }{
		{"absent", "a=1&b=2"},
		{"empty query", ""},
		{"plain", "cp=&view=explorer&jwt=x.y.z"},
		{"first wins", "view=check&view=history"},
		{"encoded value", "view=%65xplain"},
		{"plus is a space", "view=a+b"},
		{"encoded name", "%76iew=advisor"},
		{"bad escape skipped", "view=%zz&view=history"},
		{"no equals", "view&x=1"},
		{"empty value", "view="},
		{"semicolon key", "view;x=1&view=check"},
		{"jira iframe", "xdm_e=https%3A%2F%2Fsite.atlassian.net&cp=&cv=1001.0.0&lic=none&view=installation&jwt=a.b.c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := url.ParseQuery(tc.raw)
			got, ok := queryValue(tc.raw, "view")
			if ok != want.Has("view") || got != want.Get("view") {
				t.Fatalf("queryValue(%q) = %q, %v; url.ParseQuery says %q, %v", tc.raw, got, ok, want.Get("view"), want.Has("view"))
			}
		})
	}
}

// TestScopeRowsAddUp: the scope table's rows (declared, implied, NONE)
// add up to the reachable count for every declared set, each scope is
// counted once, and the NONE row is always there.
func TestScopeRowsAddUp(t *testing.T) {
	sc := countScopes(catalog.Default())
	cases := []struct {
		name    string
		set     scope.Set
		sources map[string]string // scope -> source expected
	}{
		{"the descriptor's READ ACT_AS_USER", scope.Set{scope.Read, scope.ActAsUser},
			map[string]string{"READ": SourceDeclared, "ACT_AS_USER": SourceDeclared, "NONE": SourceNone}},
		{"nothing declared", nil, map[string]string{"NONE": SourceNone}},
		{"WRITE implies READ", scope.Set{scope.Write},
			map[string]string{"WRITE": SourceDeclared, "READ": SourceImplied, "NONE": SourceNone}},
		{"ADMIN implies the hierarchy", scope.Set{scope.Admin},
			map[string]string{"ADMIN": SourceDeclared, "PROJECT_ADMIN": SourceImplied, "DELETE": SourceImplied, "WRITE": SourceImplied, "READ": SourceImplied, "NONE": SourceNone}},
		{"duplicates and NONE declared", scope.Set{scope.Read, scope.Read, scope.None},
			map[string]string{"READ": SourceDeclared, "NONE": SourceNone}},
		{"INACCESSIBLE declared reaches nothing", scope.Set{scope.Inaccessible, scope.AccessEmailAddresses},
			map[string]string{"ACCESS_EMAIL_ADDRESSES": SourceDeclared, "NONE": SourceNone}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := sc.rows(tc.set)
			sum := 0
			got := map[string]string{}
			for _, r := range rows {
				if _, dup := got[r.Scope]; dup {
					t.Fatalf("scope %s twice: %+v", r.Scope, rows)
				}
				got[r.Scope] = r.Source
				sum += r.Operations
			}
			if want := sc.reachable(tc.set); sum != want || sum == 0 {
				t.Fatalf("rows add up to %d, reachable is %d: %+v", sum, want, rows)
			}
			if len(got) != len(tc.sources) {
				t.Fatalf("rows %v, want %v", got, tc.sources)
			}
			for s, src := range tc.sources {
				if got[s] != src {
					t.Fatalf("row %s: source %q, want %q (%v)", s, got[s], src, got)
				}
			}
		})
	}
}

// fakeJira answers the user API with a fixed result and counts calls.
type fakeJira struct {
	calls  int
	status int
	body   string
	err    error
}

func (f *fakeJira) Call(_ context.Context, _ *tenant.Tenant, as preflight.Identity, acc, method, path string, _ []byte) (*jira.Response, error) {
	f.calls++
	if as != preflight.App || acc != "" || method != "GET" || path != "/rest/api/3/user?accountId=acc%2B1" {
		return nil, errors.New("unexpected call " + string(as) + " " + method + " " + path)
	}
	if f.err != nil {
		return nil, f.err
	}
	return &jira.Response{Status: f.status, Body: []byte(f.body)}, nil
}

// TestDisplayNameFallsBack: when Jira cannot tell the name, the panel
// shows the accountId (an empty name) and asks again after a minute, not
// on every load; a name it could read is kept for NameTTL.
func TestDisplayNameFallsBack(t *testing.T) {
	cases := []struct {
		name     string
		jira     fakeJira
		want     string
		wantErr  bool
		retryAge time.Duration // when Jira is asked again
	}{
		{"name", fakeJira{status: 200, body: `{"accountId":"acc+1","displayName":"Ada Admin"}`}, "Ada Admin", false, 10 * time.Minute},
		{"network error", fakeJira{err: errors.New("dial tcp: connection refused")}, "", true, time.Minute},
		{"user API refused", fakeJira{status: 403, body: `{"errorMessages":["no"]}`}, "", true, time.Minute},
		{"no displayName", fakeJira{status: 200, body: `{"accountId":"acc+1"}`}, "", true, time.Minute},
		{"not JSON", fakeJira{status: 200, body: `<html>`}, "", true, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			clock := func() time.Time { return now }
			n := newNames(&tc.jira, clock, DefaultNameTTL)
			v := &tenant.Viewer{Tenant: &tenant.Tenant{ClientKey: "ck"}, AccountID: "acc+1", Kind: tenant.Connect}
			for i := range 2 {
				got, err := n.displayName(context.Background(), v, time.Second)
				// The failure is reported once; the cached fallback after.
				if got != tc.want || (err != nil) != (tc.wantErr && i == 0) {
					t.Fatalf("load %d: %q %v, want %q (error %v)", i, got, err, tc.want, tc.wantErr)
				}
			}
			if tc.jira.calls != 1 {
				t.Fatalf("%d calls for two loads", tc.jira.calls)
			}
			now = now.Add(tc.retryAge - time.Second)
			n.displayName(context.Background(), v, time.Second)
			if tc.jira.calls != 1 {
				t.Fatalf("asked again before %v", tc.retryAge)
			}
			now = now.Add(2 * time.Second)
			n.displayName(context.Background(), v, time.Second)
			if tc.jira.calls != 2 {
				t.Fatalf("not asked again after %v", tc.retryAge)
			}
			if got, _ := n.displayName(context.Background(), &tenant.Viewer{Tenant: v.Tenant}, time.Second); got != "" || tc.jira.calls != 2 {
				t.Fatal("an anonymous viewer has no name and costs no call")
			}
		})
	}
}
