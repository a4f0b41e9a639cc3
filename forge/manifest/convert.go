package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ConvertInput is a vendor's atlassian-connect.json and what to do with it.
//
// By default Convert is a pure conversion, as Atlassian's own converter
// does it (forge.md §2.4): app, the Connect remote, the Connect modules and
// the descriptor's own Connect scopes, nothing else. Every field below
// Extras adds something the descriptor does not say; each is opt-in
// because each changes what the vendor's backend must serve or what site
// admins must approve.
type ConvertInput struct {
	// Descriptor is the descriptor as the vendor keeps it: JSON or JSON5,
	// with ACE ({{localBaseUrl}}) or Spring (${addon.base-url}) placeholders.
	Descriptor []byte
	Source     string // file or URL, for messages
	Values     Values // fill placeholders (--base-url, --key, --set)
	// Product forces "jira" or "confluence"; empty detects it.
	Product string
	// AppID is app.id (ARI or UUID); empty writes PlaceholderAppID.
	AppID string

	Extras Extras
}

// Extras are the opt-in additions, each behind its own flag.
type Extras struct {
	// RemoteOperations declares remotes[].operations (storage, compute,
	// fetch, other); InScopeEUD declares storage.inScopeEUD. Without
	// operations Forge assumes the remote stores in-scope End-User Data.
	RemoteOperations []string
	InScopeEUD       *bool
	// OAuthScopes adds the OAuth 2.0 equivalents of the Connect scopes
	// (Atlassian's equivalence table; Jira only), and Scopes adds further
	// scopes. Either changes the scope set: an admin-approved update.
	OAuthScopes bool
	Scopes      []string
	// Forge Remote plumbing: an endpoint on the Connect remote, with the
	// system token, for each route set (a trigger for the installed and
	// upgraded events, an hourly scheduled trigger, a preUninstall).
	// The backend must serve these routes and verify FITs on them.
	LifecycleRoute    string
	ScheduledRoute    string
	PreUninstallRoute string
	ScheduledInterval string // default hour
	// MigrationPlan (YES, NO, UNDECIDED) writes a connectToForgeMigration
	// module; it needs MigrationGuideURL (https), written by the vendor.
	MigrationPlan     string
	MigrationGuideURL string
	// ConnectKeyVariable writes app.connect.key as ${CONNECT_KEY},
	// declared with the descriptor key as default.
	ConnectKeyVariable bool
}

// Conversion is Convert's result.
type Conversion struct {
	YAML   []byte
	Report Report
}

// Report is the migration report: what happened to every part of the
// descriptor, and what changes for the vendor's backend.
type Report struct {
	Source    string `json:"source,omitempty"`
	Validator string `json:"validator"` // the @forge/manifest version the module table comes from
	Key       string `json:"key"`
	Name      string `json:"name,omitempty"`
	BaseURL   string `json:"baseUrl"`
	Product   string `json:"product"`
	// ProductEvidence says why Product was chosen.
	ProductEvidence []string `json:"productEvidence"`

	Placeholders []Placeholder `json:"placeholders,omitempty"`
	Hosts        []HostProblem `json:"hosts,omitempty"`

	Modules        []ModuleOutcome `json:"modules"`
	ModulesIn      int             `json:"modulesIn"`      // entries under the descriptor's modules
	ModulesKept    int             `json:"modulesKept"`    // as connectModules, or moved to a Forge module
	ModulesDropped int             `json:"modulesDropped"` // each with a note
	// Top-level descriptor parts (lifecycle, translations, ...) and
	// descriptor fields that have no manifest equivalent.
	Parts []PartOutcome `json:"parts"`

	Scopes       ScopeChange  `json:"scopes"`
	ConsiderNext []Suggestion `json:"considerNext"`
	Auth         []AuthPath   `json:"auth"`
	Added        []string     `json:"added"` // what the opt-in extras added
	Notes        []string     `json:"notes"`
}

// Outcome of a descriptor module.
type Outcome string

const (
	Kept    Outcome = "kept"    // connectModules["<product>:<name>"]
	Renamed Outcome = "renamed" // kept under another name, or moved to a Forge module
	Dropped Outcome = "dropped" // not in the manifest; Reason says why
	Empty   Outcome = "empty"   // the descriptor declares none: omitted
)

// ModuleOutcome is what became of one descriptor module type.
type ModuleOutcome struct {
	Module  string   `json:"module"` // descriptor name, e.g. webhooks
	In      int      `json:"in"`     // entries in the descriptor
	Out     int      `json:"out"`    // entries written
	Outcome Outcome  `json:"outcome"`
	Target  string   `json:"target,omitempty"` // e.g. connectModules.jira:webhooks
	Keys    []string `json:"keys,omitempty"`   // keys written
	Reason  string   `json:"reason,omitempty"`
	// Instead are Forge modules that replace a dropped module.
	Instead []string `json:"instead,omitempty"`
	// Notes about single entries (derived or changed keys, dropped entries).
	Notes []string `json:"notes,omitempty"`
}

// PartOutcome is what became of a top-level descriptor part.
type PartOutcome struct {
	Part    string `json:"part"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail"`
}

// ScopeChange compares the descriptor's scopes with the manifest's.
type ScopeChange struct {
	Before  []string `json:"before"` // descriptor, upper case
	After   []string `json:"after"`  // manifest permissions.scopes
	Added   []string `json:"added"`  // beyond the Connect scopes' own spellings
	Dropped []string `json:"dropped"`
	// AdminApproval: the change makes the first Forge version a major
	// upgrade that every site's admin must approve.
	AdminApproval bool   `json:"adminApproval"`
	Why           string `json:"why"`
}

// Suggestion names the Forge modules to consider for a Connect module.
type Suggestion struct {
	Connect string   `json:"connect"`
	Forge   []string `json:"forge"`
}

// Errors of Convert; all wrap ErrInput.
var (
	ErrUnresolved = errors.New("unresolved placeholders")
	ErrBaseURL    = errors.New("unusable baseUrl")
	ErrProduct    = errors.New("cannot tell the product")
)

// UnresolvedError lists the placeholders no value filled.
type UnresolvedError struct{ Placeholders []Placeholder }

func (e *UnresolvedError) Error() string {
	var parts []string
	seen := map[string]bool{}
	for _, p := range e.Placeholders {
		if seen[p.Text] {
			continue
		}
		seen[p.Text] = true
		parts = append(parts, fmt.Sprintf("%s (line %d; %s)", p.Text, p.Line, FlagFor(p.Name)))
	}
	return fmt.Sprintf("%d unresolved placeholder(s): %s", len(parts), strings.Join(parts, ", "))
}

func (e *UnresolvedError) Unwrap() []error { return []error{ErrInput, ErrUnresolved} }

// Convert turns a Connect descriptor into a Connect-on-Forge manifest.yml
// and its migration report. It fails only when no useful manifest can be
// written (syntax, unresolved placeholders, no usable baseUrl or key, an
// ambiguous product); a module Forge does not accept is dropped with a note,
// never fatal.
func Convert(in ConvertInput) (*Conversion, error) {
	t, err := LoadTables()
	if err != nil {
		return nil, err
	}
	c := &converter{in: in, t: t, keys: map[string]bool{}}
	c.r.Source = in.Source
	c.r.Validator = "@forge/manifest " + t.Schema.Version
	if err := c.parse(); err != nil {
		return nil, err
	}
	if err := c.checkExtras(); err != nil {
		return nil, err
	}
	if err := c.detectProduct(); err != nil {
		return nil, err
	}
	c.convertParts()
	c.convertModules()
	if len(c.cm) == 0 {
		c.note("No Connect module is left (the descriptor declares none Connect on Forge accepts, and no lifecycle): connectModules is written empty, which keeps app.connect and the Connect scopes. Consider a Forge-only app instead.")
	}
	c.convertScopes()
	if err := c.addExtras(); err != nil {
		return nil, err
	}
	c.auth()
	y := c.write()
	c.finish()
	return &Conversion{YAML: y, Report: c.r}, nil
}

type converter struct {
	in  ConvertInput
	t   *Tables
	r   Report
	top map[string]json.RawMessage
	// output
	cm        map[string][]any // connectModules
	fm        map[string][]any // modules
	scopes    []string
	keys      map[string]bool // every module key written
	regions   map[string]string
	lifecycle bool
	env       bool
}

func (c *converter) note(format string, a ...any) {
	c.r.Notes = append(c.r.Notes, fmt.Sprintf(format, a...))
}

func decodeAny(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func (c *converter) parse() error {
	filled, all, unresolved := FillPlaceholders(c.in.Descriptor, c.in.Values)
	c.r.Placeholders = all
	js, err := JSON5ToJSON(filled)
	if err != nil {
		if len(unresolved) > 0 {
			return &UnresolvedError{Placeholders: unresolved}
		}
		return fmt.Errorf("%w: %w", ErrInput, err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&c.top); err != nil {
		if len(unresolved) > 0 {
			return &UnresolvedError{Placeholders: unresolved}
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := bytes.Count(js[:min(int(se.Offset), len(js))], []byte("\n")) + 1
			return fmt.Errorf("%w: descriptor line %d: %v", ErrInput, line, err)
		}
		return fmt.Errorf("%w: the descriptor is not a JSON object: %v", ErrInput, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: text after the descriptor's closing brace", ErrInput)
	}
	// Only placeholders in what the manifest carries must be filled; one
	// in metadata (links, vendor, a commented-out "//baseUrl") is noted.
	var carried []Placeholder
	for _, p := range unresolved {
		if slices.ContainsFunc(carriedFields, func(f string) bool { return bytes.Contains(c.top[f], []byte(p.Text)) }) {
			carried = append(carried, p)
		} else {
			c.note("Placeholder %s (line %d) left unresolved: it is in descriptor metadata the manifest does not carry.", p.Text, p.Line)
		}
	}
	if len(carried) > 0 {
		return &UnresolvedError{Placeholders: carried}
	}
	c.r.Key = c.str("key")
	c.r.Name = c.str("name")
	if c.r.Key == "" {
		return fmt.Errorf("%w: the descriptor has no key (app.connect.key must equal it)", ErrInput)
	}
	if !c.in.Extras.ConnectKeyVariable && (!connectKeyRE.MatchString(c.r.Key) || len(c.r.Key) > 90) {
		return fmt.Errorf("%w: descriptor key %q must be 1 to 90 characters of [a-zA-Z0-9-._] to become app.connect.key", ErrInput, c.r.Key)
	}
	base := strings.TrimSpace(c.str("baseUrl"))
	if c.in.Values.BaseURL != "" && base != c.in.Values.BaseURL && !slices.ContainsFunc(all, func(p Placeholder) bool { return p.Source == "--base-url" }) {
		c.note("baseUrl %s replaced by --base-url %s.", base, c.in.Values.BaseURL)
		base = c.in.Values.BaseURL
	}
	base = strings.TrimRight(base, "/")
	if base == "" {
		return fmt.Errorf("%w: %w: the descriptor has no baseUrl; pass --base-url https://…", ErrInput, ErrBaseURL)
	}
	if hp := CheckRemoteURL(base); hp != nil {
		c.r.Hosts = append(c.r.Hosts, *hp)
		if hp.Blocker {
			return fmt.Errorf("%w: %w: baseUrl %s %s; pass --base-url with the app's public https URL", ErrInput, ErrBaseURL, base, hp.Reason)
		}
	}
	c.r.BaseURL = base
	if raw, ok := c.top["regionBaseUrls"]; ok {
		var regions map[string]string
		if err := json.Unmarshal(raw, &regions); err == nil {
			c.regions = map[string]string{}
			for r, u := range regions {
				if !slices.Contains(regionKeys, r) {
					c.note("regionBaseUrls.%s dropped: Forge regions are %s.", r, strings.Join(regionKeys, ", "))
					continue
				}
				if hp := CheckRemoteURL(u); hp != nil {
					c.r.Hosts = append(c.r.Hosts, *hp)
					if hp.Blocker {
						c.note("regionBaseUrls.%s dropped: %s %s.", r, u, hp.Reason)
						continue
					}
				}
				c.regions[r] = strings.TrimRight(u, "/")
			}
		}
	}
	return nil
}

// carriedFields are the descriptor fields that reach the manifest.
var carriedFields = []string{"key", "baseUrl", "lifecycle", "modules", "scopes", "regionBaseUrls", "translations", "cloudAppMigration", "enableLicensing", "editionsEnabled"}

func (c *converter) str(field string) string {
	var s string
	if raw, ok := c.top[field]; ok {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

func (c *converter) checkExtras() error {
	if id := strings.ToLower(strings.TrimSpace(c.in.AppID)); id != "" {
		if !uuidRE.MatchString(strings.TrimPrefix(id, "ari:cloud:ecosystem::app/")) {
			return fmt.Errorf("%w: app id %q is neither an app ARI nor a UUID (use what `forge register` printed)", ErrInput, c.in.AppID)
		}
		c.in.AppID = "ari:cloud:ecosystem::app/" + strings.TrimPrefix(id, "ari:cloud:ecosystem::app/")
	}
	x := &c.in.Extras
	for _, o := range x.RemoteOperations {
		if !slices.Contains(operations, o) {
			return fmt.Errorf("%w: remote operation %q is not one of %s", ErrInput, o, strings.Join(operations, ", "))
		}
	}
	if slices.Contains(x.RemoteOperations, "storage") && x.InScopeEUD == nil {
		return fmt.Errorf("%w: remote operation storage needs storage.inScopeEUD: say --in-scope-eud=true or false", ErrInput)
	}
	for _, s := range x.Scopes {
		if IsConnectScope(s) || !scopeKnown(s, nil) {
			return fmt.Errorf("%w: --scope %q is not an OAuth 2.0 scope", ErrInput, s)
		}
	}
	for _, r := range []string{x.LifecycleRoute, x.ScheduledRoute, x.PreUninstallRoute} {
		if r != "" && !strings.HasPrefix(r, "/") {
			return fmt.Errorf("%w: route %q must start with /", ErrInput, r)
		}
	}
	if x.ScheduledInterval == "" {
		x.ScheduledInterval = "hour"
	}
	if !slices.Contains(intervals, x.ScheduledInterval) {
		return fmt.Errorf("%w: scheduled interval %q is not one of %s", ErrInput, x.ScheduledInterval, strings.Join(intervals, ", "))
	}
	if x.MigrationPlan != "" {
		x.MigrationPlan = strings.ToUpper(x.MigrationPlan)
		if !slices.Contains([]string{"YES", "NO", "UNDECIDED"}, x.MigrationPlan) {
			return fmt.Errorf("%w: migration plan %q must be YES, NO or UNDECIDED", ErrInput, x.MigrationPlan)
		}
		if !strings.HasPrefix(x.MigrationGuideURL, "https://") || len(x.MigrationGuideURL) > 2048 {
			return fmt.Errorf("%w: a migration plan needs the vendor's own migration guide URL (https, at most 2048 characters)", ErrInput)
		}
	} else if x.MigrationGuideURL != "" {
		return fmt.Errorf("%w: a migration guide URL without a migration plan (YES, NO or UNDECIDED)", ErrInput)
	}
	return nil
}

// --- product detection ---

func (c *converter) detectProduct() error {
	switch p := strings.ToLower(strings.TrimSpace(c.in.Product)); p {
	case "jira", "confluence":
		c.r.Product = p
		c.r.ProductEvidence = []string{"--product " + p}
		return nil
	case "":
	default:
		return fmt.Errorf("%w: %w: --product %q: use jira or confluence", ErrInput, ErrProduct, c.in.Product)
	}
	score := map[string]int{}
	ev := map[string][]string{}
	add := func(p, why string) {
		score[p]++
		if len(ev[p]) < 6 {
			ev[p] = append(ev[p], why)
		}
	}
	var mods map[string]json.RawMessage
	_ = json.Unmarshal(c.top["modules"], &mods)
	for name, raw := range mods {
		var in []string
		for _, p := range Products {
			if c.t.Schema.Supports(p, name) {
				in = append(in, p)
			}
			if _, ok := c.t.Notes.Refused[p][name]; ok {
				in = append(in, p)
			}
			if _, ok := c.t.Notes.Renamed[p][name]; ok {
				in = append(in, p)
			}
		}
		if in = slices.Compact(in); len(in) == 1 {
			add(in[0], "module "+name)
		} else if len(in) == 0 && (strings.HasPrefix(name, "jira") || strings.HasPrefix(name, "serviceDesk")) {
			add("jira", "module "+name)
		} else if len(in) == 0 && strings.HasPrefix(name, "confluence") {
			add("confluence", "module "+name)
		}
		v, _ := decodeAny(raw)
		walkStrings(v, "", func(field, s string) {
			for p, kinds := range patterns().ProductEvidence {
				switch field {
				case "event":
					if slices.ContainsFunc(patterns().AmbiguousEvents, func(a string) bool { return strings.HasPrefix(s, a) }) {
						return
					}
					if slices.ContainsFunc(kinds["event"], func(a string) bool { return strings.HasPrefix(s, a) }) {
						add(p, "webhook "+s)
					}
				case "location":
					if slices.ContainsFunc(kinds["location"], func(a string) bool { return strings.HasPrefix(s, a) }) {
						add(p, "location "+s)
					}
				case "url":
					if slices.ContainsFunc(kinds["context"], func(a string) bool { return strings.Contains(s, a) }) {
						add(p, "url "+s)
					}
				}
			}
		})
	}
	var scopes []string
	_ = json.Unmarshal(c.top["scopes"], &scopes)
	for _, s := range scopes {
		var in []string
		for _, p := range Products {
			if _, ok := c.t.Schema.ConnectScope(s, p); ok {
				in = append(in, p)
			}
		}
		if len(in) == 1 {
			add(in[0], "scope "+normConnect(s))
		}
	}
	j, cf := score["jira"], score["confluence"]
	switch {
	case j == 0 && cf == 0:
		c.r.Product = "jira"
		c.r.ProductEvidence = []string{"no product-specific module, scope, webhook, location or URL parameter: assumed Jira"}
		c.note("Nothing in the descriptor is specific to Jira or Confluence; it was converted as a Jira app. If it is a Confluence app, pass --product confluence.")
	case j > 0 && cf > 0 && j*2 > cf && cf*2 > j:
		return fmt.Errorf("%w: %w: evidence for both Jira (%s) and Confluence (%s); pass --product jira or --product confluence",
			ErrInput, ErrProduct, strings.Join(ev["jira"], ", "), strings.Join(ev["confluence"], ", "))
	case j > cf:
		c.r.Product = "jira"
		c.r.ProductEvidence = ev["jira"]
	default:
		c.r.Product = "confluence"
		c.r.ProductEvidence = ev["confluence"]
	}
	if other := map[string]string{"jira": "confluence", "confluence": "jira"}[c.r.Product]; score[other] > 0 {
		c.note("Converted as a %s app (%d signs) although %d sign(s) point to %s: %s. Pass --product to override.",
			c.r.Product, score[c.r.Product], score[other], other, strings.Join(ev[other], ", "))
	}
	return nil
}

// walkStrings calls f with every string in v and the name of the member
// holding it.
func walkStrings(v any, field string, f func(field, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walkStrings(e, k, f)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, field, f)
		}
	case string:
		f(field, x)
	}
}

// --- top-level parts ---

func (c *converter) part(name, outcome, detail string) {
	c.r.Parts = append(c.r.Parts, PartOutcome{Part: name, Outcome: outcome, Detail: detail})
}

func (c *converter) convertParts() {
	p := c.r.Product
	c.cm = map[string][]any{}
	c.fm = map[string][]any{}
	if raw, ok := c.top["lifecycle"]; ok {
		v, _ := decodeAny(raw)
		m, _ := v.(map[string]any)
		lc := map[string]any{"key": "lifecycle-events"}
		var kept []string
		for _, k := range sortedKeys(m) {
			s, ok := m[k].(string)
			switch {
			case k == "dare-migration":
				c.part("lifecycle.dare-migration", "dropped", "Forge has no Connect lifecycle for data residency moves: declare a migration:dataResidency module (with remote region URLs) instead.")
			case !slices.Contains([]string{"installed", "uninstalled", "enabled", "disabled"}, k):
				c.part("lifecycle."+k, "dropped", "not a Connect lifecycle event (installed, uninstalled, enabled, disabled)")
			case !ok || s == "":
				c.part("lifecycle."+k, "dropped", "not a URL path")
			default:
				lc[k] = s
				kept = append(kept, k)
			}
		}
		if len(kept) > 0 {
			c.cm[p+":lifecycle"] = []any{lc}
			c.keys["lifecycle-events"] = true
			c.lifecycle = true
			c.part("lifecycle", "kept", fmt.Sprintf("connectModules.%s:lifecycle (%s), with app.connect.authentication: jwt. Note: enabled/disabled are no longer sent once the app is on Forge, installed not on minor updates.", p, strings.Join(kept, ", ")))
		}
	}
	if raw, ok := c.top["translations"]; ok {
		var tr map[string]any
		if json.Unmarshal(raw, &tr) == nil && tr["paths"] != nil {
			v, _ := decodeAny(raw)
			c.cm[p+":translations"] = []any{map[string]any{"key": "connect-translations", "paths": v.(map[string]any)["paths"]}}
			c.keys["connect-translations"] = true
			c.part("translations", "kept", "connectModules."+p+":translations")
		}
	}
	if raw, ok := c.top["cloudAppMigration"]; ok {
		v, _ := decodeAny(raw)
		if m, ok := v.(map[string]any); ok && m["migrationWebhookPath"] != nil {
			c.cm[p+":cloudAppMigration"] = []any{map[string]any{"key": "app-migration", "migrationWebhookPath": m["migrationWebhookPath"]}}
			c.keys["app-migration"] = true
			c.part("cloudAppMigration", "kept", "connectModules."+p+":cloudAppMigration; JWT authentication is not supported on migration endpoints.")
		}
	}
	if _, ok := c.top["apiMigrations"]; ok {
		c.part("apiMigrations", "dropped", "Forge refuses apiMigrations; signed-install and context-qsh are mandatory for every Connect app anyway, so the remote must behave as if both were set.")
	}
	if raw, ok := c.top["authentication"]; ok {
		var a struct{ Type string }
		if json.Unmarshal(raw, &a) == nil && strings.EqualFold(a.Type, "none") {
			c.part("authentication", "dropped", "authentication type none: Connect on Forge knows only jwt; the app receives Connect JWTs once it declares a lifecycle.")
		}
	}
	if raw, ok := c.top["enableLicensing"]; ok {
		c.part("enableLicensing", "kept", "app.licensing.enabled: "+string(raw)+" (must stay consistent with the Marketplace listing)")
	}
	if len(c.regions) > 0 {
		c.part("regionBaseUrls", "kept", "remotes[connect].baseUrl region map")
	}
	for _, f := range []string{"vendor", "links", "description", "apiVersion", "version", "icons", "enableLicensing", "$schema", "contexts"} {
		if _, ok := c.top[f]; ok && f != "enableLicensing" {
			c.part(f, "not carried", "no manifest equivalent (Marketplace listing data or descriptor metadata)")
		}
	}
}

// --- modules ---

var keyCleanRE = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

func (c *converter) convertModules() {
	var mods map[string]json.RawMessage
	if raw, ok := c.top["modules"]; ok {
		if err := json.Unmarshal(raw, &mods); err != nil {
			c.note("modules is not an object: nothing converted from it.")
		}
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	slices.Sort(names)
	p := c.r.Product
	other := map[string]string{"jira": "confluence", "confluence": "jira"}[p]
	for _, name := range names {
		v, err := decodeAny(mods[name])
		o := ModuleOutcome{Module: name}
		var entries []any
		switch x := v.(type) {
		case []any:
			entries = x
		case map[string]any:
			entries = []any{x}
		case nil:
		default:
			_ = err
			entries = []any{x}
		}
		o.In = len(entries)
		c.r.ModulesIn += o.In
		if o.In == 0 {
			o.Outcome = Empty
			o.Reason = "declared empty: omitted (never written as null)"
			c.r.Modules = append(c.r.Modules, o)
			continue
		}
		target := name
		if rn, ok := c.t.Notes.Renamed[p][name]; ok && c.t.Schema.Supports(p, rn.To) {
			target = rn.To
			o.Reason = rn.Why
		}
		switch {
		case p == "jira" && (name == "jiraGlobalPermissions" || name == "jiraProjectPermissions"):
			c.permissionModules(&o, entries)
		case c.t.Schema.Supports(p, target):
			c.connectModule(&o, target, entries)
		default:
			o.Outcome = Dropped
			switch {
			case c.t.Notes.Refused[p][name].Why != "":
				o.Reason = c.t.Notes.Refused[p][name].Why
				o.Instead = c.t.Notes.Refused[p][name].Instead
			case c.t.Schema.Supports(other, name):
				o.Reason = fmt.Sprintf("a %s module in a %s descriptor: %s:%s does not exist", title(other), title(p), p, name)
			default:
				o.Reason = fmt.Sprintf("not a connectModules type of %s in %s (retired, misspelled, or another product's)", title(p), c.r.Validator)
				o.Instead = c.t.Notes.ConsiderNext[p][name]
			}
			c.r.ModulesDropped += o.In
		}
		c.r.Modules = append(c.r.Modules, o)
	}
}

func title(p string) string {
	if p == "" {
		return p
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// connectModule writes the entries as connectModules["<product>:<target>"],
// each with a unique key.
func (c *converter) connectModule(o *ModuleOutcome, target string, entries []any) {
	p := c.r.Product
	var out []any
	for i, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			o.Notes = append(o.Notes, fmt.Sprintf("entry %d dropped: not an object", i+1))
			c.r.ModulesDropped++
			continue
		}
		m = maps(m)
		m["key"] = c.moduleKey(o, target, m)
		o.Keys = append(o.Keys, m["key"].(string))
		out = append(out, m)
	}
	o.Out = len(out)
	c.r.ModulesKept += o.Out
	if o.Out == 0 {
		o.Outcome = Dropped
		o.Reason = "no entry is an object"
		return
	}
	o.Target = "connectModules." + p + ":" + target
	o.Outcome = Kept
	if target != o.Module {
		o.Outcome = Renamed
	}
	c.cm[p+":"+target] = append(c.cm[p+":"+target], out...)
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// moduleKey returns the entry's key, made valid and unique. A missing key
// (webhooks have none in Connect) is derived from the entry's content, so
// reordering the descriptor never renames a module.
func (c *converter) moduleKey(o *ModuleOutcome, target string, m map[string]any) string {
	orig, _ := m["key"].(string)
	key := orig
	if key == "" {
		sum := sha256.New()
		if target == "webhooks" {
			ev, _ := m["event"].(string)
			u, _ := m["url"].(string)
			fmt.Fprintf(sum, "%s\x00%s", ev, u)
			if f, ok := m["filter"]; ok {
				fmt.Fprintf(sum, "\x00%v", f)
			}
			key = "webhook-" + strings.Trim(keyCleanRE.ReplaceAllString(strings.ToLower(ev), "-"), "-")
		} else {
			b, _ := json.Marshal(m) // map keys sorted: canonical
			sum.Write(b)
			key = strings.ToLower(target)
		}
		key = trimKey(key, 50) + "-" + hex.EncodeToString(sum.Sum(nil))[:8]
	} else if !keyRE.MatchString(key) {
		key = strings.Trim(keyCleanRE.ReplaceAllString(key, "-"), "-")
		if key == "" {
			key = strings.ToLower(target)
		}
	}
	base := key
	for n := 2; c.keys[key]; n++ {
		key = fmt.Sprintf("%s-%d", base, n)
	}
	c.keys[key] = true
	switch {
	case orig == "":
		if target != "webhooks" {
			o.Notes = append(o.Notes, fmt.Sprintf("an entry without key got %q (derived from its content)", key))
		}
	case key != orig:
		o.Notes = append(o.Notes, fmt.Sprintf("key %q became %q (Forge keys are unique [a-zA-Z0-9_-]+); the module's Connect URLs change with it", orig, key))
	}
	return key
}

func trimKey(k string, n int) string {
	if len(k) > n {
		k = strings.TrimRight(k[:n], "-")
	}
	return k
}

// permissionModules moves Jira global/project permissions to the Forge
// modules jira:globalPermission/jira:projectPermission, as Atlassian's
// converter does (migratedFromConnect: true keeps the permission's data).
func (c *converter) permissionModules(o *ModuleOutcome, entries []any) {
	target := map[string]string{"jiraGlobalPermissions": "jira:globalPermission", "jiraProjectPermissions": "jira:projectPermission"}[o.Module]
	for i, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			o.Notes = append(o.Notes, fmt.Sprintf("entry %d dropped: not an object", i+1))
			c.r.ModulesDropped++
			continue
		}
		out := map[string]any{"migratedFromConnect": true}
		for k, v := range m {
			if vm, ok := v.(map[string]any); ok && (k == "name" || k == "description") {
				v = vm["value"]
			}
			out[k] = v
		}
		out["key"] = c.moduleKey(o, target, out)
		if _, ok := out["name"]; !ok {
			out["name"] = out["key"]
			o.Notes = append(o.Notes, fmt.Sprintf("%v: no name; the key is used (Forge requires one)", out["key"]))
		}
		if _, ok := out["description"]; !ok {
			out["description"] = out["name"]
			o.Notes = append(o.Notes, fmt.Sprintf("%v: no description; the name is used (Forge requires one)", out["key"]))
		}
		if _, ok := out["anonymousAllowed"]; !ok && target == "jira:globalPermission" {
			out["anonymousAllowed"] = false // Connect's default; Forge requires it
		}
		if target == "jira:projectPermission" {
			delete(out, "anonymousAllowed") // not a projectPermission property
		}
		o.Keys = append(o.Keys, out["key"].(string))
		c.fm[target] = append(c.fm[target], out)
		o.Out++
	}
	c.r.ModulesKept += o.Out
	o.Outcome, o.Target = Renamed, "modules."+target
	o.Reason = "moved to the Forge module " + target + " with migratedFromConnect: true, as Atlassian's converter does"
}

// --- scopes ---

func (c *converter) convertScopes() {
	var raw []any
	_ = json.Unmarshal(c.top["scopes"], &raw)
	for _, s := range raw {
		str, ok := s.(string)
		if !ok {
			continue
		}
		up := normConnect(str)
		c.r.Scopes.Before = append(c.r.Scopes.Before, up)
		sp, known := c.t.Schema.ConnectScope(up, c.r.Product)
		if !known {
			c.r.Scopes.Dropped = append(c.r.Scopes.Dropped, up)
			c.note("Scope %s dropped: %s has no %s Connect scope %s.", up, c.r.Validator, title(c.r.Product), sp)
			continue
		}
		c.scopes = append(c.scopes, sp)
	}
	slices.Sort(c.scopes)
	c.scopes = slices.Compact(c.scopes)
	if len(raw) == 0 {
		c.note("The descriptor declares no scopes: the manifest has no permissions either (the app gets no REST API access, as before).")
	}
}

// --- opt-in extras ---

func (c *converter) addScope(s, why string) {
	if !slices.Contains(c.scopes, s) {
		c.scopes = append(c.scopes, s)
		c.r.Scopes.Added = append(c.r.Scopes.Added, s)
		c.r.Added = append(c.r.Added, "scope "+s+": "+why)
	}
}

func (c *converter) addExtras() error {
	x := c.in.Extras
	if x.OAuthScopes {
		if c.r.Product != "jira" {
			c.note("--oauth-scopes: no Connect→OAuth 2.0 equivalence table for %s is built in; add the OAuth 2.0 scopes with --scope.", title(c.r.Product))
		}
		if c.r.Product == "jira" {
			for _, s := range OAuthScopesFor(c.r.Scopes.Before) {
				c.addScope(s, "OAuth 2.0 equivalent of the Connect scopes (--oauth-scopes)")
			}
		}
	}
	for _, s := range x.Scopes {
		c.addScope(s, "--scope")
	}
	type ep struct{ key, route, what string }
	var eps []ep
	if x.LifecycleRoute != "" {
		eps = append(eps, ep{"forge-lifecycle", x.LifecycleRoute, "trigger"})
	}
	if x.ScheduledRoute != "" {
		eps = append(eps, ep{"forge-scheduled", x.ScheduledRoute, "scheduledTrigger"})
	}
	if x.PreUninstallRoute != "" {
		eps = append(eps, ep{"forge-pre-uninstall", x.PreUninstallRoute, "preUninstall"})
	}
	if len(eps) > 0 {
		if len(c.scopes) == 0 {
			return fmt.Errorf("%w: the Forge Remote endpoints enable the app system token, which Forge allows only with a product scope, and the descriptor declares none: add one with --scope (e.g. --scope read:%s-work)", ErrInput, map[string]string{"jira": "jira", "confluence": "confluence"}[c.r.Product])
		}
		for _, e := range eps {
			key := e.key
			for n := 2; c.keys[key]; n++ {
				key = fmt.Sprintf("%s-%d", e.key, n)
			}
			c.keys[key] = true
			c.fm["endpoint"] = append(c.fm["endpoint"], map[string]any{
				"key": key, "remote": "connect", "route": map[string]any{"path": e.route},
				"auth": map[string]any{"appSystemToken": map[string]any{"enabled": true}},
			})
			switch e.what {
			case "trigger":
				c.fm["trigger"] = append(c.fm["trigger"], map[string]any{"key": uniqueKey(c.keys, "forge-lifecycle-trigger"), "endpoint": key,
					"events": []any{"avi:forge:installed:app", "avi:forge:upgraded:app"}})
			case "scheduledTrigger":
				c.fm["scheduledTrigger"] = append(c.fm["scheduledTrigger"], map[string]any{"key": uniqueKey(c.keys, "forge-token-refresh"), "endpoint": key, "interval": x.ScheduledInterval})
			case "preUninstall":
				c.fm["preUninstall"] = append(c.fm["preUninstall"], map[string]any{"key": uniqueKey(c.keys, "forge-pre-uninstall-hook"), "endpoint": key})
			}
			c.r.Added = append(c.r.Added, fmt.Sprintf("endpoint %s (POST %s on the Connect remote, Forge Invocation Token + system token) and its %s", key, e.route, e.what))
		}
		c.addScope(ScopeSystemToken, "the Forge Remote endpoints receive the app system token")
	}
	if x.MigrationPlan != "" {
		c.fm["connectToForgeMigration"] = []any{map[string]any{"key": uniqueKey(c.keys, "migration-plan"), "migrationGuideUrl": x.MigrationGuideURL, "willMigrateToForgeBeforeEOS": x.MigrationPlan}}
		c.r.Added = append(c.r.Added, "connectToForgeMigration: "+x.MigrationPlan+", guide "+x.MigrationGuideURL+" (shown to site admins; declare it again in every major version)")
	}
	if len(x.RemoteOperations) > 0 {
		c.r.Added = append(c.r.Added, "remotes[connect].operations: "+strings.Join(x.RemoteOperations, ", "))
	}
	if x.ConnectKeyVariable {
		c.env = true
		c.r.Added = append(c.r.Added, "app.connect.key as ${CONNECT_KEY} (default: the descriptor key)")
	}
	slices.Sort(c.scopes)
	return nil
}

func uniqueKey(keys map[string]bool, k string) string {
	base := k
	for n := 2; keys[k]; n++ {
		k = fmt.Sprintf("%s-%d", base, n)
	}
	keys[k] = true
	return k
}

// --- report: auth, next steps ---

func (c *converter) auth() {
	forgePath := len(c.fm["endpoint"]) > 0
	for _, a := range c.t.Auth {
		a.Now = a.When == "connect" || forgePath
		c.r.Auth = append(c.r.Auth, a)
	}
}

func (c *converter) finish() {
	seen := map[string]bool{}
	for _, o := range c.r.Modules {
		if o.Outcome != Kept && o.Outcome != Renamed {
			continue
		}
		name := o.Module
		if rn, ok := c.t.Notes.Renamed[c.r.Product][name]; ok {
			name = rn.To
		}
		if f := c.t.Notes.ConsiderNext[c.r.Product][name]; len(f) > 0 && !seen[name] {
			seen[name] = true
			c.r.ConsiderNext = append(c.r.ConsiderNext, Suggestion{Connect: name, Forge: f})
		}
	}
	if c.lifecycle {
		c.r.ConsiderNext = append(c.r.ConsiderNext, Suggestion{Connect: "lifecycle", Forge: c.t.Notes.ConsiderNext[c.r.Product]["lifecycle"]})
	}
	c.r.Scopes.After = slices.Clone(c.scopes)
	if c.r.Scopes.After == nil {
		c.r.Scopes.After = []string{}
	}
	switch {
	case len(c.r.Scopes.Added) > 0:
		c.r.Scopes.AdminApproval = true
		c.r.Scopes.Why = "scopes beyond the descriptor's own Connect scopes are added: the first Forge version raises permissions, so it is a major upgrade every site admin must approve (forge deploy needs --approve MAJOR_VERSION_RULE)"
	case len(c.fm["endpoint"]) > 0:
		c.r.Scopes.AdminApproval = true
		c.r.Scopes.Why = "the scopes are the descriptor's own, but adding endpoint modules is a major upgrade that admins must approve"
	default:
		c.r.Scopes.Why = "the manifest carries exactly the descriptor's Connect scopes in Forge spelling: the permissions do not rise, so the first Forge version can roll out as a minor update without admin approval"
	}
	if len(c.r.Scopes.Dropped) > 0 {
		c.r.Scopes.Why += "; dropped scopes narrow the permissions"
	}
	for _, l := range []*[]string{&c.r.Scopes.Before, &c.r.Scopes.Added, &c.r.Scopes.Dropped, &c.r.Added, &c.r.Notes, &c.r.ProductEvidence} {
		if *l == nil {
			*l = []string{}
		}
	}
	if c.r.ConsiderNext == nil {
		c.r.ConsiderNext = []Suggestion{}
	}
	if c.r.Parts == nil {
		c.r.Parts = []PartOutcome{}
	}
	if c.r.Modules == nil {
		c.r.Modules = []ModuleOutcome{}
	}
}

// --- YAML ---

func (c *converter) write() []byte {
	var w yw
	src := c.in.Source
	if src == "" {
		src = "atlassian-connect.json"
	}
	w.comment(0, fmt.Sprintf("manifest.yml for %s (Connect on Forge), converted from %s by `connect-doctor to-forge`.", orDefault(c.r.Name, c.r.Key), src))
	w.comment(0, "Connect on Forge is only for Connect apps already listed on the Marketplace, and a bridge until")
	w.comment(0, "Connect's end of support (2027-01-31). Check it with `connect-doctor manifest --check manifest.yml`.")
	w.line(0, "app:")
	id := strings.ToLower(strings.TrimSpace(c.in.AppID))
	switch {
	case id == "":
		w.line(1, "id: "+PlaceholderAppID+" # placeholder: run `forge register`")
	default:
		w.line(1, "id: "+scalar(c.in.AppID))
	}
	w.line(1, "connect:")
	if c.env {
		w.line(2, `key: "${CONNECT_KEY}" # the descriptor key in production (environment.variables)`)
	} else {
		w.line(2, "key: "+scalar(c.r.Key)+" # the descriptor key; cannot change after the first production deploy")
	}
	w.line(2, "remote: connect")
	if c.lifecycle {
		w.line(2, "authentication: jwt")
	}
	w.line(1, "runtime:")
	w.line(2, "name: nodejs22.x")
	if raw, ok := c.top["enableLicensing"]; ok {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			w.line(1, "licensing:")
			w.line(2, fmt.Sprintf("enabled: %t # the descriptor's enableLicensing", b))
			var ed bool
			if raw, ok := c.top["editionsEnabled"]; ok && json.Unmarshal(raw, &ed) == nil {
				w.line(2, fmt.Sprintf("editionsEnabled: %t", ed))
			}
		}
	}
	w.line(0, "remotes:")
	w.line(1, "- key: connect")
	if len(c.regions) > 0 {
		w.line(2, "baseUrl:")
		w.line(3, "default: "+scalar(c.r.BaseURL))
		rs := make([]string, 0, len(c.regions))
		for r := range c.regions {
			rs = append(rs, r)
		}
		slices.Sort(rs)
		for _, r := range rs {
			if r != "default" {
				w.line(3, r+": "+scalar(c.regions[r]))
			}
		}
	} else {
		w.line(2, "baseUrl: "+scalar(c.r.BaseURL)+" # the descriptor's baseUrl")
	}
	if ops := c.in.Extras.RemoteOperations; len(ops) > 0 {
		w.line(2, "operations:")
		for _, o := range ops {
			w.line(3, "- "+o)
		}
		if c.in.Extras.InScopeEUD != nil {
			w.line(2, "storage:")
			w.line(3, fmt.Sprintf("inScopeEUD: %t", *c.in.Extras.InScopeEUD))
		}
	}
	if len(c.cm) == 0 {
		w.line(0, "connectModules: {}")
	} else {
		w.line(0, "connectModules:")
	}
	w.connectModules(c.cm)
	if len(c.fm) > 0 {
		w.line(0, "modules:")
		fnames := make([]string, 0, len(c.fm))
		for n := range c.fm {
			fnames = append(fnames, n)
		}
		slices.Sort(fnames)
		for _, n := range fnames {
			w.line(1, n+":")
			w.sequence(2, c.fm[n])
		}
	}
	if len(c.scopes) > 0 {
		w.line(0, "permissions:")
		w.line(1, "scopes:")
		for _, s := range c.scopes {
			w.line(2, "- "+s)
		}
	}
	if c.env {
		w.line(0, "environment:")
		w.line(1, "variables:")
		w.line(2, "- key: "+connectKeyVar)
		w.line(3, "default: "+scalar(c.r.Key))
	}
	return []byte(w.b.String())
}

func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
