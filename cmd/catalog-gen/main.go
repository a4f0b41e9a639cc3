// Command catalog-gen writes the embedded endpoint catalog
// (jira/catalog/catalog.json) from Atlassian's Jira OpenAPI specs. It is
// run by `go generate ./jira/catalog`:
//
//	catalog-gen -o catalog.json ../../../shared/data/raw/*.json
//
// Arguments are spec files or glob patterns, each optionally suffixed with
// ":platform" or ":software" (otherwise the API is guessed from the spec).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"github.com/connect-doctor/connect-doctor/internal/cliflag"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/jira/catalog/openapi"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("catalog-gen", flag.ContinueOnError)
	out := fs.String("o", "", "output catalog file (required)")
	prog := cliflag.Program{Name: "catalog-gen", Usage: "-o FILE SPEC.json[:api]|GLOB...", Version: version,
		About: "Builds the endpoint catalog (jira/catalog) from Jira's OpenAPI specs."}
	if code, done := cliflag.Parse(prog, fs, args, stdout, stderr); done {
		return code
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: catalog-gen -o FILE SPEC.json[:api]|GLOB...")
		return 2
	}
	var files []string
	for _, arg := range fs.Args() {
		pattern, label := arg, ""
		if i := strings.LastIndexByte(arg, ':'); i > 0 && (arg[i+1:] == catalog.APIPlatform || arg[i+1:] == catalog.APISoftware) {
			pattern, label = arg[:i], arg[i:]
		}
		matches, err := filepath.Glob(pattern)
		if err != nil || len(matches) == 0 {
			fmt.Fprintf(stderr, "catalog-gen: no spec matches %q\n", pattern)
			return 2
		}
		for _, m := range matches {
			files = append(files, m+label)
		}
	}
	ops, sources, err := openapi.ReadFiles(files)
	if err != nil {
		fmt.Fprintln(stderr, "catalog-gen:", err)
		return 1
	}
	var buf bytes.Buffer
	if err := catalog.Write(&buf, sources, ops); err != nil {
		fmt.Fprintln(stderr, "catalog-gen:", err)
		return 1
	}
	if _, err := catalog.Load(bytes.NewReader(buf.Bytes())); err != nil {
		fmt.Fprintln(stderr, "catalog-gen: generated catalog does not load:", err)
		return 1
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(stderr, "catalog-gen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "catalog-gen: %d operations from %d specs -> %s\n", len(ops), len(sources), *out)
	return 0
}
