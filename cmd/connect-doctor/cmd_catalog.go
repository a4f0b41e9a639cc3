package main

// The endpoint-catalog subcommands: endpoints, endpoint, scopes advise and
// catalog import/info. They read the embedded catalog, or the file named by
// --catalog or the CATALOG_FILE environment variable.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/jira/catalog/openapi"
	"github.com/connect-doctor/connect-doctor/scope"
)

// fail prints a one-line message and returns the exit code.
func fail(std stdio, cmd string, code int, format string, a ...any) int {
	fmt.Fprintf(std.err, "%s: %s\n", cmd, fmt.Sprintf(format, a...))
	return code
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runEndpoints: endpoints [QUERY] [--scope S] [--permission P] [--json].
// Exit 0 with results, 1 when nothing matches, 2 on bad input.
func runEndpoints(args []string, std stdio) int {
	fs := cmdFlags("endpoints")
	scopeFlag := fs.String("scope", "", "only operations needing exactly this Connect scope (e.g. READ, ADMIN, INACCESSIBLE)")
	permFlag := fs.String("permission", "", "only operations with this permission tag or detail (admin, admin-or-project-admin, project-browse, none, other, jira-access, …)")
	asJSON := fs.Bool("json", false, "print JSON")
	catFile := fs.String("catalog", "", "catalog file (default: $CATALOG_FILE, else the embedded catalog)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if *scopeFlag != "" {
		if _, err := scope.Parse(*scopeFlag); err != nil {
			return fail(std, "endpoints", 2, "--scope: %v", err)
		}
	}
	c, err := catalogFor(*catFile, std)
	if err != nil {
		return fail(std, "endpoints", 2, "%v", err)
	}
	if p := strings.ToLower(*permFlag); p != "" && !knownPermission(c, p) {
		return fail(std, "endpoints", 2, "--permission: unknown tag %q (known: %s)", *permFlag, strings.Join(permissionValues(c), ", "))
	}
	ops := c.Search(catalog.Query{Text: strings.Join(pos, " "), Scope: *scopeFlag, Permission: *permFlag})
	if *asJSON {
		if ops == nil {
			ops = []catalog.Operation{}
		}
		writeJSON(std.out, ops)
	} else if len(ops) > 0 {
		tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "METHOD\tPATH\tCONNECT SCOPE\tPERMISSION\tNOTES")
		for i := range ops {
			op := &ops[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", op.Method, op.Path, op.ConnectScope, op.PermissionLabel(), notes(op))
		}
		tw.Flush()
		fmt.Fprintf(std.out, "%d operation(s)\n", len(ops))
	}
	if len(ops) == 0 {
		if !*asJSON {
			fmt.Fprintln(std.err, "endpoints: no operation matches")
		}
		return 1
	}
	return 0
}

func notes(op *catalog.Operation) string {
	var n []string
	if op.Deprecated {
		n = append(n, "deprecated")
	}
	if op.Experimental {
		n = append(n, "experimental")
	}
	if op.AnonymousAllowed {
		n = append(n, "anonymous")
	}
	return strings.Join(n, ",")
}

func permissionValues(c *catalog.Catalog) []string {
	var vals []string
	for _, op := range c.Operations() {
		for _, v := range []string{op.Permission, op.PermissionDetail} {
			if v != "" && !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
	}
	slices.Sort(vals)
	return vals
}

func knownPermission(c *catalog.Catalog, p string) bool {
	return p == "none" || slices.Contains(permissionValues(c), p)
}

// endpointJSON is endpoint's --json output.
type endpointJSON struct {
	Request   catalog.Request    `json:"request"`
	Path      string             `json:"path"`
	Params    map[string]string  `json:"params,omitempty"`
	Operation *catalog.Operation `json:"operation"`
}

// runEndpoint: endpoint METHOD PATH [--json]. Exit 0 when the request maps
// to an operation, 1 when it does not, 2 on bad input.
func runEndpoint(args []string, std stdio) int {
	fs := cmdFlags("endpoint")
	asJSON := fs.Bool("json", false, "print JSON")
	catFile := fs.String("catalog", "", "catalog file (default: $CATALOG_FILE, else the embedded catalog)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	req, err := catalog.ParseRequest(strings.Join(pos, " "))
	if err != nil {
		return fail(std, "endpoint", 2, "%v (e.g. endpoint GET /rest/api/3/issue/ABC-1)", err)
	}
	c, err := catalogFor(*catFile, std)
	if err != nil {
		return fail(std, "endpoint", 2, "%v", err)
	}
	m, ok := c.Match(req.Method, req.Path)
	if !ok {
		msg := fmt.Sprintf("%s %s is not in the endpoint catalog", req.Method, req.Path)
		hint := "check the path (API version, typos) or import a newer spec with `connect-doctor catalog import`"
		if ops := c.PathOperations(req.Path); len(ops) > 0 {
			var ms []string
			for _, op := range ops {
				ms = append(ms, op.Method)
			}
			msg = fmt.Sprintf("%s has no %s operation", ops[0].Path, req.Method)
			hint = "methods there: " + strings.Join(ms, ", ")
		}
		if *asJSON {
			writeJSON(std.out, map[string]any{"error": map[string]string{"code": "unknown_endpoint", "message": msg, "hint": hint}})
		} else {
			fmt.Fprintf(std.err, "endpoint: %s (%s)\n", msg, hint)
		}
		return 1
	}
	if *asJSON {
		writeJSON(std.out, endpointJSON{Request: req, Path: m.Path, Params: m.Params, Operation: m.Op})
		return 0
	}
	op := m.Op
	fmt.Fprintf(std.out, "%s %s  (%s, %s)\n", op.Method, op.Path, op.OperationID, op.API)
	tw := tabwriter.NewWriter(std.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  request path:\t%s\n", m.Path)
	if len(m.Params) > 0 {
		var ps []string
		for k, v := range m.Params {
			ps = append(ps, k+"="+v)
		}
		slices.Sort(ps)
		fmt.Fprintf(tw, "  parameters:\t%s\n", strings.Join(ps, ", "))
	}
	fmt.Fprintf(tw, "  Connect scope:\t%s%s\n", op.ConnectScope, scopeNote(op.ConnectScope))
	fmt.Fprintf(tw, "  OAuth classic:\t%s\n", listOrNone(op.OAuthClassic))
	fmt.Fprintf(tw, "  OAuth granular:\t%s\n", listOrNone(op.OAuthGranular))
	perm := op.PermissionLabel()
	if len(op.PermissionNames) > 0 {
		perm += "; " + strings.Join(op.PermissionNames, ", ")
	}
	fmt.Fprintf(tw, "  permission:\t%s\n", perm)
	if n := notes(op); n != "" {
		fmt.Fprintf(tw, "  notes:\t%s\n", strings.ReplaceAll(n, ",", ", "))
	}
	tw.Flush()
	return 0
}

func scopeNote(s scope.Scope) string {
	switch s {
	case scope.Inaccessible:
		return " (Connect apps cannot call this, whatever scopes they declare)"
	case scope.None:
		return " (no scope needs declaring)"
	}
	return ""
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "(none listed)"
	}
	return strings.Join(l, ", ")
}

// runScopesAdvise: scopes advise [FILE...] [--json]; operations one per
// line ("METHOD PATH", # comments and blank lines ignored) from the files or
// stdin. Exit 0 when advice was produced, 2 on bad input.
func runScopesAdvise(args []string, std stdio) int {
	fs := cmdFlags("scopes advise")
	asJSON := fs.Bool("json", false, "print JSON")
	catFile := fs.String("catalog", "", "catalog file (default: $CATALOG_FILE, else the embedded catalog)")
	files, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	c, err := catalogFor(*catFile, std)
	if err != nil {
		return fail(std, "scopes", 2, "%v", err)
	}
	var in io.Reader = std.in
	if len(files) > 0 {
		var readers []io.Reader
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				return fail(std, "scopes", 2, "%v", err)
			}
			readers = append(readers, strings.NewReader(string(b)+"\n"))
		}
		in = io.MultiReader(readers...)
	}
	if in == nil {
		return fail(std, "scopes", 2, "no input")
	}
	adv, err := c.AdviseLines(in)
	if err != nil {
		return fail(std, "scopes", 2, "reading operations: %v", err)
	}
	if *asJSON {
		writeJSON(std.out, adv)
		return 0
	}
	w := std.out
	if len(adv.Scopes) == 0 {
		fmt.Fprintln(w, "Minimal Connect scopes: none needed")
	} else {
		lower := make([]string, len(adv.Scopes))
		for i, s := range adv.Scopes {
			lower[i] = fmt.Sprintf("%q", strings.ToLower(string(s)))
		}
		fmt.Fprintf(w, "Minimal Connect scopes: %s\n", adv.Scopes.String())
		fmt.Fprintf(w, "  descriptor: \"scopes\": [%s]\n", strings.Join(lower, ", "))
	}
	if len(adv.Operations) > 0 {
		fmt.Fprintf(w, "\nOperations (%d):\n", len(adv.Operations))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, a := range adv.Operations {
			note := ""
			if a.Deprecated {
				note = "deprecated"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Method, a.Template, a.RequiredScope, note)
		}
		tw.Flush()
	}
	if len(adv.Inaccessible) > 0 {
		fmt.Fprintf(w, "\nNot reachable by any Connect scope (INACCESSIBLE) (%d):\n", len(adv.Inaccessible))
		for _, a := range adv.Inaccessible {
			fmt.Fprintf(w, "  %s %s  (from %q)\n", a.Method, a.Template, a.Input)
		}
	}
	if len(adv.Unknown) > 0 {
		fmt.Fprintf(w, "\nUnknown (%d):\n", len(adv.Unknown))
		for _, u := range adv.Unknown {
			fmt.Fprintf(w, "  %s: %s\n", u.Input, u.Reason)
		}
	}
	return 0
}

// catalogImport: catalog import SPEC.json[:api]... -o FILE.
func catalogImport(args []string, std stdio) int {
	fs := cmdFlags("catalog import")
	out := fs.String("o", "", "output catalog file (\"-\" for stdout)")
	specs, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if *out == "" || len(specs) == 0 {
		return fail(std, "catalog import", 2, "need at least one SPEC.json and -o FILE")
	}
	ops, sources, err := openapi.ReadFiles(specs)
	if err != nil {
		return fail(std, "catalog import", 2, "%v", err)
	}
	var buf strings.Builder
	if err := catalog.Write(&buf, sources, ops); err != nil {
		return fail(std, "catalog import", 1, "%v", err)
	}
	if _, err := catalog.Load(strings.NewReader(buf.String())); err != nil {
		return fail(std, "catalog import", 1, "the catalog built from these specs does not load: %v", err)
	}
	if *out == "-" {
		io.WriteString(std.out, buf.String())
		return 0
	}
	if err := os.WriteFile(*out, []byte(buf.String()), 0o644); err != nil {
		return fail(std, "catalog import", 1, "%v", err)
	}
	var parts []string
	for _, s := range sources {
		parts = append(parts, fmt.Sprintf("%s %d from %s", s.API, s.Count, s.File))
	}
	fmt.Fprintf(std.out, "wrote %d operations (%s) to %s; use it with CATALOG_FILE=%s\n", len(ops), strings.Join(parts, ", "), *out, *out)
	return 0
}

func catalogInfo(args []string, std stdio) int {
	fs := cmdFlags("catalog info")
	asJSON := fs.Bool("json", false, "print JSON")
	catFile := fs.String("catalog", "", "catalog file (default: $CATALOG_FILE, else the embedded catalog)")
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(std, fs, err)
	}
	c, err := catalogFor(*catFile, std)
	if err != nil {
		return fail(std, "catalog info", 2, "%v", err)
	}
	counts := map[string]int{}
	for _, op := range c.Operations() {
		counts[string(op.ConnectScope)]++
	}
	if *asJSON {
		writeJSON(std.out, map[string]any{"operations": c.Len(), "sources": c.Sources(), "byConnectScope": counts})
		return 0
	}
	fmt.Fprintf(std.out, "%d operations\n", c.Len())
	for _, s := range c.Sources() {
		fmt.Fprintf(std.out, "  %s: %s, version %s, %d operations, sha256 %s\n", s.API, s.File, s.Version, s.Count, s.SHA256)
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(std.out, "  %-24s %d\n", k, counts[k])
	}
	return 0
}
