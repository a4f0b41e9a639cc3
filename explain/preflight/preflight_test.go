package preflight_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

func set(t testing.TB, s string) scope.Set {
	t.Helper()
	if s == "-" {
		return nil
	}
	out, err := scope.ParseSet(s)
	if err != nil {
		t.Fatal(err)
	}
	if out == nil {
		out = scope.Set{}
	}
	return out
}

func perms(keys ...string) *preflight.Permissions {
	p := &preflight.Permissions{Global: map[string]bool{}, Known: true}
	for _, k := range keys {
		name, negated := strings.CutPrefix(k, "!")
		p.Global[name] = !negated
	}
	return p
}

func TestPredict(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		name        string
		in          preflight.Input
		declared    string
		token       string // "-" = nil (the app's scopes)
		want        preflight.Outcome
		wantStatus  int
		wantMissing scope.Scope
		wantPerm    string
		wantInFix   string
	}{
		// The community report: a user token with READ (+ACT_AS_USER).
		{name: "real case: user search works (deprecated)", in: preflight.Input{Method: "GET", Path: "/rest/api/2/search?jql=project%3DABC", Identity: preflight.User},
			declared: "READ ACT_AS_USER", token: "-", want: preflight.Deprecated, wantStatus: 200},
		{name: "real case: user configuration works", in: preflight.Input{Method: "GET", Path: "/rest/api/2/configuration", Identity: preflight.User},
			declared: "READ ACT_AS_USER", token: "-", want: preflight.Allowed, wantStatus: 200},
		{name: "real case: user permissions needs ADMIN -> 401", in: preflight.Input{Method: "GET", Path: "/rest/api/2/permissions", Identity: preflight.User},
			declared: "READ ACT_AS_USER", token: "-", want: preflight.TokenScopeMissing, wantStatus: 401, wantMissing: scope.Admin, wantInFix: "descriptor"},
		{name: "real case: user settings/columns inaccessible", in: preflight.Input{Method: "GET", Path: "/rest/api/2/settings/columns", Identity: preflight.User},
			declared: "ADMIN ACT_AS_USER", token: "-", want: preflight.Inaccessible, wantStatus: 403},

		{name: "app allowed", in: preflight.Input{Method: "GET", Path: "/rest/api/3/issue/ABC-1"}, declared: "READ", want: preflight.Allowed, wantStatus: 200},
		{name: "app scope missing", in: preflight.Input{Method: "DELETE", Path: "/rest/api/3/issue/ABC-1", Identity: preflight.App},
			declared: "READ,WRITE", want: preflight.ScopeMissing, wantStatus: 403, wantMissing: scope.Delete, wantInFix: `"delete"`},
		{name: "app admin implies write", in: preflight.Input{Method: "put", Path: "/rest/api/3/issue/ABC-1"}, declared: "admin", want: preflight.Allowed, wantStatus: 200},
		{name: "app inaccessible even with everything", in: preflight.Input{Method: "GET", Path: "/rest/api/3/users/search"},
			declared: "ADMIN ACT_AS_USER ACCESS_EMAIL_ADDRESSES", want: preflight.Inaccessible, wantStatus: 403},
		{name: "app email scope separate", in: preflight.Input{Method: "GET", Path: "/rest/api/3/user/email?accountId=x"},
			declared: "ADMIN", want: preflight.ScopeMissing, wantStatus: 403, wantMissing: scope.AccessEmailAddresses},
		{name: "app NONE scope needs nothing", in: preflight.Input{Method: "GET", Path: "/rest/atlassian-connect/1/addons/com.example/properties"},
			declared: "", want: preflight.Allowed, wantStatus: 200},
		{name: "user without ACT_AS_USER", in: preflight.Input{Method: "GET", Path: "/rest/api/3/myself", Identity: preflight.User},
			declared: "READ", token: "-", want: preflight.ActAsUserMissing, wantStatus: 401, wantMissing: scope.ActAsUser},
		{name: "user token narrowed", in: preflight.Input{Method: "POST", Path: "/rest/api/3/issue", Identity: preflight.User},
			declared: "WRITE ACT_AS_USER", token: "READ", want: preflight.TokenScopeMissing, wantStatus: 401, wantMissing: scope.Write, wantInFix: "request the token"},
		{name: "user token narrowed but enough", in: preflight.Input{Method: "GET", Path: "/rest/api/3/issue/ABC-1", Identity: preflight.User},
			declared: "WRITE ACT_AS_USER", token: "READ", want: preflight.Allowed, wantStatus: 200},
		{name: "user token wider than declared", in: preflight.Input{Method: "GET", Path: "/rest/api/3/permissions", Identity: preflight.User},
			declared: "READ ACT_AS_USER", token: "ADMIN", want: preflight.TokenScopeMissing, wantStatus: 401, wantMissing: scope.Admin},
		{name: "user mypreferences needs only ACT_AS_USER", in: preflight.Input{Method: "GET", Path: "/rest/api/3/mypreferences?key=x", Identity: preflight.User},
			declared: "ACT_AS_USER", token: "READ", want: preflight.Allowed, wantStatus: 200},
		{name: "needs admin", in: preflight.Input{Method: "GET", Path: "/rest/api/3/application-properties", Identity: preflight.User, Permissions: perms("BROWSE_PROJECTS", "!ADMINISTER")},
			declared: "ADMIN ACT_AS_USER", token: "-", want: preflight.NeedsAdmin, wantStatus: 403, wantPerm: "ADMINISTER"},
		{name: "admin not probed: no verdict", in: preflight.Input{Method: "GET", Path: "/rest/api/3/application-properties", Identity: preflight.User, Permissions: perms("BROWSE_PROJECTS")},
			declared: "ADMIN ACT_AS_USER", token: "-", want: preflight.Allowed, wantStatus: 200},
		{name: "browse users missing", in: preflight.Input{Method: "GET", Path: "/rest/api/3/user/search?query=a", Permissions: perms("!USER_PICKER")},
			declared: "READ", want: preflight.PermissionMissing, wantStatus: 403, wantPerm: "USER_PICKER"},
		{name: "admin held", in: preflight.Input{Method: "GET", Path: "/rest/api/3/application-properties", Identity: preflight.User, Permissions: perms("ADMINISTER")},
			declared: "ADMIN ACT_AS_USER", token: "-", want: preflight.Allowed, wantStatus: 200},
		{name: "system admin implies administer", in: preflight.Input{Method: "GET", Path: "/rest/api/3/application-properties", Permissions: perms("SYSTEM_ADMIN")},
			declared: "ADMIN", want: preflight.Allowed, wantStatus: 200},
		{name: "permissions unknown: no permission verdict", in: preflight.Input{Method: "GET", Path: "/rest/api/3/application-properties", Permissions: &preflight.Permissions{}},
			declared: "ADMIN", want: preflight.Allowed, wantStatus: 200},
		{name: "browse missing on an issue is 404", in: preflight.Input{Method: "GET", Path: "/rest/api/3/issue/ABC-1/changelog", Permissions: perms("!BROWSE_PROJECTS")},
			declared: "READ", want: preflight.PermissionMissing, wantStatus: 404, wantPerm: "BROWSE_PROJECTS"},
		{name: "browse unknown is not asserted", in: preflight.Input{Method: "GET", Path: "/rest/api/3/issue/ABC-1/changelog", Permissions: perms()},
			declared: "READ", want: preflight.Allowed, wantStatus: 200},
		{name: "edit issues missing", in: preflight.Input{Method: "PUT", Path: "/rest/api/3/issue/ABC-1", Permissions: perms("BROWSE_PROJECTS", "!EDIT_ISSUES")},
			declared: "WRITE", want: preflight.PermissionMissing, wantStatus: 403, wantPerm: "EDIT_ISSUES"},
		{name: "project admin missing", in: preflight.Input{Method: "PUT", Path: "/rest/api/3/project/ABC", Permissions: perms("!ADMINISTER_PROJECTS", "!ADMINISTER")},
			declared: "PROJECT_ADMIN", want: preflight.PermissionMissing, wantStatus: 403, wantPerm: "ADMINISTER_PROJECTS"},
		{name: "project admin via Administer Jira", in: preflight.Input{Method: "PUT", Path: "/rest/api/3/project/ABC", Permissions: perms("ADMINISTER", "!ADMINISTER_PROJECTS")},
			declared: "PROJECT_ADMIN", want: preflight.Allowed, wantStatus: 200},
		{name: "unknown endpoint", in: preflight.Input{Method: "GET", Path: "/rest/api/3/nosuch"}, declared: "ADMIN", want: preflight.UnknownEndpoint, wantStatus: 0},
		{name: "unknown method on known path", in: preflight.Input{Method: "PATCH", Path: "/rest/api/3/myself"}, declared: "ADMIN", want: preflight.UnknownEndpoint, wantStatus: 0, wantInFix: "methods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.DeclaredScopes = set(t, tt.declared)
			if tt.token != "" {
				in.TokenScopes = set(t, tt.token)
			}
			r := preflight.Predict(c, in)
			if r.Outcome != tt.want || r.Status != tt.wantStatus || r.MissingScope != tt.wantMissing || r.MissingPermission != tt.wantPerm {
				t.Fatalf("got %s %d missing=%q perm=%q (%s); want %s %d %q %q", r.Outcome, r.Status, r.MissingScope, r.MissingPermission, r.Reason, tt.want, tt.wantStatus, tt.wantMissing, tt.wantPerm)
			}
			if r.Reason == "" {
				t.Fatal("no reason")
			}
			if tt.wantInFix != "" && !strings.Contains(r.Fix, tt.wantInFix) {
				t.Fatalf("fix %q lacks %q", r.Fix, tt.wantInFix)
			}
			if r.Outcome != preflight.UnknownEndpoint {
				if r.Operation == nil || r.RequiredScope != r.Operation.ConnectScope || r.Deprecated != r.Operation.Deprecated {
					t.Fatalf("operation facts not carried: %+v", r)
				}
			}
		})
	}
}

func TestResultJSON(t *testing.T) {
	r := preflight.Predict(catalog.Default(), preflight.Input{Method: "GET", Path: "/rest/api/2/permissions", DeclaredScopes: scope.Set{scope.Read}})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["outcome"] != "scope_missing" || back["status"] != float64(403) || back["missingScope"] != "ADMIN" ||
		back["operation"].(map[string]any)["operationId"] != "getAllPermissions" {
		t.Fatalf("json = %s", b)
	}
}

func TestNewPermissions(t *testing.T) {
	p := preflight.NewPermissions(map[string]bool{"ADMINISTER": false}, map[string]bool{"BROWSE_PROJECTS": true, "ADMINISTER": true})
	if !p.Known || !p.Global["ADMINISTER"] || !p.Global["BROWSE_PROJECTS"] {
		t.Fatalf("merged = %+v", p)
	}
	r := preflight.Predict(catalog.Default(), preflight.Input{Method: "GET", Path: "/rest/api/3/application-properties",
		DeclaredScopes: scope.Set{scope.Admin}, Permissions: preflight.NewPermissions(map[string]bool{"ADMINISTER": false})})
	if r.Outcome != preflight.NeedsAdmin || r.Status != 403 {
		t.Fatalf("got %s %d", r.Outcome, r.Status)
	}
}

func TestPermissionKey(t *testing.T) {
	for name, want := range map[string]string{"Administer Jira": "ADMINISTER", " browse projects ": "BROWSE_PROJECTS", "Edit issues": "EDIT_ISSUES"} {
		if k, ok := preflight.PermissionKey(name); !ok || k != want {
			t.Fatalf("PermissionKey(%q) = %q %v", name, k, ok)
		}
	}
	if _, ok := preflight.PermissionKey("Fly"); ok {
		t.Fatal("unknown name mapped")
	}
}

func ExamplePredict() {
	c := catalog.Default()
	declared := scope.Set{scope.Read, scope.ActAsUser}
	for _, p := range []string{"/rest/api/2/search", "/rest/api/2/permissions", "/rest/api/2/settings/columns"} {
		r := preflight.Predict(c, preflight.Input{Method: "GET", Path: p, Identity: preflight.User, DeclaredScopes: declared})
		fmt.Println(p, r.Status, r.Outcome)
	}
	// Output:
	// /rest/api/2/search 200 deprecated
	// /rest/api/2/permissions 401 token_scope_missing
	// /rest/api/2/settings/columns 403 inaccessible
}

func BenchmarkPredict(b *testing.B) {
	c := catalog.Default()
	in := preflight.Input{Method: "GET", Path: "/rest/api/2/issue/ABC-1?expand=names", Identity: preflight.User,
		DeclaredScopes: scope.Set{scope.Read, scope.ActAsUser}, Permissions: &preflight.Permissions{Global: map[string]bool{"BROWSE_PROJECTS": true}, Known: true}}
	b.ReportAllocs()
	for b.Loop() {
		if r := preflight.Predict(c, in); r.Outcome != preflight.Allowed {
			b.Fatal(r.Outcome)
		}
	}
}

func BenchmarkPredictDenied(b *testing.B) {
	c := catalog.Default()
	in := preflight.Input{Method: "GET", Path: "/rest/api/2/permissions", Identity: preflight.User, DeclaredScopes: scope.Set{scope.Read, scope.ActAsUser}}
	b.ReportAllocs()
	for b.Loop() {
		if r := preflight.Predict(c, in); r.Outcome != preflight.TokenScopeMissing {
			b.Fatal(r.Outcome)
		}
	}
}
