package forge

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// The Forge OAuth headers (forge.md §1.2). Their values are raw tokens, no
// scheme, and opaque: "need to be treated as Opaque" (remote/essentials).
// Nothing is read out of them (issue 16 item 1): whoever can set the header
// could write any exp into a payload. Forge sends no expiry header; what it
// states is a guarantee: a delivered system token is valid for at least
// MinDeliveredValidity (forge.md §1.2, remote/essentials).
const (
	HeaderSystemToken = "x-forge-oauth-system"
	HeaderUserToken   = "x-forge-oauth-user"
	maxOAuthTokenLen  = 16 << 10
	// MinDeliveredValidity is how long Forge guarantees a delivered
	// x-forge-oauth-system token stays valid ("at least 2 h",
	// https://developer.atlassian.com/platform/forge/remote/essentials/).
	MinDeliveredValidity = 2 * time.Hour
)

// Token is a Forge OAuth access token. It never prints its value: String,
// GoString, LogValue and MarshalJSON all redact it. Use Value only to build
// the Authorization header of a product call.
type Token struct {
	value string
	// Expiry is the expiry Forge stated for the token (a GraphQL ttl, or
	// MinDeliveredValidity after a trusted delivery); zero when unknown.
	// It is never read out of the token.
	Expiry time.Time
}

// NewToken wraps a raw token value; its expiry is unknown until the caller
// sets the one Forge stated.
func NewToken(value string) Token {
	return Token{value: value}
}

// DeliveredToken is a token Forge itself delivered at receivedAt (a
// lifecycle, scheduled or pre-uninstall call): its expiry is the documented
// minimum validity from receipt.
func DeliveredToken(value string, receivedAt time.Time) Token {
	return Token{value: value, Expiry: receivedAt.Add(MinDeliveredValidity)}
}

// Value returns the secret token. Never log it.
func (t Token) Value() string { return t.value }

// Present reports whether a token was sent.
func (t Token) Present() bool { return t.value != "" }

// Expired reports whether the token's expiry hint has passed at now. A
// token without an expiry hint is never reported expired.
func (t Token) Expired(now time.Time) bool { return !t.Expiry.IsZero() && !now.Before(t.Expiry) }

// String redacts the token.
func (t Token) String() string {
	if t.value == "" {
		return "<absent>"
	}
	if t.Expiry.IsZero() {
		return "<redacted>"
	}
	return "<redacted exp=" + t.Expiry.UTC().Format(time.RFC3339) + ">"
}

// GoString redacts the token for %#v.
func (t Token) GoString() string { return "forge.Token" + t.String() }

// LogValue redacts the token for log/slog.
func (t Token) LogValue() slog.Value {
	if t.value == "" {
		return slog.GroupValue(slog.Bool("present", false))
	}
	return slog.GroupValue(slog.Bool("present", true), slog.Time("exp", t.Expiry))
}

// MarshalJSON redacts the token.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// Format redacts the token for every verb, including %+v and %q.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(t.GoString()))
		return
	}
	_, _ = f.Write([]byte(t.String()))
}

// OAuthTokens are the tokens Forge attached to one request.
type OAuthTokens struct {
	// System is the app system token (x-forge-oauth-system), sent when
	// the endpoint's auth.appSystemToken is enabled.
	System Token
	// User is the app user token (x-forge-oauth-user), sent only for a
	// user in session with auth.appUserToken enabled and a user scope;
	// never to triggers, scheduled triggers or requestRemote calls.
	User Token
}

// String redacts both tokens.
func (o OAuthTokens) String() string {
	return "{system:" + o.System.String() + " user:" + o.User.String() + "}"
}

// LogValue redacts both tokens.
func (o OAuthTokens) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("system", o.System), slog.Any("user", o.User))
}

// ParseOAuthHeaders reads the Forge OAuth headers. Absent headers give
// absent tokens; a header that is repeated, empty, too long, or carries a
// scheme or whitespace is ErrForgeTokenMalformed (the error never contains
// the token).
func ParseOAuthHeaders(h http.Header) (OAuthTokens, error) {
	var out OAuthTokens
	var err error
	if out.System, err = oauthHeader(h, HeaderSystemToken); err != nil {
		return OAuthTokens{}, err
	}
	if out.User, err = oauthHeader(h, HeaderUserToken); err != nil {
		return OAuthTokens{}, err
	}
	return out, nil
}

func oauthHeader(h http.Header, name string) (Token, error) {
	vals := h.Values(name)
	switch {
	case len(vals) == 0:
		return Token{}, nil
	case len(vals) > 1:
		return Token{}, fmt.Errorf("%w: %s sent %d times", ErrForgeTokenMalformed, name, len(vals))
	}
	v := strings.TrimSpace(vals[0])
	switch {
	case v == "":
		return Token{}, fmt.Errorf("%w: %s is empty", ErrForgeTokenMalformed, name)
	case len(v) > maxOAuthTokenLen:
		return Token{}, fmt.Errorf("%w: %s is longer than %d bytes", ErrForgeTokenMalformed, name, maxOAuthTokenLen)
	case strings.ContainsAny(v, " \t\r\n"):
		return Token{}, fmt.Errorf("%w: %s contains whitespace (a scheme such as \"Bearer\" must not be included)", ErrForgeTokenMalformed, name)
	}
	return NewToken(v), nil
}
