package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

const spec = `{"openapi":"3.0.1","info":{"title":"Jira Software Cloud API","version":"1"},"paths":{
"/rest/agile/1.0/board/{boardId}":{"get":{"operationId":"getBoard","summary":"Get board","x-atlassian-connect-scope":"READ",
"security":[{"OAuth2":["read:board-scope:jira-software"]}]}}}}`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "catalog.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-o", out, filepath.Join(dir, "*.json")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Load(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := c.Match("GET", "/rest/agile/1.0/board/7")
	if !ok || m.Op.API != catalog.APISoftware || m.Op.OAuthGranular[0] != "read:board-scope:jira-software" {
		t.Fatalf("generated catalog: %+v %v", m.Op, ok)
	}
	if strings.Contains(string(b), "Get board") {
		t.Fatal("summary copied into the catalog")
	}
	for _, args := range [][]string{{}, {"-o", out}, {"-o", out, filepath.Join(dir, "none-*.json")}, {"-x"}} {
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Fatalf("run %v: exit %d, want 2", args, code)
		}
	}
}

// TestHelpAndVersion: -h and --help print the usage on stdout and exit 0;
// --version prints the version.
func TestHelpAndVersion(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{{"-h", "usage: catalog-gen -o FILE"}, {"--help", "usage: catalog-gen -o FILE"}, {"--version", "catalog-gen dev\n"}} {
		t.Run(tt.arg, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{tt.arg}, &out, &errb)
			if code != 0 || errb.Len() != 0 || !strings.HasPrefix(out.String(), tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out.String(), errb.String(), tt.want)
			}
		})
	}
}

// TestExtractThenFacts: -extract writes the facts of the specs, and -facts
// builds from them the same catalog as the specs themselves.
func TestExtractThenFacts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	facts, direct, viaFacts := filepath.Join(dir, "facts.json.gz"), filepath.Join(dir, "direct.json"), filepath.Join(dir, "via.json")
	for _, args := range [][]string{
		{"-extract", facts, filepath.Join(dir, "a.json")},
		{"-o", direct, filepath.Join(dir, "a.json")},
		{"-o", viaFacts, "-facts", facts},
	} {
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("run %v: exit %d: %s", args, code, stderr.String())
		}
	}
	a, _ := os.ReadFile(direct)
	b, _ := os.ReadFile(viaFacts)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("catalog via the facts extract differs from the one built from the spec")
	}
	for _, args := range [][]string{{"-o", direct, "-facts", facts, filepath.Join(dir, "a.json")}, {"-extract", facts}, {"-extract", facts, "-o", direct, filepath.Join(dir, "a.json")}} {
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Fatalf("run %v: exit %d, want 2", args, code)
		}
	}
	if code := run([]string{"-o", direct, "-facts", filepath.Join(dir, "a.json")}, &stdout, &stderr); code != 1 {
		t.Fatalf("a spec given as facts: exit %d, want 1", code)
	}
}
