package forge

import (
	"errors"
	"net/http"
)

// Sentinel is a classified verification failure. Every error returned by the
// verifier, the key sets and the OAuth header parser wraps exactly one
// Sentinel, so errors.Is(err, ErrFITExpired) and Code(err) both work.
type Sentinel struct {
	code   string
	msg    string
	hint   string
	status int
}

func (s *Sentinel) Error() string { return "forge: " + s.msg }

// Code is the stable machine-readable code, e.g. "fit_expired".
func (s *Sentinel) Code() string { return s.code }

// Hint says what to change to make the failure go away.
func (s *Sentinel) Hint() string { return s.hint }

// Status is the HTTP status a remote should answer with.
func (s *Sentinel) Status() int { return s.status }

func sentinel(code, msg, hint string) *Sentinel {
	return &Sentinel{code: code, msg: msg, hint: hint, status: http.StatusUnauthorized}
}

// FIT verification failures. The codes double as explainer cause codes.
var (
	ErrFITMissing = sentinel("fit_missing",
		"no Forge Invocation Token: the request has no \"Authorization: Bearer\" header",
		"Forge always sends Authorization: Bearer <FIT>; a request without it did not come through Forge (a direct call, or a proxy that strips the header).")
	ErrFITMalformed = sentinel("fit_malformed",
		"the Forge Invocation Token is not a well-formed JWT",
		"Send the FIT exactly as Forge delivered it in Authorization: Bearer; do not re-encode or truncate it.")
	ErrFITBadAlg = sentinel("fit_bad_alg",
		"the Forge Invocation Token is not signed with RS256",
		"Forge signs FITs with RS256 only; any other alg (HS256, none, ES256, …) is refused to prevent algorithm confusion.")
	ErrFITBadSignature = sentinel("fit_bad_signature",
		"the Forge Invocation Token signature does not verify",
		"The token was altered or not signed by Forge. Check that FORGE_JWKS_URL points at the key set of the environment that minted it.")
	ErrFITUnknownKID = sentinel("fit_unknown_kid",
		"the Forge Invocation Token's key id is not in the configured key set",
		"Usually an environment mismatch: a staging token checked against the production JWKS or the reverse. Set FORGE_JWKS_URL / FORGE_ALLOW_STAGING to match the Forge environment.")
	ErrFITWrongIssuer = sentinel("fit_wrong_iss",
		"the token's iss is not \"forge/invocation-token\"",
		"Only Forge Invocation Tokens are accepted on /forge routes; a Forge context token (iss forge/context-token) or a Connect JWT is not one.")
	ErrFITWrongAudience = sentinel("fit_wrong_aud",
		"the token's aud is not this app's id",
		"Set FORGE_APP_ID to the app.id of manifest.yml (ari:cloud:ecosystem::app/<uuid>); a separately registered staging app has a different id.")
	ErrFITAppMismatch = sentinel("fit_app_mismatch",
		"the token's app.id differs from its aud",
		"A genuine FIT carries the same app ARI in aud and app.id; this token is inconsistent.")
	ErrFITExpired = sentinel("fit_expired",
		"the Forge Invocation Token has expired",
		"FITs live about 25 s: check the server clock (NTP) and queueing delays; a captured request cannot be replayed later.")
	ErrFITNotYetValid = sentinel("fit_not_yet_valid",
		"the Forge Invocation Token is not valid yet (nbf or iat in the future)",
		"The server clock is behind Forge's: synchronise it with NTP, or raise the leeway slightly.")
	ErrFITLifetimeTooLong = sentinel("fit_lifetime_too_long",
		"the Forge Invocation Token is valid for longer than a FIT may be (exp - iat)",
		"Forge's FITs live about 25 s; a token meant to be valid for longer than the verifier's maximum (1 hour by default) is refused whatever its signature.")
	ErrFITClaimMissing = sentinel("fit_claim_missing",
		"the Forge Invocation Token lacks a required claim",
		"A FIT must carry exp, iat, nbf, jti, app.id and app.installationId.")
	ErrFITDevEnvironment = sentinel("fit_dev_environment",
		"the token comes from a Forge environment this backend does not accept",
		"All Forge environments share the app id. Point development installs at a development backend, or add the environment to FORGE_ALLOWED_ENVIRONMENTS.")
	ErrFITReplayed = sentinel("fit_replayed",
		"the Forge Invocation Token's jti was already used",
		"Each FIT is accepted once; a repeated jti means a replayed or duplicated request.")
	ErrFITICLabel = sentinel("fit_ic_label_refused",
		"the token's icLabel names an Isolated Cloud whose key set this backend does not trust",
		"icLabel selects an Isolated Cloud key set only when it matches ^[a-z0-9_-]{1,50}$ and is listed in FORGE_IC_LABELS, with FORGE_IC_JWKS_URL set to the key set URL template Atlassian gave at onboarding.")
	ErrJWKSUnavailable = &Sentinel{code: "fit_jwks_unavailable",
		msg:    "the Forge key set could not be fetched",
		hint:   "Check that FORGE_JWKS_URL is reachable from the server and returns a JWKS with RS256 keys.",
		status: http.StatusServiceUnavailable}
	ErrForgeTokenMalformed = &Sentinel{code: "forge_token_malformed",
		msg:    "a Forge OAuth header is present but not a usable token",
		hint:   "x-forge-oauth-system and x-forge-oauth-user carry a raw token without a scheme; remove the header or pass the token unchanged.",
		status: http.StatusBadRequest}
)

// ErrConfig is returned by NewVerifier and ConfigFromEnv for bad configuration.
var ErrConfig = errors.New("forge: invalid configuration")

// Code returns the stable code of the first Sentinel in err's tree, or "" for
// nil, or "internal" for an unclassified error.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var s *Sentinel
	if errors.As(err, &s) {
		return s.code
	}
	return "internal"
}
