package main

import (
	"flag"
	"fmt"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

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

// parseNoArgs parses the flags of a command that takes no positional
// arguments, and refuses any.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	return err
}
