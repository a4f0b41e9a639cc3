package jira

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// BearerSource supplies the OAuth access token of one identity (a Connect
// user-impersonation token, a Forge system or user token). Tokens are
// opaque and never logged.
type BearerSource interface {
	// Bearer returns the token to send.
	Bearer(ctx context.Context) (string, error)
	// Refresh is told the token Jira or the gateway refused with 401 and
	// reports whether Bearer would now return a different one (a cached
	// token is dropped and fetched again; a token Forge delivered cannot
	// be refreshed).
	Refresh(stale string) bool
}

// UserTokens supplies Connect user-impersonation tokens (the JWT-bearer
// grant) and forgets one Jira refused. *oauth.Cache implements it.
type UserTokens interface {
	// UserToken returns an access token to act as accountID on t,
	// optionally narrowed to scopes.
	UserToken(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (string, error)
	// ForgetUserToken drops the held token if it is still stale (the one
	// Jira just refused) and reports whether it did.
	ForgetUserToken(t *tenant.Tenant, accountID string, scopes scope.Set, stale string) bool
}

// userBearer is the BearerSource of one user on one tenant.
type userBearer struct {
	tokens    UserTokens
	tenant    *tenant.Tenant
	accountID string
	scopes    scope.Set
}

func (u *userBearer) Bearer(ctx context.Context) (string, error) {
	tok, err := u.tokens.UserToken(ctx, u.tenant, u.accountID, u.scopes)
	if err != nil {
		return "", fmt.Errorf("%s on %s: %w", u.accountID, u.tenant.ClientKey, err)
	}
	return tok, nil
}

// Refresh drops the refused token; a fresh one can always be asked for
// (another caller may already have replaced it).
func (u *userBearer) Refresh(stale string) bool {
	u.tokens.ForgetUserToken(u.tenant, u.accountID, u.scopes, stale)
	return true
}

// bearer is the RoundTripper decorator of every OAuth identity: it
// authenticates each attempt with the source's token and, when the server
// answers 401 and the source can offer a different token, retries exactly
// once (with the body again, when the request can give it again).
type bearer struct {
	next      http.RoundTripper
	source    BearerSource
	base      *url.URL
	userAgent string
	what      string // "a user token", "a Forge token": for the refusal message
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	if !withinBase(b.base, req.URL) {
		closeBody(req)
		return nil, fmt.Errorf("%w: refusing to send %s for %s outside %s", ErrPathNotAllowed, b.what, req.URL.Redacted(), b.base.Redacted())
	}
	resp, tok, err := b.send(req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !b.source.Refresh(tok) {
		return resp, err
	}
	body := req.Body
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	drain(resp)
	infoFrom(req).refreshed = true
	resp, _, err = b.send(req, body)
	return resp, err
}

func (b *bearer) send(req *http.Request, body io.ReadCloser) (*http.Response, string, error) {
	tok, err := b.source.Bearer(req.Context())
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, "", fmt.Errorf("%w: %w", ErrToken, err)
	}
	out := withAuth(req, "Bearer "+tok, b.userAgent)
	out.Body = body
	infoFrom(req).sent++
	resp, err := b.next.RoundTrip(out)
	return resp, tok, err
}

// drain reads a little of a response we discard so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}
