// Package forge authenticates Forge Remote calls: it verifies Forge Invocation
// Tokens (FITs, RS256 JWTs signed by a key from a JWKS pinned by configuration,
// iss "forge/invocation-token", aud = the app ARI), applies an environment and
// replay policy, and reads the Forge OAuth headers (x-forge-oauth-system,
// x-forge-oauth-user) into values that never print their secrets.
//
// A FIT's icLabel (Isolated Cloud) selects a key set only when it matches
// ICLabelPattern and is listed in Config.ICLabels; the label is read before
// verification, so it never names a URL by itself. Claims.LicenseState and
// LicensePolicy/RequireLicense read app.license ("active", falling back to
// the deprecated "isActive").
//
// Every verification failure is a sentinel error with a stable code
// (Code(err), e.g. "fit_wrong_aud"), a hint and an HTTP status: a Sentinel
// implements the Code/Hint/Status interface that api/httperr renders as the
// project's one JSON error envelope.
//
// Facts: shared/docs/forge.md §1.2 (request), §1.3 (FIT), §1.4 (tokens), §5.
package forge
