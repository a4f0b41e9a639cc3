package jira

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// AppTokenLifetime is exp − iat of the app JWTs, as ACE uses.
const AppTokenLifetime = 180 * time.Second

// jwtHeader is base64url({"typ":"JWT","alg":"HS256"}), the header Atlassian's
// libraries emit.
const jwtHeader = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"

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
	return signApp(appKey, t.ClientKey, t.SharedSecret, basePathOf(t.BaseURL), method, relURL, now)
}

func basePathOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.EscapedPath(), "/")
}

func signApp(appKey, clientKey, secret, basePath, method, requestURI string, now time.Time) (string, error) {
	iat := now.Unix()
	qsh := connect.RequestQSH(method, requestURI, basePath)
	// The claims, in ACE's order: {"iss","iat","exp","qsh","aud":[…]}.
	payload := make([]byte, 0, 64+len(appKey)+len(qsh)+len(clientKey))
	payload = append(payload, `{"iss":`...)
	payload = appendJSONString(payload, appKey)
	payload = append(payload, `,"iat":`...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, iat+int64(AppTokenLifetime/time.Second), 10)
	payload = append(payload, `,"qsh":"`...)
	payload = append(payload, qsh...)
	payload = append(payload, `","aud":[`...)
	payload = appendJSONString(payload, clientKey)
	payload = append(payload, "]}"...)

	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(jwtHeader)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(sha256.Size))
	buf = append(buf, jwtHeader...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(buf)
	var sum [sha256.Size]byte
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, m.Sum(sum[:0]))
	return string(buf), nil
}

// appendJSONString appends s as a JSON string: plain printable ASCII
// directly, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
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
	tok, err := signApp(s.appKey, s.tenant.ClientKey, s.tenant.SharedSecret, s.base.EscapedPath(), req.Method, req.URL.RequestURI(), s.now())
	if err != nil {
		closeBody(req)
		return nil, err
	}
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
