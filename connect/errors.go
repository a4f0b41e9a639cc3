package connect

import (
	"errors"
	"net/http"
)

// Sentinel errors of the verifiers. Each maps to an HTTP status and a stable
// error code through Problem; match them with errors.Is.
var (
	ErrNoToken                = errors.New("no JWT on the request")
	ErrTokenTooLarge          = errors.New("JWT or Authorization header too large")
	ErrDuplicateToken         = errors.New("request carries two different JWTs")
	ErrAuthScheme             = errors.New("authorization scheme is not JWT")
	ErrMalformedToken         = errors.New("JWT is malformed")
	ErrUnsupportedAlg         = errors.New("JWT algorithm not allowed for this route")
	ErrMissingClaim           = errors.New("JWT lacks a required claim")
	ErrOwnToken               = errors.New("JWT was issued by this app, not by Atlassian")
	ErrUnknownTenant          = errors.New("JWT issuer is not an installed tenant")
	ErrTenantUninstalled      = errors.New("tenant has uninstalled the app")
	ErrTenantDisabled         = errors.New("tenant has disabled the app")
	ErrBadSignature           = errors.New("JWT signature does not verify")
	ErrExpired                = errors.New("JWT has expired")
	ErrNotYetValid            = errors.New("JWT is not valid yet")
	ErrLifetimeTooLong        = errors.New("JWT lifetime is too long")
	ErrQSHMissing             = errors.New("JWT has no qsh claim")
	ErrQSHMismatch            = errors.New("JWT qsh does not match the request")
	ErrContextTokenNotAllowed = errors.New("context token used on a route that needs a request-bound token")
	ErrContextTokenRequired   = errors.New("route accepts only context tokens")
	ErrInvalidKID             = errors.New("JWT kid is missing or malformed")
	ErrUnknownKID             = errors.New("install key server does not know the kid")
	ErrKeyServer              = errors.New("install key server unavailable")
	ErrAudience               = errors.New("JWT audience is not this app")
	ErrIssuerMismatch         = errors.New("JWT issuer does not match the payload clientKey")
	ErrWeakSecret             = errors.New("tenant shared secret too short")
	ErrStore                  = errors.New("tenant store unavailable")
)

// Problem is the HTTP view of an error: status, stable code, message and a
// hint for the person who has to fix it.
type Problem struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Canonical is the canonical request the app computed, for qsh errors.
	Canonical string `json:"canonicalRequest,omitempty"`
}

// VerifyError carries a sentinel plus request-specific detail (the computed
// canonical request, the tenant's clientKey) for the problem body.
type VerifyError struct {
	Err       error
	Detail    string
	Canonical string
	ClientKey string
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

func (e *VerifyError) Unwrap() error { return e.Err }

var problems = []struct {
	err    error
	status int
	code   string
	hint   string
}{
	{ErrNoToken, 401, "no_token", "Send the token as 'Authorization: JWT <token>' or as the jwt query parameter."},
	{ErrTokenTooLarge, 401, "token_too_large", "The Authorization header or jwt parameter exceeds the size limit."},
	{ErrDuplicateToken, 401, "duplicate_token", "Send exactly one JWT: either the Authorization header or the jwt query parameter."},
	{ErrAuthScheme, 401, "auth_scheme_invalid", "Connect tokens use the 'JWT' scheme: 'Authorization: JWT <token>', not 'Bearer'."},
	{ErrMalformedToken, 401, "malformed_token", "The token must be three base64url parts separated by dots, with JSON header and claims."},
	{ErrUnsupportedAlg, 401, "unsupported_alg", "Requests from Jira are HS256; install and uninstall callbacks are RS256 with a kid."},
	{ErrMissingClaim, 401, "missing_claim", "Atlassian tokens carry iss, iat, exp and qsh."},
	{ErrOwnToken, 401, "own_token_rejected", "Tokens this app mints for calling Jira are never accepted by the app itself."},
	{ErrUnknownTenant, 401, "unknown_tenant", "The token's iss must be the clientKey of a site that installed the app; reinstall the app on the site."},
	{ErrTenantUninstalled, 403, "tenant_uninstalled", "The site uninstalled the app; install it again to use it."},
	{ErrTenantDisabled, 403, "tenant_disabled", "The site disabled the app; a Jira administrator can enable it in Manage apps."},
	{ErrBadSignature, 401, "bad_signature", "The token was not signed with the site's current shared secret (a reinstall rotates it)."},
	{ErrExpired, 401, "expired", "The token has expired; reload the page. If it happens at once, check the server clock."},
	{ErrNotYetValid, 401, "not_yet_valid", "The token's iat or nbf is in the future: a clock is skewed. Synchronise the server clock with NTP."},
	{ErrLifetimeTooLong, 401, "token_lifetime_too_long", "Atlassian's tokens live minutes (exp - iat ≤ 1 hour is accepted); a longer-lived token is refused."},
	{ErrQSHMissing, 401, "qsh_missing", "Request tokens must carry a qsh claim bound to the request."},
	{ErrQSHMismatch, 401, "qsh_mismatch", "The qsh claim was computed over a different method, path or query; compare the canonical request."},
	{ErrContextTokenNotAllowed, 401, "context_token_not_allowed", "Context tokens (qsh=context-qsh) are accepted only by the app's API routes."},
	{ErrContextTokenRequired, 401, "context_token_required", "This route accepts only tokens from AP.context.getToken()."},
	{ErrInvalidKID, 401, "invalid_kid", "Install callbacks must carry a kid of letters, digits, '-', '_' and '.'."},
	{ErrUnknownKID, 401, "unknown_kid", "The install key server does not know this kid; the install was not signed by Atlassian."},
	{ErrKeyServer, 503, "key_server_unavailable", "The install key server could not be reached; Jira will retry the install."},
	{ErrAudience, 401, "wrong_audience", "The install token's aud must equal the app's baseUrl; check BASE_URL."},
	{ErrIssuerMismatch, 401, "client_key_mismatch", "The install token's iss must equal the clientKey in the payload."},
	{ErrWeakSecret, 401, "weak_secret", "The tenant's shared secret is too short to be used as an HMAC key."},
	{ErrStore, 503, "store_unavailable", "The database is unavailable; try again shortly."},
}

// ProblemFor maps an error from this package to its HTTP problem. Errors
// that are not verification errors become a 401 "unauthorized" (never a 500:
// a bad token is the caller's problem).
func ProblemFor(err error) Problem {
	for _, p := range problems {
		if errors.Is(err, p.err) {
			msg := err.Error()
			if p.status >= 500 {
				// A dependency failed: its error (database addresses,
				// driver text) is for the logs, not for the caller.
				msg = p.err.Error()
			}
			pr := Problem{Status: p.status, Code: p.code, Message: msg, Hint: p.hint}
			var ve *VerifyError
			if errors.As(err, &ve) {
				pr.Canonical = ve.Canonical
			}
			return pr
		}
	}
	return Problem{Status: http.StatusUnauthorized, Code: "unauthorized", Message: err.Error()}
}
