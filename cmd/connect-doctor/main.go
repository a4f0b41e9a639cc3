// Command connect-doctor is the Connect Doctor app server and its CLI.
//
// Subcommands: serve (the default), migrate, dev, healthcheck, version, the
// maintenance commands, the doctor tools explain, jwt, qsh, endpoints,
// endpoint, scopes and catalog, and manifest (commands.go lists them). This
// file only dispatches; the work lives in the packages they call.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
)

// stdio bundles the process streams and environment so that every
// subcommand can be run from tests.
type stdio struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	getenv func(string) string
	// ctx, when set, replaces the signal context of long-running commands
	// (tests cancel it to stop them).
	ctx context.Context
	// ready, when set, receives the URL to open once a server is up.
	ready chan<- string
}

func main() {
	// gin's mode is process-global: the program sets it, the library never.
	gin.SetMode(gin.ReleaseMode)
	os.Exit(run(os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv}))
}

func run(args []string, std stdio) int {
	if len(args) == 0 {
		return runServe(nil, std)
	}
	switch name := args[0]; {
	case isHelp(name) || name == "help":
		if name == "help" && len(args) > 1 {
			return run(append(append([]string{}, args[1:]...), "--help"), std)
		}
		usage(std.out)
		return 0
	case name == "--version" || name == "-version":
		return runVersion(args[1:], std)
	case strings.HasPrefix(name, "-"):
		return runServe(args, std) // serve is the default command: `connect-doctor --migrate`
	}
	name := args[0]
	c, group := lookup(name)
	switch {
	case c.run != nil:
		return c.run(args[1:], std)
	case group != nil:
		return runGroup(name, group, args[1:], std)
	}
	fmt.Fprintf(std.err, "connect-doctor: unknown command %q; the commands are: %s (see connect-doctor --help)\n",
		name, strings.Join(commandNames(), ", "))
	return 2
}
