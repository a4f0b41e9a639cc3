package jira

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// AppTokenLifetime is exp − iat of the app JWTs, as ACE uses.
const AppTokenLifetime = connect.AppTokenLifetime

// SignAppToken returns the JWT with which the app calls Jira: HS256 with
// the tenant's shared secret, iss = appKey, aud = [clientKey], iat = now,
// exp = iat + 180 s, and the qsh of method and relURL. relURL is the path
// and query relative to the site ("/rest/api/3/myself?x=y"); a path that
// still carries the tenant baseUrl's path (Confluence's "/wiki") has it
// removed first, since the qsh is computed without it.
func SignAppToken(appKey string, t *tenant.Tenant, method, relURL string, now time.Time) (string, error) {
	if appKey == "" {
		return "", fmt.Errorf("%w: no app key", ErrConfig)
	}
	if t == nil || t.ClientKey == "" {
		return "", fmt.Errorf("%w: no clientKey", ErrTenant)
	}
	if t.SharedSecret == "" {
		return "", fmt.Errorf("%w: %s has no shared secret", ErrTenant, t.ClientKey)
	}
	return connect.SignAppToken(appKey, t.ClientKey, t.SharedSecret, basePathOf(t.BaseURL), method, relURL, now), nil
}

func basePathOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

// appSigner is the RoundTripper decorator that authenticates each request
// (and each retry of it) as the app with a fresh JWT.
type appSigner struct {
	next      http.RoundTripper
	appKey    string
	userAgent string
	tenant    *tenant.Tenant
	base      *url.URL
	now       func() time.Time
}

func (s *appSigner) RoundTrip(req *http.Request) (*http.Response, error) {
	if !withinBase(s.base, req.URL) {
		closeBody(req)
		return nil, fmt.Errorf("%w: refusing to sign a request for %s outside %s", ErrPathNotAllowed, req.URL.Redacted(), s.base.Redacted())
	}
	tok := connect.SignAppToken(s.appKey, s.tenant.ClientKey, s.tenant.SharedSecret, s.base.EscapedPath(), req.Method, req.URL.RequestURI(), s.now())
	out := withAuth(req, "JWT "+tok, s.userAgent)
	infoFrom(req).sent++
	return s.next.RoundTrip(out)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// withAuth returns a shallow copy of req with its own header map carrying
// the Authorization and User-Agent headers (a RoundTripper must not modify
// the request it is given).
func withAuth(req *http.Request, authorization, userAgent string) *http.Request {
	out := new(http.Request)
	*out = *req
	h := make(http.Header, len(req.Header)+2)
	for k, v := range req.Header {
		h[k] = v
	}
	h["Authorization"] = []string{authorization}
	h["User-Agent"] = []string{userAgent}
	out.Header = h
	return out
}
