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
