package jira

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// Defaults for zero Options fields.
const (
	DefaultMaxResponseBody     = 4 << 20
	DefaultPermissionTTL       = 30 * time.Second
	DefaultPermissionCacheSize = 4096
)

// Options configure a Client. AppKey is required for calls as the app and
// Tokens for calls as a user.
type Options struct {
	// HTTP supplies the base transport (HTTP.Transport; nil means
	// http.DefaultTransport). Its redirect policy and timeout are not used:
	// the Doer never follows redirects; bound calls with the context.
	HTTP    *http.Client
	AppKey  string // the app's key: iss of the app JWT
	Version string // the app's version, for the User-Agent
	Tokens  UserTokens
	Now     func() time.Time
	Retry   RetryPolicy
	// MaxResponseBody caps every response body read (default 4 MiB).
	MaxResponseBody int64
	Logger          *slog.Logger // nil discards
	// PermissionTTL and PermissionCacheSize bound the permission probe
	// cache (defaults 30 s and 4096 entries).
	PermissionTTL       time.Duration
	PermissionCacheSize int
	// ForgeBaseCheck vets a Forge installation's app.apiBaseUrl before any
	// Forge call (forge.Verifier.CheckAPIBaseURL: FORGE_API_HOSTS). nil
	// refuses every Forge call with ErrConfig.
	ForgeBaseCheck func(apiBaseURL string) error
}

// Client calls Jira for any tenant. It is safe for concurrent use.
type Client struct {
	base      http.RoundTripper
	appKey    string
	userAgent string
	tokens    UserTokens
	now       func() time.Time
	retry     RetryPolicy
	maxBody   int64
	log       *slog.Logger
	permTTL   time.Duration
	perms     *lru.Cache[permKey, permEntry]
	// forgeCheck vets Forge API base URLs (Options.ForgeBaseCheck).
	forgeCheck func(string) error
}

// New returns a Client. It does not fail: a missing AppKey or Tokens is
// reported (ErrConfig) by the calls that need it.
func New(opts Options) *Client {
	c := &Client{
		base:    http.DefaultTransport,
		appKey:  opts.AppKey,
		tokens:  opts.Tokens,
		now:     opts.Now,
		retry:   opts.Retry.withDefaults(),
		maxBody: opts.MaxResponseBody,
		log:     opts.Logger,
		permTTL: opts.PermissionTTL,

		forgeCheck: opts.ForgeBaseCheck,
	}
	if opts.HTTP != nil && opts.HTTP.Transport != nil {
		c.base = opts.HTTP.Transport
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxResponseBody
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.permTTL <= 0 {
		c.permTTL = DefaultPermissionTTL
	}
	size := opts.PermissionCacheSize
	if size <= 0 {
		size = DefaultPermissionCacheSize
	}
	c.perms, _ = lru.New[permKey, permEntry](size)
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	name := opts.AppKey
	if name == "" {
		name = "connect-app"
	}
	c.userAgent = name + "/" + version + " (connect-doctor)"
	return c
}

// UserAgent returns the User-Agent sent with every request.
func (c *Client) UserAgent() string { return c.userAgent }

// Doer sends requests to one tenant as one identity. Its Do takes requests
// whose URL is relative ("/rest/api/3/myself?x=y").
type Doer struct {
	c         *Client
	tenant    *tenant.Tenant
	identity  string
	accountID string
	scopes    scope.Set
	base      *url.URL
	rt        http.RoundTripper
	err       error
}

// AsApp returns a Doer that authenticates as the app with a fresh JWT per
// request and per retry.
func (c *Client) AsApp(t *tenant.Tenant) *Doer {
	d := &Doer{c: c, tenant: t, identity: IdentityApp}
	d.base, d.err = tenantBase(t)
	switch {
	case d.err != nil:
	case c.appKey == "":
		d.err = fmt.Errorf("%w: Options.AppKey is empty", ErrConfig)
	case t.SharedSecret == "" || t.ClientKey == "":
		d.err = fmt.Errorf("%w: %s has no shared secret or clientKey", ErrTenant, t.ClientKey)
	default:
		signer := &appSigner{next: c.base, appKey: c.appKey, userAgent: c.userAgent, tenant: t, base: d.base, now: c.now}
		d.rt = &retrier{next: signer, policy: c.retry, now: c.now, log: c.log}
	}
	return d
}

// AsUser returns a Doer that acts as accountID with a bearer token from
// the token source, optionally narrowed to scopes. A 401 drops the token
// and retries once with a fresh one.
func (c *Client) AsUser(t *tenant.Tenant, accountID string, scopes ...scope.Scope) *Doer {
	d := &Doer{c: c, tenant: t, identity: IdentityUser, accountID: accountID, scopes: scope.Set(scopes)}
	d.base, d.err = tenantBase(t)
	switch {
	case d.err != nil:
	case c.tokens == nil:
		d.err = fmt.Errorf("%w: Options.Tokens is nil, so the client cannot act as a user", ErrConfig)
	case accountID == "":
		d.err = fmt.Errorf("%w: no accountId to act as", ErrConfig)
	default:
		src := &userBearer{tokens: c.tokens, tenant: t, accountID: accountID, scopes: d.scopes}
		b := &bearer{next: c.base, source: src, base: d.base, userAgent: c.userAgent, what: "a user token"}
		d.rt = &retrier{next: b, policy: c.retry, now: c.now, log: c.log}
	}
	return d
}

// Identity returns IdentityApp, IdentityUser, IdentityForgeApp or
// IdentityForgeUser.
func (d *Doer) Identity() string { return d.identity }

// Do sends req, whose URL must be a relative /rest/… path, to the tenant.
// Like http.Client.Do it returns the response; unlike it, a non-2xx answer
// (after retries) also returns an *APIError, and the response body is then
// already read (capped) and replayable. A 2xx body is the live stream,
// which fails with ErrResponseTooLarge past the cap; the caller closes it.
// Redirects are not followed.
func (d *Doer) Do(req *http.Request) (*http.Response, error) {
	resp, _, err := d.do(req)
	return resp, err
}

func (d *Doer) do(req *http.Request) (*http.Response, *attemptInfo, error) {
	info := &attemptInfo{}
	if d.err != nil {
		closeBody(req)
		return nil, info, d.err
	}
	relPath, query, err := checkRelative(req.URL)
	if err != nil {
		closeBody(req)
		return nil, info, err
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	if (method == http.MethodGet || method == http.MethodHead) &&
		((req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0) {
		closeBody(req)
		return nil, info, fmt.Errorf("%w: %s %s", ErrGetWithBody, method, relPath)
	}
	ctx := context.WithValue(req.Context(), attemptKey{}, info)
	out := req.Clone(ctx)
	out.Method = method
	out.URL = resolve(d.base, relPath, query)
	out.Host = ""
	out.RequestURI = ""
	if out.Header.Get("Accept") == "" {
		out.Header.Set("Accept", "application/json")
	}
	start := d.c.now()
	resp, err := d.rt.RoundTrip(out)
	elapsed := d.c.now().Sub(start)
	if err != nil {
		return nil, info, fmt.Errorf("jira: %s %s as %s on %s: %w", method, relPath, d.identity, d.tenant.ClientKey, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		resp.Body = &cappedBody{rc: resp.Body, left: d.c.maxBody}
		return resp, info, nil
	}
	body, truncated := readCapped(resp.Body, d.c.maxBody)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ae := &APIError{
		StatusCode: resp.StatusCode, Method: method, Path: relPath, Query: query,
		Header: diagnosticHeaders(resp.Header), Body: body, BodyTruncated: truncated,
		Identity: d.identity, ClientKey: d.tenant.ClientKey, AccountID: d.accountID,
		Attempts: info.sent, Cause: info.cause, Duration: elapsed,
	}
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), d.c.now()); ok {
		ae.RetryAfter = ra
	}
	if info.refreshed && resp.StatusCode == http.StatusUnauthorized {
		ae.Cause = CauseTokenRefreshed
	}
	d.logFailure(ctx, out, ae)
	return resp, info, ae
}

func (d *Doer) logFailure(ctx context.Context, req *http.Request, ae *APIError) {
	attrs := []any{"status", ae.StatusCode, "method", ae.Method, "path", ae.Path, "identity", ae.Identity,
		"clientKey", ae.ClientKey, "attempts", ae.Attempts, "cause", ae.Cause}
	if ae.StatusCode == http.StatusUnauthorized && d.identity == IdentityApp {
		// Our own canonical request and qsh: what to compare with Jira's.
		canonical := connect.CanonicalRequest(req.Method, req.URL.RequestURI(), d.base.EscapedPath())
		attrs = append(attrs, "canonicalRequest", canonical, "qsh", connect.QSH(canonical))
	}
	level := slog.LevelDebug // 404, 409, 400…: often expected by the caller
	if s := ae.StatusCode; s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusTooManyRequests || s >= 500 {
		level = slog.LevelWarn
	}
	d.c.log.Log(ctx, level, "jira: request failed", attrs...)
}

// Response is a fully read answer.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte // capped at Options.MaxResponseBody
	Duration time.Duration
	Attempts int
}

// Call sends method relPath with an optional JSON body and reads the whole
// answer. relPath is relative to the site ("/rest/api/3/myself?x=y"). A
// non-2xx answer returns both the Response and an *APIError.
func (d *Doer) Call(ctx context.Context, method, relPath string, body []byte) (*Response, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, relPath, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPathNotAllowed, err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	start := d.c.now()
	resp, info, err := d.do(req)
	if resp == nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Attempts: info.sent}
	if ae, ok := errors.AsType[*APIError](err); ok {
		out.Body = ae.Body
		out.Duration = d.c.now().Sub(start)
		return out, err
	}
	out.Body, err = io.ReadAll(resp.Body)
	out.Duration = d.c.now().Sub(start)
	if err != nil {
		return out, fmt.Errorf("jira: %s %s: reading the response: %w", method, relPath, err)
	}
	return out, nil
}

// cappedBody fails with ErrResponseTooLarge once more than left bytes
// would be read.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// readCapped reads at most limit bytes and reports whether more were left.
func readCapped(r io.Reader, limit int64) ([]byte, bool) {
	b, _ := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true
	}
	return b, false
}
