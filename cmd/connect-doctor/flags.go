package main

import (
	"flag"
	"io"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// newFlags returns a fresh FlagSet that prints its errors and usage to
// std.err.
func newFlags(name string, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	return fs
}

// quietFlags returns a fresh FlagSet whose errors the caller reports in one
// line.
func quietFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses flags placed before, between or after the positional
// arguments ("endpoints issue --scope READ") and returns the positional
// ones; everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// catalogFor loads the catalog named by path, else CATALOG_FILE, else the
// embedded one.
func catalogFor(path string, std stdio) (*catalog.Catalog, error) {
	if path == "" && std.getenv != nil {
		path = std.getenv("CATALOG_FILE")
	}
	if path == "" {
		return catalog.Default(), nil
	}
	return catalog.LoadFile(path)
}
