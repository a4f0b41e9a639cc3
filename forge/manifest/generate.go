package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mode selects what kind of manifest Generate writes.
type Mode string

const (
	// ModeForge writes Forge modules and a Forge Remote only. It is the
	// only mode a new app may use.
	ModeForge Mode = "forge"
	// ModeConnectOnForge writes Connect modules inside a Forge manifest.
	// Only for existing Marketplace Connect apps, as a bridge until
	// Connect's end of support (2027-01-31).
	ModeConnectOnForge Mode = "connect-on-forge"
)

// PlaceholderAppID is what the official converter writes before
// `forge register` assigns a real id.
const PlaceholderAppID = "ari:cloud:ecosystem::app/invalid-run-forge-register"

// Routes are the backend's Forge routes (issue 8's interface).
type Routes struct {
	Lifecycle    string // default /forge/lifecycle
	Scheduled    string // default /forge/scheduled
	PreUninstall string // default /forge/pre-uninstall
	API          string // default /forge/api (the admin panel's API prefix)
}

// Input is what Generate needs. Zero fields take defaults; fields left empty
// are read from Descriptor where it has them.
type Input struct {
	Mode Mode
	// AppID is app.id: an ARI or a bare UUID; empty writes
	// PlaceholderAppID (run `forge register`).
	AppID string
	// AppKey is the Connect descriptor key (app.connect.key in
	// connect-on-forge mode). ConnectKeyVariable writes "${CONNECT_KEY}"
	// instead, so non-production environments can use another key.
	AppKey             string
	ConnectKeyVariable bool
	Name               string // admin page title; default descriptor name, else "Connect Doctor"
	BaseURL            string // the remote's baseUrl (BASE_URL); default descriptor baseUrl
	// Descriptor is atlassian-connect.json (optional in forge mode).
	Descriptor []byte
	// ConnectScopes are the app's declared Connect scopes (default: the
	// descriptor's "scopes").
	ConnectScopes []string
	// ExtraScopes are further OAuth 2.0 scopes, e.g. from the scope
	// advisor for the operations the app calls.
	ExtraScopes []string
	RemoteKey   string // default "doctor" (forge) / "connect" (connect-on-forge)
	Runtime     string // default nodejs22.x
	Routes      Routes
	// StoresNoEUD declares storage.inScopeEUD: false (default: the
	// remote stores in-scope End-User Data, which is true of Connect
	// Doctor's tenant store).
	StoresNoEUD bool
	// ScheduledInterval of the token-refresh trigger; default "hour".
	ScheduledInterval string
	// OmitPreUninstall leaves out the preUninstall module.
	OmitPreUninstall bool
	// ResourcePath is the Custom UI bundle; default static/admin.
	ResourcePath string
	// MigrationGuideURL and WillMigrate fill connectToForgeMigration
	// (connect-on-forge); defaults <BaseURL>/forge-migration and YES.
	MigrationGuideURL string
	WillMigrate       string
}

// Result is a generated manifest.
type Result struct {
	YAML []byte
	// Notes are things the user must know (dropped descriptor parts, the
	// eligibility of connect-on-forge, placeholders to replace).
	Notes []string
}

// ErrInput is wrapped by every Generate error.
var ErrInput = errors.New("manifest: bad input")

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// descriptor is the part of atlassian-connect.json the generator reads.
type descriptor struct {
	Key             string                     `json:"key"`
	Name            string                     `json:"name"`
	BaseURL         string                     `json:"baseUrl"`
	Scopes          []string                   `json:"scopes"`
	EnableLicensing *bool                      `json:"enableLicensing"`
	EditionsEnabled *bool                      `json:"editionsEnabled"`
	Lifecycle       map[string]string          `json:"lifecycle"`
	Modules         map[string]json.RawMessage `json:"modules"`
	Translations    map[string]any             `json:"translations"`
	RegionBaseURLs  map[string]string          `json:"regionBaseUrls"`
	APIMigrations   map[string]any             `json:"apiMigrations"`
	CloudMigration  map[string]any             `json:"cloudAppMigration"`
}

type gen struct {
	in    Input
	d     descriptor
	notes []string
}

// Generate writes manifest.yml for in.
func Generate(in Input) (*Result, error) {
	g := &gen{in: in}
	if err := g.defaults(); err != nil {
		return nil, err
	}
	var w yw
	switch g.in.Mode {
	case ModeForge:
		g.forge(&w)
	case ModeConnectOnForge:
		if err := g.connectOnForge(&w); err != nil {
			return nil, err
		}
	}
	return &Result{YAML: []byte(w.b.String()), Notes: g.notes}, nil
}

func (g *gen) defaults() error {
	in := &g.in
	if in.Mode == "" {
		in.Mode = ModeForge
	}
	if in.Mode != ModeForge && in.Mode != ModeConnectOnForge {
		return fmt.Errorf("%w: mode %q is neither %q nor %q", ErrInput, in.Mode, ModeForge, ModeConnectOnForge)
	}
	if len(in.Descriptor) > 0 {
		dec := json.NewDecoder(bytes.NewReader(in.Descriptor))
		dec.UseNumber()
		if err := dec.Decode(&g.d); err != nil {
			return fmt.Errorf("%w: atlassian-connect.json: %v", ErrInput, err)
		}
	}
	def := func(p *string, vals ...string) {
		for _, v := range vals {
			if *p == "" {
				*p = v
			}
		}
	}
	def(&in.AppKey, g.d.Key)
	def(&in.Name, g.d.Name, "Connect Doctor")
	def(&in.BaseURL, g.d.BaseURL)
	if in.ConnectScopes == nil {
		in.ConnectScopes = g.d.Scopes
	}
	if in.Mode == ModeForge {
		def(&in.RemoteKey, "doctor")
	} else {
		def(&in.RemoteKey, "connect")
	}
	def(&in.Runtime, "nodejs22.x")
	def(&in.Routes.Lifecycle, "/forge/lifecycle")
	def(&in.Routes.Scheduled, "/forge/scheduled")
	def(&in.Routes.PreUninstall, "/forge/pre-uninstall")
	def(&in.Routes.API, "/forge/api")
	def(&in.ScheduledInterval, "hour")
	def(&in.ResourcePath, "static/admin")
	def(&in.MigrationGuideURL, strings.TrimRight(in.BaseURL, "/")+"/forge-migration")
	def(&in.WillMigrate, "YES")

	id := strings.ToLower(strings.TrimSpace(in.AppID))
	switch {
	case id == "":
		in.AppID = PlaceholderAppID
		g.notes = append(g.notes, "app.id is a placeholder: run `forge register` and set FORGE_APP_ID to the id it prints.")
	case uuidRE.MatchString(id):
		in.AppID = "ari:cloud:ecosystem::app/" + id
	case strings.HasPrefix(id, "ari:cloud:ecosystem::app/") && uuidRE.MatchString(strings.TrimPrefix(id, "ari:cloud:ecosystem::app/")):
		in.AppID = id
	default:
		return fmt.Errorf("%w: app id %q is neither an app ARI nor a UUID", ErrInput, in.AppID)
	}
	u, err := url.Parse(in.BaseURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%w: base URL %q must be a public https URL (set BASE_URL)", ErrInput, in.BaseURL)
	}
	if !keyRE.MatchString(in.RemoteKey) || len(in.RemoteKey) > 23 {
		return fmt.Errorf("%w: remote key %q must match %s and have at most 23 characters", ErrInput, in.RemoteKey, keyRE)
	}
	for _, r := range []string{in.Routes.Lifecycle, in.Routes.Scheduled, in.Routes.PreUninstall, in.Routes.API} {
		if !strings.HasPrefix(r, "/") {
			return fmt.Errorf("%w: route %q must start with /", ErrInput, r)
		}
	}
	for _, s := range in.ConnectScopes {
		if IsConnectScope(s) {
			continue
		}
		if n := normConnect(s); !slices.Contains(connectChain, n) && n != "ACT_AS_USER" && n != "ACCESS_EMAIL_ADDRESSES" && n != "SPACE_ADMIN" {
			return fmt.Errorf("%w: %q is not a Connect scope", ErrInput, s)
		}
	}
	for _, s := range in.ExtraScopes {
		if IsConnectScope(s) || !scopeKnown(s, nil) {
			return fmt.Errorf("%w: extra scope %q is not an OAuth 2.0 scope", ErrInput, s)
		}
	}
	if !slices.Contains([]string{"YES", "NO", "UNDECIDED"}, in.WillMigrate) {
		return fmt.Errorf("%w: WillMigrate %q must be YES, NO or UNDECIDED", ErrInput, in.WillMigrate)
	}
	if in.Mode == ModeConnectOnForge {
		if in.AppKey == "" && !in.ConnectKeyVariable {
			return fmt.Errorf("%w: connect-on-forge needs the Connect app key (the descriptor's key)", ErrInput)
		}
		if in.AppKey != "" && (!connectKeyRE.MatchString(in.AppKey) || len(in.AppKey) > 90) {
			return fmt.Errorf("%w: Connect key %q must match %s and have 1 to 90 characters", ErrInput, in.AppKey, connectKeyRE)
		}
	}
	if len(OAuthScopesFor(in.ConnectScopes)) == 0 && len(in.ExtraScopes) == 0 {
		// The endpoints enable the OAuth tokens, and @forge/manifest
		// refuses token config without a product scope ("Missing app
		// scopes. If OAuth tokens are required, add valid scopes …").
		return fmt.Errorf("%w: no product scope: the Connect scopes %v map to no OAuth 2.0 scope, and Forge refuses OAuth tokens without one; declare at least READ (CONNECT_SCOPES) or pass the operations the app calls", ErrInput, in.ConnectScopes)
	}
	return nil
}

// oauthScopes are the product scopes the Connect scopes map to, plus extras.
func (g *gen) oauthScopes() []string {
	s := append(OAuthScopesFor(g.in.ConnectScopes), g.in.ExtraScopes...)
	slices.Sort(s)
	return slices.Compact(s)
}

func (g *gen) header(w *yw) {
	w.comment(0, fmt.Sprintf("manifest.yml for %s, generated by `connect-doctor manifest --mode %s`.", g.in.Name, g.in.Mode))
	w.comment(0, "Regenerate rather than edit: the output is deterministic. Check it with `connect-doctor manifest --check`.")
	w.comment(0, "Changing endpoints, remotes or scopes is a major version upgrade that site admins must approve.")
}

func (g *gen) appBlock(w *yw, connect bool) {
	w.line(0, "app:")
	if g.in.AppID == PlaceholderAppID {
		w.line(1, "id: "+g.in.AppID+" # placeholder: run `forge register`")
	} else {
		w.line(1, "id: "+g.in.AppID+" # = FORGE_APP_ID on the backend (the FIT aud)")
	}
	if connect {
		w.line(1, "connect:")
		if g.in.ConnectKeyVariable {
			w.line(2, `key: "${CONNECT_KEY}" # see environment.variables; must equal the descriptor key in production`)
		} else {
			w.line(2, "key: "+scalar(g.in.AppKey)+" # the descriptor key; cannot change after the first production deploy")
		}
		w.line(2, "remote: "+g.in.RemoteKey)
		if len(g.d.Lifecycle) > 0 {
			w.line(2, "authentication: jwt # the only value Forge allows")
		}
	}
	w.line(1, "runtime:")
	w.line(2, "name: "+g.in.Runtime)
	if g.d.EnableLicensing != nil {
		w.line(1, "licensing:")
		w.line(2, fmt.Sprintf("enabled: %t # must match the descriptor's enableLicensing", *g.d.EnableLicensing))
		if g.d.EditionsEnabled != nil {
			w.line(2, fmt.Sprintf("editionsEnabled: %t", *g.d.EditionsEnabled))
		}
	}
}

func (g *gen) remoteBlock(w *yw) {
	w.line(0, "remotes:")
	w.line(1, "- key: "+g.in.RemoteKey)
	if len(g.d.RegionBaseURLs) > 0 && g.in.Mode == ModeConnectOnForge {
		w.line(2, "baseUrl:")
		w.line(3, "default: "+scalar(g.in.BaseURL))
		regions := make([]string, 0, len(g.d.RegionBaseURLs))
		for r := range g.d.RegionBaseURLs {
			regions = append(regions, r)
		}
		slices.Sort(regions)
		for _, r := range regions {
			if slices.Contains(regionKeys, r) {
				w.line(3, r+": "+scalar(g.d.RegionBaseURLs[r]))
			} else {
				g.notes = append(g.notes, fmt.Sprintf("regionBaseUrls.%s dropped: Forge regions are %v.", r, regionKeys))
			}
		}
	} else {
		w.line(2, "baseUrl: "+scalar(g.in.BaseURL)+" # BASE_URL of the backend")
	}
	w.line(2, "operations: # compute: Forge calls us; storage: we keep tenant data")
	w.line(3, "- compute")
	w.line(3, "- storage")
	w.line(2, "storage:")
	w.line(3, fmt.Sprintf("inScopeEUD: %t", !g.in.StoresNoEUD))
}

// forgeEndpoints writes the trigger endpoints (system token only) and the
// trigger modules pointing at them.
func (g *gen) triggerModules(w *yw, prefix string, withUI bool) {
	w.line(1, "endpoint:")
	if withUI {
		w.line(2, "- key: "+prefix+"-ui")
		w.comment(3, "Admin panel calls (@forge/bridge invokeRemote): the path comes from the call,")
		w.comment(3, "under "+g.in.Routes.API+"/…; Forge adds the user and system tokens.")
		w.line(3, "remote: "+g.in.RemoteKey)
		w.line(3, "auth:")
		w.line(4, "appUserToken:")
		w.line(5, "enabled: true")
		w.line(4, "appSystemToken:")
		w.line(5, "enabled: true")
	}
	eps := []struct{ key, path, why string }{
		{prefix + "-lifecycle", g.in.Routes.Lifecycle, "installed/upgraded events; triggers get the system token only"},
		{prefix + "-scheduled", g.in.Routes.Scheduled, "hourly: refreshes the stored system token"},
	}
	if !g.in.OmitPreUninstall {
		eps = append(eps, struct{ key, path, why string }{prefix + "-uninstall", g.in.Routes.PreUninstall, "marks the tenant uninstalled (55 s, best effort)"})
	}
	for _, e := range eps {
		w.line(2, "- key: "+e.key+" # "+e.why)
		w.line(3, "remote: "+g.in.RemoteKey)
		w.line(3, "route:")
		w.line(4, "path: "+scalar(e.path))
		w.line(3, "auth:")
		w.line(4, "appSystemToken:")
		w.line(5, "enabled: true")
	}
	if !g.in.OmitPreUninstall {
		w.line(1, "preUninstall:")
		w.line(2, "- key: pre-uninstall")
		w.line(3, "endpoint: "+prefix+"-uninstall")
	}
	w.line(1, "scheduledTrigger:")
	w.line(2, "- key: token-refresh")
	w.line(3, "endpoint: "+prefix+"-scheduled")
	w.line(3, "interval: "+g.in.ScheduledInterval)
	w.line(1, "trigger:")
	w.line(2, "- key: lifecycle-to-remote")
	w.line(3, "endpoint: "+prefix+"-lifecycle")
	w.line(3, "events:")
	w.line(4, "- avi:forge:installed:app")
	w.line(4, "- avi:forge:upgraded:app")
}

func (g *gen) forge(w *yw) {
	g.header(w)
	w.comment(0, "Mode forge: Forge modules and a Forge Remote only, no Connect modules and no Connect scopes.")
	w.comment(0, "This is the only mode a new app can use, and the end state for apps leaving Connect.")
	if len(g.d.Modules) > 0 {
		g.notes = append(g.notes, fmt.Sprintf("The descriptor's Connect modules (%d kinds) are not carried over in forge mode; the admin panel becomes jira:adminPage.", len(g.d.Modules)))
	}
	g.appBlock(w, false)
	w.line(0, "modules:")
	w.line(1, "jira:adminPage:")
	w.line(2, "- key: doctor-admin")
	w.line(3, "resource: main")
	w.line(3, "title: "+scalar(g.in.Name))
	w.line(3, "resolver:")
	w.line(4, "endpoint: doctor-ui")
	g.triggerModules(w, "doctor", true)
	w.line(0, "resources:")
	w.line(1, "- key: main")
	w.line(2, "path: "+scalar(g.in.ResourcePath)+" # the admin panel's Custom UI bundle")
	g.remoteBlock(w)
	scopes := append([]string{ScopeSystemToken, ScopeUserToken}, g.oauthScopes()...)
	g.permissions(w, scopes, nil)
}

func (g *gen) permissions(w *yw, oauth, connect []string) {
	w.line(0, "permissions:")
	w.line(1, "scopes:")
	if len(connect) > 0 {
		w.comment(2, "Connect scopes: authorise the Connect JWT path only.")
		for _, s := range connect {
			w.line(2, "- "+s)
		}
	}
	w.comment(2, "OAuth 2.0 scopes: what the Forge tokens (x-forge-oauth-system/-user) carry.")
	if len(g.in.ConnectScopes) > 0 {
		w.comment(2, "Mapped from Connect scopes "+strings.Join(upper(g.in.ConnectScopes), ", ")+" by Atlassian's equivalence table.")
	}
	if len(g.in.ExtraScopes) > 0 {
		extra := slices.Clone(g.in.ExtraScopes)
		slices.Sort(extra)
		w.comment(2, "Also needed by the Jira operations the app calls: "+strings.Join(slices.Compact(extra), ", ")+".")
	}
	sorted := slices.Clone(oauth)
	slices.Sort(sorted)
	for _, s := range slices.Compact(sorted) {
		w.line(2, "- "+s)
	}
	for _, s := range g.in.ConnectScopes {
		if n := normConnect(s); n == "ACCESS_EMAIL_ADDRESSES" {
			g.notes = append(g.notes, "ACCESS_EMAIL_ADDRESSES has no Jira OAuth 2.0 equivalent here; email addresses need Atlassian's user-privacy APIs on the Forge path.")
		}
	}
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = normConnect(s)
	}
	return out
}

func (g *gen) connectOnForge(w *yw) error {
	g.notes = append(g.notes, "connect-on-forge is only for existing Marketplace Connect apps (\"Adding Connect Modules to a new Forge app is not supported\"); it still counts as Connect at end of support, 2027-01-31.")
	if len(g.d.APIMigrations) > 0 {
		g.notes = append(g.notes, "apiMigrations dropped: Forge refuses it; signed-install and context-qsh are mandatory for every Connect app anyway.")
	}
	g.header(w)
	w.comment(0, "Mode connect-on-forge: ONLY for an existing Connect app already listed on the Marketplace.")
	w.comment(0, "A new app cannot carry Connect modules. This is a bridge until Connect's end of support (2027-01-31);")
	w.comment(0, "move to `--mode forge` before then. apiMigrations is never written: Forge refuses it.")
	g.appBlock(w, true)
	g.remoteBlock(w)

	cm, forgeMods, err := g.convertModules()
	if err != nil {
		return err
	}
	w.line(0, "connectModules:")
	w.connectModules(cm)
	w.line(0, "modules:")
	for _, n := range []string{"jira:globalPermission", "jira:projectPermission"} {
		if items := forgeMods[n]; len(items) > 0 {
			w.line(1, n+":")
			w.sequence(2, items)
		}
	}
	w.line(1, "connectToForgeMigration: # not core:connectToForgeMigration: the validator rejects that spelling")
	w.line(2, "- key: migration-plan")
	w.line(3, "migrationGuideUrl: "+scalar(g.in.MigrationGuideURL))
	w.line(3, "willMigrateToForgeBeforeEOS: "+scalar(g.in.WillMigrate))
	g.triggerModules(w, "forge", false)

	var connect []string
	for _, s := range g.in.ConnectScopes {
		if IsConnectScope(s) {
			connect = append(connect, s)
		} else {
			connect = append(connect, ConnectScopeSpelling(normConnect(s), "jira"))
		}
	}
	slices.Sort(connect)
	connect = slices.Compact(connect)
	g.permissions(w, append([]string{ScopeSystemToken}, g.oauthScopes()...), connect)
	if g.in.ConnectKeyVariable {
		// Forge substitutes ${CONNECT_KEY} only when the variable is
		// declared here; undeclared, the literal fails the key pattern
		// (@forge/manifest: "app connect property key '${CONNECT_KEY}'
		// must match pattern").
		w.line(0, "environment:")
		w.line(1, "variables:")
		if g.in.AppKey != "" {
			w.comment(2, "forge deploy/lint read CONNECT_KEY from their shell; the default is the descriptor key,")
			w.comment(2, "which production must use. Set CONNECT_KEY to another key for development environments.")
			w.line(2, "- key: "+connectKeyVar)
			w.line(3, "default: "+scalar(g.in.AppKey))
		} else {
			w.comment(2, "No default: CONNECT_KEY must be set in the shell that runs forge deploy/lint.")
			w.line(2, "- "+connectKeyVar)
			g.notes = append(g.notes, "app.connect.key is ${CONNECT_KEY} without a default: set CONNECT_KEY (the descriptor key in production) in the shell that runs forge deploy.")
		}
	}
	return nil
}

// connectKeyVar is the environment variable app.connect.key refers to in
// ConnectKeyVariable mode.
const connectKeyVar = "CONNECT_KEY"

// convertModules applies the converter's rules (forge.md §2.4).
func (g *gen) convertModules() (map[string][]any, map[string][]any, error) {
	cm := map[string][]any{}
	fm := map[string][]any{}
	if len(g.d.Lifecycle) > 0 {
		lc := map[string]any{"key": "lifecycle-events"}
		for k, v := range g.d.Lifecycle {
			if k == "dare-migration" {
				g.notes = append(g.notes, "lifecycle dare-migration dropped: Forge uses a migration:dataResidency module instead.")
				continue
			}
			lc[k] = v
		}
		cm["jira:lifecycle"] = []any{lc}
	}
	if paths, ok := g.d.Translations["paths"]; ok {
		cm["jira:translations"] = []any{map[string]any{"key": "connect-translations", "paths": paths}}
	}
	if p, ok := g.d.CloudMigration["migrationWebhookPath"]; ok {
		cm["jira:cloudAppMigration"] = []any{map[string]any{"key": "app-migration", "migrationWebhookPath": p}}
		g.notes = append(g.notes, "cloudAppMigration: JWT auth is not supported on migration endpoints.")
	}
	names := make([]string, 0, len(g.d.Modules))
	for n := range g.d.Modules {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		var v any
		dec := json.NewDecoder(bytes.NewReader(g.d.Modules[name]))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("%w: modules.%s: %v", ErrInput, name, err)
		}
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		switch name {
		case "apiMigrations":
			g.notes = append(g.notes, "modules.apiMigrations dropped: Forge refuses it.")
			continue
		case "jiraGlobalPermissions", "jiraProjectPermissions":
			target := map[string]string{"jiraGlobalPermissions": "jira:globalPermission", "jiraProjectPermissions": "jira:projectPermission"}[name]
			for _, it := range items {
				m, _ := it.(map[string]any)
				if m == nil {
					return nil, nil, fmt.Errorf("%w: modules.%s entries must be objects", ErrInput, name)
				}
				out := map[string]any{"migratedFromConnect": true}
				for k, v := range m {
					if vm, ok := v.(map[string]any); ok && (k == "name" || k == "description") {
						v = vm["value"]
					}
					out[k] = v
				}
				// The Forge schema requires what Connect left optional
				// (@forge/manifest: "jira:globalPermission must have
				// required property 'anonymousAllowed'"): Connect's
				// defaults are written out.
				if _, ok := out["description"]; !ok && out["name"] != nil {
					out["description"] = out["name"]
					g.notes = append(g.notes, fmt.Sprintf("modules.%s %v: no description in the descriptor; the name is used (Forge requires one).", name, out["key"]))
				}
				if _, ok := out["anonymousAllowed"]; !ok && target == "jira:globalPermission" {
					out["anonymousAllowed"] = false // Connect's default
				}
				fm[target] = append(fm[target], out)
			}
			continue
		case "cloudAppMigration":
			if m, ok := items[0].(map[string]any); ok {
				cm["jira:cloudAppMigration"] = []any{map[string]any{"key": "app-migration", "migrationWebhookPath": m["migrationWebhookPath"]}}
			}
			continue
		}
		if !mustTables().Schema.Supports("jira", name) {
			return nil, nil, fmt.Errorf("%w: modules.%s: Connect on Forge does not support this module (jira:%s would fail with \"invalid value 'jira:%s' in connectModules\")", ErrInput, name, name, name)
		}
		for i, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("%w: modules.%s[%d] is not an object", ErrInput, name, i)
			}
			if _, ok := m["key"]; !ok {
				if name != "webhooks" {
					return nil, nil, fmt.Errorf("%w: modules.%s[%d] has no key; every connectModules entry needs one", ErrInput, name, i)
				}
				m["key"] = fmt.Sprintf("webhook-%d", i+1)
			}
		}
		cm["jira:"+name] = items
	}
	return cm, fm, nil
}
