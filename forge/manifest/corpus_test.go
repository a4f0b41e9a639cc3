package manifest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// corpusIndex is testdata/descriptors/corpus.json.
type corpusIndex struct {
	Fixtures []struct {
		File   string `json:"file"`
		Models struct {
			Repository, Path, Commit string
		} `json:"models"`
		Product string         `json:"product"`
		Style   string         `json:"style"`
		Modules map[string]int `json:"modules"`
		Convert struct {
			BaseURL string   `json:"base-url"`
			Key     string   `json:"key"`
			Set     []string `json:"set"`
			Product string   `json:"product"`
		} `json:"convert"`
	} `json:"fixtures"`
}

// TestDescriptorCorpus converts every fixture modelled on a public
// descriptor: 100% must convert, as the product the original is for, with
// every module entry kept or dropped with a note, and pass our checker.
// With CORPUS_OUT set, each manifest is written to CORPUS_OUT/<fixture>/
// manifest.yml for Atlassian's validator (.ci/forge-manifest-check.sh).
func TestDescriptorCorpus(t *testing.T) {
	b, err := os.ReadFile("testdata/descriptors/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var idx corpusIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Fixtures) < 40 {
		t.Fatalf("%d fixtures, want at least 40", len(idx.Fixtures))
	}
	out := os.Getenv("CORPUS_OUT")
	var converted, in, kept, dropped int
	products, repos := map[string]int{}, map[string]bool{}
	for _, f := range idx.Fixtures {
		t.Run(strings.TrimSuffix(strings.TrimSuffix(f.File, ".json5"), ".json"), func(t *testing.T) {
			if f.Models.Repository == "" || len(f.Models.Commit) != 40 || f.Models.Path == "" {
				t.Fatalf("fixture does not record what it models: %+v", f.Models)
			}
			repos[f.Models.Repository] = true
			desc, err := os.ReadFile(filepath.Join("testdata/descriptors", f.File))
			if err != nil {
				t.Fatal(err)
			}
			vals := manifest.Values{BaseURL: f.Convert.BaseURL, Key: f.Convert.Key, Set: map[string]string{}}
			for _, s := range f.Convert.Set {
				k, v, _ := strings.Cut(s, "=")
				vals.Set[k] = v
			}
			c, err := manifest.Convert(manifest.ConvertInput{Descriptor: desc, Source: f.File, Values: vals, Product: f.Convert.Product})
			if err != nil {
				t.Fatalf("does not convert: %v", err)
			}
			converted++
			r := c.Report
			if r.Product != f.Product {
				t.Errorf("product %s (%v), the original is a %s app", r.Product, r.ProductEvidence, f.Product)
			}
			products[r.Product]++
			want := 0
			for _, n := range f.Modules {
				want += n
			}
			if r.ModulesIn != want {
				t.Errorf("%d module entries in, the original has %d", r.ModulesIn, want)
			}
			for _, o := range r.Modules {
				if f.Modules[o.Module] != o.In {
					t.Errorf("%s: %d in, the original has %d", o.Module, o.In, f.Modules[o.Module])
				}
				if (o.Outcome == manifest.Dropped || o.Outcome == manifest.Empty) && o.Reason == "" {
					t.Errorf("%s %s without a note", o.Module, o.Outcome)
				}
			}
			if r.ModulesKept+r.ModulesDropped != r.ModulesIn {
				t.Errorf("%d kept + %d dropped != %d in", r.ModulesKept, r.ModulesDropped, r.ModulesIn)
			}
			in, kept, dropped = in+r.ModulesIn, kept+r.ModulesKept, dropped+r.ModulesDropped
			if ps := errorsOnly(manifest.Check(c.YAML, manifest.Options{})); len(ps) > 0 {
				t.Errorf("our checker refuses the manifest: %v\n%s", ps, c.YAML)
			}
			if out != "" {
				dir := filepath.Join(out, strings.TrimSuffix(strings.TrimSuffix(f.File, ".json5"), ".json"))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "manifest.yml"), c.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if products["jira"] == 0 || products["confluence"] == 0 || len(repos) < 30 {
		t.Errorf("corpus lacks variety: products %v, %d repositories", products, len(repos))
	}
	t.Logf("descriptor corpus: %d/%d converted; module entries %d in = %d kept + %d dropped with a note; products %v; %d repositories",
		converted, len(idx.Fixtures), in, kept, dropped, products, len(repos))
}
