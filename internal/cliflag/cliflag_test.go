package cliflag

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	p := Program{Name: "tool", Usage: "[flags] FILE", About: "Does a thing.", Version: "v1.2.3"}
	tests := []struct {
		name              string
		args              []string
		wantCode          int
		wantDone          bool
		wantOut, wantErr  string
		wantOneLineStderr bool
	}{
		{"-h", []string{"-h"}, 0, true, "usage: tool [flags] FILE\n\nDoes a thing.\n\nflags:\n  -n int\n    \ta number (default 3)\n  -version\n    \tprint the version and exit\n", "", false},
		{"--help", []string{"--help"}, 0, true, "usage: tool [flags] FILE\n", "", false},
		{"--version", []string{"--version"}, 0, true, "tool v1.2.3\n", "", false},
		{"bad flag", []string{"--nope"}, 2, true, "", "tool: flag provided but not defined: -nope (see tool --help)\n", true},
		{"bad value", []string{"-n", "x"}, 2, true, "", "tool: invalid value", true},
		{"runs", []string{"-n", "4", "FILE"}, 0, false, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("tool", flag.ContinueOnError)
			fs.Int("n", 3, "a number")
			var out, errb bytes.Buffer
			code, done := Parse(p, fs, tt.args, &out, &errb)
			if code != tt.wantCode || done != tt.wantDone {
				t.Fatalf("Parse = %d, %v; want %d, %v", code, done, tt.wantCode, tt.wantDone)
			}
			if !strings.HasPrefix(out.String(), tt.wantOut) || (tt.wantOut == "" && out.Len() > 0) {
				t.Fatalf("stdout %q, want prefix %q", out.String(), tt.wantOut)
			}
			if !strings.HasPrefix(errb.String(), tt.wantErr) || (tt.wantErr == "" && errb.Len() > 0) {
				t.Fatalf("stderr %q, want prefix %q", errb.String(), tt.wantErr)
			}
			if tt.wantOneLineStderr && strings.Count(errb.String(), "\n") != 1 {
				t.Fatalf("stderr is not one line: %q", errb.String())
			}
		})
	}
}
