package catalog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

// paramValue returns a realistic concrete value for a template parameter.
func paramValue(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.Contains(l, "issueidorkey"), l == "issuekey", strings.Contains(l, "issueorid"):
		return "ABC-1"
	case strings.Contains(l, "projectidorkey"), strings.Contains(l, "projectkey"):
		return "ABC"
	case strings.Contains(l, "accountid"):
		return "5b10ac8d82e05b22cc7d4ef5"
	case strings.Contains(l, "propertykey"), l == "key":
		return "my-prop"
	case strings.Contains(l, "addonkey"), strings.Contains(l, "appkey"):
		return "com.example.app"
	case strings.Contains(l, "modulekey"):
		return "my-module"
	case strings.Contains(l, "jql"):
		return "project%20%3D%20ABC"
	default:
		return "10001"
	}
}

var paramRE = regexp.MustCompile(`\{([^}/]+)\}`)

func concrete(template string) string {
	return paramRE.ReplaceAllStringFunc(template, func(m string) string { return paramValue(m[1 : len(m)-1]) })
}

func TestEmbeddedCatalog(t *testing.T) {
	c := catalog.Default()
	if c.Len() != 724 {
		t.Fatalf("Len = %d, want 724", c.Len())
	}
	counts := map[scope.Scope]int{}
	for _, op := range c.Operations() {
		counts[op.ConnectScope]++
	}
	// The counts from shared/data/README.md.
	want := map[scope.Scope]int{"READ": 228, "ADMIN": 171, "INACCESSIBLE": 137, "WRITE": 73, "DELETE": 47,
		"PROJECT_ADMIN": 37, "NONE": 25, "ACT_AS_USER": 4, "ACCESS_EMAIL_ADDRESSES": 2}
	for s, n := range want {
		if counts[s] != n {
			t.Errorf("%s: %d operations, want %d", s, counts[s], n)
		}
	}
	if c != catalog.Default() {
		t.Fatal("Default is not parsed once")
	}
}

// TestNoProse checks that the embedded catalog holds facts only.
func TestNoProse(t *testing.T) {
	raw, err := os.ReadFile("catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Operations []map[string]json.RawMessage `json:"operations"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	allowed := []string{"api", "method", "path", "operationId", "connectScope", "oauthClassic", "oauthGranular",
		"deprecated", "experimental", "anonymousAllowed", "permission", "permissionDetail", "permissionNames"}
	for _, op := range f.Operations {
		for k := range op {
			if !slices.Contains(allowed, k) {
				t.Fatalf("catalog.json carries field %q", k)
			}
		}
	}
	if len(f.Operations) != 724 {
		t.Fatalf("%d operations in catalog.json", len(f.Operations))
	}
	// Permission names are short names, never sentences.
	for _, op := range catalog.Default().Operations() {
		for _, n := range op.PermissionNames {
			if len(n) >= 60 {
				t.Fatalf("%s: permission name %q is prose", op.String(), n)
			}
		}
	}
}

// TestMatchEveryOperation rebuilds a concrete path from every template and
// checks that it maps back to that operation.
func TestMatchEveryOperation(t *testing.T) {
	c := catalog.Default()
	for _, op := range c.Operations() {
		p := concrete(op.Path)
		m, ok := c.Match(op.Method, p)
		if !ok {
			t.Errorf("%s %s: no match", op.Method, p)
			continue
		}
		if m.Op.Method != op.Method || m.Op.Path != op.Path {
			t.Errorf("%s %s matched %s", op.Method, p, m.Op)
			continue
		}
		for name := range m.Params {
			if !strings.Contains(op.Path, "{"+name+"}") {
				t.Errorf("%s: param %q not in template", op.String(), name)
			}
		}
		if strings.Count(op.Path, "{") != len(m.Params) {
			t.Errorf("%s: params %v", op.String(), m.Params)
		}
		// The v2 and latest twins resolve to the same operation.
		if rest, ok := strings.CutPrefix(p, "/rest/api/3/"); ok {
			for _, v := range []string{"2", "latest"} {
				m2, ok := c.Match(strings.ToLower(op.Method), "/rest/api/"+v+"/"+rest+"/?x=1")
				if !ok || m2.Op != m.Op || m2.Path != m.Path {
					t.Errorf("%s twin of %s: %v %v", v, p, ok, m2.Op)
				}
			}
		}
	}
}

func TestMatch(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		name, method, path string
		wantTemplate       string
		wantPath           string
		wantParams         map[string]string
	}{
		{"v2 with query", "GET", "/rest/api/2/issue/ABC-1?expand=names", "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/ABC-1", map[string]string{"issueIdOrKey": "ABC-1"}},
		{"latest", "get", "/rest/api/latest/myself", "/rest/api/3/myself", "/rest/api/3/myself", nil},
		{"trailing slash", "GET", "/rest/api/3/myself/", "/rest/api/3/myself", "/rest/api/3/myself", nil},
		{"double slash", "GET", "/rest/api/3//myself", "/rest/api/3/myself", "/rest/api/3/myself", nil},
		{"encoded segment", "GET", "/rest/api/3/issue/ABC%2D1", "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/ABC-1", map[string]string{"issueIdOrKey": "ABC-1"}},
		{"encoded slash stays in param", "GET", "/rest/api/3/issue/A%2FB", "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/A%2FB", map[string]string{"issueIdOrKey": "A/B"}},
		{"encoded literal", "GET", "/rest/api/3/my%73elf", "/rest/api/3/myself", "/rest/api/3/myself", nil},
		{"wiki prefix", "GET", "/wiki/rest/api/3/serverInfo", "/rest/api/3/serverInfo", "/rest/api/3/serverInfo", nil},
		{"absolute url", "GET", "https://acme.atlassian.net/rest/api/2/search?jql=x", "/rest/api/3/search", "/rest/api/3/search", nil},
		{"agile", "GET", "/rest/agile/1.0/board/42/sprint", "/rest/agile/1.0/board/{boardId}/sprint", "/rest/agile/1.0/board/42/sprint", map[string]string{"boardId": "42"}},
		{"agile latest", "GET", "/rest/agile/latest/board/42", "/rest/agile/1.0/board/{boardId}", "/rest/agile/1.0/board/42", map[string]string{"boardId": "42"}},
		{"literal beats param", "GET", "/rest/api/3/issue/createmeta", "/rest/api/3/issue/createmeta", "/rest/api/3/issue/createmeta", nil},
		{"backtrack to param", "GET", "/rest/api/3/issue/createmeta/transitions", "/rest/api/3/issue/{issueIdOrKey}/transitions", "/rest/api/3/issue/createmeta/transitions", map[string]string{"issueIdOrKey": "createmeta"}},
		{"settings columns", "GET", "/rest/api/2/settings/columns", "/rest/api/3/settings/columns", "/rest/api/3/settings/columns", nil},
		{"fragment", "DELETE", "/rest/api/3/issue/10001#x", "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3/issue/10001", map[string]string{"issueIdOrKey": "10001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := c.Match(tt.method, tt.path)
			if !ok {
				t.Fatalf("no match for %s %s", tt.method, tt.path)
			}
			if m.Op.Path != tt.wantTemplate || m.Path != tt.wantPath || !mapsEqual(m.Params, tt.wantParams) {
				t.Fatalf("got %s path=%s params=%v; want %s %s %v", m.Op.Path, m.Path, m.Params, tt.wantTemplate, tt.wantPath, tt.wantParams)
			}
			if !strings.EqualFold(m.Op.Method, tt.method) {
				t.Fatalf("method %s", m.Op.Method)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestMatchRejects(t *testing.T) {
	c := catalog.Default()
	tests := []struct{ name, method, path string }{
		{"unknown path", "GET", "/rest/api/3/nosuchthing"},
		{"unknown deeper path", "GET", "/rest/api/3/myself/extra/segments"},
		{"unknown api version", "GET", "/rest/api/1/myself"},
		{"method without operation", "PATCH", "/rest/api/3/myself"},
		{"literal path wins, method missing", "DELETE", "/rest/api/3/issue/createmeta"},
		{"empty", "GET", ""},
		{"root", "GET", "/"},
		{"host only", "GET", "https://acme.atlassian.net"},
		{"dot segment", "GET", "/rest/api/3/../3/myself"},
		{"encoded dot segment", "GET", "/rest/api/3/%2e%2e/myself"},
		{"bad escape", "GET", "/rest/api/3/issue/%zz"},
		{"case sensitive path", "GET", "/rest/api/3/MYSELF"},
		{"empty method", "", "/rest/api/3/myself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, ok := c.Match(tt.method, tt.path); ok {
				t.Fatalf("matched %s", m.Op)
			}
		})
	}
}

func TestPathOperations(t *testing.T) {
	c := catalog.Default()
	ops := c.PathOperations("/rest/api/2/issue/ABC-1")
	var methods []string
	for _, op := range ops {
		methods = append(methods, op.Method)
	}
	slices.Sort(methods)
	if !slices.Equal(methods, []string{"DELETE", "GET", "PUT"}) {
		t.Fatalf("methods at issue path = %v", methods)
	}
	if c.PathOperations("/nope") != nil {
		t.Fatal("unknown path has operations")
	}
}

func TestLookupAndByOperationID(t *testing.T) {
	c := catalog.Default()
	op, ok := c.Lookup("get", "/rest/api/3/permissions")
	if !ok || op.OperationID != "getAllPermissions" || op.ConnectScope != scope.Admin || !op.AnonymousAllowed {
		t.Fatalf("Lookup permissions = %+v, %v", op, ok)
	}
	if _, ok := c.Lookup("GET", "/rest/api/3/issue/ABC-1"); ok {
		t.Fatal("Lookup matched a concrete path; it takes templates only")
	}
	op, ok = c.ByOperationID("getIssueNavigatorDefaultColumns")
	if !ok || op.Path != "/rest/api/3/settings/columns" || op.ConnectScope != scope.Inaccessible {
		t.Fatalf("ByOperationID = %+v, %v", op, ok)
	}
	if _, ok := c.ByOperationID("nope"); ok {
		t.Fatal("unknown operationId found")
	}
}

func TestSearch(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		name    string
		q       catalog.Query
		wantMin int
		wantMax int
		check   func(catalog.Operation) bool
	}{
		{"all", catalog.Query{}, 724, 724, func(catalog.Operation) bool { return true }},
		{"scope filter", catalog.Query{Scope: "act_as_user"}, 4, 4, func(o catalog.Operation) bool { return o.ConnectScope == scope.ActAsUser }},
		{"permission tag", catalog.Query{Permission: "admin"}, 255, 255, func(o catalog.Operation) bool { return o.Permission == "admin" }},
		{"permission detail", catalog.Query{Permission: "jira-access"}, 44, 44, func(o catalog.Operation) bool { return o.PermissionDetail == "jira-access" }},
		{"none alias", catalog.Query{Permission: "none"}, 47, 47, func(o catalog.Operation) bool { return o.Permission == "none/anonymous" }},
		{"text in path", catalog.Query{Text: "MYPREFERENCES"}, 5, 5, func(o catalog.Operation) bool { return strings.Contains(o.Path, "mypreferences") }},
		{"text two terms", catalog.Query{Text: "issue worklog", Scope: "DELETE"}, 1, 5, func(o catalog.Operation) bool {
			return o.ConnectScope == scope.Delete && strings.Contains(strings.ToLower(o.Path+o.OperationID), "worklog")
		}},
		{"camel keyword", catalog.Query{Text: "navigator"}, 1, 10, func(o catalog.Operation) bool {
			return strings.Contains(strings.ToLower(o.OperationID), "navigator") || strings.Contains(strings.ToLower(o.Path), "navigator")
		}},
		{"concrete request", catalog.Query{Text: "GET /rest/api/2/issue/ABC-1"}, 1, 1, func(o catalog.Operation) bool { return o.OperationID == "getIssue" }},
		{"concrete path", catalog.Query{Text: "/rest/api/2/issue/ABC-1"}, 3, 3, func(o catalog.Operation) bool { return o.Path == "/rest/api/3/issue/{issueIdOrKey}" }},
		{"no hit", catalog.Query{Text: "zzzqqq"}, 0, 0, nil},
		{"bad scope", catalog.Query{Scope: "SUPER"}, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Search(tt.q)
			if len(got) < tt.wantMin || len(got) > tt.wantMax {
				t.Fatalf("%d results, want %d..%d", len(got), tt.wantMin, tt.wantMax)
			}
			for _, op := range got {
				if !tt.check(op) {
					t.Fatalf("result %s does not fit the query", op.String())
				}
			}
		})
	}
}

func TestLoadAndWrite(t *testing.T) {
	ops := []catalog.Operation{
		{API: "platform", Method: "get", Path: "/rest/api/3/thing/{id}", OperationID: "getThing", ConnectScope: scope.Read, Permission: "other"},
		{API: "platform", Method: "DELETE", Path: "/rest/api/3/thing/{id}", OperationID: "deleteThing", ConnectScope: scope.Delete, Permission: "admin"},
	}
	var buf bytes.Buffer
	if err := catalog.Write(&buf, []catalog.Source{{API: "platform", File: "x.json", Count: 2}}, ops); err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.Match("GET", "/rest/api/2/thing/7")
	if !ok || m.Op.OperationID != "getThing" || m.Params["id"] != "7" {
		t.Fatalf("match in loaded catalog: %+v %v", m, ok)
	}
	if len(c.Sources()) != 1 || c.Sources()[0].File != "x.json" {
		t.Fatalf("sources = %+v", c.Sources())
	}

	bad := []struct {
		name, data string
		want       error
	}{
		{"not json", "nope", catalog.ErrFormat},
		{"wrong format", `{"format":"other/1","operations":[]}`, catalog.ErrFormat},
		{"duplicate", `{"format":"connect-doctor-catalog/1","operations":[{"method":"GET","path":"/a"},{"method":"get","path":"/a"}]}`, catalog.ErrOperation},
		{"relative path", `{"format":"connect-doctor-catalog/1","operations":[{"method":"GET","path":"a"}]}`, catalog.ErrOperation},
		{"no method", `{"format":"connect-doctor-catalog/1","operations":[{"path":"/a"}]}`, catalog.ErrOperation},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := catalog.Load(strings.NewReader(tt.data)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func ExampleCatalog_Match() {
	c := catalog.Default()
	m, ok := c.Match("GET", "/rest/api/2/issue/ABC-1?expand=names")
	fmt.Println(ok, m.Op.OperationID, m.Op.ConnectScope, m.Path, m.Params["issueIdOrKey"])
	_, ok = c.Match("GET", "/rest/api/2/nosuch")
	fmt.Println(ok)
	// Output:
	// true getIssue READ /rest/api/3/issue/ABC-1 ABC-1
	// false
}

func BenchmarkMatch(b *testing.B) {
	c := catalog.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Match("GET", "/rest/api/2/issue/ABC-1?expand=names"); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkMatchNoParams(b *testing.B) {
	c := catalog.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Match("GET", "/rest/api/3/myself"); !ok {
			b.Fatal("no match")
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []struct{ m, p string }{
		{"GET", "/rest/api/2/issue/ABC-1?expand=names"},
		{"get", "/rest/api/latest/myself/"},
		{"DELETE", "/rest/api/3/issue/ABC%2D1"},
		{"GET", "/wiki/rest/api/3/serverInfo"},
		{"GET", "https://acme.atlassian.net/rest/agile/1.0/board/1/sprint"},
		{"PUT", "/rest/api/3/issue/%2F/transitions"},
		{"GET", "/rest/api/3/issue/createmeta/x/y"},
		{"POST", "//rest//api//3//search//"},
		{"GET", "/rest/api/3/%zz"},
	} {
		f.Add(s.m, s.p)
	}
	c := catalog.Default()
	f.Fuzz(func(t *testing.T, method, path string) {
		m, ok := c.Match(method, path)
		if !ok {
			return
		}
		if !strings.EqualFold(m.Op.Method, method) {
			t.Fatalf("method %q matched %s", method, m.Op)
		}
		// The template's literal segments are the normalised path's, and the
		// parameters fill the rest.
		ts := strings.Split(strings.Trim(m.Op.Path, "/"), "/")
		ps := strings.Split(strings.Trim(m.Path, "/"), "/")
		if len(ts) != len(ps) {
			t.Fatalf("%q: path %q does not fit template %q", path, m.Path, m.Op.Path)
		}
		for i, seg := range ts {
			if strings.HasPrefix(seg, "{") {
				name := seg[1 : len(seg)-1]
				if _, ok := m.Params[name]; !ok {
					t.Fatalf("%q: param %s missing", path, name)
				}
			} else if ps[i] != seg {
				t.Fatalf("%q: segment %q != template %q", path, ps[i], seg)
			}
		}
		if op, ok := c.Lookup(m.Op.Method, m.Op.Path); !ok || op != m.Op {
			t.Fatalf("%q: Lookup of the matched template disagrees", path)
		}
		// The normalised path maps back to the same operation.
		m2, ok := c.Match(m.Op.Method, m.Path)
		if !ok || m2.Op != m.Op || !mapsEqual(m2.Params, m.Params) {
			t.Fatalf("%q: normalised %q does not map back (%v)", path, m.Path, ok)
		}
	})
}

func BenchmarkFind(b *testing.B) {
	c := catalog.Default()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Find("GET", "/rest/api/2/issue/ABC-1?expand=names"); !ok {
			b.Fatal("no match")
		}
	}
}

func TestFindAgreesWithMatch(t *testing.T) {
	c := catalog.Default()
	for _, p := range []string{"/rest/api/2/issue/ABC-1?expand=names", "/rest/api/3/myself", "/nope", "/rest/api/3/issue/createmeta"} {
		m, ok1 := c.Match("GET", p)
		op, ok2 := c.Find("GET", p)
		if ok1 != ok2 || ok1 && m.Op != op {
			t.Fatalf("%s: Match %v %v, Find %v %v", p, ok1, m.Op, ok2, op)
		}
	}
}

func TestOperationPermissionWording(t *testing.T) {
	tests := []struct {
		name          string
		op            *catalog.Operation
		label, needed string
	}{
		{"admin", &catalog.Operation{Permission: catalog.PermAdmin, PermissionDetail: "admin"}, "admin", "Administer Jira (global permission)"},
		{"admin or project admin", &catalog.Operation{Permission: catalog.PermAdminOrProjectAdmin}, "admin-or-project-admin", "Administer Jira, or Administer projects on the project"},
		{"browse with detail", &catalog.Operation{Permission: catalog.PermProjectBrowse, PermissionDetail: "project-browse-or-admin"}, "project-browse (project-browse-or-admin)", "Browse projects on the project"},
		{"none", &catalog.Operation{Permission: catalog.PermNone, PermissionDetail: "anonymous"}, catalog.PermNone, ""},
		{"named permissions", &catalog.Operation{Permission: catalog.PermOther, PermissionDetail: "project-permissions", PermissionNames: []string{"Browse projects", "Edit issues"}}, "other (project-permissions)", "Browse projects + Edit issues"},
		{"unknown", &catalog.Operation{Permission: catalog.PermOther}, catalog.PermOther, ""},
		{"nil", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.op != nil {
				if got := tt.op.PermissionLabel(); got != tt.label {
					t.Errorf("PermissionLabel = %q, want %q", got, tt.label)
				}
			}
			if got := tt.op.PermissionNeeded(); got != tt.needed {
				t.Errorf("PermissionNeeded = %q, want %q", got, tt.needed)
			}
		})
	}
}
