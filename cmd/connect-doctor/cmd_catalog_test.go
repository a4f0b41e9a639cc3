package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// runCat runs one catalog subcommand with the given stdin and environment.
func runCat(t *testing.T, f func([]string, stdio) int, stdin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := f(args, stdio{in: strings.NewReader(stdin), out: &out, err: &errb, getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

func TestRunEndpoints(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		notOut   []string
		wantErr  string
	}{
		{"query", []string{"mypreferences"}, 0, []string{"GET     /rest/api/3/mypreferences ", "ACT_AS_USER", "5 operation(s)"}, nil, ""},
		{"flags after query", []string{"issue", "--scope", "delete", "--permission", "project-permissions"}, 0, []string{"DELETE  /rest/api/3/issue/{issueIdOrKey} "}, []string{"READ "}, ""},
		{"concrete request", []string{"GET", "/rest/api/2/settings/columns"}, 0, []string{"INACCESSIBLE", "1 operation(s)"}, nil, ""},
		{"no match", []string{"zzznothing"}, 1, nil, []string{"METHOD"}, "no operation matches"},
		{"bad scope", []string{"--scope", "SUPERUSER"}, 2, nil, nil, "unknown Connect scope"},
		{"bad permission", []string{"--permission", "wizard"}, 2, nil, nil, "unknown tag"},
		{"bad flag", []string{"--nope"}, 2, nil, nil, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCat(t, runEndpoints, "", nil, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr=%s", code, tt.wantCode, errs)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(out, w) {
					t.Fatalf("output has %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("stderr %q lacks %q", errs, tt.wantErr)
			}
		})
	}
}

func TestRunEndpointsJSON(t *testing.T) {
	code, out, _ := runCat(t, runEndpoints, "", nil, "--scope", "ACCESS_EMAIL_ADDRESSES", "--json")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var ops []catalog.Operation
	if err := json.Unmarshal([]byte(out), &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Path != "/rest/api/3/user/email" || ops[1].Path != "/rest/api/3/user/email/bulk" {
		t.Fatalf("ops = %+v", ops)
	}
	code, out, _ = runCat(t, runEndpoints, "", nil, "--json", "zzznothing")
	if code != 1 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty JSON: exit %d out %q", code, out)
	}
}

func TestRunEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"issue v2", []string{"GET", "/rest/api/2/issue/ABC-1?expand=names"}, 0,
			[]string{"GET /rest/api/3/issue/{issueIdOrKey}  (getIssue, platform)", "issueIdOrKey=ABC-1", "Connect scope:   READ", "read:jira-work", "project-browse; Browse projects"}, ""},
		{"one argument", []string{"delete /rest/api/3/issue/ABC-1"}, 0, []string{"deleteIssue", "DELETE"}, ""},
		{"inaccessible", []string{"GET", "/rest/api/2/settings/columns"}, 0, []string{"INACCESSIBLE (Connect apps cannot call this"}, ""},
		{"deprecated", []string{"GET", "/rest/api/2/search"}, 0, []string{"notes:", "deprecated"}, ""},
		{"unknown", []string{"GET", "/rest/api/3/nope"}, 1, nil, "is not in the endpoint catalog"},
		{"wrong method", []string{"PATCH", "/rest/api/3/myself"}, 1, nil, "methods there: GET"},
		{"missing path", []string{"GET"}, 2, nil, `want "METHOD PATH"`},
		{"bad method", []string{"FETCH", "/rest/api/3/myself"}, 2, nil, `want "METHOD PATH"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCat(t, runEndpoint, "", nil, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr=%s", code, tt.wantCode, errs)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Fatalf("stderr %q lacks %q", errs, tt.wantErr)
			}
			if tt.wantCode == 2 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Fatalf("bad input message is not one line: %q", errs)
			}
		})
	}
}

func TestRunEndpointJSON(t *testing.T) {
	code, out, _ := runCat(t, runEndpoint, "", nil, "--json", "GET", "/wiki/rest/api/latest/issue/ABC%2D7")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got endpointJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Operation.OperationID != "getIssue" || got.Path != "/rest/api/3/issue/ABC-7" || got.Params["issueIdOrKey"] != "ABC-7" {
		t.Fatalf("got %+v", got)
	}
	code, out, _ = runCat(t, runEndpoint, "", nil, "--json", "GET", "/nope/x")
	var e struct {
		Error struct{ Code, Message, Hint string }
	}
	if code != 1 || json.Unmarshal([]byte(out), &e) != nil || e.Error.Code != "unknown_endpoint" || e.Error.Hint == "" {
		t.Fatalf("unknown JSON: exit %d out %s", code, out)
	}
}

func TestRunScopesAdvise(t *testing.T) {
	input := "# the app's calls\nGET /rest/api/2/search\n\nGET /rest/api/2/permissions\nGET /rest/api/2/settings/columns\nGET /rest/api/3/mypreferences\nPOST /rest/api/3/nope\n"
	code, out, errs := runCat(t, runScopes, input, nil, "advise")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"Minimal Connect scopes: ADMIN,ACT_AS_USER", `"scopes": ["admin", "act_as_user"]`,
		"Not reachable by any Connect scope (INACCESSIBLE) (1)", "GET /rest/api/3/settings/columns", "Unknown (1)", "POST /rest/api/3/nope"} {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}

	code, out, _ = runCat(t, runScopes, input, nil, "advise", "--json")
	var adv catalog.Advice
	if code != 0 || json.Unmarshal([]byte(out), &adv) != nil {
		t.Fatalf("json: exit %d %s", code, out)
	}
	if adv.Scopes.String() != "ADMIN,ACT_AS_USER" || len(adv.Operations) != 4 || len(adv.Inaccessible) != 1 || len(adv.Unknown) != 1 {
		t.Fatalf("advice = %+v", adv)
	}

	file := filepath.Join(t.TempDir(), "ops.txt")
	if err := os.WriteFile(file, []byte("GET /rest/api/3/myself"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCat(t, runScopes, "", nil, "advise", file); code != 0 || !strings.Contains(out, "Minimal Connect scopes: READ") {
		t.Fatalf("file input: exit %d %s", code, out)
	}
	for _, args := range [][]string{{}, {"suggest"}, {"advise", "--bogus"}, {"advise", filepath.Join(t.TempDir(), "missing.txt")}} {
		if code, _, _ := runCat(t, runScopes, "", nil, args...); code != 2 {
			t.Fatalf("scopes %v: exit %d, want 2", args, code)
		}
	}
}

const tinySpec = `{"openapi":"3.0.1","info":{"title":"Jira","version":"2"},"paths":{
"/rest/api/3/widget/{widgetId}":{"get":{"operationId":"getWidget","description":"**Permissions required:** *Administer Jira*.","x-atlassian-connect-scope":"ADMIN"}}}}`

func TestRunCatalogImport(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(spec, []byte(tinySpec), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "cat.json")
	code, stdout, errs := runCat(t, runCatalog, "", nil, "import", spec+":platform", "-o", out)
	if code != 0 || !strings.Contains(stdout, "wrote 1 operations") {
		t.Fatalf("import: exit %d out %q err %q", code, stdout, errs)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := catalog.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if op, ok := c.Lookup("GET", "/rest/api/3/widget/{widgetId}"); !ok || op.Permission != "admin" {
		t.Fatalf("imported catalog: %+v %v", op, ok)
	}
	// The other commands read the imported catalog through CATALOG_FILE.
	env := map[string]string{"CATALOG_FILE": out}
	if code, stdout, _ := runCat(t, runEndpoint, "", env, "GET", "/rest/api/2/widget/9"); code != 0 || !strings.Contains(stdout, "getWidget") {
		t.Fatalf("endpoint with CATALOG_FILE: exit %d %s", code, stdout)
	}
	if code, _, _ := runCat(t, runEndpoint, "", env, "GET", "/rest/api/3/myself"); code != 1 {
		t.Fatalf("embedded operation found in the imported catalog: exit %d", code)
	}
	if code, stdout, _ := runCat(t, runCatalog, "", env, "info"); code != 0 || !strings.Contains(stdout, "1 operations") {
		t.Fatalf("info: exit %d %s", code, stdout)
	}

	bad := []struct {
		name string
		args []string
		env  map[string]string
		f    func([]string, stdio) int
	}{
		{"no -o", []string{"import", spec}, nil, runCatalog},
		{"no spec", []string{"import", "-o", out}, nil, runCatalog},
		{"missing spec", []string{"import", filepath.Join(dir, "none.json"), "-o", out}, nil, runCatalog},
		{"not a spec", []string{"import", out, "-o", filepath.Join(dir, "x.json")}, nil, runCatalog},
		{"no subcommand", nil, nil, runCatalog},
		{"bad CATALOG_FILE", []string{"mypreferences"}, map[string]string{"CATALOG_FILE": spec}, runEndpoints},
		{"missing CATALOG_FILE", []string{"GET", "/x/y"}, map[string]string{"CATALOG_FILE": filepath.Join(dir, "gone.json")}, runEndpoint},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCat(t, tt.f, "", tt.env, tt.args...)
			if code != 2 || strings.TrimSpace(errs) == "" {
				t.Fatalf("exit %d, stderr %q; want 2 with a message", code, errs)
			}
		})
	}
}

func TestRunCatalogImportStdout(t *testing.T) {
	spec := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(spec, []byte(tinySpec), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCat(t, runCatalog, "", nil, "import", spec, "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	c, err := catalog.Load(strings.NewReader(out))
	if err != nil || c.Len() != 1 {
		t.Fatalf("stdout catalog: %v", err)
	}
	if strings.Contains(out, "Permissions required") {
		t.Fatal("prose copied into the catalog")
	}
}
