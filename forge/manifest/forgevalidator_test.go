package manifest_test

// Rules found by running Atlassian's @forge/manifest 13.7.0 validate() on our
// generated manifests (tools/forge-manifest-check, .ci/forge-manifest-check.sh).
// Each test pins both sides: the generator no longer writes the mistake, and
// the Go checker reports it when a hand-written manifest makes it.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

func codes(ps []manifest.Problem) map[string]manifest.Problem {
	m := map[string]manifest.Problem{}
	for _, p := range ps {
		if _, ok := m[p.Code]; !ok {
			m[p.Code] = p
		}
	}
	return m
}

// @forge/manifest: "jira:globalPermission must have required property
// 'anonymousAllowed'" (Connect left it optional, defaulting to false).
func TestGlobalPermissionRequiredProperties(t *testing.T) {
	desc := []byte(`{"key":"k","baseUrl":"https://x.example.com","scopes":["READ"],"modules":{
	  "jiraGlobalPermissions":[{"key":"g","name":{"value":"Use it"}}],
	  "jiraProjectPermissions":[{"key":"p","name":{"value":"Project use"},"description":{"value":"d"}}]}}`)
	res, err := manifest.Generate(manifest.Input{Mode: manifest.ModeConnectOnForge, Descriptor: desc})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Modules map[string][]map[string]any `yaml:"modules"`
	}
	if err := yaml.Unmarshal(res.YAML, &m); err != nil {
		t.Fatal(err)
	}
	g := m.Modules["jira:globalPermission"]
	if len(g) != 1 || g[0]["anonymousAllowed"] != false || g[0]["description"] != "Use it" || g[0]["migratedFromConnect"] != true {
		t.Errorf("jira:globalPermission = %v, want anonymousAllowed false, description from name", g)
	}
	if p := m.Modules["jira:projectPermission"]; len(p) != 1 || p[0]["anonymousAllowed"] != nil || p[0]["description"] != "d" {
		t.Errorf("jira:projectPermission = %v (anonymousAllowed is not a projectPermission property)", p)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "no description") {
		t.Errorf("notes do not mention the borrowed description: %v", res.Notes)
	}
	if ps := errorsOnly(manifest.Check(res.YAML, manifest.Options{})); len(ps) > 0 {
		t.Errorf("generated manifest fails the checker: %v", ps)
	}

	hand := edit(t, cof, "modules:\n  endpoint:", "modules:\n  jira:globalPermission:\n    - key: g\n      name: Use it\n      description: d\n  endpoint:")
	p, ok := codes(manifest.Check([]byte(hand), manifest.Options{}))["module_required_property"]
	if !ok {
		t.Fatal("missing anonymousAllowed not reported")
	}
	if p.Line != lineOf(hand, "- key: g") || !strings.Contains(p.Message, "'anonymousAllowed'") || !strings.Contains(p.Fix, "anonymousAllowed: false") {
		t.Errorf("problem = %v", p)
	}
}

// @forge/manifest: "app connect property key '${CONNECT_KEY}' must match
// pattern" when CONNECT_KEY is not declared in environment.variables, and
// "could not find environment variable 'CONNECT_KEY'" when it is declared
// without a default and unset.
func TestConnectKeyVariableIsDeclared(t *testing.T) {
	res, err := manifest.Generate(manifest.Input{Mode: manifest.ModeConnectOnForge, ConnectKeyVariable: true, AppID: appID, Descriptor: descriptor(t)})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Environment struct {
			Variables []map[string]string `yaml:"variables"`
		} `yaml:"environment"`
	}
	if err := yaml.Unmarshal(res.YAML, &m); err != nil {
		t.Fatal(err)
	}
	if v := m.Environment.Variables; len(v) != 1 || v[0]["key"] != "CONNECT_KEY" || v[0]["default"] != "com.example.connect-doctor" {
		t.Errorf("environment.variables = %v, want CONNECT_KEY defaulting to the descriptor key", v)
	}
	if ps := manifest.Check(res.YAML, manifest.Options{}); len(ps) > 0 {
		t.Errorf("generated manifest has problems: %v", ps)
	}

	// No key known: declared without default, and the user is told.
	res, err = manifest.Generate(manifest.Input{Mode: manifest.ModeConnectOnForge, ConnectKeyVariable: true, BaseURL: "https://x.example.com", ConnectScopes: []string{"READ"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res.YAML), "    - CONNECT_KEY\n") || !strings.Contains(strings.Join(res.Notes, "\n"), "set CONNECT_KEY") {
		t.Errorf("no-default declaration or note missing:\n%s\n%v", res.YAML, res.Notes)
	}
	if p, ok := codes(manifest.Check(res.YAML, manifest.Options{}))["env_var_no_default"]; !ok || p.Severity != manifest.Warning {
		t.Errorf("env_var_no_default = %v, %v", p, ok)
	}

	undeclared := edit(t, cof, "key: com.example.connect-doctor", `key: "${CONNECT_KEY}"`)
	p, ok := codes(manifest.Check([]byte(undeclared), manifest.Options{}))["env_var_undeclared"]
	if !ok || p.Severity != manifest.Error || p.Line != lineOf(undeclared, "${CONNECT_KEY}") || !strings.Contains(p.Fix, "key: CONNECT_KEY") {
		t.Errorf("env_var_undeclared = %v, %v", p, ok)
	}

	badDefault := undeclared + "environment:\n  variables:\n    - key: CONNECT_KEY\n      default: not a key\n"
	if p, ok := codes(manifest.Check([]byte(badDefault), manifest.Options{}))["connect_key_format"]; !ok || p.Line != lineOf(badDefault, "not a key") {
		t.Errorf("bad default not reported on its line: %v, %v", p, ok)
	}
}

// @forge/manifest: "missing resource 'static/admin' is being referenced by
// 'main' in resources" (resource paths are resolved next to manifest.yml).
func TestResourcesCheckedOnDisk(t *testing.T) {
	dir := t.TempDir()
	opts := manifest.Options{Dir: dir}
	check := func() map[string]manifest.Problem { return codes(manifest.Check([]byte(base), opts)) }

	p, ok := check()["resource_missing"]
	if !ok || p.Line != lineOf(base, "path: static/admin") || !strings.Contains(p.Message, "missing resource 'static/admin' is being referenced by 'main'") {
		t.Fatalf("resource_missing = %v, %v", p, ok)
	}
	if err := os.MkdirAll(filepath.Join(dir, "static", "admin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, ok := check()["resource_empty"]; !ok {
		t.Error("empty resource directory not reported")
	}
	if err := os.WriteFile(filepath.Join(dir, "static", "admin", "app.js"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := check()["resource_entrypoint_missing"]; !ok {
		t.Error("Custom UI directory without index.html not reported")
	}
	if err := os.WriteFile(filepath.Join(dir, "static", "admin", "index.html"), []byte("<!doctype html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ps := manifest.Check([]byte(base), opts); len(ps) > 0 {
		t.Errorf("complete bundle still reported: %v", ps)
	}
	// Without Dir nothing is looked up on disk.
	if _, ok := codes(manifest.Check([]byte(base), manifest.Options{}))["resource_missing"]; ok {
		t.Error("resources checked without Options.Dir")
	}
}

// The @forge/manifest 13.7.0 schema has a top-level "overrides" property.
func TestOverridesIsAKnownTopLevelProperty(t *testing.T) {
	src := base + "overrides: {}\n"
	if p, ok := codes(manifest.Check([]byte(src), manifest.Options{}))["unknown_top_level"]; ok {
		t.Errorf("overrides reported: %v", p)
	}
	if _, ok := codes(manifest.Check([]byte(base+"bogus: {}\n"), manifest.Options{}))["unknown_top_level"]; !ok {
		t.Error("an unknown top-level property is not reported")
	}
}
