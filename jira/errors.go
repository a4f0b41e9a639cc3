package jira

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors for requests refused before anything is sent.
var (
	// ErrAbsoluteURL: the request URL has a scheme, a host ("//host/…") or
	// user info; only paths relative to the tenant are accepted.
	ErrAbsoluteURL = errors.New("jira: only relative /rest/… paths are accepted, not absolute URLs")
	// ErrPathNotAllowed: the path does not start with /rest/, or contains
	// dot segments (also percent-encoded), backslashes, empty segments,
	// control characters or a fragment.
	ErrPathNotAllowed = errors.New("jira: path not allowed")
	// ErrGetWithBody: Jira refuses GET and HEAD requests with a body
	// (CHANGE-2328), so they are refused before sending.
	ErrGetWithBody = errors.New("jira: GET and HEAD requests must not have a body")
	// ErrTenant: the tenant cannot be called (nil, no usable baseUrl,
	// uninstalled or disabled, no shared secret).
	ErrTenant = errors.New("jira: tenant cannot be called")
	// ErrConfig: the client is missing something the call needs (app key,
	// token source, accountId).
	ErrConfig = errors.New("jira: client not configured for this call")
	// ErrResponseTooLarge: a successful response body exceeded
	// Options.MaxResponseBody.
	ErrResponseTooLarge = errors.New("jira: response body larger than the configured cap")
	// ErrToken: no user token could be obtained; the oauth error is wrapped
	// too (errors.As(err, **oauth.Error)).
	ErrToken = errors.New("jira: cannot obtain a user token")
)

// Identities an APIError can name.
const (
	IdentityApp  = "app"
	IdentityUser = "user"
)

// Reasons an APIError gives in Cause for not (or no longer) retrying.
const (
	CauseNotRetryable   = "status is not retryable"
	CauseNotIdempotent  = "method is not idempotent, so a server error is not retried"
	CauseExhausted      = "retries exhausted"
	CauseRetryAfterCap  = "Retry-After exceeds the configured cap"
	CauseNoRewind       = "request body cannot be rewound for a retry"
	CauseTokenRefreshed = "user token rejected again after one refresh"
	// CauseNotIdempotent429: a 429 to a write is not retried automatically.
	CauseNotIdempotent429 = "method is not idempotent, so a 429 is not retried"
)

// APIError is a non-2xx answer from Jira (after any retries).
type APIError struct {
	StatusCode int
	Method     string
	Path       string // escaped path relative to the tenant baseUrl, e.g. /rest/api/3/myself
	Query      string // raw query as sent, without "?"
	// Header holds the diagnostic subset of the response headers
	// (Content-Type, WWW-Authenticate, X-Seraph-LoginReason, Retry-After,
	// X-Cache, Age, Server, Via, CF-Ray, X-Request-Id, X-Arequestid,
	// Atl-Traceid, Date).
	Header        http.Header
	Body          []byte // capped at Options.MaxResponseBody
	BodyTruncated bool
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
	Identity   string // IdentityApp or IdentityUser
	ClientKey  string
	AccountID  string // the impersonated user, for IdentityUser
	Attempts   int    // requests sent, including retries and a token refresh
	Cause      string // why no (further) retry was made, if one was considered
	Duration   time.Duration
	// RateLimit is the parsed rate-limit signal of a 429 (reason, scope,
	// reset), nil for other answers.
	RateLimit *Signal
}

// diagHeaders are the response headers an APIError keeps.
var diagHeaders = []string{
	"Content-Type", "WWW-Authenticate", "X-Seraph-LoginReason", "Retry-After",
	"X-Cache", "Age", "Server", "Via", "CF-Ray", "X-Request-Id", "X-Arequestid",
	"Atl-Traceid", "Date",
	"RateLimit-Reason", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
	"X-RateLimit-NearLimit", "RateLimit", "RateLimit-Policy", "Beta-RateLimit", "Beta-RateLimit-Policy",
	"Beta-Retry-After", "X-Beta-RateLimit-Reason", "X-Failure-Category",
}

// Error returns one readable line.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jira: %s %s as %s", e.Method, e.Path, e.Identity)
	if e.ClientKey != "" {
		fmt.Fprintf(&b, " on %s", e.ClientKey)
	}
	fmt.Fprintf(&b, ": HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Cause != "" && e.Cause != CauseNotRetryable {
		fmt.Fprintf(&b, " (%s", e.Cause)
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, "; Retry-After %s", e.RetryAfter)
		}
		b.WriteString(")")
	}
	if m := e.Message(); m != "" {
		b.WriteString(": ")
		b.WriteString(m)
	}
	return b.String()
}

// Message extracts Jira's message from the body: errorMessages and errors
// of the usual JSON shape, or "message"; otherwise a short excerpt of a
// non-HTML body. It returns "" when there is nothing readable.
func (e *APIError) Message() string {
	var j struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		Message       string            `json:"message"`
	}
	if json.Unmarshal(e.Body, &j) == nil {
		parts := append([]string(nil), j.ErrorMessages...)
		for k, v := range j.Errors {
			parts = append(parts, k+": "+v)
		}
		if j.Message != "" {
			parts = append(parts, j.Message)
		}
		return strings.Join(parts, "; ")
	}
	s := strings.TrimSpace(string(e.Body))
	if s == "" || strings.HasPrefix(s, "<") {
		return ""
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func diagnosticHeaders(h http.Header) http.Header {
	out := make(http.Header)
	for _, k := range diagHeaders {
		if v := h.Values(k); len(v) > 0 {
			out[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
	return out
}
