package explain_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/forge"
)

var updateCodes = flag.Bool("update-codes", false, "rewrite CODES.md from Codes()")

// TestForgeSentinelsAreCauses keeps the forge package's error codes and the
// explainer's cause codes in step: a remote's JSON error code always maps
// to a documented cause.
func TestForgeSentinelsAreCauses(t *testing.T) {
	for _, s := range []*forge.Sentinel{forge.ErrFITMissing, forge.ErrFITMalformed, forge.ErrFITBadAlg, forge.ErrFITBadSignature, forge.ErrFITUnknownKID,
		forge.ErrFITWrongIssuer, forge.ErrFITWrongAudience, forge.ErrFITAppMismatch, forge.ErrFITExpired, forge.ErrFITNotYetValid, forge.ErrFITLifetimeTooLong, forge.ErrFITClaimMissing,
		forge.ErrFITDevEnvironment, forge.ErrFITReplayed, forge.ErrJWKSUnavailable, forge.ErrForgeTokenMalformed} {
		if _, ok := explain.LookupCode(s.Code()); !ok {
			t.Errorf("forge code %s is not an explainer cause", s.Code())
		}
	}
}

func codesDoc() string {
	var b strings.Builder
	b.WriteString("# Cause codes\n\nGenerated from `explain.Codes()` (`go test ./explain -run TestCodesDoc -update-codes`). Codes are stable: never renamed or reused.\n\n")
	b.WriteString("| code | class | title | description |\n|---|---|---|---|\n")
	for _, c := range explain.Codes() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Code, c.Class, esc(c.Title), esc(c.Description))
	}
	return b.String()
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// TestCodesDoc checks that CODES.md documents every cause code as Codes()
// does.
func TestCodesDoc(t *testing.T) {
	want := codesDoc()
	if *updateCodes {
		if err := os.WriteFile("CODES.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("CODES.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("CODES.md is out of date; run go test ./explain -run TestCodesDoc -update-codes")
	}
	for _, c := range explain.Codes() {
		if !strings.Contains(string(got), "`"+c.Code+"`") {
			t.Errorf("CODES.md lacks %s", c.Code)
		}
	}
}
