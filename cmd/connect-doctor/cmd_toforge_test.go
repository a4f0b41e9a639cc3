package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

const aceConfluence = `{
  // ACE keeps this file as JSON5
  key: "{{appKey}}",
  name: 'Acme Macros',
  baseUrl: '{{localBaseUrl}}',
  authentication: {type: "jwt"},
  lifecycle: {installed: "/installed", uninstalled: "/uninstalled"},
  scopes: ["READ"],
  modules: {
    dynamicContentMacros: [{key: "m", name: {value: "M"}, url: "/m?page={page.id}"}],
    jiraProfileTabPanels: [],
  },
}`

func runToForgeT(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runCat(t, runToForge, stdin, nil, args...)
}

func TestRunToForgeFileToMissingDir(t *testing.T) {
	dir := t.TempDir()
	src := writeManifestFile(t, dir, "app/atlassian-connect.json", aceConfluence)
	outDir := filepath.Join(dir, "forge", "new")
	code, out, errs := runToForgeT(t, "", filepath.Join(dir, "app"), "-o", outDir, "--base-url", "https://macros.acme-apps.net", "--key", "com.acme.macros")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(outDir, "manifest.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := parseManifest(t, string(b))
	if len(m.ConnectModules["confluence:dynamicContentMacros"]) != 1 || m.App.Connect["key"] != "com.acme.macros" {
		t.Errorf("manifest:\n%s", b)
	}
	for _, want := range []string{"Migration report: " + src, "product: confluence", "Modules: 1 in, 1 kept, 0 dropped", "empty    jiraProfileTabPanels",
		"line 3: {{appKey}} = com.acme.macros (--key)", "no admin approval needed", "dynamicContentMacros", "→ macro", "401/403 to expect: jwt_signature_invalid",
		"(once Forge modules or remote endpoints are added)", "wrote " + filepath.Join(outDir, "manifest.yml")} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if errs != "" {
		t.Errorf("stderr: %s", errs)
	}
}

func TestRunToForgeURLAndJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/atlassian-connect.json" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"key":"com.acme.live","baseUrl":"https://live.acme-apps.net","scopes":["READ"],
		  "modules":{"webhooks":[{"event":"jira:issue_created","url":"/h"}]}}`))
	}))
	defer srv.Close()
	code, out, errs := runToForgeT(t, "", srv.URL+"/atlassian-connect.json", "--json", "--oauth-scopes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var j toForgeJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r := j.Report
	if !j.Valid || r.Product != "jira" || r.ModulesIn != 1 || r.ModulesKept != 1 || !r.Scopes.AdminApproval ||
		!strings.Contains(j.Manifest, "read:jira-work") || len(r.Auth) != 4 || r.Source != srv.URL+"/atlassian-connect.json" {
		t.Errorf("json = %+v", j)
	}
	if code, _, errs := runToForgeT(t, "", srv.URL+"/nope.json"); code != 2 || !strings.Contains(errs, "404") || strings.Count(errs, "\n") != 1 {
		t.Errorf("404: exit %d: %q", code, errs)
	}
}

func TestRunToForgeBadInput(t *testing.T) {
	dir := t.TempDir()
	src := writeManifestFile(t, dir, "atlassian-connect.json", aceConfluence)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no source", nil, "no SOURCE"},
		{"two sources", []string{src, src}, "one SOURCE at a time"},
		{"unresolved", []string{src}, "2 unresolved placeholder(s): {{appKey}} (line 3; --key KEY), {{localBaseUrl}} (line 5; --base-url URL)"},
		{"bad set", []string{src, "--set", "novalue"}, "want NAME=VALUE"},
		{"bad product", []string{src, "--base-url", "https://a.acme-apps.net", "--key", "k", "--product", "bamboo"}, "use jira or confluence"},
		{"http base", []string{src, "--base-url", "http://a.acme-apps.net", "--key", "k"}, "not https"},
		{"unknown flag", []string{src, "--frobnicate"}, "flag provided but not defined"},
		{"missing file", []string{filepath.Join(dir, "x.json")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runToForgeT(t, "", tt.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			if !strings.Contains(errs, tt.wantErr) || strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr %q: want one line containing %q", errs, tt.wantErr)
			}
		})
	}
}

func TestWriteManifestTo(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ out, want string }{
		{filepath.Join(dir, "a", "b", "app.yml"), filepath.Join(dir, "a", "b", "app.yml")},
		{filepath.Join(dir, "c", "forge"), filepath.Join(dir, "c", "forge", "manifest.yml")},
		{filepath.Join(dir, "d") + "/", filepath.Join(dir, "d", "manifest.yml")},
		{dir, filepath.Join(dir, "manifest.yml")},
	}
	for _, tt := range tests {
		got, err := writeManifestTo(tt.out, []byte("x: 1\n"))
		if err != nil || got != tt.want {
			t.Errorf("%s: wrote %s (%v), want %s", tt.out, got, err, tt.want)
			continue
		}
		if b, err := os.ReadFile(got); err != nil || string(b) != "x: 1\n" {
			t.Errorf("%s: %q %v", got, b, err)
		}
	}
}

func TestRunToForgeStdin(t *testing.T) {
	code, out, errs := runToForgeT(t, `{"key":"k.s","baseUrl":"https://s.acme-apps.net","modules":{"adminPages":[{"key":"a","url":"/a"}]}}`, "-")
	if code != 0 || !strings.Contains(out, "jira:adminPages:") || !strings.Contains(errs, "Migration report: <stdin>") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
}

// TestAuthPathCodesExist: every 401/403 the migration report tells a vendor
// to expect is a cause `connect-doctor explain` knows.
func TestAuthPathCodesExist(t *testing.T) {
	tb, err := manifest.LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range explain.Codes() {
		known[string(c.Code)] = true
	}
	if len(tb.Auth) != 4 {
		t.Fatalf("%d auth paths", len(tb.Auth))
	}
	for _, a := range tb.Auth {
		if len(a.Expect) == 0 {
			t.Errorf("%s: no causes", a.ID)
		}
		for _, c := range a.Expect {
			if !known[c] {
				t.Errorf("%s: %s is not an explain cause code", a.ID, c)
			}
		}
	}
}
