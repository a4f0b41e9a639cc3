// Command catalog-gen writes the embedded endpoint catalog
// (jira/catalog/catalog.json) from Atlassian's Jira OpenAPI specs, through
// a facts-only extract kept in the repository. `go generate ./jira/catalog`
// runs it on the extract, so a clone without the specs regenerates the
// catalog:
//
//	catalog-gen -o catalog.json -facts inputs/jira-openapi-facts.json.gz
//
// With new specs, refresh the extract first (from jira/catalog):
//
//	catalog-gen -extract inputs/jira-openapi-facts.json.gz ../../../shared/data/raw/*.json
//
// -o with spec arguments builds a catalog straight from specs. Arguments are
// spec files or glob patterns, each optionally suffixed with ":platform" or
// ":software" (otherwise the API is guessed from the spec).
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
	out := fs.String("o", "", "output catalog file")
	extract := fs.String("extract", "", "write the facts extract (.json.gz) from the specs instead of a catalog")
	facts := fs.String("facts", "", "read the operations from this facts extract instead of specs")
	prog := cliflag.Program{Name: "catalog-gen", Usage: "-o FILE SPEC.json[:api]|GLOB... | -o FILE -facts FACTS.json.gz | -extract FACTS.json.gz SPEC.json[:api]|GLOB...", Version: version,
		About: "Builds the endpoint catalog (jira/catalog) from Jira's OpenAPI specs."}
	if code, done := cliflag.Parse(prog, fs, args, stdout, stderr); done {
		return code
	}
	if (*out == "") == (*extract == "") || (*facts == "") == (fs.NArg() == 0) || (*facts != "" && *extract != "") {
		fmt.Fprintln(stderr, "usage: catalog-gen -o FILE SPEC.json[:api]|GLOB... | -o FILE -facts FACTS.json.gz | -extract FACTS.json.gz SPEC.json[:api]|GLOB...")
		return 2
	}
	if *facts != "" {
		f, err := os.Open(*facts)
		if err != nil {
			fmt.Fprintln(stderr, "catalog-gen:", err)
			return 1
		}
		ops, sources, err := openapi.ReadFacts(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "catalog-gen:", err)
			return 1
		}
		return writeCatalog(*out, sources, ops, stdout, stderr)
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
	if *extract != "" {
		var buf bytes.Buffer
		if err := openapi.WriteFacts(&buf, sources, ops); err != nil {
			fmt.Fprintln(stderr, "catalog-gen:", err)
			return 1
		}
		if err := os.WriteFile(*extract, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "catalog-gen:", err)
			return 1
		}
		fmt.Fprintf(stdout, "catalog-gen: facts of %d operations from %d specs -> %s\n", len(ops), len(sources), *extract)
		return 0
	}
	return writeCatalog(*out, sources, ops, stdout, stderr)
}

// writeCatalog writes the catalog file after checking that it loads.
func writeCatalog(out string, sources []catalog.Source, ops []catalog.Operation, stdout, stderr io.Writer) int {
	var buf bytes.Buffer
	if err := catalog.Write(&buf, sources, ops); err != nil {
		fmt.Fprintln(stderr, "catalog-gen:", err)
		return 1
	}
	if _, err := catalog.Load(bytes.NewReader(buf.Bytes())); err != nil {
		fmt.Fprintln(stderr, "catalog-gen: generated catalog does not load:", err)
		return 1
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(stderr, "catalog-gen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "catalog-gen: %d operations from %d specs -> %s\n", len(ops), len(sources), out)
	return 0
}
