package jira

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/tenant"
)

func TestRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name   string
		method string
		url    string
		body   io.Reader
		want   error
	}{
		{"absolute https URL", "GET", "https://evil.example/rest/api/3/myself", nil, ErrAbsoluteURL},
		{"absolute URL of the tenant itself", "GET", "{base}/rest/api/3/myself", nil, ErrAbsoluteURL},
		{"scheme-relative //host", "GET", "//evil.example/rest/api/3/myself", nil, ErrAbsoluteURL},
		{"user info", "GET", "//user:pw@evil.example/rest/x", nil, ErrAbsoluteURL},
		{"not under /rest/", "GET", "/secure/admin", nil, ErrPathNotAllowed},
		{"relative without slash", "GET", "rest/api/3/myself", nil, ErrPathNotAllowed},
		{"/rest alone", "GET", "/rest", nil, ErrPathNotAllowed},
		{"dot-dot segment", "GET", "/rest/../secure/admin", nil, ErrPathNotAllowed},
		{"dot segment", "GET", "/rest/./api", nil, ErrPathNotAllowed},
		{"encoded dot-dot", "GET", "/rest/%2e%2e/secure", nil, ErrPathNotAllowed},
		{"encoded dot-dot upper case", "GET", "/rest/%2E%2E/secure", nil, ErrPathNotAllowed},
		{"half encoded dot-dot", "GET", "/rest/.%2e/secure", nil, ErrPathNotAllowed},
		{"double encoded dot-dot", "GET", "/rest/%252e%252e/secure", nil, ErrPathNotAllowed},
		{"dot-dot hidden behind encoded slash", "GET", "/rest/api%2f..%2fsecure", nil, ErrPathNotAllowed},
		{"backslash", "GET", `/rest/api\..\secure`, nil, ErrPathNotAllowed},
		{"encoded backslash", "GET", "/rest/api%5c..%5csecure", nil, ErrPathNotAllowed},
		{"empty segment", "GET", "/rest//api/3/myself", nil, ErrPathNotAllowed},
		{"encoded control character", "GET", "/rest/api/%0d%0aX-Injected:1", nil, ErrPathNotAllowed},
		{"fragment", "GET", "/rest/api/3/myself#x", nil, ErrPathNotAllowed},
		{"GET with a body", "GET", "/rest/api/3/search", strings.NewReader(`{"jql":"x"}`), ErrGetWithBody},
		{"HEAD with a body", "HEAD", "/rest/api/3/myself", bytes.NewReader([]byte("x")), ErrGetWithBody},
		{"GET with an unsized body", "GET", "/rest/api/3/myself", io.NopCloser(strings.NewReader("x")), ErrGetWithBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJira(t, "")
			c, _ := newTestClient(f, nil, RetryPolicy{})
			req, err := http.NewRequest(tt.method, strings.ReplaceAll(tt.url, "{base}", f.tenant.BaseURL), tt.body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.AsApp(f.tenant).Do(req)
			if !errors.Is(err, tt.want) || resp != nil {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if n := len(f.seen()); n != 0 {
				t.Errorf("%d requests reached Jira", n)
			}
		})
	}
}

// TestValidatePath: the one validator of user-given paths (the panel's
// checks and every Jira client call). Sources for the Tomcat readings:
// Tomcat strips ";" path parameters before normalising dot segments
// (https://tomcat.apache.org/tomcat-9.0-doc/config/http.html, "allowBackslash",
// "encodedSolidusHandling"; the "..;" traversal class, CVE-2020-1938 era
// write-ups), and refuses %2F by default.
func TestValidatePath(t *testing.T) {
	errRawOnly := errors.New("refused as text only")
	cases := []struct {
		name, path string
		want       error // nil: accepted
	}{
		{"plain", "/rest/api/3/myself", nil},
		{"query", "/rest/api/3/search/jql?jql=project%3DDOC&fields=summary", nil},
		{"query with semicolon and dots", "/rest/api/3/search?jql=summary~%22a;..%22", nil},
		{"agile", "/rest/agile/1.0/board/1", nil},
		{"encoded key", "/rest/api/3/issue/DOC%2D1", nil},
		{"non-ASCII segment", "/rest/api/3/issue/DOC-1/properties/caf%C3%A9", nil},
		{"query with slashes", "/rest/api/3/search?jql=a//b", nil},
		{"absolute", "https://evil.example/rest/api/3/myself", ErrAbsoluteURL},
		{"scheme relative", "//evil.example/rest/", ErrAbsoluteURL},
		{"backslashes", `\\evil.example\rest`, ErrAbsoluteURL},
		{"slash backslash", `/\evil.example`, ErrAbsoluteURL},
		{"mailto", "mailto:x@y", ErrAbsoluteURL},
		{"encoded slashes in rest", "/rest/%2f%2fevil.example/", ErrAbsoluteURL},
		{"double encoded slashes", "/rest/%252f%252fevil.example/", ErrAbsoluteURL},
		{"embedded scheme", "/rest/https%3A%2F%2Fevil.example", ErrAbsoluteURL},
		{"dot dot", "/rest/api/../../x", ErrPathNotAllowed},
		{"dot", "/rest/./api", ErrPathNotAllowed},
		{"encoded dots", "/rest/%2E%2E/x", ErrPathNotAllowed},
		{"triple encoded dots", "/rest/%25252e%25252e/x", ErrPathNotAllowed},
		{"empty segment", "/rest//api", ErrPathNotAllowed},
		{"backslash", `/rest/api\..\x`, ErrPathNotAllowed},
		{"encoded backslash", "/rest/api%5c..%5cx", ErrPathNotAllowed},
		{"encoded backslash alone", "/rest/api/3/a%5Cb", ErrPathNotAllowed},
		{"no rest", "/secure/admin", ErrPathNotAllowed},
		{"rest prefix only", "/restricted/x", ErrPathNotAllowed},
		{"space", "/rest/api/3/my self", errRawOnly},
		{"encoded newline", "/rest/api%0a", ErrPathNotAllowed},
		{"encoded NUL", "/rest/api/3/myself%00.json", ErrPathNotAllowed},
		{"fragment", "/rest/api/3/myself#frag", ErrPathNotAllowed},
		{"encoded fragment", "/rest/api/3/issue/DOC-1%23/comment", ErrPathNotAllowed},
		{"encoded question mark", "/rest/api/3/issue/DOC-1%3F/x", ErrPathNotAllowed},
		{"malformed escape", "/rest/api/%zz", ErrPathNotAllowed},
		{"too long", "/rest/" + strings.Repeat("a", MaxPathLength), errRawOnly},
		{"empty", "", ErrPathNotAllowed},
		{"tomcat ..;", "/rest/api/3/..;/..;/..;/secure/admin/ViewApplicationProperties.jspa", ErrPathNotAllowed},
		{"tomcat ..%3b", "/rest/api/3/..%3b/..%3b/secure", ErrPathNotAllowed},
		{"tomcat ..%3B upper", "/rest/api/3/..%3B/secure", ErrPathNotAllowed},
		{"tomcat %2e%2e;", "/rest/api/3/%2e%2e;/secure", ErrPathNotAllowed},
		{"tomcat ..;jsessionid", "/rest/api/3/..;jsessionid=x/secure", ErrPathNotAllowed},
		{"tomcat .;", "/rest/api/3/.;/myself", ErrPathNotAllowed},
		{"path parameter on a name", "/rest/api/3/myself;x=1", ErrPathNotAllowed},
		{"double-encoded ;", "/rest/api/3/..%253b/secure", ErrPathNotAllowed},
		{"encoded slash", "/rest/api/3/issue%2fDOC-1", ErrPathNotAllowed},
		{"double-encoded slash", "/rest/api/3/issue%252fDOC-1", ErrPathNotAllowed},
		{"overlong dot", "/rest/api/3/%c0%ae%c0%ae/secure", ErrPathNotAllowed},
		{"overlong slash", "/rest/api/3/..%c0%af..%c0%afsecure", ErrPathNotAllowed},
		{"raw invalid UTF-8", "/rest/api/3/\xc0\xae\xc0\xae/x", ErrPathNotAllowed},
		{"fullwidth dots", "/rest/api/3/%EF%BC%8E%EF%BC%8E/secure", ErrPathNotAllowed},
		{"fullwidth dots raw", "/rest/api/3/．．/secure", ErrPathNotAllowed},
		{"fullwidth slash", "/rest/api/3/..%EF%BC%8F..%EF%BC%8Fsecure", ErrPathNotAllowed},
		{"small semicolon", "/rest/api/3/..%EF%B9%94/secure", ErrPathNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePath(tc.path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ValidatePath(%q) = %v; want accepted", tc.path, err)
				}
				return
			}
			if tc.want == errRawOnly {
				// A user's text: a space or an excessive length; a URL a
				// caller builds has its path escaped and is not bounded.
				if !errors.Is(err, ErrPathNotAllowed) {
					t.Fatalf("ValidatePath(%q) = %v; want %v", tc.path, err, ErrPathNotAllowed)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("ValidatePath(%q) = %v; want %v", tc.path, err, tc.want)
			}
			// The client refuses the same path before sending.
			f := newFakeJira(t, "")
			c, _ := newTestClient(f, nil, RetryPolicy{})
			if _, err := c.AsApp(f.tenant).Call(t.Context(), "GET", tc.path, nil); err == nil {
				t.Fatalf("the client sent %q", tc.path)
			}
			if len(f.seen()) != 0 {
				t.Fatalf("%q reached Jira", tc.path)
			}
		})
	}
}

// FuzzValidatePath: whatever is accepted, resolved against the site's
// baseUrl the way the client does, stays on the site and under /rest/,
// and no reading of it (decoded, ";" parameters stripped as Tomcat does)
// has a dot segment.
func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/rest/api/3/myself", "//evil", "/rest/%2e%2e/", "/rest/api?x=//y", `/\x`, "/rest/a%2fb",
		"/rest/%252f%252fh/", "/rest/..;/x", "/rest/..%3b/x", "/rest/%c0%ae%c0%ae/", "/rest/．．/x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://acme.atlassian.net")
	f.Fuzz(func(t *testing.T, p string) {
		if err := ValidatePath(p); err != nil {
			if !errors.Is(err, ErrPathNotAllowed) && !errors.Is(err, ErrAbsoluteURL) {
				t.Fatalf("refusal without a sentinel: %v", err)
			}
			return
		}
		ref, err := url.Parse(p)
		if err != nil {
			t.Fatalf("accepted an unparsable path %q", p)
		}
		u := base.ResolveReference(ref)
		if u.Host != base.Host || u.Scheme != base.Scheme || !strings.HasPrefix(u.EscapedPath(), "/rest/") {
			t.Fatalf("accepted %q escapes to %s", p, u)
		}
		s := u.EscapedPath()
		for range maxDecodeRounds {
			for _, seg := range strings.Split(s, "/") {
				seg, _, _ = strings.Cut(seg, ";") // Tomcat's reading
				if seg == "." || seg == ".." {
					t.Fatalf("accepted %q has a dot segment when read as %q", p, s)
				}
			}
			next, err := url.PathUnescape(s)
			if err != nil || next == s {
				break
			}
			s = next
		}
	})
}

func TestCallRefusesMalformedPath(t *testing.T) {
	f := newFakeJira(t, "")
	c, _ := newTestClient(f, nil, RetryPolicy{})
	for _, p := range []string{"/rest/a%zz", "http://[::1", "/rest/%2e%2e/x"} {
		if _, err := c.AsApp(f.tenant).Call(t.Context(), "GET", p, nil); !errors.Is(err, ErrPathNotAllowed) {
			t.Errorf("Call(%q) err = %v", p, err)
		}
	}
	if _, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/search", []byte(`{}`)); !errors.Is(err, ErrGetWithBody) {
		t.Errorf("GET with body via Call: %v", err)
	}
	if len(f.seen()) != 0 {
		t.Error("a refused request was sent")
	}
}

func TestTenantBaseChecks(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		state tenant.State
		ok    bool
	}{
		{"https site", "https://acme.atlassian.net", tenant.StateInstalled, true},
		{"confluence", "https://acme.atlassian.net/wiki/", tenant.StateInstalled, true},
		{"loopback http (simulator)", "http://127.0.0.1:8080", tenant.StateInstalled, true},
		{"localhost http", "http://localhost:8080", tenant.StateInstalled, true},
		{"state not set", "https://acme.atlassian.net", "", true},
		{"plain http on the internet", "http://acme.atlassian.net", tenant.StateInstalled, false},
		{"other scheme", "ftp://acme.atlassian.net", tenant.StateInstalled, false},
		{"no host", "/just/a/path", tenant.StateInstalled, false},
		{"user info", "https://u:p@acme.atlassian.net", tenant.StateInstalled, false},
		{"query", "https://acme.atlassian.net?x=1", tenant.StateInstalled, false},
		{"uninstalled", "https://acme.atlassian.net", tenant.StateUninstalled, false},
		{"disabled", "https://acme.atlassian.net", tenant.StateDisabled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tenantBase(&tenant.Tenant{ClientKey: "ck", BaseURL: tt.base, State: tt.state})
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrTenant)) {
				t.Errorf("err = %v, ok want %v", err, tt.ok)
			}
		})
	}
	if _, err := tenantBase(nil); !errors.Is(err, ErrTenant) {
		t.Error("nil tenant accepted")
	}
}

func TestSignerRefusesForeignURL(t *testing.T) {
	// The decorators check the target again, so a token can never be
	// minted for another host even if a request reached them directly.
	f := newFakeJira(t, "/wiki")
	base, _ := tenantBase(f.tenant)
	s := &appSigner{next: f.srv.Client().Transport, appKey: testAppKey, tenant: f.tenant, base: base, now: f.now}
	b := &bearer{next: f.srv.Client().Transport, base: base, what: "a user token"}
	for _, raw := range []string{"https://evil.example/wiki/rest/x", f.srv.URL + "/rest/x", f.srv.URL + "/wiki/secure/x"} {
		u, _ := url.Parse(raw)
		req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
		if _, err := s.RoundTrip(req); !errors.Is(err, ErrPathNotAllowed) {
			t.Errorf("signer accepted %s: %v", raw, err)
		}
		if _, err := b.RoundTrip(req); !errors.Is(err, ErrPathNotAllowed) {
			t.Errorf("bearer accepted %s: %v", raw, err)
		}
	}
	if len(f.seen()) != 0 {
		t.Error("request sent")
	}
}

func TestNoRedirectFollowed(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = func(w http.ResponseWriter, r *http.Request, _ int) {
		http.Redirect(w, r, "https://evil.example/rest/api/3/myself", http.StatusFound)
	}
	c, _ := newTestClient(f, nil, RetryPolicy{})
	resp, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	ae, ok := errors.AsType[*APIError](err)
	if !ok || ae.StatusCode != http.StatusFound || resp.Status != http.StatusFound || len(f.seen()) != 1 {
		t.Errorf("err = %v", err)
	}
}

func TestCleanQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a=b&c=d", "a=b&c=d"},
		{"jql=project = TEST", "jql=project%20=%20TEST"},
		{"q=%E5%AE%AE+x", "q=%E5%AE%AE+x"},
		{"q=宮", "q=%E5%AE%AE"},
		{`q="a"|{b}`, "q=%22a%22%7C%7Bb%7D"},
	}
	for _, tt := range tests {
		if got := cleanQuery(tt.in); got != tt.want {
			t.Errorf("cleanQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRelativePath: whatever a caller passes, an accepted path resolves to
// the tenant's host, under its base path and /rest/, with no dot segment or
// backslash at any level of decoding.
func FuzzRelativePath(f *testing.F) {
	for _, s := range []string{
		"/rest/api/3/myself", "/rest/api/3/search?jql=a b", "/rest/../x", "/rest/%2e%2e/x", "/rest/%252e%252e/x",
		"//evil/rest", "https://evil/rest/x", "/rest/a\\b", "/rest/a%5cb", "/rest//x", "/rest/x#f", "/rest/%E5%AE%AE",
		"/rest/a%2f..%2fb", "/rest/.%2E/", "/rest/%00", "rest/x", "/rest/x?%zz",
	} {
		f.Add(s)
	}
	base, err := tenantBase(&tenant.Tenant{ClientKey: "ck", BaseURL: "https://acme.atlassian.net/wiki"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		p, q, err := checkRelative(u)
		if err != nil {
			return
		}
		out := resolve(base, p, q)
		if out.Host != base.Host || out.Scheme != base.Scheme || !withinBase(base, out) {
			t.Fatalf("%q resolved to %s", raw, out)
		}
		if !strings.HasPrefix(out.RequestURI(), "/wiki/rest/") {
			t.Fatalf("%q resolved to %s", raw, out.RequestURI())
		}
		s := out.Path
		for range 10 {
			for _, seg := range strings.Split(s, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("%q kept a dot segment: %s", raw, out.RequestURI())
				}
			}
			if strings.Contains(s, "\\") {
				t.Fatalf("%q kept a backslash: %s", raw, out.RequestURI())
			}
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			s = d
		}
		for i := 0; i < len(q); i++ {
			if !queryByteOK(q[i]) {
				t.Fatalf("query %q has byte %q", q, q[i])
			}
		}
	})
}

func TestLowerCaseGetWithBodyRefused(t *testing.T) {
	f := newFakeJira(t, "")
	c, _ := newTestClient(f, nil, RetryPolicy{})
	req, _ := http.NewRequest("get", "/rest/api/3/myself", strings.NewReader("x"))
	if _, err := c.AsApp(f.tenant).Do(req); !errors.Is(err, ErrGetWithBody) {
		t.Errorf("err = %v", err)
	}
	req, _ = http.NewRequest("get", "/rest/api/3/myself", nil)
	if _, err := c.AsApp(f.tenant).Do(req); err != nil {
		t.Fatal(err)
	}
	if s := f.seen(); len(s) != 1 || s[0].Method != "GET" {
		t.Errorf("requests %+v", s)
	}
}
