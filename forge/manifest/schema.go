package manifest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// The data the converter reads (see each file's "about"/"source"):
// forge-schema.json is generated from the pinned @forge/manifest
// (tools/forge-manifest-check/module-table.js; CI fails when they disagree);
// connect-modules-notes.json and auth-paths.json are kept by hand.
var (
	//go:embed data/forge-schema.json
	forgeSchemaJSON []byte
	//go:embed data/connect-modules-notes.json
	moduleNotesJSON []byte
	//go:embed data/auth-paths.json
	authPathsJSON []byte
	//go:embed data/descriptor-patterns.json
	patternsJSON []byte
)

// Patterns is data/descriptor-patterns.json.
type Patterns struct {
	ProductEvidence       map[string]map[string][]string `json:"productEvidence"` // product → event|location|context → prefixes
	AmbiguousEvents       []string                       `json:"ambiguousEvents"`
	ConnectContextObjects []string                       `json:"connectContextObjects"`
	DevTunnelSuffixes     []string                       `json:"devTunnelSuffixes"`
}

// patterns parses the embedded patterns once; the result is never
// modified. The file is checked by TestPatternsData.
var patterns = sync.OnceValue(func() *Patterns {
	var p Patterns
	if err := json.Unmarshal(patternsJSON, &p); err != nil {
		panic("forge/manifest: data/descriptor-patterns.json: " + err.Error())
	}
	return &p
})

// Schema is what Atlassian's validator accepts, per product.
type Schema struct {
	Source         string              `json:"source"`
	Version        string              `json:"version"`
	ConnectModules map[string][]string `json:"connectModules"` // product → descriptor module names
	ConnectScopes  map[string][]string `json:"connectScopes"`  // product → manifest scope spellings
	ForgeModules   []string            `json:"forgeModules"`   // manifest spelling
}

// ModuleNotes is the hand-kept knowledge about Connect modules.
type ModuleNotes struct {
	Renamed      map[string]map[string]Rename   `json:"renamed"`      // product → descriptor name → rename
	Refused      map[string]map[string]Refusal  `json:"refused"`      // product → descriptor name → why
	ConsiderNext map[string]map[string][]string `json:"considerNext"` // product → Connect module → Forge modules
}

// Rename maps a descriptor module name to the connectModules name.
type Rename struct {
	To  string `json:"to"`
	Why string `json:"why"`
}

// Refusal explains a module Connect on Forge does not accept.
type Refusal struct {
	Why     string   `json:"why"`
	Instead []string `json:"instead"`
}

// AuthPath is one request path of a Connect-on-Forge app.
type AuthPath struct {
	ID       string   `json:"id"`
	When     string   `json:"when"` // "connect": Connect modules present; "forge": Forge modules or remote endpoints
	Path     string   `json:"path"`
	Token    string   `json:"token"`
	Identity string   `json:"identity"`
	Changes  string   `json:"changes"`
	Expect   []string `json:"expect"` // Connect Doctor cause codes
	// Now is set by Convert: the path is in use by the converted manifest
	// (false: it starts once Forge modules or remote endpoints are added).
	Now bool `json:"now"`
}

// Tables are the converter's data; LoadTables parses the embedded files.
type Tables struct {
	Schema Schema
	Notes  ModuleNotes
	Auth   []AuthPath
}

// LoadTables parses the embedded data files. It fails only if they are
// malformed, which the package tests rule out.
func LoadTables() (*Tables, error) {
	t := &Tables{}
	if err := json.Unmarshal(forgeSchemaJSON, &t.Schema); err != nil {
		return nil, fmt.Errorf("data/forge-schema.json: %w", err)
	}
	if err := json.Unmarshal(moduleNotesJSON, &t.Notes); err != nil {
		return nil, fmt.Errorf("data/connect-modules-notes.json: %w", err)
	}
	var ap struct {
		Paths []AuthPath `json:"paths"`
	}
	if err := json.Unmarshal(authPathsJSON, &ap); err != nil {
		return nil, fmt.Errorf("data/auth-paths.json: %w", err)
	}
	t.Auth = ap.Paths
	return t, nil
}

// mustTables is for package-internal callers (Check) that cannot fail: the
// embedded files are tested.
func mustTables() *Tables {
	t, err := LoadTables()
	if err != nil {
		panic(err)
	}
	return t
}

// Products are the products Connect on Forge supports.
var Products = []string{"jira", "confluence"}

// Supports reports whether connectModules accepts "<product>:<name>".
func (s *Schema) Supports(product, name string) bool {
	return slices.Contains(s.ConnectModules[product], name)
}

// ConnectScope returns the manifest spelling of a Connect scope for product
// and whether @forge/manifest knows it.
func (s *Schema) ConnectScope(scope, product string) (string, bool) {
	sp := ConnectScopeSpelling(normConnect(scope), product)
	return sp, slices.Contains(s.ConnectScopes[product], sp)
}
