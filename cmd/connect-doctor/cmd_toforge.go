package main

// The to-forge subcommand: converts a vendor's atlassian-connect.json into a
// Connect-on-Forge manifest.yml and prints the migration report. The work
// lives in forge/manifest (LoadDescriptor, Convert, Check); this file reads
// flags and formats.
//
// Why "to-forge": `migrate` already applies database migrations, and
// `manifest` writes Connect Doctor's own manifest from its own configuration.
// Converting someone else's descriptor has another input (their file, their
// placeholders, their scopes) and another promise (nothing of ours added), so
// it gets its own verb, named after where the app is going.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

const toForgeUsage = `to-forge SOURCE [-o manifest.yml|DIR] [--json] [--base-url URL] [--key KEY] [--set NAME=VALUE]...
       [--product jira|confluence] [--app-id ARI|UUID] [opt-in extras, see below]

Converts a Connect app's descriptor into a Connect-on-Forge manifest.yml, and reports what
happened to every module and scope and what changes for the app's backend.
SOURCE is a file, a directory (its one atlassian-connect.json or .json5, e.g. a project
checkout), "-" for standard input, or the http(s) URL of a running app's descriptor.
JSON5 (comments, trailing commas, unquoted keys, single quotes) is read, and the
placeholders vendors keep in it are filled: ACE {{localBaseUrl}} {{appKey}} {{environment}},
Spring ${addon.base-url} ${addon.key} ${NAME:default}. --base-url and --key fill the
base URL and key placeholders (--base-url also replaces a literal placeholder host such as
https://<replace>.ngrok.io), --set NAME=VALUE any other; unresolved ones are listed (exit 2).

The conversion is pure: app, the Connect remote, the Connect modules and the descriptor's
own Connect scopes, nothing else (like Atlassian's converter). Modules Forge does not accept
are dropped with a note; the report says what replaces them.

Opt-in extras, each a change the vendor must want (see each flag):
  --remote-operations, --in-scope-eud   declare what the remote does with data
  --oauth-scopes, --scope               add OAuth 2.0 scopes (for Forge Remote calls to the REST API)
  --forge-lifecycle, --forge-scheduled, --forge-pre-uninstall
                                        Forge Remote endpoints on the Connect remote (your backend must
                                        serve them and verify Forge Invocation Tokens)
  --migration-plan, --migration-guide   the connectToForgeMigration answer shown to site admins
  --connect-key-var                     app.connect.key as ${CONNECT_KEY}
Adding scopes or endpoints makes the first Forge version a major, admin-approved upgrade.

Exit 0: written and our checker finds no error; 1: written, but the checker reports errors;
2: bad input (nothing written).`

// optBool is a flag that tells "not given" from false.
type optBool struct{ v *bool }

func (o *optBool) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatBool(*o.v)
}
func (o *optBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	o.v = &b
	return nil
}
func (o *optBool) IsBoolFlag() bool { return true }

// toForgeJSON is the --json output.
type toForgeJSON struct {
	File     string            `json:"file,omitempty"`
	Manifest string            `json:"manifest,omitempty"` // when not written to -o
	Report   manifest.Report   `json:"report"`
	Valid    bool              `json:"valid"`
	Problems []manifestProblem `json:"problems"`
}

func runToForge(args []string, std stdio) int {
	fs := cmdFlags("to-forge")
	out := fs.String("o", "", "write the manifest here: a .yml/.yaml file, or else a directory (created if missing) that gets manifest.yml; default stdout")
	asJSON := fs.Bool("json", false, "print the report (and the manifest, without -o) as JSON")
	baseURL := fs.String("base-url", "", "the app's public https URL: fills {{localBaseUrl}} / ${addon.base-url} and replaces the descriptor's baseUrl")
	key := fs.String("key", "", "the app key: fills {{appKey}} / ${addon.key} (app.connect.key must equal the production descriptor's key)")
	var sets multiFlag
	fs.Var(&sets, "set", "NAME=VALUE: fill placeholder NAME (repeatable), e.g. --set environment=production")
	product := fs.String("product", "", "jira or confluence (default: detected from modules, scopes, webhooks, locations)")
	appID := fs.String("app-id", "", "app.id: the ARI or UUID `forge register` printed (default: a placeholder)")
	timeout := fs.Duration("timeout", 15*time.Second, "for a URL SOURCE: how long to wait for the descriptor")
	var ops multiFlag
	fs.Var(&ops, "remote-operations", "declare remotes[connect].operations (storage,compute,fetch,other; repeatable or comma-separated). Without it Forge assumes the remote stores in-scope End-User Data, which affects data residency")
	var eud optBool
	fs.Var(&eud, "in-scope-eud", "with --remote-operations storage: whether the remote stores in-scope End-User Data (storage.inScopeEUD)")
	oauth := fs.Bool("oauth-scopes", false, "add the OAuth 2.0 equivalents of the Connect scopes (Jira; Atlassian's equivalence table). Needed once Forge Remote calls the REST API with Forge tokens; a scope change forces an admin-approved update")
	var scopes multiFlag
	fs.Var(&scopes, "scope", "add an OAuth 2.0 scope (repeatable), e.g. read:jira-work; a scope change forces an admin-approved update")
	lifecycle := fs.String("forge-lifecycle", "", "PATH on the Connect remote to receive Forge's installed/upgraded events (endpoint + trigger, system token); the backend must serve it and verify FITs")
	scheduled := fs.String("forge-scheduled", "", "PATH on the Connect remote for a scheduled trigger (e.g. to refresh the stored system token); the backend must serve it")
	interval := fs.String("scheduled-interval", "hour", "interval of --forge-scheduled: fiveMinute, hour, day or week")
	preUninstall := fs.String("forge-pre-uninstall", "", "PATH on the Connect remote for Forge's preUninstall call (55 s, best effort); the backend must serve it")
	plan := fs.String("migration-plan", "", "write connectToForgeMigration with willMigrateToForgeBeforeEOS YES, NO or UNDECIDED (shown to site admins; a commitment); needs --migration-guide")
	guide := fs.String("migration-guide", "", "https URL of the vendor's own migration guide, for --migration-plan")
	keyVar := fs.Bool("connect-key-var", false, "write app.connect.key as ${CONNECT_KEY}, declared with the descriptor key as default (other keys for development environments)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(std.out, "usage: connect-doctor %s\n\nflags:\n", toForgeUsage)
			fs.SetOutput(std.out)
			fs.PrintDefaults()
			return 0
		}
		return usageError(std, fs, err)
	}
	switch len(pos) {
	case 0:
		return fail(std, "to-forge", 2, "no SOURCE: give the descriptor file, a directory, - for stdin, or the app's descriptor URL")
	case 1:
	default:
		return fail(std, "to-forge", 2, "one SOURCE at a time (got %q)", strings.Join(pos, " "))
	}
	vals := manifest.Values{BaseURL: strings.TrimSpace(*baseURL), Key: strings.TrimSpace(*key), Set: map[string]string{}}
	for _, s := range sets {
		name, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return fail(std, "to-forge", 2, "--set %q: want NAME=VALUE", s)
		}
		vals.Set[strings.TrimSpace(name)] = v
	}
	var opList []string
	for _, o := range ops {
		for _, p := range strings.Split(o, ",") {
			if p = strings.TrimSpace(p); p != "" {
				opList = append(opList, p)
			}
		}
	}

	var raw []byte
	source := pos[0]
	if source == "-" {
		if std.in == nil {
			return fail(std, "to-forge", 2, "-: no standard input")
		}
		if raw, err = io.ReadAll(io.LimitReader(std.in, manifest.MaxDescriptorBytes+1)); err != nil {
			return fail(std, "to-forge", 2, "stdin: %v", err)
		}
		if len(raw) > manifest.MaxDescriptorBytes {
			return fail(std, "to-forge", 2, "stdin: larger than %d bytes: not a descriptor", manifest.MaxDescriptorBytes)
		}
		source = "<stdin>"
	} else {
		ctx := std.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if raw, source, err = manifest.LoadDescriptor(ctx, source, manifest.SourceOptions{Timeout: *timeout}); err != nil {
			return fail(std, "to-forge", 2, "%s", strings.TrimPrefix(err.Error(), "descriptor source: "))
		}
	}
	conv, err := manifest.Convert(manifest.ConvertInput{
		Descriptor: raw, Source: source, Values: vals, Product: *product, AppID: *appID,
		Extras: manifest.Extras{
			RemoteOperations: opList, InScopeEUD: eud.v, OAuthScopes: *oauth, Scopes: scopes,
			LifecycleRoute: *lifecycle, ScheduledRoute: *scheduled, PreUninstallRoute: *preUninstall, ScheduledInterval: *interval,
			MigrationPlan: *plan, MigrationGuideURL: *guide, ConnectKeyVariable: *keyVar,
		},
	})
	if err != nil {
		return fail(std, "to-forge", 2, "%s: %s", source, strings.TrimPrefix(err.Error(), "manifest: bad input: "))
	}

	file := ""
	if *out != "" {
		if file, err = writeManifestTo(*out, conv.YAML); err != nil {
			return fail(std, "to-forge", 2, "%v", err)
		}
	}
	name := file
	if name == "" {
		name = "manifest.yml"
	}
	problems := manifest.Check(conv.YAML, manifest.Options{})
	nErr, _ := countProblems(problems)
	if *asJSON {
		j := toForgeJSON{File: file, Report: conv.Report, Valid: nErr == 0, Problems: jsonProblems(name, problems)}
		if file == "" {
			j.Manifest = string(conv.YAML)
		}
		writeJSON(std.out, j)
	} else {
		rep := std.out
		if file == "" {
			std.out.Write(conv.YAML)
			rep = std.err
		}
		formatReport(rep, conv.Report)
		printProblems(rep, name, problems)
		if file != "" {
			fmt.Fprintf(rep, "\nwrote %s; next: forge register (if app.id is a placeholder), forge deploy, forge install\n", file)
		}
	}
	if nErr > 0 {
		return 1
	}
	return 0
}

// writeManifestTo writes y to out: a .yml/.yaml file, or else a directory
// (existing or not) that gets manifest.yml. Missing directories are created.
func writeManifestTo(out string, y []byte) (string, error) {
	file := out
	ext := strings.ToLower(filepath.Ext(out))
	if fi, err := os.Stat(out); (err == nil && fi.IsDir()) || (ext != ".yml" && ext != ".yaml") {
		file = filepath.Join(out, "manifest.yml")
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return "", fmt.Errorf("-o: %w", err)
	}
	if err := os.WriteFile(file, y, 0o644); err != nil {
		return "", fmt.Errorf("-o: %w", err)
	}
	return file, nil
}

// formatReport prints the migration report for people.
func formatReport(w io.Writer, r manifest.Report) {
	src := r.Source
	if src == "" {
		src = "descriptor"
	}
	fmt.Fprintf(w, "Migration report: %s (%s) → Connect on Forge\n", src, r.Key)
	fmt.Fprintf(w, "  product: %s (%s)\n", r.Product, strings.Join(r.ProductEvidence, "; "))
	fmt.Fprintf(w, "  remote:  %s\n", r.BaseURL)
	fmt.Fprintf(w, "  module table: %s\n", r.Validator)
	for _, h := range r.Hosts {
		fmt.Fprintf(w, "  warning: %s %s\n", h.URL, h.Reason)
	}
	if len(r.Placeholders) > 0 {
		fmt.Fprintf(w, "\nPlaceholders filled:\n")
		for _, p := range r.Placeholders {
			fmt.Fprintf(w, "  line %d: %s = %s (%s)\n", p.Line, p.Text, p.Value, p.Source)
		}
	}
	fmt.Fprintf(w, "\nModules: %d in, %d kept, %d dropped with a note\n", r.ModulesIn, r.ModulesKept, r.ModulesDropped)
	for _, m := range r.Modules {
		switch m.Outcome {
		case manifest.Empty:
			fmt.Fprintf(w, "  %-8s %s: %s\n", m.Outcome, m.Module, m.Reason)
		case manifest.Dropped:
			fmt.Fprintf(w, "  %-8s %s (%d): %s", m.Outcome, m.Module, m.In, m.Reason)
			if len(m.Instead) > 0 {
				fmt.Fprintf(w, "; on Forge: %s", strings.Join(m.Instead, ", "))
			}
			fmt.Fprintln(w)
		default:
			fmt.Fprintf(w, "  %-8s %s (%d) → %s", m.Outcome, m.Module, m.Out, m.Target)
			if m.Reason != "" {
				fmt.Fprintf(w, ": %s", m.Reason)
			}
			fmt.Fprintln(w)
		}
		for _, n := range m.Notes {
			fmt.Fprintf(w, "           %s\n", n)
		}
	}
	if len(r.Parts) > 0 {
		fmt.Fprintf(w, "\nDescriptor parts:\n")
		for _, p := range r.Parts {
			fmt.Fprintf(w, "  %-11s %s: %s\n", p.Outcome, p.Part, p.Detail)
		}
	}
	fmt.Fprintf(w, "\nScopes: %s → %s\n", scopesOrNone(r.Scopes.Before), scopesOrNone(r.Scopes.After))
	if len(r.Scopes.Added) > 0 {
		fmt.Fprintf(w, "  added: %s\n", strings.Join(r.Scopes.Added, ", "))
	}
	if len(r.Scopes.Dropped) > 0 {
		fmt.Fprintf(w, "  dropped: %s\n", strings.Join(r.Scopes.Dropped, ", "))
	}
	approval := "no admin approval needed for permissions"
	if r.Scopes.AdminApproval {
		approval = "ADMIN APPROVAL NEEDED"
	}
	fmt.Fprintf(w, "  %s: %s\n", approval, r.Scopes.Why)
	if len(r.Added) > 0 {
		fmt.Fprintf(w, "\nAdded on request (not in the descriptor):\n")
		for _, a := range r.Added {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	if len(r.ConsiderNext) > 0 {
		fmt.Fprintf(w, "\nForge modules to consider next (Connect on Forge ends with Connect, 2027-01-31):\n")
		for _, s := range r.ConsiderNext {
			fmt.Fprintf(w, "  %-28s → %s\n", s.Connect, strings.Join(s.Forge, ", "))
		}
	}
	fmt.Fprintf(w, "\nWhat the backend will see:\n")
	for _, a := range r.Auth {
		if !a.Now {
			fmt.Fprintf(w, "  (once Forge modules or remote endpoints are added)\n")
		}
		fmt.Fprintf(w, "  %s\n    token:    %s\n    identity: %s\n    changes:  %s\n    401/403 to expect: %s (connect-doctor explain)\n",
			a.Path, a.Token, a.Identity, a.Changes, strings.Join(a.Expect, ", "))
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

func scopesOrNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ", ")
}
