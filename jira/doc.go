// Package jira calls a tenant's Jira Cloud REST API as the Connect app
// (a fresh qsh-bound HS256 JWT per request, "Authorization: JWT …") or as a
// user (a bearer token from the OAuth 2.0 JWT-bearer grant). Requests take
// relative /rest/… paths only and are resolved against the tenant's stored
// baseUrl; they pass through small RoundTripper decorators (app signer or
// bearer, then retry with Retry-After, backoff and jitter), and every non-2xx
// answer becomes an *APIError that carries what the explainer needs.
package jira
