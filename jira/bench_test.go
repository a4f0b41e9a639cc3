package jira

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// nopTransport answers 200 without I/O, so the benchmark measures the
// decorator.
type nopTransport struct{ resp http.Response }

func (n *nopTransport) RoundTrip(*http.Request) (*http.Response, error) {
	r := n.resp
	return &r, nil
}

var benchTenant = &tenant.Tenant{
	ClientKey: "jira:5b10ac8d-82e0-5b22-cc7d-4ef5aaaaaaaa", BaseURL: "https://acme.atlassian.net",
	SharedSecret: "tenant-shared-secret-0123456789-abcdef-0123456789", State: tenant.StateInstalled,
}

// BenchmarkSignAppToken mints one app JWT (qsh + claims + HS256).
func BenchmarkSignAppToken(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignAppToken(testAppKey, benchTenant, "GET", "/rest/api/3/search?jql=project%20%3D%20TEST&maxResults=50&fields=summary,status", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignOutgoingRequest runs one request through the app signer
// decorator: target check, qsh, JWT, request clone and headers.
func BenchmarkSignOutgoingRequest(b *testing.B) {
	base, err := tenantBase(benchTenant)
	if err != nil {
		b.Fatal(err)
	}
	s := &appSigner{next: &nopTransport{resp: http.Response{StatusCode: 200, Body: http.NoBody}},
		appKey: testAppKey, userAgent: "ua", tenant: benchTenant, base: base, now: time.Now}
	u, _ := url.Parse("https://acme.atlassian.net/rest/api/3/search?jql=project%20%3D%20TEST&maxResults=50&fields=summary,status")
	req := &http.Request{Method: "GET", URL: u, Header: http.Header{"Accept": {"application/json"}}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.RoundTrip(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallAsApp is a whole Call (validation, resolve, retry, signer,
// body read) over a no-I/O transport.
func BenchmarkCallAsApp(b *testing.B) {
	c := New(Options{HTTP: &http.Client{Transport: &nopTransport{resp: http.Response{StatusCode: 200, Body: http.NoBody}}}, AppKey: testAppKey})
	d := c.AsApp(benchTenant)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Call(ctx, "GET", "/rest/api/3/myself", nil); err != nil {
			b.Fatal(err)
		}
	}
}
