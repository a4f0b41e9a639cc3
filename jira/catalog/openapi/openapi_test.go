package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// sharedData returns the shared data directory (../shared/data from the
// repository root), which holds Atlassian's specs. A bare clone does not
// have it: the tests that compare the committed facts extract with the specs
// skip then (CI or not), and only then; every other test runs on the
// committed extract.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			t.Skipf("shared data directory %s absent", dir)
		}
		t.Fatal(err)
	}
	return dir
}

// pyRecord is one record of jira-endpoint-scopes.json, written by
// extract_scopes.py.
type pyRecord struct {
	API          string  `json:"api"`
	Method       string  `json:"method"`
	Path         string  `json:"path"`
	OperationID  string  `json:"operationId"`
	ConnectScope *string `json:"connectScope"`
	OAuthScopes  struct {
		Classic  []string `json:"classic"`
		Granular []string `json:"granular"`
	} `json:"oauthScopes"`
	Deprecated       bool     `json:"deprecated"`
	Experimental     bool     `json:"experimental"`
	AnonymousAllowed bool     `json:"anonymousAllowed"`
	Permission       string   `json:"permission"`
	PermissionDetail string   `json:"permissionDetail"`
	PermissionNames  []string `json:"permissionNames"`
}

func readSpecs(t *testing.T, dir string) []catalog.Operation {
	t.Helper()
	ops, sources, err := ReadFiles([]string{
		filepath.Join(dir, "raw", "jira-platform-v3.json") + ":platform-v3",
		filepath.Join(dir, "raw", "jira-software.json") + ":software",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 2 || sources[0].Count != 619 || sources[1].Count != 105 {
		t.Fatalf("sources = %+v", sources)
	}
	return ops
}

// TestReproducesExtractScopes checks the Go derivation against the Python
// script's output for every operation.
func TestReproducesExtractScopes(t *testing.T) {
	dir := sharedData(t)
	raw, err := os.ReadFile(filepath.Join(dir, "jira-endpoint-scopes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []pyRecord
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != 724 {
		t.Fatalf("facts file has %d records, want 724", len(want))
	}
	got := readSpecs(t, dir)
	if len(got) != len(want) {
		t.Fatalf("imported %d operations, facts file has %d", len(got), len(want))
	}
	byKey := map[string]*catalog.Operation{}
	for i := range got {
		byKey[got[i].Method+" "+got[i].Path] = &got[i]
	}
	mismatches := 0
	for _, w := range want {
		key := w.Method + " " + w.Path
		g, ok := byKey[key]
		if !ok {
			t.Errorf("%s: not imported", key)
			mismatches++
			continue
		}
		wantAPI := map[string]string{"platform-v3": "platform", "software": "software"}[w.API]
		wantScope := ""
		if w.ConnectScope != nil {
			wantScope = *w.ConnectScope
		}
		diffs := []struct {
			field     string
			got, want any
		}{
			{"api", g.API, wantAPI},
			{"operationId", g.OperationID, w.OperationID},
			{"connectScope", string(g.ConnectScope), wantScope},
			{"oauthClassic", norm(g.OAuthClassic), norm(w.OAuthScopes.Classic)},
			{"oauthGranular", norm(g.OAuthGranular), norm(w.OAuthScopes.Granular)},
			{"deprecated", g.Deprecated, w.Deprecated},
			{"experimental", g.Experimental, w.Experimental},
			{"anonymousAllowed", g.AnonymousAllowed, w.AnonymousAllowed},
			{"permission", g.Permission, w.Permission},
			{"permissionDetail", g.PermissionDetail, w.PermissionDetail},
			{"permissionNames", norm(g.PermissionNames), norm(w.PermissionNames)},
		}
		for _, d := range diffs {
			gj, _ := json.Marshal(d.got)
			wj, _ := json.Marshal(d.want)
			if !bytes.Equal(gj, wj) {
				mismatches++
				t.Errorf("%s %s: got %s, want %s", key, d.field, gj, wj)
			}
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d field mismatches against extract_scopes.py", mismatches)
	}
}

func norm(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	return s
}

// factsPath is the committed facts extract, relative to this package.
var factsPath = filepath.Join("..", "inputs", "jira-openapi-facts.json.gz")

// TestEmbeddedCatalogUpToDate fails when jira/catalog/catalog.json was not
// regenerated from the committed facts extract (run go generate
// ./jira/catalog). It needs no specs.
func TestEmbeddedCatalogUpToDate(t *testing.T) {
	f, err := os.Open(factsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ops, sources, err := ReadFacts(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := catalog.Write(&buf, sources, ops); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join("..", "catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), committed) {
		t.Fatal("jira/catalog/catalog.json is stale: run `go generate ./jira/catalog`")
	}
}

// TestFactsUpToDate fails when the committed facts extract differs from
// what the importer derives from the specs in ../shared (refresh it with
// `catalog-gen -extract`, see cmd/catalog-gen). It skips only when
// ../shared is absent.
func TestFactsUpToDate(t *testing.T) {
	dir := sharedData(t)
	matches, err := filepath.Glob(filepath.Join(dir, "raw", "*.json"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no raw specs in %s: %v", dir, err)
	}
	ops, sources, err := ReadFiles(matches)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteFacts(&buf, sources, ops); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(factsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), committed) {
		t.Fatal("jira/catalog/inputs/jira-openapi-facts.json.gz is stale: run catalog-gen -extract (see cmd/catalog-gen), then go generate ./jira/catalog")
	}
}

// TestFactsRoundTrip: the extract reads back as the facts written, and
// writing them again gives the same bytes.
func TestFactsRoundTrip(t *testing.T) {
	committed, err := os.ReadFile(factsPath)
	if err != nil {
		t.Fatal(err)
	}
	ops, sources, err := ReadFacts(bytes.NewReader(committed))
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 2 || len(ops) != sources[0].Count+sources[1].Count {
		t.Fatalf("%d operations from sources %+v", len(ops), sources)
	}
	var buf bytes.Buffer
	if err := WriteFacts(&buf, sources, ops); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), committed) {
		t.Fatal("writing the facts read back gives other bytes")
	}
	if _, _, err := ReadFacts(bytes.NewReader([]byte("{}"))); err == nil {
		t.Fatal("ReadFacts accepted a body that is not gzip")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name             string
		para             string
		wantTag, wantDet string
	}{
		{"none", "None. Results are filtered.", catalog.PermNone, "none"},
		{"jira access", "Permission to access Jira.", catalog.PermOther, "jira-access"},
		{"admin only", "*Administer Jira* global permission.", catalog.PermAdmin, "admin"},
		{"admin or project admin", "*Administer projects* for the project or *Administer Jira*.", catalog.PermAdminOrProjectAdmin, "admin-or-project-admin"},
		{"browse or admin", "*Browse projects* or *Administer projects* for the project, or *Administer Jira*.", catalog.PermProjectBrowse, "project-browse-or-admin"},
		{"browse only", "*Browse projects* for the project of the issue.", catalog.PermProjectBrowse, "project-browse"},
		{"browse and edit", "*Browse projects* and *Edit issues* for the project.", catalog.PermOther, "project-permissions"},
		{"admin or self", "Permission to access Jira for yourself, otherwise *Administer Jira*.", catalog.PermOther, "admin-or-self"},
		{"admin or owner", "*Administer Jira*, or being the creator of the item.", catalog.PermOther, "admin-or-owner"},
		{"admin and browse", "*Administer Jira* and *Browse projects*.", catalog.PermOther, "admin-and-project-browse"},
		{"admin or other", "*Administer Jira* or *Manage sprints*.", catalog.PermOther, "admin-or-other"},
		{"site admin", "The caller must be a site-admin.", catalog.PermOther, "site-admin"},
		{"org admin", "Organization admin of the site.", catalog.PermOther, "site-admin"},
		{"project admin", "*Administer projects* for the project.", catalog.PermOther, "project-admin"},
		{"app only", "Only the app that created the item can call this.", catalog.PermOther, "app-only"},
		{"browse users", "*Browse users and groups* global permission.", catalog.PermOther, "browse-users"},
		{"bulk change", "Global bulk change permission.", catalog.PermOther, "bulk-change"},
		{"named other", "*Create issues* for the project.", catalog.PermOther, "project-permissions"},
		{"nothing recognised", "See the guide.", catalog.PermOther, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, det := Classify(tt.para, permissionNames(tt.para))
			if tag != tt.wantTag || det != tt.wantDet {
				t.Fatalf("Classify(%q) = %s/%s, want %s/%s", tt.para, tag, det, tt.wantTag, tt.wantDet)
			}
		})
	}
}

func TestPermission(t *testing.T) {
	tests := []struct {
		name      string
		desc      string
		tag, det  string
		wantNames []string
	}{
		{"linked bold marker", "Does a thing.\n\n**[Permissions](#permissions) required:** *Administer Jira* [global permission](https://x.example/y).",
			catalog.PermAdmin, "admin", []string{"Administer Jira"}},
		{"plain marker", "Permissions required: None.", catalog.PermNone, "none", nil},
		{"bullets", "**Permissions required:**\n\n *  *Browse projects* [project permission](#x)\n *  *Edit issues*:",
			catalog.PermOther, "project-permissions", []string{"Browse projects", "Edit issues"}},
		{"no paragraph", "Returns things.", catalog.PermOther, "unspecified", nil},
		{"nbsp whitespace", "**Permissions\u00a0required:**\u00a0*Administer Jira*.", catalog.PermAdmin, "admin", []string{"Administer Jira"}},
		{"duplicate names", "Permissions required: *Browse projects* and *browse projects*.", catalog.PermProjectBrowse, "project-browse", []string{"Browse projects"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, det, names := Permission(tt.desc)
			if tag != tt.tag || det != tt.det || !slices.Equal(names, tt.wantNames) {
				t.Fatalf("Permission = %s/%s %q, want %s/%s %q", tag, det, names, tt.tag, tt.det, tt.wantNames)
			}
		})
	}
}

const miniSpec = `{"openapi":"3.0.1","info":{"title":"T","version":"9"},"paths":{
"/rest/api/3/thing/{id}":{
  "get":{"operationId":"getThing","summary":"Get a thing","description":"Gets it. This operation can be accessed anonymously.\n\n**Permissions required:** None.",
    "x-atlassian-connect-scope":"READ","deprecated":true,"x-experimental":true,
    "x-atlassian-oauth2-scopes":[{"scheme":"OAuth2","state":"Current","scopes":["read:jira-work"]},{"scheme":"OAuth2","state":"Beta","scopes":["read:thing:jira"]},{"state":"Other","scopes":["read:jira-user","read:x:jira"]}]},
  "delete":{"operationId":"deleteThing","x-atlassian-connect-scope":"delete",
    "security":[{"basicAuth":[]},{"OAuth2":["write:jira-work","delete:thing:jira"]}]}
},
"/rest/api/3/other":{"parameters":[{"name":"x"}],"post":{"operationId":"postOther"}}}}`

func TestParse(t *testing.T) {
	ops, src, err := Parse([]byte(miniSpec), "")
	if err != nil {
		t.Fatal(err)
	}
	if src.API != catalog.APIPlatform || src.Version != "9" || src.Count != 3 || len(src.SHA256) != 64 {
		t.Fatalf("source = %+v", src)
	}
	want := []catalog.Operation{
		{API: "platform", Method: "POST", Path: "/rest/api/3/other", OperationID: "postOther", Permission: "other", PermissionDetail: "unspecified"},
		{API: "platform", Method: "DELETE", Path: "/rest/api/3/thing/{id}", OperationID: "deleteThing", ConnectScope: "DELETE",
			OAuthClassic: []string{"write:jira-work"}, OAuthGranular: []string{"delete:thing:jira"}, Permission: "other", PermissionDetail: "unspecified"},
		{API: "platform", Method: "GET", Path: "/rest/api/3/thing/{id}", OperationID: "getThing", ConnectScope: "READ",
			OAuthClassic: []string{"read:jira-work", "read:jira-user"}, OAuthGranular: []string{"read:thing:jira", "read:x:jira"},
			Deprecated: true, Experimental: true, AnonymousAllowed: true, Permission: "none/anonymous", PermissionDetail: "none"},
	}
	gj, _ := json.Marshal(ops)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Fatalf("ops =\n%s\nwant\n%s", gj, wj)
	}
	for _, prose := range []string{"Get a thing", "Gets it"} {
		if bytes.Contains(gj, []byte(prose)) {
			t.Fatalf("prose %q leaked into operations", prose)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		api  string
		want error
	}{
		{"not json", "<html>", "", ErrNotSpec},
		{"no paths", `{"openapi":"3.0.1","paths":{}}`, "", ErrNotSpec},
		{"no version", `{"paths":{"/a":{"get":{}}}}`, "", ErrNotSpec},
		{"bad operation", `{"openapi":"3","paths":{"/a":{"get":{"operationId":5}}}}`, "", ErrNotSpec},
		{"bad api label", miniSpec, "confluence", ErrAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse([]byte(tt.data), tt.api)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestGuessAPI(t *testing.T) {
	soft := `{"openapi":"3","info":{"title":"Jira Software Cloud API"},"paths":{"/rest/agile/1.0/board":{"get":{"operationId":"b"}}}}`
	ops, src, err := Parse([]byte(soft), "")
	if err != nil || src.API != catalog.APISoftware || ops[0].API != catalog.APISoftware {
		t.Fatalf("api = %q, %v", src.API, err)
	}
}

func TestReadFilesErrors(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	if err := os.WriteFile(a, []byte(miniSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFiles([]string{a, a + ":platform"}); !errors.Is(err, ErrNotSpec) {
		t.Fatalf("duplicate operations across specs: err = %v", err)
	}
	if _, _, err := ReadFiles([]string{filepath.Join(dir, "missing.json")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
	if p, api := splitArg(`C:\specs\a.json`); p != `C:\specs\a.json` || api != "" {
		t.Fatalf("splitArg kept drive colon wrongly: %q %q", p, api)
	}
}
