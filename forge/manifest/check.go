package manifest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	keyRE        = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	connectKeyRE = regexp.MustCompile(`^[a-zA-Z0-9-._]+$`)
	// regionKeys are the allowed keys of a region-map baseUrl.
	regionKeys = []string{"EU", "US", "AU", "DE", "SG", "CA", "IN", "KR", "JP", "GB", "CH", "default"}
	topLevel   = []string{"app", "modules", "connectModules", "resources", "remotes", "permissions", "providers", "environment", "translations", "services", "overrides"}
	// envVarRE finds manifest environment variable references, ${NAME}.
	envVarRE   = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)
	operations = []string{"storage", "compute", "fetch", "other"}
	intervals  = []string{"fiveMinute", "hour", "day", "week"}
)

// Severity of a Problem.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Problem is one finding of Check. Callers act on the structured fields
// (Code, Path, Module, Operation, Scopes); Message and Fix are for people.
type Problem struct {
	Line     int    // 1-based line in the manifest, 0 if unknown
	Path     string // e.g. modules.endpoint[1].auth
	Code     string // stable, e.g. trigger_user_token
	Message  string
	Fix      string
	Severity Severity
	// Module is the module type the problem is in ("endpoint",
	// "jira:webhooks"), empty outside modules and connectModules.
	Module string
	// Operation is "METHOD PATH" of the Jira operation an
	// operation_not_covered / operation_not_oauth problem is about.
	Operation string
	// Scopes are the scopes whose addition fixes the problem, when known.
	Scopes []string
}

func (p Problem) String() string { return p.Format("manifest.yml") }

// Format renders p as "FILE:LINE: CODE: message (fix: …)", with "warning: "
// before the message of a warning.
func (p Problem) Format(file string) string {
	sev := ""
	if p.Severity != Error {
		sev = string(p.Severity) + ": "
	}
	return fmt.Sprintf("%s:%d: %s: %s%s (fix: %s)", file, p.Line, p.Code, sev, p.Message, p.Fix)
}

// Operation is a Jira REST operation the app calls, with the OAuth 2.0
// scopes that authorise it (one classic set or one granular set, each
// all-of; from the endpoint catalog).
type Operation struct {
	Method, Path  string
	OAuthClassic  []string
	OAuthGranular []string
	ConnectScope  string
}

// Options tune Check.
type Options struct {
	// Operations the app calls on the Forge path; each must be covered by
	// permissions.scopes.
	Operations []Operation
	// KnownScopes are accepted in addition to the built-in scope list.
	KnownScopes []string
	// ExtraConnectModules are accepted in addition to the connectModules
	// names of data/forge-schema.json (generated from @forge/manifest).
	ExtraConnectModules []string
	// Dir is the directory holding the manifest. When set, resources
	// paths are checked on disk as @forge/manifest does (the directory
	// exists, is not empty, and a Custom UI resource has index.html).
	Dir string
}

type checker struct {
	root     *yaml.Node
	envVars  map[string]*yaml.Node // declared environment.variables: name → default (nil: none)
	opts     Options
	problems []Problem
	remotes  map[string]*yaml.Node // key → remote mapping
	endpts   map[string]*yaml.Node // key → endpoint mapping
	scopes   []string
}

// Check validates manifest YAML offline. It never fails: unparseable input
// is reported as a Problem.
func Check(src []byte, opts Options) []Problem {
	c := &checker{opts: opts, remotes: map[string]*yaml.Node{}, endpts: map[string]*yaml.Node{}, envVars: map[string]*yaml.Node{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line := 0
		fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &line)
		c.add(nil, line, "", "yaml_syntax", err.Error(), "Fix the YAML syntax (indentation, quoting).")
		return c.problems
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		c.add(nil, 1, "", "not_a_mapping", "the manifest is not a YAML mapping", "Start from `connect-doctor manifest`.")
		return c.problems
	}
	c.root = doc.Content[0]
	c.run()
	slices.SortStableFunc(c.problems, func(a, b Problem) int { return a.Line - b.Line })
	return c.problems
}

func (c *checker) add(n *yaml.Node, line int, path, code, msg, fix string) {
	c.addSev(Error, n, line, path, code, msg, fix)
}

func (c *checker) addSev(sev Severity, n *yaml.Node, line int, path, code, msg, fix string) {
	if n != nil {
		line = n.Line
	}
	c.problems = append(c.problems, Problem{Line: line, Path: path, Code: code, Message: msg, Fix: fix, Severity: sev, Module: moduleOf(path)})
}

// moduleOf returns the module type a problem path points into.
func moduleOf(path string) string {
	for _, top := range []string{"modules.", "connectModules."} {
		if rest, ok := strings.CutPrefix(path, top); ok {
			if i := strings.IndexAny(rest, "[."); i >= 0 {
				rest = rest[:i]
			}
			return rest
		}
	}
	return ""
}

// get returns the value node of key in mapping m, and the key node.
func get(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1], m.Content[i]
		}
	}
	return nil, nil
}

func str(m *yaml.Node, key string) string {
	v, _ := get(m, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

func enabled(m *yaml.Node, path ...string) bool {
	n := m
	for _, p := range path {
		n, _ = get(n, p)
	}
	return n != nil && n.Kind == yaml.ScalarNode && n.Value == "true"
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func (c *checker) run() {
	for i := 0; i+1 < len(c.root.Content); i += 2 {
		k := c.root.Content[i]
		if !slices.Contains(topLevel, k.Value) {
			fix := "Remove it."
			if k.Value == "apiMigrations" {
				fix = "Remove apiMigrations: Forge refuses it; signed-install and context-qsh are mandatory for Connect apps anyway."
			}
			c.add(k, 0, k.Value, "unknown_top_level", fmt.Sprintf("document should NOT have additional property '%s'", k.Value), fix)
		}
	}
	c.checkEnvironment()
	c.checkScopes()
	c.checkRemotes()
	c.checkApp()
	c.checkModules()
	c.checkConnectModules()
	c.checkOperations()
	c.checkResources()
}

func (c *checker) checkApp() {
	app, appKey := get(c.root, "app")
	if app == nil {
		c.add(nil, 1, "app", "app_missing", "no app section", "Add app.id (from `forge register`) and app.runtime.")
		return
	}
	id, idNode := get(app, "id")
	switch {
	case id == nil:
		c.add(appKey, 0, "app.id", "app_id_missing", "app.id is missing", "Run `forge register` and put the app ARI in app.id.")
	case id.Value == PlaceholderAppID:
		c.addSev(Warning, id, 0, "app.id", "app_id_placeholder", "app.id is the converter's placeholder", "Run `forge register` and put the printed app ARI in app.id and FORGE_APP_ID.")
	case !strings.HasPrefix(id.Value, "ari:cloud:ecosystem::app/") || !uuidRE.MatchString(strings.TrimPrefix(id.Value, "ari:cloud:ecosystem::app/")):
		_ = idNode
		c.add(id, 0, "app.id", "app_id_format", fmt.Sprintf("app.id %q is not ari:cloud:ecosystem::app/<uuid>", id.Value), "Use the ARI `forge register` printed, not a bare UUID or an app key.")
	}
	conn, connKey := get(app, "connect")
	_, cmKey := get(c.root, "connectModules")
	if conn == nil {
		if cmKey != nil {
			c.add(cmKey, 0, "connectModules", "connect_remote_missing", "missing app.connect.remote. app.connect.remote is required if connectModules are present.", "Add app.connect with key and remote.")
		}
		return
	}
	for i := 0; i+1 < len(conn.Content); i += 2 {
		k := conn.Content[i]
		if !slices.Contains([]string{"key", "remote", "authentication"}, k.Value) {
			c.add(k, 0, "app.connect."+k.Value, "connect_unknown_property", fmt.Sprintf("app property connect should NOT have additional property '%s'", k.Value), "Remove it; Forge refuses it (apiMigrations behaviour is mandatory anyway).")
		}
	}
	key := str(conn, "key")
	kn, _ := get(conn, "key")
	switch {
	case kn == nil:
		c.add(connKey, 0, "app.connect.key", "connect_key_missing", "app.connect.key is required", "Set it to the Connect descriptor's key.")
	case envVarRE.MatchString(key):
		// Declared variables are checked by checkEnvironment; a default
		// is what Forge substitutes when the shell does not set it.
		if m := envVarRE.FindStringSubmatch(key); c.envVars[m[1]] != nil {
			if k := envVarRE.ReplaceAllString(key, c.envVars[m[1]].Value); len(k) < 1 || len(k) > 90 || !connectKeyRE.MatchString(k) {
				c.add(c.envVars[m[1]], 0, "environment.variables", "connect_key_format", fmt.Sprintf("app.connect.key would become %q, which is not 1-90 characters of %s", k, connectKeyRE), "Make the default the descriptor key.")
			}
		}
	case len(key) < 1 || len(key) > 90 || !connectKeyRE.MatchString(key):
		c.add(kn, 0, "app.connect.key", "connect_key_format", fmt.Sprintf("app.connect.key %q must be 1-90 characters of %s", key, connectKeyRE), "Use the descriptor key exactly.")
	}
	rn, _ := get(conn, "remote")
	switch {
	case rn == nil && cmKey != nil:
		c.add(connKey, 0, "app.connect.remote", "connect_remote_missing", "missing app.connect.remote. app.connect.remote is required if connectModules are present.", "Add remote: <key of the remotes entry serving the descriptor's baseUrl>.")
	case rn == nil && len(c.remotes) > 0:
		c.addSev(Warning, connKey, 0, "app.connect.remote", "connect_remote_unset", "Previous connect region will not be persisted on connect to forge upgrades if connect.remote is not defined.", "Add app.connect.remote.")
	case rn != nil:
		r := c.remotes[rn.Value]
		if r == nil {
			c.add(rn, 0, "app.connect.remote", "connect_remote_unresolved", fmt.Sprintf("no remote found with key '%s' matching app.connect.remote value.", rn.Value), "Name an entry of remotes.")
		} else if enabled(r, "configurable") {
			c.add(rn, 0, "app.connect.remote", "connect_remote_configurable", "Connect remotes cannot be configurable", "Remove configurable from that remote.")
		}
	}
	if an, _ := get(conn, "authentication"); an != nil {
		if an.Value != "jwt" {
			c.add(an, 0, "app.connect.authentication", "connect_authentication", fmt.Sprintf("app connect property authentication '%s' allowed values are 'jwt'", an.Value), "Use authentication: jwt (oauth2 was removed).")
		}
		if cmKey == nil {
			c.add(an, 0, "app.connect.authentication", "connect_authentication_without_modules", "Missing connectModules. When app.connect.authentication is present, connectModules is required.", "Remove authentication, or add the Connect lifecycle in connectModules.")
		}
	}
}

func (c *checker) checkRemotes() {
	rs, _ := get(c.root, "remotes")
	for i, r := range items(rs) {
		p := fmt.Sprintf("remotes[%d]", i)
		key := str(r, "key")
		kn, _ := get(r, "key")
		c.checkKey(kn, r, p, key, 23)
		if _, dup := c.remotes[key]; dup && key != "" {
			c.add(kn, 0, p+".key", "duplicate_key", fmt.Sprintf("remote key %q is used twice", key), "Give each remote a unique key.")
		}
		c.remotes[key] = r
		bu, buKey := get(r, "baseUrl")
		switch {
		case bu == nil && !enabled(r, "configurable"):
			c.add(r, 0, p+".baseUrl", "remote_base_url_missing", "baseUrl is required unless the remote is configurable", "Set baseUrl to the backend's public https BASE_URL.")
		case bu != nil && bu.Kind == yaml.ScalarNode:
			c.checkHTTPS(bu, p+".baseUrl")
		case bu != nil && bu.Kind == yaml.MappingNode:
			if d, _ := get(bu, "default"); d == nil {
				c.add(buKey, 0, p+".baseUrl", "remote_region_default", "a region map baseUrl needs a default", "Add default: <BASE_URL>.")
			}
			for j := 0; j+1 < len(bu.Content); j += 2 {
				if !slices.Contains(regionKeys, bu.Content[j].Value) {
					c.add(bu.Content[j], 0, p+".baseUrl."+bu.Content[j].Value, "remote_region_unknown", fmt.Sprintf("region %q is not one of %v", bu.Content[j].Value, regionKeys), "Use a listed region key.")
				}
				c.checkHTTPS(bu.Content[j+1], p+".baseUrl."+bu.Content[j].Value)
			}
		}
		ops, opsKey := get(r, "operations")
		if ops == nil {
			c.addSev(Warning, kn, 0, p+".operations", "remote_operations_missing", "without operations Forge assumes the remote stores in-scope End-User Data", "Declare operations, e.g. [compute, storage], and storage.inScopeEUD.")
		}
		hasStorage := false
		for _, o := range items(ops) {
			if !slices.Contains(operations, o.Value) {
				c.add(o, 0, p+".operations", "remote_operation_unknown", fmt.Sprintf("operation %q is not one of %v", o.Value, operations), "Use storage, compute, fetch or other.")
			}
			hasStorage = hasStorage || o.Value == "storage"
		}
		if hasStorage {
			if st, _ := get(r, "storage"); st == nil || func() bool { n, _ := get(st, "inScopeEUD"); return n == nil }() {
				c.add(opsKey, 0, p+".storage.inScopeEUD", "remote_in_scope_eud", "storage.inScopeEUD is required when operations contains storage", "Add storage: { inScopeEUD: true } (or false if no End-User Data is stored).")
			}
		}
	}
}

func (c *checker) checkHTTPS(n *yaml.Node, path string) {
	u, err := url.Parse(n.Value)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		c.add(n, 0, path, "remote_base_url_https", fmt.Sprintf("%q is not an absolute https URL", n.Value), "Use the backend's public https URL (BASE_URL).")
	}
}

func (c *checker) checkKey(kn, parent *yaml.Node, path, key string, max int) {
	switch {
	case kn == nil:
		c.add(parent, 0, path+".key", "key_missing", "key is required", "Add a key matching ^[a-zA-Z0-9_-]+$.")
	case !keyRE.MatchString(key):
		c.add(kn, 0, path+".key", "key_format", fmt.Sprintf("key %q must match ^[a-zA-Z0-9_-]+$", key), "Use letters, digits, _ and - only.")
	case max > 0 && len(key) > max:
		c.add(kn, 0, path+".key", "key_length", fmt.Sprintf("key %q has %d characters; at most %d are allowed", key, len(key), max), "Shorten the key.")
	}
}

func (c *checker) checkScopes() {
	perms, _ := get(c.root, "permissions")
	sc, _ := get(perms, "scopes")
	for i, s := range items(sc) {
		c.scopes = append(c.scopes, s.Value)
		if !scopeKnown(s.Value, c.opts.KnownScopes) {
			fix := "Use an OAuth 2.0 scope such as read:jira-work, or a Connect spelling such as read:connect-jira."
			if _, err := parseConnectUpper(s.Value); err == nil {
				fix = fmt.Sprintf("Write %s (Connect spelling) and its OAuth 2.0 equivalents %v.", ConnectScopeSpelling(s.Value, "jira"), OAuthScopesFor([]string{s.Value}))
			}
			c.add(s, 0, fmt.Sprintf("permissions.scopes[%d]", i), "unknown_scope",
				fmt.Sprintf("Invalid 'scopes' permission in the manifest.yml file - '%s'.", s.Value), fix)
		}
	}
}

func parseConnectUpper(s string) (string, error) {
	n := normConnect(s)
	if slices.Contains(connectChain, n) || n == "ACT_AS_USER" || n == "ACCESS_EMAIL_ADDRESSES" {
		return n, nil
	}
	return "", fmt.Errorf("not a Connect scope")
}

func (c *checker) checkModules() {
	mods, _ := get(c.root, "modules")
	if mods == nil {
		return
	}
	keys := map[string]bool{}
	// endpoints first so references resolve regardless of order.
	eps, _ := get(mods, "endpoint")
	for i, e := range items(eps) {
		key := str(e, "key")
		if key != "" {
			c.endpts[key] = e
		}
		p := fmt.Sprintf("modules.endpoint[%d]", i)
		kn, _ := get(e, "key")
		c.checkKey(kn, e, p, key, 23)
		remote, rn := get(e, "remote")
		svc, _ := get(e, "service")
		switch {
		case remote == nil && svc == nil:
			c.add(e, 0, p+".remote", "endpoint_remote_missing", "an endpoint needs remote (or service)", "Add remote: <key of a remotes entry>.")
		case remote != nil && c.remotes[remote.Value] == nil:
			_ = rn
			c.add(remote, 0, p+".remote", "endpoint_remote_unresolved", fmt.Sprintf("remote %q is not declared in remotes", remote.Value), "Declare it under remotes or fix the key.")
		}
		auth, _ := get(e, "auth")
		for j := 0; auth != nil && j+1 < len(auth.Content); j += 2 {
			if k := auth.Content[j].Value; k != "appUserToken" && k != "appSystemToken" {
				c.add(auth.Content[j], 0, p+".auth."+k, "endpoint_auth_unknown", fmt.Sprintf("auth.%s is not appUserToken or appSystemToken", k), "Remove it.")
			}
		}
	}
	type tokenUse struct{ sys, usr bool }
	var use tokenUse
	for _, e := range c.endpts {
		use.sys = use.sys || enabled(e, "auth", "appSystemToken", "enabled")
		use.usr = use.usr || enabled(e, "auth", "appUserToken", "enabled")
	}
	for _, r := range c.remotes {
		use.sys = use.sys || enabled(r, "auth", "appSystemToken", "enabled")
		use.usr = use.usr || enabled(r, "auth", "appUserToken", "enabled")
	}
	perms, permsKey := get(c.root, "permissions")
	anchor := permsKey
	if anchor == nil {
		anchor = perms
	}
	if use.sys && !slices.Contains(c.scopes, ScopeSystemToken) {
		c.add(anchor, 1, "permissions.scopes", "token_scope_missing", "an endpoint enables appSystemToken but read:app-system-token is not declared", "Add read:app-system-token to permissions.scopes.")
	}
	if use.usr && !slices.Contains(c.scopes, ScopeUserToken) {
		c.add(anchor, 1, "permissions.scopes", "token_scope_missing", "an endpoint enables appUserToken but read:app-user-token is not declared", "Add read:app-user-token to permissions.scopes.")
	}
	if use.sys || use.usr {
		var product, oauth []string
		for _, s := range c.scopes {
			if isProductScope(s) {
				product = append(product, s)
				if !IsConnectScope(s) {
					oauth = append(oauth, s)
				}
			}
		}
		if len(product) == 0 {
			c.add(anchor, 1, "permissions.scopes", "oauth_without_product_scope", "Missing app scopes. If OAuth tokens are required, add valid scopes in addition to OAuth token config scopes (see https://go.atlassian.com/forgescopes). Otherwise, remove OAuth token config.", "Add the product scopes the app needs, e.g. read:jira-work.")
		} else if len(oauth) == 0 {
			c.add(anchor, 1, "permissions.scopes", "connect_scopes_only_on_forge_path", "the Forge tokens would carry only Connect scopes, which authorise the Connect JWT path only; calls with them get 401 \"Unauthorized; scope does not match\"", fmt.Sprintf("Add the OAuth 2.0 equivalents: %v.", OAuthScopesFor(connectUpper(product))))
		}
	}
	_, cmKey := get(c.root, "connectModules")
	conn, _ := get(get1(c.root, "app"), "connect")
	if cmKey == nil && conn == nil {
		for i, s := range c.scopes {
			if IsConnectScope(s) {
				sc, _ := get(perms, "scopes")
				c.add(sc.Content[i], 0, fmt.Sprintf("permissions.scopes[%d]", i), "connect_scope_on_forge_only",
					fmt.Sprintf("%s is a Connect scope, but this manifest has no Connect modules: it authorises nothing on the Forge path", s),
					fmt.Sprintf("Replace it with %v.", OAuthScopesFor(connectUpper([]string{s}))))
			}
		}
	}

	for i := 0; i+1 < len(mods.Content); i += 2 {
		mk, mv := mods.Content[i], mods.Content[i+1]
		name := mk.Value
		if name == "core:connectToForgeMigration" {
			c.add(mk, 0, "modules."+name, "module_name", "invalid value 'core:connectToForgeMigration' in modules", "Spell it connectToForgeMigration.")
		}
		if mv.Kind != yaml.SequenceNode {
			c.add(mk, 0, "modules."+name, "module_not_list", "module entries must be a list", "Write each module as a list item (- key: …).")
			continue
		}
		for j, it := range mv.Content {
			p := fmt.Sprintf("modules.%s[%d]", name, j)
			key := str(it, "key")
			kn, _ := get(it, "key")
			if name != "endpoint" {
				c.checkKey(kn, it, p, key, 0)
			}
			if key != "" && keys[key] {
				c.add(kn, 0, p+".key", "duplicate_key", fmt.Sprintf("module key %q is used twice", key), "Module keys must be unique across modules.")
			}
			keys[key] = true
			if r, _ := get(it, "resolver"); r != nil {
				if ep, _ := get(r, "endpoint"); ep != nil && c.endpts[ep.Value] == nil {
					c.add(ep, 0, p+".resolver.endpoint", "endpoint_unresolved", fmt.Sprintf("endpoint %q is not declared in modules.endpoint", ep.Value), "Declare the endpoint or fix the key.")
				}
			}
			switch name {
			case "trigger", "scheduledTrigger", "preUninstall":
				c.checkTrigger(name, it, p)
			case "jira:globalPermission", "jira:projectPermission":
				req := []string{"name", "description"}
				if name == "jira:globalPermission" {
					req = append(req, "anonymousAllowed")
				}
				for _, f := range req {
					if v, _ := get(it, f); v == nil {
						c.add(it, 0, p+"."+f, "module_required_property", fmt.Sprintf("%s must have required property '%s'", name, f),
							map[string]string{"name": "Add name: <permission name>.", "description": "Add description: <what the permission allows>.",
								"anonymousAllowed": "Add anonymousAllowed: false (Connect's default)."}[f])
					}
				}
			case "connectToForgeMigration":
				u := str(it, "migrationGuideUrl")
				un, _ := get(it, "migrationGuideUrl")
				if !strings.HasPrefix(u, "https://") || len(u) > 2048 {
					c.add(orNode(un, it), 0, p+".migrationGuideUrl", "migration_guide_url", "migrationGuideUrl must start with https:// and have at most 2048 characters", "Link the https page that explains the migration.")
				}
				if w := str(it, "willMigrateToForgeBeforeEOS"); !slices.Contains([]string{"YES", "NO", "UNDECIDED"}, w) {
					c.add(it, 0, p+".willMigrateToForgeBeforeEOS", "migration_answer", fmt.Sprintf("willMigrateToForgeBeforeEOS %q is not YES, NO or UNDECIDED", w), "Answer YES, NO or UNDECIDED.")
				}
			}
		}
	}
}

func get1(m *yaml.Node, key string) *yaml.Node { v, _ := get(m, key); return v }

func orNode(a, b *yaml.Node) *yaml.Node {
	if a != nil {
		return a
	}
	return b
}

func connectUpper(ss []string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, strings.ToUpper(strings.ReplaceAll(strings.SplitN(s, ":", 2)[0], "-", "_")))
	}
	return out
}

func (c *checker) checkTrigger(name string, it *yaml.Node, p string) {
	ep, _ := get(it, "endpoint")
	if ep == nil {
		if fn, _ := get(it, "function"); fn == nil {
			c.add(it, 0, p+".endpoint", "trigger_target_missing", "a trigger needs endpoint (or function)", "Add endpoint: <key of a trigger endpoint>.")
		}
	} else if e := c.endpts[ep.Value]; e == nil {
		c.add(ep, 0, p+".endpoint", "endpoint_unresolved", fmt.Sprintf("endpoint %q is not declared in modules.endpoint", ep.Value), "Declare the endpoint or fix the key.")
	} else {
		if enabled(e, "auth", "appUserToken", "enabled") {
			c.add(ep, 0, p+".endpoint", "trigger_user_token", fmt.Sprintf("Trigger module: '%s' using remote endpoint: '%s' only supports appSystemToken. Update appUserToken to false.", str(it, "key"), ep.Value), "Use a separate endpoint for triggers with only appSystemToken enabled.")
		}
		if rt, _ := get(e, "route"); str(rt, "path") == "" {
			c.add(ep, 0, p+".endpoint", "trigger_route_missing", fmt.Sprintf("endpoint %q has no route.path; trigger endpoints need one", ep.Value), "Add route: { path: /forge/lifecycle } (or the matching route) to the endpoint.")
		}
	}
	switch name {
	case "trigger":
		if ev, _ := get(it, "events"); len(items(ev)) == 0 {
			c.add(it, 0, p+".events", "trigger_events_missing", "a trigger needs at least one event", "List events, e.g. avi:forge:installed:app.")
		}
	case "scheduledTrigger":
		if iv := str(it, "interval"); !slices.Contains(intervals, iv) {
			c.add(it, 0, p+".interval", "scheduled_interval", fmt.Sprintf("interval %q is not one of %v", iv, intervals), "Use interval: hour for token refresh.")
		}
	}
}

func (c *checker) checkConnectModules() {
	cm, _ := get(c.root, "connectModules")
	if cm == nil {
		return
	}
	schema := &mustTables().Schema
	keys := map[string]bool{}
	lifecycles := 0
	for i := 0; i+1 < len(cm.Content); i += 2 {
		mk, mv := cm.Content[i], cm.Content[i+1]
		product, name, ok := strings.Cut(mk.Value, ":")
		if !ok || !(schema.Supports(product, name) || slices.Contains(c.opts.ExtraConnectModules, name)) {
			fix := "Use jira:<descriptor module name>, e.g. jira:adminPages."
			if name == "apiMigrations" {
				fix = "Remove it: Forge refuses apiMigrations."
			}
			c.add(mk, 0, "connectModules."+mk.Value, "connect_module_unsupported", fmt.Sprintf("invalid value '%s' in connectModules", mk.Value), fix)
		}
		if mv.Kind != yaml.SequenceNode {
			c.add(mk, 0, "connectModules."+mk.Value, "module_not_list", "connectModules values must be lists", "Wrap the module in a list (- key: …).")
			continue
		}
		if name == "lifecycle" {
			lifecycles++
			if len(mv.Content) != 1 {
				c.add(mk, 0, "connectModules."+mk.Value, "lifecycle_count", fmt.Sprintf("'%s' should contain only one element", mk.Value), "Keep a single lifecycle entry holding installed, uninstalled, enabled and disabled.")
			}
		}
		for j, it := range mv.Content {
			p := fmt.Sprintf("connectModules.%s[%d]", mk.Value, j)
			key := str(it, "key")
			kn, _ := get(it, "key")
			c.checkKey(kn, it, p, key, 0)
			if key != "" && keys[key] {
				c.add(kn, 0, p+".key", "duplicate_key", fmt.Sprintf("connect module key %q is used twice", key), "Make keys unique.")
			}
			keys[key] = true
			// Bodies: what @forge/manifest does not check.
			switch name {
			case "adminPages", "generalPages", "configurePage", "postInstallPage", "webhooks", "jiraIssueTabPanels", "jiraProjectPages":
				if str(it, "url") == "" {
					c.add(it, 0, p+".url", "connect_module_url", "this Connect module needs a url", "Add url: /path relative to the Connect remote.")
				}
			}
			if name == "webhooks" && str(it, "event") == "" {
				c.add(it, 0, p+".event", "connect_webhook_event", "a webhook needs an event", "Add event, e.g. jira:issue_updated.")
			}
		}
	}
	if lifecycles > 1 {
		c.add(cm, 0, "connectModules", "lifecycle_count", "more than one lifecycle module", "Keep one <product>:lifecycle.")
	}
}

func (c *checker) checkOperations() {
	if len(c.opts.Operations) == 0 {
		return
	}
	perms, permsKey := get(c.root, "permissions")
	anchor := orNode(permsKey, perms)
	for _, op := range c.opts.Operations {
		name := op.Method + " " + op.Path
		if len(op.OAuthClassic) == 0 && len(op.OAuthGranular) == 0 {
			c.add(anchor, 1, "permissions.scopes", "operation_not_oauth", name+" has no OAuth 2.0 scope: Forge tokens cannot call it", "Call it through Connect (until end of support) or use another operation.")
			c.problems[len(c.problems)-1].Operation = name
			continue
		}
		missC, missG := missing(op.OAuthClassic, c.scopes), missing(op.OAuthGranular, c.scopes)
		if (len(op.OAuthClassic) > 0 && len(missC) == 0) || (len(op.OAuthGranular) > 0 && len(missG) == 0) {
			continue
		}
		add := missC
		if len(op.OAuthClassic) == 0 || (len(op.OAuthGranular) > 0 && len(missG) < len(missC)) {
			add = missG
		}
		c.add(anchor, 1, "permissions.scopes", "operation_not_covered",
			fmt.Sprintf("%s needs %v (classic) or %v (granular, all of them); the manifest has neither set", name, op.OAuthClassic, op.OAuthGranular),
			fmt.Sprintf("Add %s to permissions.scopes (a major upgrade).", strings.Join(add, ", ")))
		c.problems[len(c.problems)-1].Operation = name
		c.problems[len(c.problems)-1].Scopes = add
	}
}

func missing(need, have []string) []string {
	var out []string
	for _, n := range need {
		if !slices.Contains(have, n) {
			out = append(out, n)
		}
	}
	return out
}

// checkEnvironment reads environment.variables and checks every ${NAME}
// reference against it: Forge substitutes only declared variables (from the
// shell running forge, else the declared default), so an undeclared one stays
// literal and fails whatever pattern the field has.
func (c *checker) checkEnvironment() {
	env, _ := get(c.root, "environment")
	vars, _ := get(env, "variables")
	for i, v := range items(vars) {
		p := fmt.Sprintf("environment.variables[%d]", i)
		switch v.Kind {
		case yaml.ScalarNode:
			c.envVars[v.Value] = nil
		case yaml.MappingNode:
			k, d := str(v, "key"), get1(v, "default")
			if k == "" || d == nil {
				c.add(v, 0, p, "env_var_format", "an environment variable object needs key and default", "Write - key: NAME with default: VALUE, or just - NAME.")
				continue
			}
			c.envVars[k] = d
		}
	}
	declared := func(name string) (*yaml.Node, bool) { d, ok := c.envVars[name]; return d, ok }
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if path == "" && n.Content[i].Value == "environment" {
					continue
				}
				walk(n.Content[i+1], strings.TrimPrefix(path+"."+n.Content[i].Value, "."))
			}
		case yaml.SequenceNode:
			for i, it := range n.Content {
				walk(it, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.ScalarNode:
			for _, m := range envVarRE.FindAllStringSubmatch(n.Value, -1) {
				d, ok := declared(m[1])
				switch {
				case !ok:
					c.add(n, 0, path, "env_var_undeclared", fmt.Sprintf("${%s} is not declared in environment.variables, so Forge leaves it unreplaced", m[1]),
						fmt.Sprintf("Add environment: { variables: [ { key: %s, default: <value> } ] }.", m[1]))
				case d == nil:
					c.addSev(Warning, n, 0, path, "env_var_no_default", fmt.Sprintf("${%s} has no default: forge deploy and forge lint fail unless %s is set in their shell", m[1], m[1]),
						fmt.Sprintf("Declare it as - key: %s with default: <production value>.", m[1]))
				}
			}
		}
	}
	walk(c.root, "")
}

// checkResources checks resources[].path on disk relative to Options.Dir,
// as @forge/manifest does: the path exists and is not empty, and a Custom UI
// resource (a directory a module references without an entry) holds
// index.html.
func (c *checker) checkResources() {
	if c.opts.Dir == "" {
		return
	}
	rs, _ := get(c.root, "resources")
	for i, r := range items(rs) {
		p := fmt.Sprintf("resources[%d].path", i)
		pn, _ := get(r, "path")
		if pn == nil || pn.Value == "" {
			c.add(r, 0, p, "resource_path_missing", "a resource needs a path", "Add path: <directory of the built bundle>.")
			continue
		}
		dir := filepath.Join(c.opts.Dir, filepath.FromSlash(pn.Value))
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			c.add(pn, 0, p, "resource_missing", fmt.Sprintf("missing resource '%s' is being referenced by '%s' in resources", pn.Value, str(r, "key")),
				fmt.Sprintf("Build the Custom UI bundle into %s (next to manifest.yml) before forge deploy, or fix the path.", pn.Value))
		case fi.IsDir():
			entries, _ := os.ReadDir(dir)
			if len(entries) == 0 {
				c.add(pn, 0, p, "resource_empty", fmt.Sprintf("resource directory '%s' is empty", pn.Value), "Build the bundle into it.")
			} else if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil && str(r, "entry") == "" && !c.nativeResource(str(r, "key")) {
				c.add(pn, 0, p, "resource_entrypoint_missing", fmt.Sprintf("Custom UI resource '%s' has no index.html", pn.Value), "Build the bundle so that index.html is at the top of the directory.")
			}
		}
	}
}

// nativeResource reports whether a UI Kit module (render: native) uses the
// resource, which then needs no index.html.
func (c *checker) nativeResource(key string) bool {
	mods, _ := get(c.root, "modules")
	for i := 0; mods != nil && i+1 < len(mods.Content); i += 2 {
		for _, it := range items(mods.Content[i+1]) {
			if str(it, "resource") == key && str(it, "render") == "native" {
				return true
			}
		}
	}
	return false
}
