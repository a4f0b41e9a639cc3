package jira

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testAppKey = "com.example.doctor"

// seen is one request as the fake Jira received it.
type seen struct {
	Method, RequestURI string
	Auth               string // "jwt", "bearer" or ""
	Token              string // bearer token or raw JWT
	QSH, Canonical     string // recomputed by the fake from the wire request
	Iat                int64
	Body               string
	UserAgent          string
}

// fakeJira is a Jira-side verifier: every app request must carry a valid
// HS256 JWT (iss = app key, aud = [clientKey], exp = iat + 180 s) whose qsh
// equals the qsh the fake recomputes from the request line it received,
// relative to the tenant's base path. Bearer requests must carry a token in
// the accepted set. Anything else is answered 401 and reported.
type fakeJira struct {
	t        *testing.T
	srv      *httptest.Server
	basePath string
	tenant   *tenant.Tenant
	now      func() time.Time

	mu        sync.Mutex
	requests  []seen
	bearers   map[string]bool
	respond   func(w http.ResponseWriter, r *http.Request, n int) // n = 1-based request number
	allowFail bool                                                // do not report auth failures
}

func newFakeJira(t *testing.T, basePath string) *fakeJira {
	f := &fakeJira{t: t, basePath: basePath, now: func() time.Time { return fixedNow }, bearers: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	f.tenant = &tenant.Tenant{
		ClientKey:    "jira:client-key-123",
		AppKey:       testAppKey,
		BaseURL:      f.srv.URL + basePath,
		DisplayURL:   "https://display.example.com" + basePath,
		SharedSecret: "tenant-shared-secret-0123456789-abcdef",
		State:        tenant.StateInstalled,
	}
	return f
}

func (f *fakeJira) refuse(w http.ResponseWriter, format string, args ...any) {
	if !f.allowFail {
		f.t.Errorf("fake jira: "+format, args...)
	}
	w.Header().Set("WWW-Authenticate", `JWT realm="jira"`)
	w.WriteHeader(http.StatusUnauthorized)
}

func (f *fakeJira) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	s := seen{Method: r.Method, RequestURI: r.RequestURI, Body: string(body), UserAgent: r.UserAgent()}
	ok := f.authenticate(w, r, &s)
	f.mu.Lock()
	f.requests = append(f.requests, s)
	n := len(f.requests)
	respond := f.respond
	f.mu.Unlock()
	if !ok {
		return
	}
	if respond != nil {
		respond(w, r, n)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"n":%d}`, n)
}

func (f *fakeJira) authenticate(w http.ResponseWriter, r *http.Request, s *seen) bool {
	if !strings.HasPrefix(r.RequestURI, f.basePath+"/rest/") {
		f.refuse(w, "request %q outside %s/rest/", r.RequestURI, f.basePath)
		return false
	}
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "JWT "):
		s.Auth, s.Token = "jwt", strings.TrimPrefix(auth, "JWT ")
		s.Canonical = connect.CanonicalRequest(r.Method, r.RequestURI, f.basePath)
		s.QSH = connect.QSH(s.Canonical)
		var c connect.Claims
		_, err := jwt.NewParser(
			jwt.WithValidMethods([]string{"HS256"}),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
			jwt.WithIssuer(testAppKey), jwt.WithAudience(f.tenant.ClientKey),
			jwt.WithTimeFunc(f.now),
		).ParseWithClaims(s.Token, &c, func(*jwt.Token) (any, error) { return []byte(f.tenant.SharedSecret), nil })
		if err != nil {
			f.refuse(w, "JWT for %s %s: %v", r.Method, r.RequestURI, err)
			return false
		}
		s.Iat = c.IssuedAt.Unix()
		if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life != 180*time.Second {
			f.refuse(w, "exp − iat = %s, want 180 s", life)
			return false
		}
		if c.Subject != "" {
			f.refuse(w, "app JWT has sub %q", c.Subject)
			return false
		}
		if c.QSH != s.QSH {
			f.refuse(w, "qsh mismatch for %s %s: token %s, recomputed %s over %q", r.Method, r.RequestURI, c.QSH, s.QSH, s.Canonical)
			return false
		}
		return true
	case strings.HasPrefix(auth, "Bearer "):
		s.Auth, s.Token = "bearer", strings.TrimPrefix(auth, "Bearer ")
		f.mu.Lock()
		ok := f.bearers[s.Token]
		f.mu.Unlock()
		if !ok {
			if !f.allowFail {
				f.t.Logf("fake jira: unknown bearer token %q", s.Token)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="jira"`)
			w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"message":"Client must be authenticated to access this resource.","status-code":401}`)
			return false
		}
		return true
	}
	f.refuse(w, "no credentials on %s %s", r.Method, r.RequestURI)
	return false
}

func (f *fakeJira) seen() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.requests...)
}

func (f *fakeJira) acceptBearer(tok string, ok bool) {
	f.mu.Lock()
	f.bearers[tok] = ok
	f.mu.Unlock()
}

// sleepRecorder replaces RetryPolicy.Sleep: it records the waits and
// advances the injected clock instead of sleeping.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
	now   time.Time
}

func (s *sleepRecorder) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.now = s.now.Add(d)
	s.mu.Unlock()
	return nil
}

func (s *sleepRecorder) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// newTestClient returns a client whose clock and sleeps are the recorder's
// and whose jitter is zero.
func newTestClient(f *fakeJira, tokens UserTokens, policy RetryPolicy) (*Client, *sleepRecorder) {
	rec := &sleepRecorder{now: fixedNow}
	f.now = rec.Now
	policy.Sleep = rec.Sleep
	if policy.Jitter == nil {
		policy.Jitter = func(time.Duration) time.Duration { return 0 }
	}
	c := New(Options{
		HTTP:    f.srv.Client(),
		AppKey:  testAppKey,
		Version: "1.2.3",
		Tokens:  tokens,
		Now:     rec.Now,
		Retry:   policy,
	})
	return c, rec
}

// decodeUnverified reads a JWT's claims without checking the signature,
// for assertions on what we minted.
func decodeUnverified(tok string, claims jwt.Claims) error {
	_, _, err := jwt.NewParser().ParseUnverified(tok, claims)
	return err
}
