package main

// The command table: every subcommand's name, synopsis and description live
// here, once, so that `connect-doctor help`, `connect-doctor CMD --help`, the
// one-line error for a bad flag and the list printed for an unknown command
// all come from the same place.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand. A name of two words ("jwt decode") is a
// subcommand of a group ("jwt"); the group itself has no run function of its
// own when all its work is in the subcommands.
type command struct {
	name     string // "serve", "jwt decode"
	group    string // heading in the command list: app, doctor, forge
	synopsis string // arguments after the name, for the usage line
	summary  string // one line, for the command list
	about    string // a paragraph for --help; optional
	run      func(args []string, std stdio) int
}

// commands returns the command table in the order `help` lists it.
func commands() []command {
	return []command{
		{name: "serve", group: "app", synopsis: "[--migrate]", summary: "run the app server (the default command)",
			about: "Serves the Connect app (and, with FORGE_APP_ID, the Forge Remote routes) on PORT. Configuration\n" +
				"comes from the environment (see README.md, Configuration). On PostgreSQL, serve refuses to start\n" +
				"while migrations are pending unless --migrate is given.", run: runServe},
		{name: "migrate", group: "app", summary: "apply pending database migrations and exit",
			about: "Applies the embedded SQL migrations to DATABASE_URL, or to the SQLite file under DATA_DIR.", run: runMigrate},
		{name: "dev", group: "app", synopsis: "[--forge] [--port N]", summary: "run the app with an in-process Jira simulator (and Forge platform)",
			about: "Starts the app on SQLite under DATA_DIR and a simulated Jira Cloud site, installs the app into it\n" +
				"and prints the URLs to open. It listens on --port (by default $PORT, else 8080).\n" +
				"Stop it with Ctrl-C.", run: runDev},
		{name: "healthcheck", group: "app", synopsis: "[--url URL] [--timeout D]", summary: "exit 0 when the local server answers /readyz with 200",
			about: "Calls the running server's /readyz (http://127.0.0.1:$PORT, under the path of BASE_URL) and exits\n" +
				"0 when it answers 200, 1 otherwise. Meant for container healthchecks.", run: runHealthcheck},
		{name: "version", group: "app", summary: "print the version (also --version)", run: runVersion},
		{name: "rotate-key", group: "app", summary: "re-encrypt stored secrets under a new ENCRYPTION_KEY",
			about: "Rotating ENCRYPTION_KEY safely:\n" +
				"  1. restart every instance with ENCRYPTION_KEY=<new> and ENCRYPTION_KEY_PREVIOUS=<old>\n" +
				"     (they read secrets under either key and write new ones under <new>);\n" +
				"  2. run this command with the same settings (it can be interrupted and rerun);\n" +
				"  3. remove ENCRYPTION_KEY_PREVIOUS and restart.", run: runRotateKey},
		{name: "delete-tenant", group: "app", synopsis: "--yes CLIENT_KEY", summary: "erase everything stored for one tenant (GDPR)",
			about: "Erases the tenant's row, shared secret, check history, lifecycle log and linked Forge installations.", run: runDeleteTenant},

		{name: "explain", group: "doctor", synopsis: "[flags]", summary: "diagnose a 401/403 (flags, curl -v / curl -i captures or a HAR)",
			about: "Diagnose a failed request. Give the request and response with flags, or as\n" +
				"captures: --capture (any paste: curl -v, curl -i, a raw request and response, or\n" +
				"a HAR), --response-file (curl -i output), --request-file (a raw request or curl -v\n" +
				"output, which may hold both sides), --har (a browser's network export: its failing\n" +
				"entries, or --entry N / --url-contains S). Context: --descriptor\n" +
				"atlassian-connect.json (app key and scopes), --scopes, --identity, --base-url,\n" +
				"--secret. Flags override the captures. Exit code 0 when a diagnosis was\n" +
				"produced, 2 on bad input.", run: runExplain},
		{name: "jwt decode", group: "doctor", synopsis: "TOKEN [--secret S] [--method M --url U] [--base-path P] [--json]",
			summary: "decode a JWT, check signature, expiry and qsh",
			about: "Decode a JWT without trusting it: header, claims with human times,\n" +
				"expiry and clock skew, the signature (with --secret) and the qsh compared\n" +
				"with the request given by --method/--url. TOKEN '-' reads stdin.", run: runJWT},
		{name: "qsh", group: "doctor", synopsis: "METHOD URL [--base-path P] [--json]", summary: "print the canonical request and its hash",
			about: "Print the canonical request and its query-string hash, as Atlassian\n" +
				"computes them. URL may be a path with query or an absolute URL.", run: runQSH},
		{name: "endpoints", group: "doctor", synopsis: "[QUERY | METHOD PATH] [--scope S] [--permission P] [--json]",
			summary: "search the Jira endpoint catalog", about: "Exit 0 with results, 1 when nothing matches, 2 on bad input.", run: runEndpoints},
		{name: "endpoint", group: "doctor", synopsis: "METHOD PATH [--json]", summary: "show the operation a request maps to",
			about: "Exit 0 when the request maps to an operation, 1 when it does not, 2 on bad input.", run: runEndpoint},
		{name: "scopes advise", group: "doctor", synopsis: "[FILE...] [--json]", summary: "minimal Connect scopes for operations (stdin or FILE)",
			about: "Operations are read one per line (\"METHOD PATH\"; # comments and blank lines ignored)\n" +
				"from the files, or from stdin.", run: runScopesAdvise},
		{name: "catalog import", group: "doctor", synopsis: "SPEC.json[:platform|:software]... -o FILE", summary: "build a catalog file from OpenAPI specs",
			about: "Use the written file with CATALOG_FILE=FILE.", run: catalogImport},
		{name: "catalog info", group: "doctor", synopsis: "[--json]", summary: "describe the catalog in use", run: catalogInfo},

		{name: "manifest", group: "forge", synopsis: "[--mode forge|connect-on-forge] [--descriptor atlassian-connect.json] [--app-id ARI|UUID]\n" +
			"       [--operations FILE] [-o manifest.yml] [--json]\n   or: connect-doctor manifest --check manifest.yml [--operations FILE] [--json]",
			summary: "generate manifest.yml, or --check one",
			about: "Writes manifest.yml for this backend as a Forge app (the default mode, the only one a\n" +
				"new app may use), or as Connect on Forge (existing Marketplace Connect apps only).\n" +
				"Without --descriptor the built-in atlassian-connect.json is rendered with BASE_URL,\n" +
				"APP_KEY and CONNECT_SCOPES, as the server does; the app id defaults to FORGE_APP_ID.\n" +
				"--operations lists the Jira REST operations the app calls (\"METHOD PATH\" per line):\n" +
				"their OAuth 2.0 scopes are added, and coverage is checked. --check validates an\n" +
				"existing manifest instead and exits 1 when it has errors.", run: runManifest},
		{name: "to-forge", group: "forge", synopsis: "SOURCE [-o manifest.yml|DIR] [--json] [--base-url URL] [--key KEY] [--set NAME=VALUE]... [--product jira|confluence]",
			summary: "convert a Connect app's atlassian-connect.json (file, dir or URL) to Connect on Forge",
			about: "Converts a vendor's descriptor (JSON or JSON5, ACE and Spring placeholders) into a\n" +
				"Connect-on-Forge manifest.yml and prints a migration report; nothing but the\n" +
				"descriptor's own modules and scopes unless an opt-in flag asks for more.", run: runToForge},
	}
}

// lookup returns the command named name ("jwt decode") or, for a group name
// ("jwt"), the commands of that group.
func lookup(name string) (cmd command, group []command) {
	for _, c := range commands() {
		if c.name == name {
			return c, nil
		}
		if first, _, ok := strings.Cut(c.name, " "); ok && first == name {
			group = append(group, c)
		}
	}
	return command{}, group
}

// commandNames lists the first word of every command, once, in table order.
func commandNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, c := range commands() {
		first, _, _ := strings.Cut(c.name, " ")
		if !seen[first] {
			seen[first] = true
			names = append(names, first)
		}
	}
	return names
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// usage prints the command list.
func usage(w io.Writer) {
	fmt.Fprint(w, "usage: connect-doctor <command> [flags]\n")
	group := ""
	for _, c := range commands() {
		if c.group != group {
			group = c.group
			fmt.Fprintf(w, "\n%s:\n", group)
		}
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'connect-doctor <command> --help' for a command's flags; 'connect-doctor --version' for the version.\n")
}

// printHelp prints one command's usage, description and flags.
func printHelp(w io.Writer, c command, fs *flag.FlagSet) {
	line := "connect-doctor " + c.name
	if c.synopsis != "" {
		line += " " + c.synopsis
	}
	fmt.Fprintf(w, "usage: %s\n\n%s\n", line, c.summary)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	if fs != nil {
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nflags:\n")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
}

// printGroupHelp prints the usage lines of a group's commands ("jwt").
func printGroupHelp(w io.Writer, name string, group []command) {
	fmt.Fprintf(w, "usage:\n")
	for _, c := range group {
		fmt.Fprintf(w, "  connect-doctor %s %s\n", c.name, c.synopsis)
	}
	fmt.Fprintf(w, "\n")
	for _, c := range group {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'connect-doctor %s <subcommand> --help' for its flags.\n", name)
}

// cmdFlags returns a FlagSet named after its command that prints nothing by
// itself: parse errors go through usageError.
func cmdFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// usageError answers a parse error of fs: for -h/--help the command's usage
// on stdout and exit 0; for anything else one line on stderr, naming where
// the usage is, and exit 2.
func usageError(std stdio, fs *flag.FlagSet, err error) int {
	c, _ := lookup(fs.Name())
	if errors.Is(err, flag.ErrHelp) {
		printHelp(std.out, c, fs)
		return 0
	}
	fmt.Fprintf(std.err, "connect-doctor %s: %v (see connect-doctor %s --help)\n", fs.Name(), err, fs.Name())
	return 2
}

// runGroup runs a group's subcommand: "jwt decode …". Flags may come before
// the subcommand's name ("jwt --now T decode TOKEN"): the first argument that
// names a subcommand selects it, and the others are passed on in order. A
// group alone, or with -h/--help before any subcommand, prints the group's
// usage.
func runGroup(name string, group []command, args []string, std stdio) int {
	for i, a := range args {
		if isHelp(a) || a == "help" {
			break
		}
		for _, c := range group {
			if c.name == name+" "+a {
				rest := append(append([]string{}, args[:i]...), args[i+1:]...)
				return c.run(rest, std)
			}
		}
	}
	subs := make([]string, len(group))
	for i, c := range group {
		subs[i] = strings.TrimPrefix(c.name, name+" ")
	}
	for _, a := range args {
		switch {
		case isHelp(a) || a == "help":
			printGroupHelp(std.out, name, group)
			return 0
		case !strings.HasPrefix(a, "-"):
			fmt.Fprintf(std.err, "connect-doctor %s: unknown subcommand %q; the subcommands are: %s\n", name, a, strings.Join(subs, ", "))
			return 2
		}
	}
	fmt.Fprintf(std.err, "connect-doctor %s: missing subcommand; the subcommands are: %s (see connect-doctor %s --help)\n", name, strings.Join(subs, ", "), name)
	return 2
}
