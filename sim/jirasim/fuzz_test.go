package jirasim

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
)

// FuzzAuthorization checks that no Authorization header the fuzzer makes up
// gets a non-anonymous operation answered: every one is refused with 401
// (or 403 for a JWT "sub" impersonation attempt, 431 for a huge header).
func FuzzAuthorization(f *testing.F) {
	s, err := New(Options{Seed: 7})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	h := s.siteHandler()
	f.Add("JWT eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ0ZXN0LWFwcCJ9.c2ln")
	f.Add("JWT eyJhbGciOiJub25lIn0.eyJpc3MiOiJ0ZXN0LWFwcCIsInFzaCI6IngifQ.")
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")
	f.Add("Basic YWRtaW46YWRtaW4=")
	f.Add("JWT ....")
	f.Add("")
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest(http.MethodGet, "/rest/api/3/myself", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestHeaderFieldsTooLarge:
		default:
			t.Fatalf("Authorization %q got %d", auth, rec.Code)
		}
	})
}

// BenchmarkAppJWTRequest measures one authorised REST call through the
// whole pipeline (JWT verification, qsh, catalog match, scope, permission,
// body), without the network.
func BenchmarkAppJWTRequest(b *testing.B) {
	clk := &fixedClock{t: time.Now()}
	s, err := New(Options{Seed: 7, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	in := s.installForBench("bench-app", "READ")
	h := s.siteHandler()
	const uri = "/rest/api/3/issue/DOC-1?fields=summary,status"
	tok := appToken(in, clk.Now(), "GET", uri, nil)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, uri, nil)
		req.Header.Set("Authorization", "JWT "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkQSHCheck isolates the canonicalisation the site does per call.
func BenchmarkQSHCheck(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = connect.RequestQSH("GET", "/rest/api/3/search/jql?jql=project%20%3D%20DOC&fields=summary,status&maxResults=50", "")
	}
}
