// Package catalog is the Jira Cloud REST endpoint catalog: for every
// operation in Atlassian's OpenAPI specs, the facts that decide whether a
// Connect app may call it (Connect scope, OAuth scopes, permission tag,
// deprecation, anonymous access), and a matcher that maps a concrete request
// such as "GET /rest/api/2/issue/ABC-1?expand=names" to its operation.
//
// The catalog holds facts only, never Atlassian's prose (summaries,
// descriptions). The embedded catalog (catalog.json) is generated from the
// specs in ../shared/data/raw by cmd/catalog-gen; a newer spec can be turned
// into a catalog file with `connect-doctor catalog import` and read with Load.
package catalog

//go:generate go run ../../cmd/catalog-gen -o catalog.json ../../../shared/data/raw/*.json

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/connect-doctor/connect-doctor/scope"
)

// Format is the format marker written at the top of every catalog file.
const Format = "connect-doctor-catalog/1"

// The API labels an Operation can carry.
const (
	APIPlatform = "platform"
	APISoftware = "software"
)

// The permission tags (Operation.Permission), as derived from the
// "Permissions required" paragraph of the spec (see the openapi package).
const (
	PermAdmin               = "admin"                  // Administer Jira global permission only
	PermAdminOrProjectAdmin = "admin-or-project-admin" // Administer Jira or Administer projects
	PermProjectBrowse       = "project-browse"         // Browse projects is enough
	PermNone                = "none/anonymous"         // no permission needed (filters may apply)
	PermOther               = "other"                  // anything else; see PermissionDetail
)

// Operation is the set of facts the catalog keeps about one REST operation.
type Operation struct {
	API              string      `json:"api"`    // "platform" | "software"
	Method           string      `json:"method"` // upper case
	Path             string      `json:"path"`   // template, e.g. /rest/api/3/issue/{issueIdOrKey}
	OperationID      string      `json:"operationId"`
	ConnectScope     scope.Scope `json:"connectScope"`
	OAuthClassic     []string    `json:"oauthClassic,omitempty"`
	OAuthGranular    []string    `json:"oauthGranular,omitempty"`
	Deprecated       bool        `json:"deprecated,omitempty"`
	Experimental     bool        `json:"experimental,omitempty"`
	AnonymousAllowed bool        `json:"anonymousAllowed,omitempty"`
	Permission       string      `json:"permission"` // admin | admin-or-project-admin | project-browse | none/anonymous | other
	PermissionDetail string      `json:"permissionDetail,omitempty"`
	PermissionNames  []string    `json:"permissionNames,omitempty"`
}

// String renders the operation as "METHOD template".
func (op *Operation) String() string { return op.Method + " " + op.Path }

// PermissionLabel is the permission tag, with its detail when the detail
// says more ("other (project-permissions)"): the catalog's own vocabulary,
// as `connect-doctor endpoints --permission` filters by it.
func (op *Operation) PermissionLabel() string {
	if op.PermissionDetail != "" && op.PermissionDetail != op.Permission && op.Permission != PermNone {
		return op.Permission + " (" + op.PermissionDetail + ")"
	}
	return op.Permission
}

// PermissionNeeded names, in Jira's words, the product permission the
// acting user must hold ("Administer Jira", "Browse projects on the
// project", "Browse projects + Edit issues"); "" when none is needed or
// the catalog does not know.
func (op *Operation) PermissionNeeded() string {
	if op == nil {
		return ""
	}
	switch op.Permission {
	case PermAdmin:
		return "Administer Jira (global permission)"
	case PermAdminOrProjectAdmin:
		return "Administer Jira, or Administer projects on the project"
	case PermProjectBrowse:
		return "Browse projects on the project"
	case PermNone:
		return ""
	}
	return strings.Join(op.PermissionNames, " + ")
}

// Source records one spec a catalog was built from.
type Source struct {
	API     string `json:"api"`
	File    string `json:"file"`
	Version string `json:"version,omitempty"` // the spec's info.version
	SHA256  string `json:"sha256,omitempty"`
	Count   int    `json:"operations"`
}

// File is the on-disk form of a catalog.
type File struct {
	Format     string      `json:"format"`
	Sources    []Source    `json:"sources,omitempty"`
	Operations []Operation `json:"operations"`
}

// Errors returned by Load and New.
var (
	ErrFormat    = errors.New("not a connect-doctor catalog file")
	ErrOperation = errors.New("invalid catalog operation")
)

// Catalog is an immutable, indexed set of operations. It is safe for
// concurrent use.
type Catalog struct {
	ops     []Operation
	sources []Source
	byKey   map[string]int // METHOD + " " + template
	byID    map[string]int
	root    *node
	words   [][]string // search keywords per operation
}

//go:embed catalog.json
var embedded []byte

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := Load(bytes.NewReader(embedded))
	if err != nil {
		panic("catalog: embedded catalog.json is invalid: " + err.Error())
	}
	return c
})

// Default returns the embedded catalog, parsed once.
func Default() *Catalog { return defaultCatalog() }

// Load reads a catalog file as written by Write (or `connect-doctor catalog
// import`).
func Load(r io.Reader) (*Catalog, error) {
	return load(r)
}

// LoadFile reads a catalog file written by `connect-doctor catalog import`
// (the CATALOG_FILE setting); errors name the file.
func LoadFile(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func load(r io.Reader) (*Catalog, error) {
	var f File
	dec := json.NewDecoder(bufio.NewReader(r))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if f.Format != Format {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrFormat, f.Format, Format)
	}
	c, err := New(f.Operations)
	if err != nil {
		return nil, err
	}
	c.sources = f.Sources
	return c, nil
}

// New builds a catalog from operations. Methods are upper-cased; an
// operation without method or path, with a malformed template, or duplicating
// another's method and template is an error.
func New(ops []Operation) (*Catalog, error) {
	c := &Catalog{
		ops:   make([]Operation, len(ops)),
		byKey: make(map[string]int, len(ops)),
		byID:  make(map[string]int, len(ops)),
		root:  &node{},
	}
	copy(c.ops, ops)
	for i := range c.ops {
		op := &c.ops[i]
		op.Method = strings.ToUpper(strings.TrimSpace(op.Method))
		if op.Method == "" || !strings.HasPrefix(op.Path, "/") {
			return nil, fmt.Errorf("%w: #%d %q %q: method and absolute path template required", ErrOperation, i, op.Method, op.Path)
		}
		key := op.Method + " " + op.Path
		if _, dup := c.byKey[key]; dup {
			return nil, fmt.Errorf("%w: duplicate %s", ErrOperation, key)
		}
		c.byKey[key] = i
		if op.OperationID != "" {
			if _, dup := c.byID[op.OperationID]; !dup {
				c.byID[op.OperationID] = i
			}
		}
		if err := c.root.insert(op.Path, op.Method, i); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrOperation, key, err)
		}
	}
	c.root.addAliases()
	c.words = make([][]string, len(c.ops))
	for i := range c.ops {
		c.words[i] = keywords(&c.ops[i])
	}
	return c, nil
}

// Operations returns a copy of all operations, in catalog order.
func (c *Catalog) Operations() []Operation {
	out := make([]Operation, len(c.ops))
	copy(out, c.ops)
	return out
}

// Sources returns the specs the catalog was built from, when recorded.
func (c *Catalog) Sources() []Source { return append([]Source(nil), c.sources...) }

// Len returns the number of operations.
func (c *Catalog) Len() int { return len(c.ops) }

// Lookup finds the operation with exactly this method and path template
// (e.g. "GET", "/rest/api/3/issue/{issueIdOrKey}"). The method is
// case-insensitive.
func (c *Catalog) Lookup(method, template string) (*Operation, bool) {
	i, ok := c.byKey[strings.ToUpper(method)+" "+template]
	if !ok {
		return nil, false
	}
	return &c.ops[i], true
}

// ByOperationID finds an operation by its operationId.
func (c *Catalog) ByOperationID(id string) (*Operation, bool) {
	i, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	return &c.ops[i], true
}

// SortOperations orders operations by api, path and method, the order of
// catalog files.
func SortOperations(ops []Operation) {
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := &ops[i], &ops[j]
		if a.API != b.API {
			return a.API < b.API
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
}

// Write writes a catalog file: a JSON object with one operation per line so
// that diffs between spec versions stay readable. Operations are written in
// the order given (use SortOperations first for a canonical file).
func Write(w io.Writer, sources []Source, ops []Operation) error {
	bw := bufio.NewWriter(w)
	head, err := json.Marshal(struct {
		Format  string   `json:"format"`
		Sources []Source `json:"sources"`
	}{Format, sources})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1])
	bw.WriteString(",\n\"operations\":[\n")
	for i := range ops {
		b, err := json.Marshal(&ops[i])
		if err != nil {
			return err
		}
		bw.Write(b)
		if i < len(ops)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}
