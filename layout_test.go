package connectdoctor_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportFloors keeps the layout's one-way floors (README, Architecture):
// the protocol and model packages import nothing above them, so that a
// change to the HTTP layer, the explainer, the Jira client or the
// simulators can never be needed by the Connect or Forge protocol.
func TestImportFloors(t *testing.T) {
	const mod = "github.com/connect-doctor/connect-doctor"
	// Each folder, and what of this module it may import besides itself.
	floors := []struct {
		folder  string
		allowed []string
	}{
		{"scope", nil},
		{"tenant", []string{"scope"}},
		{"connect", []string{"tenant", "scope", "internal"}},
		{"forge", []string{"tenant", "scope", "internal"}},
		{"oauth", []string{"connect", "tenant", "scope", "internal"}},
	}
	for _, f := range floors {
		t.Run(f.folder, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "./"+f.folder+"/...").CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				rel, ok := strings.CutPrefix(dep, mod+"/")
				if !ok {
					continue // the standard library and other modules
				}
				top, _, _ := strings.Cut(rel, "/")
				if top != f.folder && !slices.Contains(f.allowed, top) {
					t.Errorf("%s/ imports %s: only %v may be imported from below", f.folder, rel, f.allowed)
				}
			}
		})
	}
}
