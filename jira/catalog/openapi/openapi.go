// Package openapi imports Atlassian's Jira Cloud OpenAPI specs (the
// platform v3 spec and the Jira Software spec, JSON) into catalog
// operations. It derives, per operation, the Connect scope
// (x-atlassian-connect-scope), the OAuth 2.0 classic and granular scopes,
// deprecation, experimental and anonymous-access flags, and a permission tag
// with detail and permission names, reproducing the derivation of
// shared/data/extract_scopes.py. Atlassian's prose (summaries, descriptions)
// is read to derive those facts but never kept.
package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

// ErrNotSpec is returned for input that is not an OpenAPI/Swagger JSON
// document with paths.
var ErrNotSpec = errors.New("not an OpenAPI spec")

// ErrAPI is returned for an API label other than "platform" or "software".
var ErrAPI = errors.New("unknown API label (want platform or software)")

// methods are the operation keys of a path item, in spec order.
var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

type spec struct {
	OpenAPI string                                `json:"openapi"`
	Swagger string                                `json:"swagger"`
	Info    struct{ Title, Version string }       `json:"info"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	OperationID  string          `json:"operationId"`
	Description  *string         `json:"description"`
	Deprecated   any             `json:"deprecated"`
	Experimental any             `json:"x-experimental"`
	ConnectScope *string         `json:"x-atlassian-connect-scope"`
	OAuth2Scopes []oauthGroup    `json:"x-atlassian-oauth2-scopes"`
	Security     json.RawMessage `json:"security"`
}

type oauthGroup struct {
	Scopes []string `json:"scopes"`
	State  *string  `json:"state"`
}

// Parse reads one spec. api is the label for its operations ("platform" or
// "software"); when empty it is guessed from the spec (a title naming
// Software, or only /rest/agile, /rest/software… paths, give "software").
// "platform-v3" is accepted as "platform". The returned source has no File.
func Parse(data []byte, api string) ([]catalog.Operation, catalog.Source, error) {
	var sp spec
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, catalog.Source{}, fmt.Errorf("%w: %w", ErrNotSpec, err)
	}
	if sp.OpenAPI == "" && sp.Swagger == "" || len(sp.Paths) == 0 {
		return nil, catalog.Source{}, fmt.Errorf("%w: no \"openapi\" version or no paths", ErrNotSpec)
	}
	switch api = normaliseAPI(api); api {
	case "":
		api = guessAPI(&sp)
	case catalog.APIPlatform, catalog.APISoftware:
	default:
		return nil, catalog.Source{}, fmt.Errorf("%w: %q", ErrAPI, api)
	}
	var ops []catalog.Operation
	for path, item := range sp.Paths {
		for _, m := range methods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var o operation
			if err := json.Unmarshal(raw, &o); err != nil {
				// Python's extract skips non-object entries; so do we.
				if len(raw) > 0 && raw[0] != '{' {
					continue
				}
				return nil, catalog.Source{}, fmt.Errorf("%w: %s %s: %w", ErrNotSpec, strings.ToUpper(m), path, err)
			}
			ops = append(ops, derive(api, strings.ToUpper(m), path, &o))
		}
	}
	catalog.SortOperations(ops)
	sum := sha256.Sum256(data)
	return ops, catalog.Source{API: api, Version: sp.Info.Version, SHA256: hex.EncodeToString(sum[:]), Count: len(ops)}, nil
}

func normaliseAPI(api string) string {
	switch a := strings.ToLower(strings.TrimSpace(api)); a {
	case "platform-v3", "platform-v2", "jira", "platform":
		return catalog.APIPlatform
	default:
		return a
	}
}

func guessAPI(sp *spec) string {
	if strings.Contains(strings.ToLower(sp.Info.Title), "software") {
		return catalog.APISoftware
	}
	for p := range sp.Paths {
		if strings.HasPrefix(p, "/rest/api/") {
			return catalog.APIPlatform
		}
	}
	return catalog.APISoftware
}

func derive(api, method, path string, o *operation) catalog.Operation {
	desc := ""
	if o.Description != nil {
		desc = *o.Description
	}
	op := catalog.Operation{
		API:              api,
		Method:           method,
		Path:             path,
		OperationID:      o.OperationID,
		Deprecated:       truthy(o.Deprecated),
		Experimental:     truthy(o.Experimental),
		AnonymousAllowed: anonRE.MatchString(desc),
	}
	if o.ConnectScope != nil {
		if s, err := scope.Parse(*o.ConnectScope); err == nil {
			op.ConnectScope = s
		} else {
			op.ConnectScope = scope.Scope(strings.ToUpper(strings.TrimSpace(*o.ConnectScope)))
		}
	}
	op.OAuthClassic, op.OAuthGranular = oauthScopes(o)
	op.Permission, op.PermissionDetail, op.PermissionNames = Permission(desc)
	return op
}

// truthy follows Python's bool() for JSON values.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// oauthScopes takes x-atlassian-oauth2-scopes (state Current → classic,
// Beta → granular, other states split by shape) or, when that extension is
// absent, the OAuth entries of "security" (one colon → classic, two or more
// → granular).
func oauthScopes(o *operation) (classic, granular []string) {
	add := func(dst *[]string, scopes []string, keep func(string) bool) {
		for _, s := range scopes {
			if keep(s) && !slices.Contains(*dst, s) {
				*dst = append(*dst, s)
			}
		}
	}
	all := func(string) bool { return true }
	isClassic := func(s string) bool { return strings.Count(s, ":") < 2 }
	isGranular := func(s string) bool { return strings.Count(s, ":") >= 2 }
	if len(o.OAuth2Scopes) > 0 {
		for _, g := range o.OAuth2Scopes {
			state := ""
			if g.State != nil {
				state = strings.ToLower(*g.State)
			}
			switch state {
			case "current":
				add(&classic, g.Scopes, all)
			case "beta":
				add(&granular, g.Scopes, all)
			default:
				add(&classic, g.Scopes, isClassic)
				add(&granular, g.Scopes, isGranular)
			}
		}
		return classic, granular
	}
	var reqs []map[string][]string
	if len(o.Security) > 0 && json.Unmarshal(o.Security, &reqs) == nil {
		for _, req := range reqs {
			// Python iterates a requirement's schemes in document order.
			for _, scheme := range orderedKeys(o.Security, req) {
				if strings.HasPrefix(strings.ToLower(scheme), "oauth") {
					add(&classic, req[scheme], isClassic)
					add(&granular, req[scheme], isGranular)
				}
			}
		}
	}
	return classic, granular
}

// orderedKeys returns req's keys in the order they appear in raw (a JSON
// array of objects). Order only matters when one requirement names two OAuth
// schemes; sorting is a sound fallback.
func orderedKeys(raw json.RawMessage, req map[string][]string) []string {
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia := strings.Index(string(raw), `"`+a+`"`)
		ib := strings.Index(string(raw), `"`+b+`"`)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return keys
}

// ws is Python's \s for str patterns (str.isspace), which Go's \s (ASCII
// only) is not.
const ws = `[\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]`

var (
	// The marker opening the permissions paragraph, in its variants:
	// "**[Permissions](#permissions) required:**", "**Permissions required:**", …
	permRE   = regexp.MustCompile(`(?i)(?:\*\*)?` + ws + `*\[?Permissions\]?(?:\([^)]*\))?` + ws + `+required` + ws + `*:?` + ws + `*(?:\*\*)?` + ws + `*:?`)
	anonRE   = regexp.MustCompile(`(?i)can be accessed anonymously`)
	linkRE   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	boldRE   = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	bulletRE = regexp.MustCompile(`(?m)^` + ws + `*\*` + ws + `+`)
	italicRE = regexp.MustCompile(`\*([^*]+)\*`)
	wsRE     = regexp.MustCompile(ws + `+`)
)

func isPySpace(r rune) bool {
	switch {
	case r == ' ' || r >= '\t' && r <= '\r' || r >= 0x1c && r <= 0x1f:
		return true
	case r == 0x85 || r == 0xa0 || r == 0x1680 || r >= 0x2000 && r <= 0x200a,
		r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000:
		return true
	}
	return false
}

func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// clean turns markdown into plain-ish text: link targets, bullets and bold
// dropped, *italic* marks kept, whitespace collapsed.
func clean(text string) string {
	text = linkRE.ReplaceAllString(text, "$1")
	text = bulletRE.ReplaceAllLiteralString(text, "- ")
	text = boldRE.ReplaceAllString(text, "$1")
	return pyStrip(wsRE.ReplaceAllLiteralString(text, " "))
}

// permissionNames returns the italicised names of a cleaned paragraph,
// de-duplicated case-insensitively.
func permissionNames(text string) []string {
	var names []string
	for _, m := range italicRE.FindAllStringSubmatch(text, -1) {
		n := pyStrip(strings.TrimRight(pyStrip(m[1]), ":"))
		if n == "" || utf8.RuneCountInString(n) >= 60 {
			continue
		}
		if slices.ContainsFunc(names, func(x string) bool { return strings.ToLower(x) == strings.ToLower(n) }) {
			continue
		}
		names = append(names, n)
	}
	return names
}

// Permission derives the permission tag, detail and names from an
// operation's description: from its "Permissions required" paragraph when
// there is one, else ("other", "unspecified", nil).
func Permission(description string) (tag, detail string, names []string) {
	loc := permRE.FindStringIndex(description)
	if loc == nil {
		return catalog.PermOther, "unspecified", nil
	}
	para := clean(description[loc[1]:])
	names = permissionNames(para)
	tag, detail = Classify(para, names)
	return tag, detail, names
}

// Classify is extract_scopes.py's classify(): it maps a cleaned permission
// paragraph and its italicised names to (tag, detail). The tag is one of
// admin, admin-or-project-admin, project-browse, none/anonymous, other.
func Classify(para string, names []string) (tag, detail string) {
	low := strings.ToLower(para)
	lnames := make([]string, len(names))
	for i, n := range names {
		lnames[i] = strings.ToLower(n)
	}
	anyName := func(f func(string) bool) bool { return slices.ContainsFunc(lnames, f) }
	has := func(s string) bool { return strings.Contains(low, s) }

	if strings.HasPrefix(low, "none") {
		return catalog.PermNone, "none"
	}
	hasAdmin := anyName(func(n string) bool { return n == "administer jira" || n == "administer jira global permission" }) ||
		has("administer jira") || has("jira admin")
	hasPAdmin := anyName(func(n string) bool { return strings.HasPrefix(n, "administer project") }) || has("administer project")
	hasBrowse := anyName(func(n string) bool { return strings.HasPrefix(n, "browse project") })
	jiraAccess := has("permission to access jira") || has("access to jira")
	if strings.HasPrefix(low, "permission to access jira") && !hasAdmin {
		return catalog.PermOther, "jira-access"
	}
	otherNames := anyName(func(n string) bool {
		return !strings.HasPrefix(n, "administer jira") && !strings.HasPrefix(n, "administer project") &&
			!strings.HasPrefix(n, "browse project") && n != "none"
	})
	alternatives := has(" or ") || has("one of") || has("either")
	if hasBrowse && alternatives && (hasAdmin || hasPAdmin) && !otherNames {
		// "Browse Projects or Administer Projects … or Administer Jira": Browse alone suffices.
		return catalog.PermProjectBrowse, "project-browse-or-admin"
	}
	if hasAdmin && hasPAdmin {
		return catalog.PermAdminOrProjectAdmin, "admin-or-project-admin"
	}
	if has("organization admin") || has("site-admin") && !hasAdmin {
		return catalog.PermOther, "site-admin"
	}
	if hasAdmin && !hasBrowse && !jiraAccess && !otherNames && !has("otherwise none") && !has("creator") && !has(" own") {
		return catalog.PermAdmin, "admin"
	}
	if hasAdmin {
		switch {
		case jiraAccess || has("otherwise none"):
			return catalog.PermOther, "admin-or-self"
		case has("creator") || has(" own"):
			return catalog.PermOther, "admin-or-owner"
		case hasBrowse:
			return catalog.PermOther, "admin-and-project-browse"
		}
		return catalog.PermOther, "admin-or-other"
	}
	if hasPAdmin {
		return catalog.PermOther, "project-admin"
	}
	if hasBrowse && !otherNames {
		return catalog.PermProjectBrowse, "project-browse"
	}
	if hasBrowse {
		return catalog.PermOther, "project-permissions"
	}
	if has("site-admin") || has("site administration") {
		return catalog.PermOther, "site-admin"
	}
	if strings.HasPrefix(low, "only") && strings.Contains(firstRunes(low, 80), "app") {
		return catalog.PermOther, "app-only"
	}
	if slices.Contains(lnames, "browse users and groups") || has("browse users and groups") {
		return catalog.PermOther, "browse-users"
	}
	if has("bulk change") {
		return catalog.PermOther, "bulk-change"
	}
	if jiraAccess {
		return catalog.PermOther, "jira-access"
	}
	if otherNames {
		return catalog.PermOther, "project-permissions"
	}
	return catalog.PermOther, "other"
}

func firstRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// ReadFiles imports each "PATH[:API]" argument (API "platform" or
// "software"; guessed when absent) and returns the operations of all of
// them, sorted, with one Source per file. A method and path present in two
// files is an error.
func ReadFiles(args []string) ([]catalog.Operation, []catalog.Source, error) {
	var all []catalog.Operation
	var sources []catalog.Source
	for _, arg := range args {
		path, api := splitArg(arg)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		ops, src, err := Parse(data, api)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		src.File = filepath.Base(path)
		all = append(all, ops...)
		sources = append(sources, src)
	}
	catalog.SortOperations(all)
	seen := make(map[string]bool, len(all))
	for _, op := range all {
		key := op.Method + " " + op.Path
		if seen[key] {
			return nil, nil, fmt.Errorf("%w: %s appears in two specs", ErrNotSpec, key)
		}
		seen[key] = true
	}
	return all, sources, nil
}

// splitArg splits "file.json:software"; a suffix that is not an API label
// (e.g. a Windows drive letter's colon) stays part of the path.
func splitArg(arg string) (path, api string) {
	i := strings.LastIndexByte(arg, ':')
	if i < 0 {
		return arg, ""
	}
	switch normaliseAPI(arg[i+1:]) {
	case catalog.APIPlatform, catalog.APISoftware:
		return arg[:i], arg[i+1:]
	}
	return arg, ""
}
