package main

// The manifest subcommand: writes a Forge manifest.yml for this backend
// (forge or connect-on-forge mode) or checks an existing one offline. The
// work lives in forge/manifest; this file gathers the inputs (descriptor,
// configuration, the operations the app calls) and prints the results.

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	connectdoctor "github.com/connect-doctor/connect-doctor"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/forge/customui"
	"github.com/connect-doctor/connect-doctor/forge/manifest"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// manifestProblem is one problem in --json output.
type manifestProblem struct {
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Path      string   `json:"path,omitempty"`
	Code      string   `json:"code"`
	Severity  string   `json:"severity"`
	Message   string   `json:"message"`
	Fix       string   `json:"fix,omitempty"`
	Module    string   `json:"module,omitempty"`
	Operation string   `json:"operation,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
}

// manifestJSON is the --json output of both forms.
type manifestJSON struct {
	Mode     string            `json:"mode,omitempty"`
	File     string            `json:"file,omitempty"`
	Manifest string            `json:"manifest,omitempty"` // generated YAML when not written to -o
	Notes    []string          `json:"notes,omitempty"`
	Valid    bool              `json:"valid"`
	Errors   int               `json:"errors"`
	Warnings int               `json:"warnings"`
	Problems []manifestProblem `json:"problems"`
}

// runManifest: see its entry in commands.go. Exit 0 on success, 1 when the manifest
// (checked or generated) has errors, 2 on bad input.
func runManifest(args []string, std stdio) int {
	fs := cmdFlags("manifest")
	mode := fs.String("mode", string(manifest.ModeForge), "forge (new apps; Forge modules and a Forge Remote only) or connect-on-forge (existing Marketplace Connect apps only)")
	descFile := fs.String("descriptor", "", "atlassian-connect.json to convert (default: the built-in one rendered with BASE_URL, APP_KEY, CONNECT_SCOPES)")
	appID := fs.String("app-id", "", "app.id: the ARI or UUID that forge register printed (default: $FORGE_APP_ID; none writes a placeholder)")
	out := fs.String("o", "", "write the manifest to this file (default: stdout)")
	opsFile := fs.String("operations", "", "file of Jira REST operations the app calls, one \"METHOD PATH\" per line (# comments allowed)")
	check := fs.String("check", "", "check this manifest (\"-\" for stdin) instead of writing one")
	asJSON := fs.Bool("json", false, "print JSON")
	keyVar := fs.Bool("connect-key-var", false, "connect-on-forge: write app.connect.key as ${CONNECT_KEY} (declared, defaulting to the descriptor key)")
	guide := fs.String("migration-guide", "", "connect-on-forge: connectToForgeMigration.migrationGuideUrl (default BASE_URL/forge-migration)")
	willMigrate := fs.String("will-migrate", "", "connect-on-forge: willMigrateToForgeBeforeEOS, YES, NO or UNDECIDED (default YES)")
	resourcePath := fs.String("resource-path", "", "directory of the admin panel's Custom UI bundle, relative to manifest.yml (default static/admin)")
	checkResources := fs.Bool("resources", true, "with --check: look for the resources' directories next to the manifest, as Forge does; with -o in forge mode: write the admin panel's Custom UI bundle next to the manifest")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) > 0 {
		return fail(std, "manifest", 2, "unexpected argument %q (did you mean --check %s?)", pos[0], pos[0])
	}

	var ops []manifest.Operation
	if *opsFile != "" {
		if ops, err = manifestOperations(*opsFile, std); err != nil {
			return fail(std, "manifest", 2, "--operations: %v", err)
		}
	}

	if *check != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, name := range []string{"mode", "descriptor", "app-id", "o", "connect-key-var", "migration-guide", "will-migrate", "resource-path"} {
			if set[name] {
				return fail(std, "manifest", 2, "--%s has no effect with --check (it only reads the manifest)", name)
			}
		}
		return manifestCheck(*check, ops, *checkResources, *asJSON, std)
	}

	if *descFile != "" && manifest.Mode(*mode) == manifest.ModeConnectOnForge {
		return manifestDescriptorAlias(fs, *descFile, std)
	}
	in := manifest.Input{
		Mode:               manifest.Mode(*mode),
		ConnectKeyVariable: *keyVar,
		MigrationGuideURL:  *guide,
		WillMigrate:        strings.ToUpper(*willMigrate),
		ResourcePath:       *resourcePath,
	}
	if in.Mode != manifest.ModeForge && in.Mode != manifest.ModeConnectOnForge {
		return fail(std, "manifest", 2, "--mode %q: use forge (new apps) or connect-on-forge (existing Marketplace Connect apps)", *mode)
	}
	if in.Descriptor, err = manifestDescriptor(*descFile, std); err != nil {
		return fail(std, "manifest", 2, "%v", err)
	}
	if *descFile != "" {
		// The remote is this backend: BASE_URL, when set, wins over the
		// file's baseUrl (which may still be the {{baseUrl}} template).
		in.BaseURL = strings.TrimSuffix(strings.TrimSpace(getenv(std, "BASE_URL")), "/")
	}
	in.AppID = *appID
	if in.AppID == "" {
		// Only the app id matters here; the verifier's other FORGE_*
		// settings are not read.
		cfg, enabled, err := forge.ConfigFromEnv(func(k string) string {
			if k == "FORGE_APP_ID" {
				return getenv(std, k)
			}
			return ""
		})
		if err != nil {
			return fail(std, "manifest", 2, "FORGE_APP_ID: %v (or pass --app-id)", err)
		}
		if enabled {
			in.AppID = cfg.AppID
		}
	}
	base, err := manifest.Generate(in)
	if err != nil {
		return fail(std, "manifest", 2, "%s", strings.TrimPrefix(err.Error(), "manifest: bad input: "))
	}
	res := base
	if len(ops) > 0 {
		// Add the scopes of the operations the base scopes leave
		// uncovered (the classic set, which Atlassian recommends, else the
		// granular one), then check coverage of everything.
		if in.ExtraScopes = uncoveredScopes(base.YAML, ops); len(in.ExtraScopes) > 0 {
			if res, err = manifest.Generate(in); err != nil {
				return fail(std, "manifest", 2, "%s", strings.TrimPrefix(err.Error(), "manifest: bad input: "))
			}
			res.Notes = append(res.Notes, fmt.Sprintf("Added for the operations in %s: %s.", *opsFile, strings.Join(in.ExtraScopes, ", ")))
		}
	}

	name := *out
	if name == "" {
		name = "manifest.yml"
	}
	// The generated manifest is checked like any other (without the disk
	// lookups: the Custom UI bundle is built later).
	problems := manifest.Check(res.YAML, manifest.Options{Operations: ops})
	nErr, nWarn := countProblems(problems)

	wroteBundle := ""
	if *out != "" {
		if err := os.WriteFile(*out, res.YAML, 0o644); err != nil {
			return fail(std, "manifest", 2, "%v", err)
		}
		if in.Mode == manifest.ModeForge && *checkResources {
			// Forge deploys the Custom UI resource from beside the
			// manifest: write the bundle this binary embeds there.
			rp := *resourcePath
			if rp == "" {
				rp = customui.ResourcePath
			}
			dir := filepath.Join(filepath.Dir(*out), filepath.FromSlash(rp))
			if err := writeBundle(dir); err != nil {
				return fail(std, "manifest", 2, "writing the Custom UI bundle: %v", err)
			}
			wroteBundle = dir
		}
	}
	if *asJSON {
		j := manifestJSON{Mode: string(in.Mode), File: *out, Notes: res.Notes, Valid: nErr == 0, Errors: nErr, Warnings: nWarn,
			Problems: jsonProblems(name, problems)}
		if *out == "" {
			j.Manifest = string(res.YAML)
		}
		writeJSON(std.out, j)
	} else {
		if *out == "" {
			std.out.Write(res.YAML)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(std.err, "note: %s\n", n)
		}
		printProblems(std.err, name, problems)
		if wroteBundle != "" {
			fmt.Fprintf(std.err, "wrote the admin panel's Custom UI bundle to %s\n", wroteBundle)
		}
		if *out != "" {
			fmt.Fprintf(std.err, "wrote %s (%s mode); next: forge deploy, then forge install\n", *out, in.Mode)
		}
	}
	if nErr > 0 {
		return 1
	}
	return 0
}

// manifestDescriptorAlias keeps `manifest --mode connect-on-forge
// --descriptor FILE` working: converting a vendor's descriptor is now
// `to-forge`, a pure conversion (the old path added Connect Doctor's own
// Forge routes, trigger, OAuth scopes and a migration plan to every vendor's
// manifest). The flags that still mean something are passed on; the others
// are refused with the to-forge flag to use instead.
func manifestDescriptorAlias(fs *flag.FlagSet, desc string, std stdio) int {
	fmt.Fprintf(std.err, "manifest: deprecated: --mode connect-on-forge --descriptor is now `connect-doctor to-forge %s` (pure conversion, see to-forge --help); running that\n", desc)
	args := []string{desc}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "mode", "descriptor":
		case "o", "app-id":
			args = append(args, "-"+f.Name, v)
		case "json":
			args = append(args, "--json="+v)
		case "connect-key-var":
			args = append(args, "--connect-key-var="+v)
		case "will-migrate":
			args = append(args, "--migration-plan", v)
		case "migration-guide":
			args = append(args, "--migration-guide", v)
		default:
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return fail(std, "manifest", 2, "%s: not supported with --descriptor; use to-forge (--scope adds OAuth 2.0 scopes)", strings.Join(bad, ", "))
	}
	if b := strings.TrimSpace(getenv(std, "BASE_URL")); b != "" {
		args = append(args, "--base-url", b)
	}
	if id := strings.TrimSpace(getenv(std, "FORGE_APP_ID")); id != "" && !slices.Contains(args, "-app-id") {
		args = append(args, "-app-id", id)
	}
	return runToForge(args, std)
}

// writeBundle copies the embedded Custom UI bundle into dir.
func writeBundle(dir string) error {
	res := customui.Resource()
	return fsWalk(res, func(name string, data []byte) error {
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// fsWalk calls f with every regular file of fsys.
func fsWalk(fsys fs.FS, f func(name string, data []byte) error) error {
	return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		return f(name, data)
	})
}

// manifestCheck runs --check.
func manifestCheck(file string, ops []manifest.Operation, resources, asJSON bool, std stdio) int {
	var src []byte
	var err error
	opts := manifest.Options{Operations: ops}
	if file == "-" {
		if std.in == nil {
			return fail(std, "manifest", 2, "--check -: no standard input")
		}
		src, err = io.ReadAll(std.in)
		file = "<stdin>"
	} else {
		src, err = os.ReadFile(file)
		if resources {
			opts.Dir = filepath.Dir(file)
		}
	}
	if err != nil {
		return fail(std, "manifest", 2, "--check: %v", err)
	}
	problems := manifest.Check(src, opts)
	nErr, nWarn := countProblems(problems)
	if asJSON {
		writeJSON(std.out, manifestJSON{File: file, Valid: nErr == 0, Errors: nErr, Warnings: nWarn, Problems: jsonProblems(file, problems)})
	} else {
		printProblems(std.out, file, problems)
		switch {
		case nErr > 0:
			fmt.Fprintf(std.err, "%s: %d error(s), %d warning(s)\n", file, nErr, nWarn)
		case nWarn > 0:
			fmt.Fprintf(std.err, "%s: valid, %d warning(s)\n", file, nWarn)
		default:
			fmt.Fprintf(std.err, "%s: valid\n", file)
		}
	}
	if nErr > 0 {
		return 1
	}
	return 0
}

// manifestDescriptor reads --descriptor, or renders the built-in descriptor
// with the app's own configuration rules for BASE_URL, APP_KEY and
// CONNECT_SCOPES (other settings are not needed and not read).
func manifestDescriptor(file string, std stdio) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--descriptor: %w", err)
		}
		return b, nil
	}
	relevant := map[string]bool{"BASE_URL": true, "APP_KEY": true, "CONNECT_SCOPES": true, "PORT": true}
	cfg, err := config.Load(func(k string) string {
		if relevant[k] {
			return getenv(std, k)
		}
		return ""
	})
	if err != nil {
		return nil, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	raw, _, err := connect.RenderDescriptor(connectdoctor.DescriptorTemplate(), connect.DescriptorSettings{BaseURL: cfg.BaseURL, Key: cfg.AppKey, Scopes: cfg.Scopes})
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// manifestOperations reads the operations file through the scope advisor
// and maps each operation to the OAuth 2.0 scopes the catalog lists for it.
// Lines the catalog does not know are an error: a coverage check that
// skipped them would pass for the wrong reason.
func manifestOperations(file string, std stdio) ([]manifest.Operation, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	c, err := catalogFor("", std)
	if err != nil {
		return nil, err
	}
	adv, err := c.AdviseLines(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if len(adv.Unknown) > 0 {
		var bad []string
		for _, u := range adv.Unknown {
			bad = append(bad, fmt.Sprintf("%q (%s)", u.Input, u.Reason))
		}
		return nil, fmt.Errorf("%s: not in the endpoint catalog: %s (see `connect-doctor endpoints QUERY`)", file, strings.Join(bad, "; "))
	}
	if len(adv.Operations) == 0 {
		return nil, fmt.Errorf("%s: no operations (one \"METHOD PATH\" per line)", file)
	}
	ops := make([]manifest.Operation, 0, len(adv.Operations))
	for _, a := range adv.Operations {
		op, ok := c.Lookup(a.Method, a.Template)
		if !ok {
			return nil, fmt.Errorf("%s %s: advised but not found in the catalog", a.Method, a.Template)
		}
		ops = append(ops, toManifestOperation(op))
	}
	return ops, nil
}

func toManifestOperation(op *catalog.Operation) manifest.Operation {
	return manifest.Operation{
		Method:        op.Method,
		Path:          op.Path,
		OAuthClassic:  op.OAuthClassic,
		OAuthGranular: op.OAuthGranular,
		ConnectScope:  string(op.ConnectScope),
	}
}

// uncoveredScopes returns, sorted and once each, the scopes the checker
// says to add so that every operation is covered (Problem.Scopes of each
// operation_not_covered problem). Operations with no OAuth 2.0 scope
// cannot be covered and are left to the check.
func uncoveredScopes(yml []byte, ops []manifest.Operation) []string {
	var add []string
	for _, p := range manifest.Check(yml, manifest.Options{Operations: ops}) {
		if p.Code == "operation_not_covered" {
			add = append(add, p.Scopes...)
		}
	}
	slices.Sort(add)
	return slices.Compact(add)
}

func countProblems(ps []manifest.Problem) (errs, warns int) {
	for _, p := range ps {
		if p.Severity == manifest.Error {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// printProblems writes FILE:LINE: CODE: message (fix: …), one per line;
// warnings say so after the code.
func printProblems(w io.Writer, file string, ps []manifest.Problem) {
	for _, p := range ps {
		fmt.Fprintln(w, p.Format(file))
	}
}

func jsonProblems(file string, ps []manifest.Problem) []manifestProblem {
	out := make([]manifestProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, manifestProblem{File: file, Line: p.Line, Path: p.Path, Code: p.Code, Severity: string(p.Severity), Message: p.Message, Fix: p.Fix,
			Module: p.Module, Operation: p.Operation, Scopes: p.Scopes})
	}
	return out
}

func getenv(std stdio, k string) string {
	if std.getenv == nil {
		return ""
	}
	return std.getenv(k)
}
