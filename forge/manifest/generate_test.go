package manifest_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const appID = "ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555"

func descriptor(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/atlassian-connect.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s", name, got)
	}
}

func errorsOnly(ps []manifest.Problem) []manifest.Problem {
	var out []manifest.Problem
	for _, p := range ps {
		if p.Severity == manifest.Error {
			out = append(out, p)
		}
	}
	return out
}

func TestGenerateGolden(t *testing.T) {
	tests := []struct {
		name string
		in   manifest.Input
	}{
		{"forge.yml", manifest.Input{AppID: appID, Descriptor: nil, BaseURL: "https://connect-doctor.example.com",
			ConnectScopes: []string{"READ", "WRITE", "ADMIN", "ACT_AS_USER"}}},
		{"forge-from-descriptor.yml", manifest.Input{AppID: "11111111-2222-3333-4444-555555555555", ExtraScopes: []string{"read:board-scope:jira-software"}}},
		{"connect-on-forge.yml", manifest.Input{Mode: manifest.ModeConnectOnForge, AppID: appID}},
		{"connect-on-forge-keyvar.yml", manifest.Input{Mode: manifest.ModeConnectOnForge, ConnectKeyVariable: true, OmitPreUninstall: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "forge.yml" {
				tt.in.Descriptor = descriptor(t)
			}
			res, err := manifest.Generate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, res.YAML)
			var v map[string]any
			if err := yaml.Unmarshal(res.YAML, &v); err != nil {
				t.Fatalf("output is not YAML: %v", err)
			}
			if ps := errorsOnly(manifest.Check(res.YAML, manifest.Options{})); len(ps) > 0 {
				t.Errorf("generated manifest fails its own check: %v", ps)
			}
			again, _ := manifest.Generate(tt.in)
			if string(again.YAML) != string(res.YAML) {
				t.Error("output is not deterministic")
			}
		})
	}
}

func TestGenerateForgeModeHasNoConnect(t *testing.T) {
	res, err := manifest.Generate(manifest.Input{AppID: appID, Descriptor: descriptor(t)})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		App struct {
			Connect any `yaml:"connect"`
		} `yaml:"app"`
		ConnectModules any `yaml:"connectModules"`
		Permissions    struct {
			Scopes []string `yaml:"scopes"`
		} `yaml:"permissions"`
	}
	if err := yaml.Unmarshal(res.YAML, &m); err != nil {
		t.Fatal(err)
	}
	if m.App.Connect != nil || m.ConnectModules != nil {
		t.Error("forge mode wrote Connect parts")
	}
	want := []string{"manage:jira-configuration", "manage:jira-project", "manage:jira-webhook", "read:app-system-token", "read:app-user-token", "read:jira-user", "read:jira-work", "write:jira-work"}
	if strings.Join(m.Permissions.Scopes, ",") != strings.Join(want, ",") {
		t.Errorf("scopes = %v, want %v", m.Permissions.Scopes, want)
	}
}

func TestGenerateConnectOnForgeNotes(t *testing.T) {
	res, err := manifest.Generate(manifest.Input{Mode: manifest.ModeConnectOnForge, AppID: appID, Descriptor: descriptor(t)})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{"only for existing Marketplace Connect apps", "apiMigrations dropped", "dare-migration dropped"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	y := string(res.YAML)
	if strings.Contains(y, "apiMigrations:") || strings.Contains(y, "signed-install") {
		t.Error("apiMigrations written")
	}
	if !strings.Contains(y, "ONLY for an existing Connect app") {
		t.Error("output does not say the mode is for existing Marketplace Connect apps")
	}
}

func TestGenerateRejectsBadInput(t *testing.T) {
	tests := map[string]manifest.Input{
		"bad mode":           {Mode: "connect", BaseURL: "https://x.example.com"},
		"http base url":      {BaseURL: "http://x.example.com"},
		"no base url":        {},
		"bad app id":         {AppID: "my-app", BaseURL: "https://x.example.com"},
		"bad remote key":     {RemoteKey: "a remote", BaseURL: "https://x.example.com"},
		"long remote key":    {RemoteKey: strings.Repeat("r", 24), BaseURL: "https://x.example.com"},
		"unknown scope":      {ConnectScopes: []string{"READ_ALL"}, BaseURL: "https://x.example.com"},
		"connect extra":      {ExtraScopes: []string{"read:connect-jira"}, BaseURL: "https://x.example.com"},
		"cof without key":    {Mode: manifest.ModeConnectOnForge, BaseURL: "https://x.example.com"},
		"cof bad key":        {Mode: manifest.ModeConnectOnForge, AppKey: "a key", BaseURL: "https://x.example.com"},
		"bad descriptor":     {Descriptor: []byte("{"), BaseURL: "https://x.example.com"},
		"unsupported module": {Mode: manifest.ModeConnectOnForge, AppKey: "k", BaseURL: "https://x.example.com", Descriptor: []byte(`{"modules":{"jiraMagic":[{"key":"m"}]}}`)},
		"module without key": {Mode: manifest.ModeConnectOnForge, AppKey: "k", BaseURL: "https://x.example.com", Descriptor: []byte(`{"modules":{"generalPages":[{"url":"/p"}]}}`)},
		"bad migrate answer": {Mode: manifest.ModeConnectOnForge, AppKey: "k", BaseURL: "https://x.example.com", WillMigrate: "MAYBE", ConnectScopes: []string{"READ"}},
		// Forge refuses token config without a product scope.
		"no product scope": {BaseURL: "https://x.example.com", ConnectScopes: []string{"ACT_AS_USER"}},
		"no scopes at all": {Mode: manifest.ModeConnectOnForge, AppKey: "k", BaseURL: "https://x.example.com"},
	}
	for name, in := range tests {
		if in.ConnectScopes == nil && !strings.Contains(name, "scope") {
			in.ConnectScopes = []string{"READ"} // so that each case fails for its own reason
		}
		if _, err := manifest.Generate(in); !errors.Is(err, manifest.ErrInput) {
			t.Errorf("%s: err = %v, want ErrInput", name, err)
		}
	}
}

func TestOAuthScopesFor(t *testing.T) {
	tests := map[string][]string{
		"READ":          {"read:jira-user", "read:jira-work"},
		"write":         {"manage:jira-webhook", "read:jira-user", "read:jira-work", "write:jira-work"},
		"PROJECT_ADMIN": {"manage:jira-project", "manage:jira-webhook", "read:jira-user", "read:jira-work", "write:jira-work"},
		"ADMIN":         {"manage:jira-configuration", "manage:jira-project", "manage:jira-webhook", "read:jira-user", "read:jira-work", "write:jira-work"},
		"ACT_AS_USER":   nil,
	}
	for in, want := range tests {
		if got := manifest.OAuthScopesFor([]string{in}); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("OAuthScopesFor(%s) = %v, want %v", in, got, want)
		}
	}
	if got := manifest.ConnectScopeSpelling("PROJECT_ADMIN", "jira"); got != "project-admin:connect-jira" {
		t.Errorf("ConnectScopeSpelling = %q", got)
	}
}
