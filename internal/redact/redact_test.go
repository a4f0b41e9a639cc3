package redact

import (
	"encoding/json"
	"strings"
	"testing"
)

// A GET /rest/api/3/myself answer (shape from the Jira Cloud REST v3
// documentation of getCurrentUser), cut and whole.
const myself = `{"self":"https://acme.atlassian.net/rest/api/3/user?accountId=5b10a2844c20165700ede21g","accountId":"5b10a2844c20165700ede21g","accountType":"atlassian","emailAddress":"mia@example.com","avatarUrls":{"48x48":"https://avatar.example/mia.png?s=48","24x24":"https://avatar.example/mia.png?s=24"},"displayName":"Mia Krystof","active":true,"timeZone":"Australia/Sydney","locale":"en_US","groups":{"size":3,"items":[]}}`

func TestText(t *testing.T) {
	r := New()
	cases := []struct {
		name, in string
		gone     []string
		kept     []string
	}{
		{"myself", myself, []string{"mia@example.com", "Mia Krystof", "avatar.example", "Australia/Sydney"}, []string{"5b10a2844c20165700ede21g", `"active":true`, `"groups"`}},
		{"cut in a value", myself[:strings.Index(myself, "Krystof")], []string{"Mia", "mia@example.com"}, []string{"accountType"}},
		{"user search array", `[{"accountId":"a1","displayName":"Ann Lee","emailAddress":"ann@example.com"},{"accountId":"a2","displayName":"Bo \"B\" Z"}]`, []string{"Ann Lee", "ann@example.com", "Bo "}, []string{"a1", "a2"}},
		{"e-mail in free text", `{"errorMessages":["User 'sam.o@corp.example.org' cannot be assigned"]}`, []string{"sam.o@corp.example.org"}, []string{"cannot be assigned"}},
		{"encoded e-mail", `{"self":"https://x/rest/api/3/user/search?query=sam%40corp.example.org"}`, []string{"sam%40corp.example.org"}, []string{"user/search"}},
		{"spaces around colon", `{"displayName" : "Ann Lee"}`, []string{"Ann Lee"}, nil},
		{"no personal data", `{"errorMessages":["You do not have permission"],"errors":{}}`, nil, []string{"You do not have permission"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := r.Text(tc.in)
			for _, g := range tc.gone {
				if strings.Contains(out, g) {
					t.Errorf("kept %q: %s", g, out)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(out, k) {
					t.Errorf("lost %q: %s", k, out)
				}
			}
			if again := r.Text(out); again != out {
				t.Errorf("not idempotent:\n%s\n%s", out, again)
			}
			if json.Valid([]byte(tc.in)) && !json.Valid([]byte(out)) {
				t.Errorf("valid JSON became invalid: %s", out)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	f.Add(myself)
	f.Add(`{"displayName":"a\"b","x":1}`)
	r := New()
	f.Fuzz(func(t *testing.T, s string) {
		out := r.Text(s)
		if json.Valid([]byte(s)) && !json.Valid([]byte(out)) {
			t.Fatalf("valid JSON became invalid: %q -> %q", s, out)
		}
	})
}
