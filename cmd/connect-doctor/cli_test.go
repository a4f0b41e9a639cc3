package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/help")

// golden compares got with testdata/help/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "help", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/connect-doctor -run TestCLI -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from the golden file %s (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func goldenName(args []string) string {
	return strings.NewReplacer(" ", "_", "-", "").Replace(strings.Join(args, " ")) + ".golden"
}

// TestCLIHelpForEveryCommand: every command of the table answers -h, -help
// and --help with its usage on stdout, exits 0 and prints nothing on stderr;
// `help CMD` says the same. The output is compared with a golden file.
func TestCLIHelpForEveryCommand(t *testing.T) {
	for _, c := range commands() {
		words := strings.Fields(c.name)
		t.Run(c.name, func(t *testing.T) {
			var first string
			for _, h := range []string{"-h", "-help", "--help"} {
				code, out, errOut := runCmd(t, "", append(append([]string{}, words...), h)...)
				if code != 0 || errOut != "" {
					t.Fatalf("%s %s: exit %d, stderr %q; want 0 and nothing", c.name, h, code, errOut)
				}
				if !strings.HasPrefix(out, "usage: connect-doctor "+c.name) {
					t.Fatalf("%s %s does not start with its usage line:\n%s", c.name, h, out)
				}
				if first == "" {
					first = out
				} else if out != first {
					t.Fatalf("%s %s differs from -h", c.name, h)
				}
			}
			if code, out, _ := runCmd(t, "", append([]string{"help"}, words...)...); code != 0 || out != first {
				t.Fatalf("help %s: exit %d, output differs from --help:\n%s", c.name, code, out)
			}
			golden(t, goldenName(words), first)
		})
	}
}

// TestCLIBadFlagIsOneLine: a flag no command has is refused by every
// command in one line on stderr that names the command and where its usage
// is, with exit 2.
func TestCLIBadFlagIsOneLine(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			args := append(strings.Fields(c.name), "--no-such-flag")
			code, out, errOut := runCmd(t, "", args...)
			want := "connect-doctor " + c.name + ": flag provided but not defined: -no-such-flag (see connect-doctor " + c.name + " --help)\n"
			if code != 2 || out != "" || errOut != want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errOut, want)
			}
		})
	}
}

// TestCLITopLevel covers what is not a command of the table: the command
// list, --version, an unknown command, a group without its subcommand.
func TestCLITopLevel(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   bool // the golden file holds stdout (else stderr)
	}{
		{"help", []string{"help"}, 0, true},
		{"-h", []string{"-h"}, 0, true},
		{"--help", []string{"--help"}, 0, true},
		{"--version", []string{"--version"}, 0, true},
		{"version", []string{"version"}, 0, true},
		{"unknown command", []string{"frobnicate"}, 2, false},
		{"misspelt command", []string{"explian", "--url", "x"}, 2, false},
		{"jwt alone", []string{"jwt"}, 2, false},
		{"jwt --help", []string{"jwt", "--help"}, 0, true},
		{"scopes -h", []string{"scopes", "-h"}, 0, true},
		{"catalog help", []string{"catalog", "help"}, 0, true},
		{"unknown catalog subcommand", []string{"catalog", "export"}, 2, false},
		{"serve with an argument", []string{"serve", "now"}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, "", tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.wantCode, out, errOut)
			}
			got, other := out, errOut
			if !tt.stdout {
				got, other = errOut, out
				if strings.Count(got, "\n") != 1 {
					t.Fatalf("the error is not one line: %q", got)
				}
			}
			if other != "" {
				t.Fatalf("unexpected output on the other stream: %q", other)
			}
			golden(t, "top_"+goldenName(tt.args), got)
		})
	}
}

// TestCLIUsageListsEveryCommand: the command list and the unknown-command
// error name every command of the table, so neither can fall behind it.
func TestCLIUsageListsEveryCommand(t *testing.T) {
	_, list, _ := runCmd(t, "", "help")
	_, _, unknown := runCmd(t, "", "frobnicate")
	for _, c := range commands() {
		if !strings.Contains(list, "\n  "+c.name+" ") {
			t.Errorf("help does not list %q", c.name)
		}
		first, _, _ := strings.Cut(c.name, " ")
		if !strings.Contains(unknown, first) {
			t.Errorf("the unknown-command error does not name %q: %s", first, unknown)
		}
	}
}
