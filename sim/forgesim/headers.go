package forgesim

import (
	"context"
	"io"
	"net/http"
)

// Forge's headers on a call to a remote (forge.md §1.2).
const (
	HeaderSystemToken = "x-forge-oauth-system"
	HeaderUserToken   = "x-forge-oauth-user"
	HeaderTraceID     = "x-b3-traceid"
	HeaderSpanID      = "x-b3-spanid"
)

// Invocation describes one call from Forge to a remote.
type Invocation struct {
	FIT string
	// SystemToken is sent when the endpoint's auth.appSystemToken is
	// enabled; UserToken only for a UI call with auth.appUserToken, a user
	// scope and a user in session (never to triggers, never on
	// requestRemote).
	SystemToken, UserToken string
	// TraceID and SpanID default to random ids.
	TraceID, SpanID string
	// Custom are request headers set by the frontend's invokeRemote.
	Custom http.Header
}

// Header renders the headers Forge sends: authorization, the b3 trace ids,
// the OAuth headers when present, and any custom headers.
func (inv Invocation) Header() http.Header {
	h := http.Header{}
	for k, vs := range inv.Custom {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Authorization", "Bearer "+inv.FIT)
	trace, span := inv.TraceID, inv.SpanID
	if trace == "" {
		trace = RandomID()
	}
	if span == "" {
		span = RandomID()[:16]
	}
	h.Set(HeaderTraceID, trace)
	h.Set(HeaderSpanID, span)
	if inv.SystemToken != "" {
		h.Set(HeaderSystemToken, inv.SystemToken)
	}
	if inv.UserToken != "" {
		h.Set(HeaderUserToken, inv.UserToken)
	}
	return h
}

// RequestRemote is the invocation a browser's requestRemote makes: the FIT
// only, never OAuth tokens.
func RequestRemote(fit string) Invocation { return Invocation{FIT: fit} }

// NewRequest builds the request Forge would send. Events and scheduled
// triggers are POSTs with a JSON body; UI calls use the method invokeRemote
// asked for.
func NewRequest(ctx context.Context, method, url string, body io.Reader, inv Invocation) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range inv.Header() {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}
