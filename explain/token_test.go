package explain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
)

// The full app-token vector of connect-protocol.md §1.c.
const docToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJteS1hcHAta2V5IiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAxODAsInFzaCI6ImM3OTBlODYzY2VjZGRiZjEzNjlkNWUwNThkNWY3MWQ5ZDE5NzQxYTQ5N2E2ZTQ2ODEzNTE5MDkxMDk3NTk1MTMiLCJhdWQiOlsiY2xpZW50LWtleS0xMjMiXX0.YuBJDIu0zNbRuMe5NFOq5QHf0qwQ-VcFSv7oZq_UMGw"

func TestDecodeTokenVector(t *testing.T) {
	r, err := explain.DecodeToken("Authorization: JWT " + docToken)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Claims
	if r.Kind != explain.KindConnectJWT || r.Header.Alg != "HS256" || c.Issuer != "my-app-key" || *c.IssuedAt != 1700000000 || *c.ExpiresAt != 1700000180 ||
		len(c.Audience) != 1 || c.Audience[0] != "client-key-123" || !strings.HasPrefix(c.QSH, "c790e863") {
		t.Fatalf("decoded %+v", r)
	}
	if r.Lifetime != "3m" {
		t.Errorf("lifetime %q", r.Lifetime)
	}
	if got := r.VerifySignature("shared-secret-xyz"); got != explain.SigValid {
		t.Errorf("signature %s with the right secret", got)
	}
	r2, _ := explain.DecodeToken(docToken)
	if got := r2.VerifySignature("wrong-secret", "older", "shared-secret-xyz"); got != explain.SigValidPrevious {
		t.Errorf("signature %s, want valid_with_previous_secret", got)
	}
	r3, _ := explain.DecodeToken(docToken)
	if got := r3.VerifySignature("wrong-secret"); got != explain.SigInvalid {
		t.Errorf("signature %s with a wrong secret", got)
	}
	r.CheckTimes(time.Unix(1700000000+400, 0))
	if r.Times[1].Claim != "exp" || r.Times[1].Relative != "expired 3m40s ago" || r.Times[1].Time != "2023-11-14T22:16:20Z" {
		t.Errorf("times %+v", r.Times)
	}
	q := r.CheckQSH("GET", "/rest/api/3/myself", "")
	if !q.Match || q.Canonical != "GET&/rest/api/3/myself&" {
		t.Errorf("qsh check %+v", q)
	}
}

func TestDecodeTokenProblems(t *testing.T) {
	tests := []struct {
		name, tok, problem string
		wantErr            bool
	}{
		{"not a JWT", "ATATT3xFfGF0abc", "", true},
		{"two parts", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0", "", true},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4IiwicXNoIjoiYWJjIiwiZXhwIjoxfQ.", `alg is "none"`, false},
		{"string exp", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4IiwicXNoIjoiYWJjIiwiZXhwIjoiMTcwMDAwMDAwMCJ9.c2ln", "exp is a string", false},
		{"millisecond exp", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4IiwicXNoIjoiYWJjIiwiZXhwIjoxNzAwMDAwMDAwMDAwfQ.c2ln", "milliseconds", false},
		{"no exp on a Connect JWT", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4IiwicXNoIjoiYWJjIn0.c2ln", "no exp claim", false},
		{"padded", "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4IiwicXNoIjoiYWJjIiwiZXhwIjoxfQ==.c2ln", "padded", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := explain.DecodeToken(tc.tok)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error, report %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(r.Problems, "|"), tc.problem) {
				t.Errorf("problems %q lack %q", r.Problems, tc.problem)
			}
		})
	}
}

func TestTokenKinds(t *testing.T) {
	tests := []struct {
		name string
		c    claims
		kind string
	}{
		{"app JWT", appClaims("GET", "/x"), explain.KindConnectJWT},
		{"context token", claims{"iss": testClientKey, "qsh": "context-qsh", "exp": 1}, explain.KindConnectContext},
		{"assertion", claims{"iss": "urn:atlassian:connect:clientid:abc", "sub": "urn:atlassian:connect:useraccountid:123", "exp": 1}, explain.KindAssertion},
		{"forge invocation", claims{"iss": "forge/invocation-token", "aud": "ari:cloud:ecosystem::app/x", "exp": 1}, explain.KindForgeInvocation},
		{"oauth access", claims{"iss": "https://auth.atlassian.com", "aud": "api.atlassian.com", "scope": "read:jira-work", "exp": 1}, explain.KindOAuthAccess},
		{"unknown", claims{"iss": "https://login.example.com", "sub": "u1", "exp": 1}, explain.KindJWT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := explain.DecodeToken(mint(t, tc.c, testSecret))
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != tc.kind {
				t.Errorf("kind %s, want %s", r.Kind, tc.kind)
			}
		})
	}
}

// TestQSHVariants: for each common mistake, a token minted with the
// mistaken canonical request is recognised and the mistake named.
func TestQSHVariants(t *testing.T) {
	tests := []struct {
		name, method, uri, base, mintedCanonical, want string
	}{
		{"base path included", "GET", "/wiki/rest/api/space", "/wiki", "GET&/wiki/rest/api/space&", "base path /wiki was included"},
		{"query omitted", "GET", "/rest/api/3/issue/ABC-1?expand=names", "", "GET&/rest/api/3/issue/ABC-1&", "query string was left out"},
		{"plus for space", "GET", "/rest/api/3/search/jql?jql=a%20b", "", "GET&/rest/api/3/search/jql&jql=a+b", `"+" instead of "%20"`},
		{"unsorted", "GET", "/rest/api/3/x?b=2&a=1", "", "GET&/rest/api/3/x&b=2&a=1", "not canonicalised"},
		{"comma unencoded", "GET", "/rest/api/3/issue/A-1?expand=names,renderedFields", "", "GET&/rest/api/3/issue/A-1&expand=names,renderedFields", "commas were left unencoded"},
		{"method", "POST", "/rest/api/3/issue", "", "GET&/rest/api/3/issue&", "minted for method GET"},
		{"lower-case method", "GET", "/rest/api/3/myself", "", "get&/rest/api/3/myself&", "not upper-cased"},
		{"trailing slash", "GET", "/rest/api/3/project/", "", "GET&/rest/api/3/project/&", "trailing slash was kept"},
		{"v2 vs v3", "GET", "/rest/api/2/myself", "", "GET&/rest/api/3/myself&", "minted for /rest/api/3/"},
		{"absolute URL", "GET", "https://acme.atlassian.net/rest/api/3/myself", "", "GET&https://acme.atlassian.net/rest/api/3/myself&", "absolute URL"},
		{"decoded path", "GET", "/rest/api/3/project/A%20B", "", "GET&/rest/api/3/project/A B&", "percent-decoded"},
		{"no trailing &", "GET", "/rest/api/3/myself", "", "GET&/rest/api/3/myself", `trailing "&"`},
		{"gateway prefix", "GET", "/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/api/3/myself", "/ex/jira/11223344-a1b2-3b33-c444-def123456789", "GET&/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/api/3/myself&", "base path /ex/jira/"},
		{"base path and query", "GET", "/wiki/rest/api/content?limit=5", "/wiki", "GET&/wiki/rest/api/content&", "base path /wiki was included in the hashed path (it must be left out), and the query string was left out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := with(appClaims(tc.method, tc.uri), "qsh", connect.QSH(tc.mintedCanonical))
			r, err := explain.DecodeToken(mint(t, c, testSecret))
			if err != nil {
				t.Fatal(err)
			}
			q := r.CheckQSH(tc.method, tc.uri, tc.base)
			if q.Match {
				t.Fatalf("mistaken qsh matched; canonical %s", q.Canonical)
			}
			if !strings.Contains(q.VariantName, tc.want) || q.VariantCanonical != tc.mintedCanonical {
				t.Errorf("variant %q (%q), want %q (%q)", q.VariantName, q.VariantCanonical, tc.want, tc.mintedCanonical)
			}
		})
	}
}
