// Command connect-doctor is the Connect Doctor app server and its CLI.
//
// Subcommands: serve (the default), migrate, version, dev, and the doctor
// tools explain, jwt, qsh, endpoints, endpoint, scopes and catalog, and the Forge
// tools manifest and to-forge. This file
// only wires the subcommands; the work lives in the packages they call.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
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
	os.Exit(run(os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv}))
}

func run(args []string, io stdio) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(args, io)
	case "dev":
		return runDev(args, io)
	case "rotate-key":
		return runRotateKey(args, io)
	case "delete-tenant":
		return runDeleteTenant(args, io)
	case "migrate":
		return runMigrate(args, io)
	case "version", "--version":
		return runVersion(args, io)
	case "explain":
		return runExplain(args, io)
	case "jwt":
		return runJWT(args, io)
	case "qsh":
		return runQSH(args, io)
	case "endpoints":
		return runEndpoints(args, io)
	case "endpoint":
		return runEndpoint(args, io)
	case "scopes":
		return runScopes(args, io)
	case "catalog":
		return runCatalog(args, io)
	case "manifest":
		return runManifest(args, io)
	case "to-forge":
		return runToForge(args, io)
	case "help", "-h", "--help":
		usage(io.out)
		return 0
	default:
		fmt.Fprintf(io.err, "connect-doctor: unknown command %q\n", cmd)
		usage(io.err)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: connect-doctor <command> [flags]

app:
  serve                 run the app server (default)
  migrate               apply database migrations
  dev [--forge]         run the app with an in-process Jira simulator (and Forge platform)
  version               print the version
  rotate-key            re-encrypt stored secrets under a new ENCRYPTION_KEY
  delete-tenant --yes K erase everything stored for one tenant (GDPR)

doctor:
  explain               diagnose a 401/403 (flags or --response-file)
  jwt decode TOKEN      decode a JWT, check signature, expiry and qsh
  qsh METHOD URL        print the canonical request and its hash
  endpoints [QUERY]     search the Jira endpoint catalog
  endpoint METHOD PATH  show the operation a request maps to
  scopes advise [FILE]  minimal Connect scopes for operations (stdin or FILE)
  catalog import SPEC   build a catalog file from an OpenAPI spec
  catalog info          describe the catalog in use

forge:
  manifest              generate Connect Doctor's own manifest.yml (--mode forge|connect-on-forge), or --check one
  to-forge SOURCE       convert a Connect app's atlassian-connect.json (file, dir or URL) to a
                        Connect-on-Forge manifest.yml, with a migration report
`)
}
