package oauth

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// callers classify failures with errors.Is; *Error carries the details.
var (
	// ErrAssertion: the assertion could not be built or signed locally
	// (missing oauthClientId, shared secret or accountId).
	ErrAssertion = errors.New("oauth: cannot build the JWT-bearer assertion")
	// ErrScope: the requested scope set contains a scope that cannot be
	// requested (unknown, NONE-only is fine, INACCESSIBLE is not).
	ErrScope = errors.New("oauth: invalid scope for a user token")
	// ErrTenantInactive: the tenant is uninstalled or disabled.
	ErrTenantInactive = errors.New("oauth: tenant is not installed and enabled")
	// ErrNetwork: the authorization server could not be reached or did not
	// answer in time.
	ErrNetwork = errors.New("oauth: authorization server unreachable")
	// ErrInvalidGrant: the server refused the assertion (lifetime, clock
	// skew, unknown or inactive user, app without ACT_AS_USER, bad signature).
	ErrInvalidGrant = errors.New("oauth: invalid_grant")
	// ErrUnauthorizedClient: the client may not use this grant; typically the
	// assertion was sent to the wrong authorization server.
	ErrUnauthorizedClient = errors.New("oauth: unauthorized_client")
	// ErrTokenEndpoint: any other error answer from the token endpoint.
	ErrTokenEndpoint = errors.New("oauth: token endpoint refused the request")
	// ErrBadResponse: a 200 answer that is not a usable token, or an answer
	// larger than the configured cap.
	ErrBadResponse = errors.New("oauth: unusable token endpoint response")
)

// Error describes a failed token exchange: an error answer from the
// authorization server (StatusCode, Code and Description as in RFC 6749
// §5.2), or a network failure (StatusCode 0, Err set). Server is the
// authorization server's base URL. It is never built from, and never
// contains, the assertion or the shared secret.
type Error struct {
	StatusCode  int
	Code        string // "invalid_grant", "unauthorized_client", …
	Description string // the server's error_description
	Server      string
	Err         error // underlying cause (network error, decode error), if any
}

// Error returns a one-line, readable message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oauth: token exchange at ")
	b.WriteString(e.Server)
	switch {
	case e.StatusCode == 0 && e.Err != nil:
		fmt.Fprintf(&b, " failed: %v", e.Err)
	default:
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
		if e.Description != "" {
			b.WriteString(": ")
			b.WriteString(e.Description)
		}
		if e.Err != nil {
			fmt.Fprintf(&b, " (%v)", e.Err)
		}
	}
	return b.String()
}

// Unwrap exposes both the classifying sentinel and the underlying cause.
func (e *Error) Unwrap() []error {
	errs := []error{e.kind()}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func (e *Error) kind() error {
	switch {
	case e.StatusCode == 0:
		return ErrNetwork
	case e.Code == "invalid_grant":
		return ErrInvalidGrant
	case e.Code == "unauthorized_client":
		return ErrUnauthorizedClient
	case e.StatusCode >= 200 && e.StatusCode < 300:
		return ErrBadResponse
	default:
		return ErrTokenEndpoint
	}
}

// Hint suggests what to check for this failure, in words an app
// administrator can act on.
func (e *Error) Hint() string {
	switch e.kind() {
	case ErrNetwork:
		return "The authorization server could not be reached. Check outbound network access to " + e.Server +
			" (proxy, firewall, DNS) and, for local development, OAUTH_TOKEN_URL."
	case ErrInvalidGrant:
		d := strings.ToLower(e.Description)
		switch {
		case strings.Contains(d, "expiration") || strings.Contains(d, "expired") || strings.Contains(d, "future"):
			return "The assertion's lifetime or timestamps were refused: exp must be at most 60 s after iat. Check this server's clock (NTP)."
		case strings.Contains(d, "scope") || strings.Contains(d, "act_as_user"):
			return "The app must declare the ACT_AS_USER scope, and the site must have installed the version that declares it."
		case strings.Contains(d, "user"):
			return "The user cannot be impersonated: check the accountId exists on the site and the account is active."
		}
		return "The authorization server refused the assertion: check the app declares ACT_AS_USER, the user exists and is active, " +
			"the shared secret is current (reinstall rotates it) and this server's clock is correct."
	case ErrUnauthorizedClient:
		return "The assertion was sent to an authorization server that does not accept the JWT-bearer grant for this app " +
			"(auth.atlassian.io is the 3LO server). Use the server for the tenant's host or fix OAUTH_TOKEN_URL."
	case ErrBadResponse:
		return "The token endpoint answered 200 without a usable token; check OAUTH_TOKEN_URL points at an authorization server."
	}
	return "The token endpoint refused the request; the code and description above come from the server."
}
