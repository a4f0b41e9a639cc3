package jira

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TokenSource supplies user tokens and forgets one Jira refused.
// *oauth.Cache implements it.
type TokenSource interface {
	Token(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (*oauth.Token, error)
	Invalidate(t *tenant.Tenant, accountID string, scopes scope.Set, stale *oauth.Token) bool
}

var _ TokenSource = (*oauth.Cache)(nil)

// bearer is the RoundTripper decorator that authenticates as a user. When
// Jira answers 401 it drops the token from the source and retries exactly
// once with a fresh one.
type bearer struct {
	next      http.RoundTripper
	source    TokenSource
	tenant    *tenant.Tenant
	base      *url.URL
	accountID string
	scopes    scope.Set
	userAgent string
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	if !withinBase(b.base, req.URL) {
		closeBody(req)
		return nil, fmt.Errorf("%w: refusing to send a user token for %s outside %s", ErrPathNotAllowed, req.URL.Redacted(), b.base.Redacted())
	}
	resp, tok, err := b.send(req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	b.source.Invalidate(b.tenant, b.accountID, b.scopes, tok)
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
	info := infoFrom(req)
	info.refreshed = true
	resp, _, err = b.send(req, body)
	return resp, err
}

func (b *bearer) send(req *http.Request, body io.ReadCloser) (*http.Response, *oauth.Token, error) {
	tok, err := b.source.Token(req.Context(), b.tenant, b.accountID, b.scopes)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, nil, fmt.Errorf("%w for %s on %s: %w", ErrToken, b.accountID, b.tenant.ClientKey, err)
	}
	out := withAuth(req, "Bearer "+tok.AccessToken, b.userAgent)
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
