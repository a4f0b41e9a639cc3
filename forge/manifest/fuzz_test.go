package manifest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// FuzzCheck: Check never panics on any input, and every problem it reports
// has a code, a fix and a line inside the document.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(cof))
	f.Add([]byte("app: [\n"))
	f.Add([]byte("environment:\n  variables:\n    - key: X\n      default: ${X}\napp:\n  connect:\n    key: ${X}\n"))
	for _, pattern := range []string{"testdata/*.yml", "testdata/rejected/*.yml"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	ops := []manifest.Operation{{Method: "POST", Path: "/rest/api/3/issue", OAuthClassic: []string{"write:jira-work"}, OAuthGranular: []string{"write:issue:jira"}}}
	f.Fuzz(func(t *testing.T, src []byte) {
		// YAML breaks lines at LF, CRLF and a lone CR.
		norm := bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		lines := bytes.Count(norm, []byte("\n")) + bytes.Count(norm, []byte("\r")) + 1
		for _, p := range manifest.Check(src, manifest.Options{Operations: ops}) {
			if p.Code == "" || p.Fix == "" || p.Message == "" {
				t.Fatalf("incomplete problem: %#v", p)
			}
			if p.Line < 0 || p.Line > lines {
				t.Fatalf("line %d outside the %d-line document: %v", p.Line, lines, p)
			}
		}
	})
}

// FuzzJSON5ToJSON: never panics; whatever it accepts is valid JSON, and
// strict JSON means the same after it as before.
func FuzzJSON5ToJSON(f *testing.F) {
	for _, s := range []string{`{a: 1, 'b': [1,2,], /* c */ "d": .5, // e
	}`, `{"x": "y\"z", "n": [true, null, -1e3]}`, `{'s': 'it\'s'}`, `[0x1f, +2]`, "{\n/* x", `{"a":1,,}`} {
		f.Add([]byte(s))
	}
	if files, _ := filepath.Glob("testdata/descriptors/*.json*"); len(files) > 0 {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := manifest.JSON5ToJSON(src)
		if err != nil {
			return
		}
		decode := func(b []byte) (any, error) {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			var v any
			return v, dec.Decode(&v)
		}
		if json.Valid(src) {
			b, _ := decode(src)
			a, err := decode(out)
			if err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("strict JSON changed meaning: %q -> %q (%v)", src, out, err)
			}
		}
	})
}

// FuzzConvert: Convert never panics, and when it converts, every module
// entry is accounted for and the output is YAML.
func FuzzConvert(f *testing.F) {
	f.Add([]byte(`{"key":"k","baseUrl":"https://a.acme-apps.net","modules":{"webhooks":[{"event":"jira:issue_created","url":"/h"}],"x":[]}}`))
	f.Add([]byte(`{key:'k',baseUrl:'{{localBaseUrl}}',lifecycle:{installed:'/i'},modules:{dynamicContentMacros:[{key:'m',url:'/m'}]}}`))
	if files, _ := filepath.Glob("testdata/descriptors/*.json*"); len(files) > 0 {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := manifest.Convert(manifest.ConvertInput{Descriptor: src, Values: manifest.Values{BaseURL: "https://f.acme-apps.net", Key: "k"}})
		if err != nil {
			return
		}
		r := c.Report
		if r.ModulesKept+r.ModulesDropped != r.ModulesIn {
			t.Fatalf("%d kept + %d dropped != %d in", r.ModulesKept, r.ModulesDropped, r.ModulesIn)
		}
		var v any
		if err := yaml.Unmarshal(c.YAML, &v); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, c.YAML)
		}
	})
}
