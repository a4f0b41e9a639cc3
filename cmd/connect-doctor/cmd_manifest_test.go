package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const testAppUUID = "11111111-2222-3333-4444-555555555555"

// manifestEnv is the configuration the CI cross-check uses.
func manifestEnv() map[string]string {
	return map[string]string{"BASE_URL": "https://doctor.example.com", "FORGE_APP_ID": testAppUUID}
}

func runMan(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return runCat(t, runManifest, "", env, args...)
}

func writeManifestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bundle puts a stand-in Custom UI bundle next to a manifest in dir.
func bundle(t *testing.T, dir string) {
	writeManifestFile(t, dir, "static/admin/index.html", "<!doctype html><title>panel</title>")
}

// parsedManifest is the part of manifest.yml the tests look at.
type parsedManifest struct {
	App struct {
		ID      string         `yaml:"id"`
		Connect map[string]any `yaml:"connect"`
	} `yaml:"app"`
	Modules        map[string][]map[string]any `yaml:"modules"`
	ConnectModules map[string][]map[string]any `yaml:"connectModules"`
	Remotes        []map[string]any            `yaml:"remotes"`
	Permissions    struct {
		Scopes []string `yaml:"scopes"`
	} `yaml:"permissions"`
}

func parseManifest(t *testing.T, s string) parsedManifest {
	t.Helper()
	var m parsedManifest
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, s)
	}
	return m
}

func TestRunManifestForgeMode(t *testing.T) {
	code, out, errs := runMan(t, manifestEnv())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := parseManifest(t, out)
	if m.App.ID != "ari:cloud:ecosystem::app/"+testAppUUID {
		t.Errorf("app.id = %q (FORGE_APP_ID not used)", m.App.ID)
	}
	if m.App.Connect != nil || m.ConnectModules != nil {
		t.Error("forge mode wrote Connect parts")
	}
	if len(m.Remotes) != 1 || m.Remotes[0]["baseUrl"] != "https://doctor.example.com" {
		t.Errorf("remotes = %v, want BASE_URL", m.Remotes)
	}
	if p := m.Modules["jira:adminPage"]; len(p) != 1 || p[0]["resource"] != "main" {
		t.Errorf("jira:adminPage = %v", p)
	}
	// The built-in descriptor declares READ and ACT_AS_USER (CONNECT_SCOPES default).
	if got, want := strings.Join(m.Permissions.Scopes, ","), "read:app-system-token,read:app-user-token,read:jira-user,read:jira-work"; got != want {
		t.Errorf("scopes = %s, want %s", got, want)
	}
	for _, s := range m.Permissions.Scopes {
		if strings.Contains(s, ":connect-") {
			t.Errorf("Connect scope %s in forge mode", s)
		}
	}
	if !strings.Contains(errs, "note: ") || strings.Contains(errs, "connect-on-forge is only") {
		t.Errorf("stderr = %q", errs)
	}
}

func TestRunManifestConfigFromEnv(t *testing.T) {
	env := manifestEnv()
	env["APP_KEY"] = "com.example.doctor"
	env["CONNECT_SCOPES"] = "READ,WRITE,ADMIN"
	code, out, errs := runMan(t, env, "--mode", "connect-on-forge")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := parseManifest(t, out)
	if m.App.Connect["key"] != "com.example.doctor" {
		t.Errorf("app.connect.key = %v, want APP_KEY", m.App.Connect["key"])
	}
	for _, want := range []string{"admin:connect-jira", "write:connect-jira", "manage:jira-configuration", "write:jira-work"} {
		if !strings.Contains(strings.Join(m.Permissions.Scopes, " "), want) {
			t.Errorf("scopes %v lack %s (CONNECT_SCOPES not used)", m.Permissions.Scopes, want)
		}
	}
}

func TestRunManifestConnectOnForgeMode(t *testing.T) {
	code, out, errs := runMan(t, manifestEnv(), "--mode", "connect-on-forge")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "only for existing Marketplace Connect apps") || !strings.Contains(out, "ONLY for an existing Connect app") {
		t.Errorf("output does not say connect-on-forge is for existing Marketplace Connect apps only:\nstderr: %s", errs)
	}
	m := parseManifest(t, out)
	if m.App.Connect["key"] != "connect-doctor" || m.App.Connect["remote"] != "connect" || m.App.Connect["authentication"] != "jwt" {
		t.Errorf("app.connect = %v", m.App.Connect)
	}
	if lc := m.ConnectModules["jira:lifecycle"]; len(lc) != 1 || lc[0]["installed"] != "/installed" {
		t.Errorf("jira:lifecycle = %v, want one entry", lc)
	}
	if p := m.ConnectModules["jira:adminPages"]; len(p) != 1 || p[0]["url"] != "/admin" {
		t.Errorf("jira:adminPages = %v", p)
	}
	if mig := m.Modules["connectToForgeMigration"]; len(mig) != 1 || mig[0]["migrationGuideUrl"] != "https://doctor.example.com/forge-migration" {
		t.Errorf("connectToForgeMigration = %v", mig)
	}
	scopes := strings.Join(m.Permissions.Scopes, ",")
	for _, want := range []string{"read:connect-jira", "act-as-user:connect-jira", "read:jira-work", "read:app-system-token"} {
		if !strings.Contains(scopes, want) {
			t.Errorf("scopes %s lack %s", scopes, want)
		}
	}
	if strings.Contains(out, "apiMigrations:") || !strings.Contains(errs, "apiMigrations dropped") {
		t.Error("apiMigrations written, or its removal not reported")
	}
}

func TestRunManifestDeterministic(t *testing.T) {
	for _, mode := range []string{"forge", "connect-on-forge"} {
		t.Run(mode, func(t *testing.T) {
			_, first, _ := runMan(t, manifestEnv(), "--mode", mode)
			_, second, _ := runMan(t, manifestEnv(), "--mode", mode)
			if first == "" || first != second {
				t.Fatal("two runs differ")
			}
			file := filepath.Join(t.TempDir(), "manifest.yml")
			if code, _, errs := runMan(t, manifestEnv(), "--mode", mode, "-o", file); code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			if b, _ := os.ReadFile(file); string(b) != first {
				t.Error("-o wrote something else than stdout")
			}
		})
	}
}

func TestRunManifestGeneratedPassesCheck(t *testing.T) {
	for _, mode := range []string{"forge", "connect-on-forge"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "manifest.yml")
			if code, _, errs := runMan(t, manifestEnv(), "--mode", mode, "-o", file); code != 0 {
				t.Fatalf("generate: exit %d: %s", code, errs)
			}
			bundle(t, dir)
			code, out, errs := runMan(t, nil, "--check", file)
			if code != 0 || out != "" || !strings.HasSuffix(errs, file+": valid\n") {
				t.Fatalf("check: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
			}
		})
	}
}

// problemLine is the --check output format: FILE:LINE: CODE: message (fix: …).
var problemLine = regexp.MustCompile(`^(.+):(\d+): ([a-z_]+): (warning: )?(.+) \(fix: (.+)\)$`)

func TestRunManifestCheckFailure(t *testing.T) {
	dir := t.TempDir()
	bad := `app:
  id: ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555
modules:
  endpoint:
    - key: ui
      remote: doctor
      auth:
        appUserToken: { enabled: true }
  trigger:
    - key: on-install
      endpoint: ui
      events: [avi:forge:installed:app]
remotes:
  - key: doctor
    baseUrl: https://doctor.example.com
    operations: [compute]
permissions:
  scopes: [read:app-user-token, read:jira-work, READ]
`
	file := writeManifestFile(t, dir, "manifest.yml", bad)
	code, out, errs := runMan(t, nil, "--check", file)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	want := map[string]string{ // code → line
		"trigger_user_token":    "11",
		"unknown_scope":         "18",
		"trigger_route_missing": "11",
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		m := problemLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("line %q is not FILE:LINE: CODE: message (fix: …)", l)
			continue
		}
		if m[1] != file {
			t.Errorf("file = %q, want %q", m[1], file)
		}
		if wl, ok := want[m[3]]; ok {
			seen[m[3]] = true
			if m[2] != wl {
				t.Errorf("%s on line %s, want %s", m[3], m[2], wl)
			}
		}
	}
	for c := range want {
		if !seen[c] {
			t.Errorf("%s not reported:\n%s", c, out)
		}
	}
	if !strings.Contains(out, "read:connect-jira") {
		t.Errorf("the fix for READ does not name the Connect spelling:\n%s", out)
	}
	if !strings.Contains(errs, "error(s)") {
		t.Errorf("no summary on stderr: %q", errs)
	}
}

func TestRunManifestCheckWarningsPass(t *testing.T) {
	dir := t.TempDir()
	// No FORGE_APP_ID: the placeholder id is a warning, not an error.
	file := filepath.Join(dir, "manifest.yml")
	if code, _, errs := runMan(t, map[string]string{"BASE_URL": "https://doctor.example.com"}, "-o", file); code != 0 || !strings.Contains(errs, "forge register") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	bundle(t, dir)
	code, out, errs := runMan(t, nil, "--check", file)
	if code != 0 || !strings.Contains(out, ": app_id_placeholder: warning: ") || !strings.Contains(errs, "valid, 1 warning(s)") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

func TestRunManifestCheckResources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "manifest.yml")
	if code, _, errs := runMan(t, manifestEnv(), "-o", file, "--resources=false"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, out, _ := runMan(t, nil, "--check", file)
	if code != 1 || !strings.Contains(out, ": resource_missing: missing resource 'static/admin'") {
		t.Fatalf("missing bundle: exit %d\n%s", code, out)
	}
	if code, out, _ := runMan(t, nil, "--check", file, "--resources=false"); code != 0 {
		t.Fatalf("--resources=false: exit %d\n%s", code, out)
	}
	// stdin has no directory: resources are not looked up.
	src, _ := os.ReadFile(file)
	if code, _, errs := runCat(t, runManifest, string(src), nil, "--check", "-"); code != 0 || !strings.Contains(errs, "<stdin>: valid") {
		t.Fatalf("--check -: exit %d: %s", code, errs)
	}
}

func TestRunManifestCheckJSON(t *testing.T) {
	dir := t.TempDir()
	file := writeManifestFile(t, dir, "manifest.yml", "app:\n  id: nope\napiMigrations: {}\n")
	code, out, _ := runMan(t, nil, "--check", file, "--json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var j manifestJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if j.Valid || j.Errors < 2 || j.File != file {
		t.Errorf("json = %+v", j)
	}
	codes := map[string]int{}
	for _, p := range j.Problems {
		codes[p.Code] = p.Line
	}
	if codes["app_id_format"] != 2 || codes["unknown_top_level"] != 3 {
		t.Errorf("problems = %+v", j.Problems)
	}
}

func TestRunManifestOperations(t *testing.T) {
	dir := t.TempDir()
	ops := writeManifestFile(t, dir, "ops.txt", "# what the app calls\nGET /rest/api/3/myself\nPOST /rest/api/3/issue\n\nGET /rest/api/3/project/ABC\n")
	code, out, errs := runMan(t, manifestEnv(), "--operations", ops)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	scopes := parseManifest(t, out).Permissions.Scopes
	if !strings.Contains(strings.Join(scopes, ","), "write:jira-work") {
		t.Errorf("scopes %v lack write:jira-work for POST /rest/api/3/issue", scopes)
	}
	if !strings.Contains(errs, "Added for the operations in "+ops+": write:jira-work.") {
		t.Errorf("stderr does not report the added scope: %s", errs)
	}

	// The built-in scopes alone do not cover the POST: --check says so.
	plain := filepath.Join(dir, "plain", "manifest.yml")
	os.MkdirAll(filepath.Dir(plain), 0o755)
	if code, _, errs := runMan(t, manifestEnv(), "-o", plain); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	code, cout, _ := runMan(t, nil, "--check", plain, "--operations", ops, "--resources=false")
	if code != 1 || !strings.Contains(cout, ": operation_not_covered: POST /rest/api/3/issue needs [write:jira-work]") || !strings.Contains(cout, "(fix: Add write:jira-work") {
		t.Errorf("exit %d:\n%s", code, cout)
	}
	if strings.Contains(cout, "GET /rest/api/3/myself") {
		t.Errorf("a covered operation was reported:\n%s", cout)
	}

	// An operation no OAuth 2.0 scope reaches cannot be fixed by scopes.
	noOAuth := writeManifestFile(t, dir, "connect-only.txt", "GET /rest/atlassian-connect/1/addons/connect-doctor/properties\n")
	code, _, errs = runMan(t, manifestEnv(), "--operations", noOAuth)
	if code != 1 || !strings.Contains(errs, ": operation_not_oauth: GET /rest/atlassian-connect/1/addons/{addonKey}/properties has no OAuth 2.0 scope") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// TestRunManifestDescriptorFile: the old spelling is a deprecated alias of
// to-forge: pure conversion (none of Connect Doctor's own routes), with the
// flags that still mean something passed on.
func TestRunManifestDescriptorFile(t *testing.T) {
	dir := t.TempDir()
	desc := writeManifestFile(t, dir, "atlassian-connect.json", `{"key":"com.example.other","name":"Other App","baseUrl":"{{localBaseUrl}}",
	  "authentication":{"type":"jwt"},"lifecycle":{"installed":"/i"},"scopes":["READ","WRITE"],
	  "modules":{"generalPages":[{"key":"gp","url":"/gp","name":{"value":"GP"}}]}}`)
	code, out, errs := runMan(t, manifestEnv(), "--mode", "connect-on-forge", "--descriptor", desc, "--connect-key-var",
		"--will-migrate", "undecided", "--migration-guide", "https://other.example.com/forge")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "deprecated") || !strings.Contains(errs, "to-forge") {
		t.Errorf("no deprecation message: %s", errs)
	}
	m := parseManifest(t, out)
	if m.App.Connect["key"] != "${CONNECT_KEY}" || !strings.Contains(out, "default: com.example.other") {
		t.Errorf("key variable not declared with the descriptor key as default:\n%s", out)
	}
	if m.Remotes[0]["baseUrl"] != "https://doctor.example.com" || m.App.ID != "ari:cloud:ecosystem::app/"+testAppUUID {
		t.Errorf("baseUrl = %v, app.id %s: want BASE_URL and FORGE_APP_ID", m.Remotes[0]["baseUrl"], m.App.ID)
	}
	if len(m.ConnectModules["jira:generalPages"]) != 1 || m.Modules["connectToForgeMigration"][0]["willMigrateToForgeBeforeEOS"] != "UNDECIDED" {
		t.Errorf("modules = %v / %v", m.ConnectModules, m.Modules["connectToForgeMigration"])
	}
	if strings.Contains(out, "/forge/lifecycle") || m.Modules["endpoint"] != nil {
		t.Errorf("Connect Doctor's own routes injected:\n%s", out)
	}
	if code, _, errs := runMan(t, manifestEnv(), "--mode", "connect-on-forge", "--descriptor", desc, "--resource-path", "x"); code != 2 || !strings.Contains(errs, "--resource-path: not supported with --descriptor") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

func TestRunManifestJSON(t *testing.T) {
	code, out, errs := runMan(t, manifestEnv(), "--json", "--mode", "connect-on-forge")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var j manifestJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !j.Valid || j.Mode != "connect-on-forge" || !strings.Contains(j.Manifest, "connectModules:") || len(j.Notes) == 0 || errs != "" {
		t.Errorf("json = %+v, stderr %q", j, errs)
	}
}

func TestRunManifestBadInput(t *testing.T) {
	dir := t.TempDir()
	unknownOps := writeManifestFile(t, dir, "ops.txt", "GET /rest/api/3/nothing-here\n")
	emptyOps := writeManifestFile(t, dir, "empty.txt", "# nothing\n")
	http := map[string]string{"BASE_URL": "http://doctor.example.com"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"unknown flag", manifestEnv(), []string{"--nope"}, "flag provided but not defined"},
		{"bad mode", manifestEnv(), []string{"--mode", "connect"}, `--mode "connect": use forge`},
		{"bad app id flag", manifestEnv(), []string{"--app-id", "my-app"}, "neither an app ARI nor a UUID"},
		{"bad FORGE_APP_ID", map[string]string{"BASE_URL": "https://doctor.example.com", "FORGE_APP_ID": "my-app"}, nil, "FORGE_APP_ID"},
		{"http BASE_URL", http, nil, "must use https"},
		{"localhost BASE_URL", map[string]string{}, nil, "must be a public https URL (set BASE_URL)"},
		{"bad CONNECT_SCOPES", map[string]string{"BASE_URL": "https://doctor.example.com", "CONNECT_SCOPES": "READ,ROOT"}, nil, "CONNECT_SCOPES"},
		{"missing descriptor", manifestEnv(), []string{"--descriptor", filepath.Join(dir, "none.json")}, "--descriptor:"},
		{"missing check file", nil, []string{"--check", filepath.Join(dir, "none.yml")}, "--check:"},
		{"check with mode", nil, []string{"--check", "x.yml", "--mode", "forge"}, "--mode has no effect with --check"},
		{"positional", manifestEnv(), []string{"manifest.yml"}, "did you mean --check manifest.yml"},
		{"unknown operation", manifestEnv(), []string{"--operations", unknownOps}, "not in the endpoint catalog"},
		{"no operations", manifestEnv(), []string{"--operations", emptyOps}, "no operations"},
		{"bad will-migrate", manifestEnv(), []string{"--mode", "connect-on-forge", "--will-migrate", "maybe"}, "YES, NO or UNDECIDED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runMan(t, tt.env, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out, errs)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
			if !strings.Contains(errs, tt.wantErr) || strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr %q: want one line containing %q", errs, tt.wantErr)
			}
		})
	}
}

// TestRunManifestWritesTheCustomUIBundle: -o in forge mode writes the admin
// panel's bundle beside the manifest, so the directory is deployable and
// passes --check with the resources looked up on disk.
func TestRunManifestWritesTheCustomUIBundle(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "manifest.yml")
	if code, _, errs := runMan(t, manifestEnv(), "-o", out); code != 0 || !strings.Contains(errs, "Custom UI bundle") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, f := range []string{"index.html", "panel.js", "panel.css"} {
		b, err := os.ReadFile(filepath.Join(dir, "static", "admin", f))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	if code, _, errs := runMan(t, manifestEnv(), "--check", out); code != 0 {
		t.Fatalf("the written app directory does not pass --check: %s", errs)
	}
	// --resources=false writes the manifest only.
	dir2 := t.TempDir()
	if code, _, _ := runMan(t, manifestEnv(), "-o", filepath.Join(dir2, "manifest.yml"), "--resources=false"); code != 0 {
		t.Fatal("manifest only")
	}
	if _, err := os.Stat(filepath.Join(dir2, "static")); !os.IsNotExist(err) {
		t.Fatalf("bundle written despite --resources=false: %v", err)
	}
}
