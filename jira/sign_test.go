package jira

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestSignAppTokenOfficialVector reproduces the full app-token vector of
// connect-protocol.md §1.c byte for byte.
func TestSignAppTokenOfficialVector(t *testing.T) {
	tenant := &tenant.Tenant{ClientKey: "client-key-123", BaseURL: "https://acme.atlassian.net", SharedSecret: "shared-secret-xyz"}
	got, err := SignAppToken("my-app-key", tenant, "GET", "/rest/api/3/myself", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	const want = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJteS1hcHAta2V5IiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAxODAsInFzaCI6ImM3OTBlODYzY2VjZGRiZjEzNjlkNWUwNThkNWY3MWQ5ZDE5NzQxYTQ5N2E2ZTQ2ODEzNTE5MDkxMDk3NTk1MTMiLCJhdWQiOlsiY2xpZW50LWtleS0xMjMiXX0.YuBJDIu0zNbRuMe5NFOq5QHf0qwQ-VcFSv7oZq_UMGw"
	if got != want {
		t.Errorf("token\n got %s\nwant %s", got, want)
	}
}

func TestSignAppTokenConfluenceWikiPath(t *testing.T) {
	tenant := &tenant.Tenant{ClientKey: "ck", BaseURL: "https://acme.atlassian.net/wiki", SharedSecret: "s"}
	a, _ := SignAppToken("app", tenant, "GET", "/rest/api/space", fixedNow)
	b, _ := SignAppToken("app", tenant, "GET", "/wiki/rest/api/space", fixedNow)
	if a == "" || a != b {
		t.Errorf("the qsh must not depend on whether the caller kept /wiki: %q vs %q", a, b)
	}
	var c connect.Claims
	if err := decodeUnverified(a, &c); err != nil || c.QSH != "c8483d04d4d62762cf010a238bc611e55970256bf528162d23a4999abc3553b2" {
		t.Errorf("qsh %q (%v), want the documented Confluence vector", c.QSH, err)
	}
}

func TestSignAppTokenRefuses(t *testing.T) {
	good := tenant.Tenant{ClientKey: "ck", BaseURL: "https://a.atlassian.net", SharedSecret: "s"}
	tests := []struct {
		name   string
		appKey string
		tenant *tenant.Tenant
		want   error
	}{
		{"no app key", "", &good, ErrConfig},
		{"nil tenant", "app", nil, ErrTenant},
		{"no clientKey", "app", &tenant.Tenant{SharedSecret: "s"}, ErrTenant},
		{"no secret", "app", &tenant.Tenant{ClientKey: "ck"}, ErrTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SignAppToken(tt.appKey, tt.tenant, "GET", "/rest/api/3/myself", fixedNow); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestAppRequestsVerifiedByJira sends app requests through the whole
// client to the Jira-side verifier, which recomputes each qsh from the
// request line it received. Known qsh values come from the protocol doc.
func TestAppRequestsVerifiedByJira(t *testing.T) {
	tests := []struct {
		name          string
		basePath      string
		method        string
		rel           string
		body          string
		wantCanonical string
		wantQSH       string // "" = only the verifier's check
	}{
		{name: "myself", method: "GET", rel: "/rest/api/3/myself",
			wantCanonical: "GET&/rest/api/3/myself&", wantQSH: "c790e863cecddbf1369d5e058d5f71d9d19741a497a6e4681351909109759513"},
		{name: "search with encoded spaces and comma list", method: "GET", rel: "/rest/api/3/search?jql=project%20%3D%20TEST&maxResults=50&fields=summary,status",
			wantCanonical: "GET&/rest/api/3/search&fields=summary%2Cstatus&jql=project%20%3D%20TEST&maxResults=50", wantQSH: "da2b195781b926d0ae1f87542bc5c769f9e741b4c37ce6b4544e5cb56999b1ef"},
		{name: "raw spaces in the query are encoded before signing", method: "GET", rel: "/rest/api/3/search?jql=project = TEST&maxResults=50&fields=summary,status",
			wantCanonical: "GET&/rest/api/3/search&fields=summary%2Cstatus&jql=project%20%3D%20TEST&maxResults=50", wantQSH: "da2b195781b926d0ae1f87542bc5c769f9e741b4c37ce6b4544e5cb56999b1ef"},
		{name: "plus means space", method: "GET", rel: "/rest/api/3/search?jql=project+%3D+TEST&maxResults=50&fields=summary%2Cstatus",
			wantCanonical: "GET&/rest/api/3/search&fields=summary%2Cstatus&jql=project%20%3D%20TEST&maxResults=50"},
		{name: "expand list", method: "GET", rel: "/rest/api/2/issue/TEST-1?expand=names,renderedFields",
			wantQSH: "0e908f150c46c2c3a216465221e4191b2e090d3bfc0e5f8fcd0bc7b081dfe33e"},
		{name: "repeated parameters sorted", method: "GET", rel: "/rest/api/3/issue/bulkfetch?id=20&id=10&id=2&expand=b&expand=a",
			wantCanonical: "GET&/rest/api/3/issue/bulkfetch&expand=a,b&id=10,2,20"},
		{name: "upper case keys first", method: "GET", rel: "/rest/api/3/x?b=2&B=1&a=3",
			wantCanonical: "GET&/rest/api/3/x&B=1&a=3&b=2"},
		{name: "encoded unicode path segment", method: "GET", rel: "/rest/api/3/user/properties/%E5%AE%AE%E5%B4%8E?accountId=5b10a",
			wantCanonical: "GET&/rest/api/3/user/properties/%E5%AE%AE%E5%B4%8E&accountId=5b10a"},
		{name: "unencoded space in path", method: "GET", rel: "/rest/api/3/filter/my filter",
			wantCanonical: "GET&/rest/api/3/filter/my%20filter&"},
		{name: "ampersand in path", method: "GET", rel: "/rest/api/3/project/a&b?x=y",
			wantCanonical: "GET&/rest/api/3/project/a%26b&x=y"},
		{name: "trailing slash", method: "GET", rel: "/rest/api/3/project/",
			wantQSH: "a826a6d81661bd0c8ae663bb9a9ba8c7e8206902eae02b64a00242f6640b5907"},
		{name: "unicode and reserved characters in values", method: "GET", rel: "/rest/api/3/search?jql=summary~%22%E5%AE%AE*%22&x=%27a%27(b)!",
			wantCanonical: "GET&/rest/api/3/search&jql=summary~%22%E5%AE%AE%2A%22&x=%27a%27%28b%29%21"},
		{name: "POST with a body", method: "POST", rel: "/rest/api/3/issue", body: `{"fields":{}}`,
			wantQSH: "a64b1ba2731272596784da7588c6e16deb1619108576546ab4299429d981f400"},
		{name: "PUT", method: "PUT", rel: "/rest/api/3/issue/TEST-1?notifyUsers=false", body: `{"fields":{"summary":"x"}}`,
			wantCanonical: "PUT&/rest/api/3/issue/TEST-1&notifyUsers=false"},
		{name: "tenant with /wiki base path", basePath: "/wiki", method: "GET", rel: "/rest/api/space",
			wantCanonical: "GET&/rest/api/space&", wantQSH: "c8483d04d4d62762cf010a238bc611e55970256bf528162d23a4999abc3553b2"},
		{name: "/wiki with query", basePath: "/wiki", method: "GET", rel: "/rest/api/content?spaceKey=DS&expand=body.storage,version",
			wantCanonical: "GET&/rest/api/content&expand=body.storage%2Cversion&spaceKey=DS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJira(t, tt.basePath)
			c, _ := newTestClient(f, nil, RetryPolicy{})
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			resp, err := c.AsApp(f.tenant).Call(t.Context(), tt.method, tt.rel, body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 {
				t.Fatalf("status %d", resp.Status)
			}
			got := f.seen()
			if len(got) != 1 {
				t.Fatalf("%d requests", len(got))
			}
			s := got[0]
			if s.Auth != "jwt" {
				t.Fatalf("auth %q", s.Auth)
			}
			if !strings.HasPrefix(s.RequestURI, tt.basePath+"/rest/") {
				t.Errorf("request went to %q", s.RequestURI)
			}
			if tt.wantCanonical != "" && s.Canonical != tt.wantCanonical {
				t.Errorf("canonical %q, want %q", s.Canonical, tt.wantCanonical)
			}
			if tt.wantQSH != "" && s.QSH != tt.wantQSH {
				t.Errorf("qsh %s, want %s (canonical %q)", s.QSH, tt.wantQSH, s.Canonical)
			}
			if s.Body != tt.body {
				t.Errorf("body %q", s.Body)
			}
			if s.UserAgent != testAppKey+"/1.2.3 (connect-doctor)" {
				t.Errorf("User-Agent %q", s.UserAgent)
			}
		})
	}
}

func TestAppRequestIsSentToBaseURLNotDisplayURL(t *testing.T) {
	f := newFakeJira(t, "")
	c, _ := newTestClient(f, nil, RetryPolicy{})
	if !strings.HasPrefix(f.tenant.DisplayURL, "https://display.example.com") {
		t.Fatal("fixture: DisplayURL must differ from BaseURL")
	}
	if _, err := c.AsApp(f.tenant).Call(t.Context(), http.MethodGet, "/rest/api/3/myself", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("BaseURL server saw %d requests", n)
	}
}

func TestAppTokenClaimsWithUnusualCharacters(t *testing.T) {
	tenant := &tenant.Tenant{ClientKey: "ck \"quoted\" <&> é", BaseURL: "https://a.atlassian.net", SharedSecret: "s"}
	tok, err := SignAppToken(`app\key`, tenant, "GET", "/rest/api/3/myself", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	var c connect.Claims
	if err := decodeUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != `app\key` || len(c.Audience) != 1 || c.Audience[0] != tenant.ClientKey {
		t.Errorf("claims %+v", c)
	}
}
