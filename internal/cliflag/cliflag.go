// Package cliflag gives the project's small programs (jira-sim, loadgen,
// catalog-gen) the same command-line manners as connect-doctor: -h/--help
// prints the usage on stdout and exits 0, --version prints the version, and
// a bad flag is one line on stderr with exit 2.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Program describes a program for its usage text.
type Program struct {
	Name    string // "jira-sim"
	Usage   string // the usage line after the name, e.g. "[flags]"
	About   string // a paragraph shown under the usage line; optional
	Version string // printed by --version
}

// Parse defines --version on fs, parses args and answers the requests that
// end the program: it returns done=true with the exit code for -h/--help
// (usage on stdout, 0), --version (stdout, 0) and a bad flag (one line on
// stderr, 2). fs must be ContinueOnError; its own output is discarded.
func Parse(p Program, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		PrintUsage(p, fs, stdout)
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", p.Name, err, p.Name)
		return 2, true
	case *showVersion:
		fmt.Fprintln(stdout, p.Name, p.Version)
		return 0, true
	}
	return 0, false
}

// PrintUsage writes the usage line, the description and the flags.
func PrintUsage(p Program, fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "usage: %s %s\n", p.Name, p.Usage)
	if p.About != "" {
		fmt.Fprintf(w, "\n%s\n", p.About)
	}
	fmt.Fprint(w, "\nflags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
