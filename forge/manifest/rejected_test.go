package manifest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// TestCheckAgreesWithForgeValidator runs the checker on testdata/rejected:
// manifests that Atlassian's @forge/manifest 13.7.0 validate() rejects (CI
// asserts that with .ci/forge-manifest-check.sh). Each file is named after
// the error code the Go checker must report for it, so the two checkers
// cannot drift apart unnoticed in either direction.
func TestCheckAgreesWithForgeValidator(t *testing.T) {
	files, err := filepath.Glob("testdata/rejected/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("only %d rejected manifests", len(files))
	}
	for _, f := range files {
		code := strings.TrimSuffix(filepath.Base(f), ".yml")
		t.Run(code, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range manifest.Check(src, manifest.Options{}) {
				if p.Code == code && p.Severity == manifest.Error {
					if p.Line == 0 || p.Fix == "" {
						t.Errorf("no line or fix: %v", p)
					}
					return
				}
				got = append(got, p.Code)
			}
			t.Errorf("%s not reported; got %v", code, got)
		})
	}
}
