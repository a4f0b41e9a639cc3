package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// Defaults used when the corresponding Exchanger field is zero.
const (
	DefaultMaxBody         = 64 << 10
	DefaultExchangeTimeout = 15 * time.Second
	// DefaultTokenLifetime is assumed when the server omits expires_in.
	DefaultTokenLifetime = 5 * time.Minute
)

// Token is an access token for calling Jira as one user.
type Token struct {
	AccessToken string
	TokenType   string // "Bearer"
	Expiry      time.Time
	Scopes      scope.Set // the scopes asked for; empty = the app's scopes
}

// String describes the token without revealing it.
func (t *Token) String() string {
	if t == nil {
		return "<nil token>"
	}
	return fmt.Sprintf("%s token [redacted] scopes=%q expires=%s", t.TokenType, t.Scopes.String(), t.Expiry.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the access token.
func (t *Token) GoString() string { return t.String() }

// LogValue keeps slog from printing the access token.
func (t *Token) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("<nil token>")
	}
	return slog.GroupValue(slog.String("type", t.TokenType), slog.String("scopes", t.Scopes.String()), slog.Time("expiry", t.Expiry))
}

// Exchanger performs the JWT-bearer grant. The zero value is usable: it
// talks to the authorization server for the tenant's host through
// http.DefaultTransport. It never follows redirects.
type Exchanger struct {
	// HTTP is the client used for the token endpoint; nil means a client
	// over http.DefaultTransport. Its CheckRedirect is overridden.
	HTTP *http.Client
	// TokenURL overrides the authorization server (config OAUTH_TOKEN_URL),
	// e.g. a simulator: either the server's base URL or its full
	// ".../oauth2/token" endpoint. The base URL is the assertion's aud.
	// Empty means ServerFor(tenant baseUrl).
	TokenURL string
	Now      func() time.Time
	MaxBody  int64         // response cap; 0 = DefaultMaxBody
	Timeout  time.Duration // per exchange; 0 = DefaultExchangeTimeout
}

// Endpoint returns the authorization server (the assertion's audience) and
// the token endpoint used for a tenant baseUrl.
func (e *Exchanger) Endpoint(tenantBaseURL string) (server, tokenURL string) {
	if e.TokenURL == "" {
		server = ServerFor(tenantBaseURL)
		return server, server + "/oauth2/token"
	}
	u := strings.TrimRight(e.TokenURL, "/")
	if base, ok := strings.CutSuffix(u, "/oauth2/token"); ok {
		return base, u
	}
	return u, u + "/oauth2/token"
}

type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// Exchange obtains an access token for accountID on the tenant. scopes
// narrows the token; an empty set asks for the app's own scopes and sends no
// "scope" field. Errors wrap the sentinels of this package; failures of the
// exchange itself are *Error.
func (e *Exchanger) Exchange(ctx context.Context, t *tenant.Tenant, accountID string, scopes scope.Set) (*Token, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrAssertion)
	}
	if t.State == tenant.StateUninstalled || t.State == tenant.StateDisabled {
		return nil, fmt.Errorf("%w: %s is %s", ErrTenantInactive, t.ClientKey, t.State)
	}
	mask, err := scopeMask(scopes)
	if err != nil {
		return nil, err
	}
	scopeParam := scopeStrings[mask]
	server, tokenURL := e.Endpoint(t.BaseURL)
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	start := now()
	assertion, err := Assertion{
		OAuthClientID: t.OAuthClientID,
		AccountID:     accountID,
		TenantBaseURL: t.BaseURL,
		Audience:      server,
	}.Sign(t.SharedSecret, start)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {GrantType}, "assertion": {assertion}}
	if scopeParam != "" {
		form.Set("scope", scopeParam)
	}
	// Encode spaces as %20 rather than "+": both mean a space in a form body,
	// but %20 cannot be mistaken for a literal plus joining scope names.
	body := strings.ReplaceAll(form.Encode(), "+", "%20")

	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultExchangeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(body))
	if err != nil {
		return nil, &Error{Server: server, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	client := http.Client{}
	if e.HTTP != nil {
		client = *e.HTTP
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return nil, &Error{Server: server, Err: err}
	}
	defer resp.Body.Close()
	limit := e.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &Error{Server: server, Err: fmt.Errorf("reading the response: %w", err)}
	}
	if int64(len(raw)) > limit {
		return nil, &Error{Server: server, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("%w: response larger than %d bytes", ErrBadResponse, limit)}
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(raw, &tr)
	if resp.StatusCode != http.StatusOK {
		oe := &Error{Server: server, StatusCode: resp.StatusCode, Code: tr.Error, Description: tr.ErrorDescription}
		if jsonErr != nil || tr.Error == "" {
			oe.Description = snippet(raw)
			if loc := resp.Header.Get("Location"); loc != "" {
				oe.Description = "unexpected redirect to " + loc
			}
		}
		return nil, oe
	}
	if jsonErr != nil {
		return nil, &Error{Server: server, StatusCode: resp.StatusCode, Err: fmt.Errorf("%w: %v", ErrBadResponse, jsonErr)}
	}
	if tr.AccessToken == "" {
		return nil, &Error{Server: server, StatusCode: resp.StatusCode, Err: fmt.Errorf("%w: no access_token", ErrBadResponse)}
	}
	if tr.TokenType == "" {
		tr.TokenType = "Bearer"
	}
	if !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, &Error{Server: server, StatusCode: resp.StatusCode, Err: fmt.Errorf("%w: token_type %q is not Bearer", ErrBadResponse, tr.TokenType)}
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if tr.ExpiresIn <= 0 {
		life = DefaultTokenLifetime
	}
	tok := &Token{AccessToken: tr.AccessToken, TokenType: "Bearer", Expiry: start.Add(life), Scopes: scopeSets[mask]}
	return tok, nil
}

// snippet returns a short printable excerpt of a non-JSON error body.
func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
