package manifest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// FuzzCheck: Check never panics on any input, and every problem it reports
// has a code, a fix and a line inside the document.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(cof))
	f.Add([]byte("app: [\n"))
	f.Add([]byte("environment:\n  variables:\n    - key: X\n      default: ${X}\napp:\n  connect:\n    key: ${X}\n"))
	for _, pattern := range []string{"testdata/*.yml", "testdata/rejected/*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	ops := []manifest.Operation{{Method: "POST", Path: "/rest/api/3/issue", OAuthClassic: []string{"write:jira-work"}, OAuthGranular: []string{"write:issue:jira"}}}
	f.Fuzz(func(t *testing.T, src []byte) {
		// YAML breaks lines at LF, CRLF and a lone CR.
		norm := bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		lines := bytes.Count(norm, []byte("\n")) + bytes.Count(norm, []byte("\r")) + 1
		for _, p := range manifest.Check(src, manifest.Options{Operations: ops}) {
			if p.Code == "" || p.Fix == "" || p.Message == "" {
				t.Fatalf("incomplete problem: %#v", p)
			}
			if p.Line < 0 || p.Line > lines {
				t.Fatalf("line %d outside the %d-line document: %v", p.Line, lines, p)
			}
		}
	})
}
