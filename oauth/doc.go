// Package oauth obtains access tokens that let a Connect app call Jira as a
// user: the OAuth 2.0 JWT-bearer grant ("user impersonation", Atlassian's
// 2LOi). It mints the HS256 assertion with the tenant's shared secret,
// exchanges it at the authorization server that serves the tenant's host
// (POST <server>/oauth2/token), and caches the resulting bearer tokens per
// (clientKey, accountId, scope set) in a bounded LRU with one exchange in
// flight per key.
//
// Failures from the authorization server are *Error values carrying the
// OAuth error code and description, classified by the sentinel errors
// (ErrInvalidGrant, ErrUnauthorizedClient, ErrNetwork, …) for errors.Is.
package oauth
