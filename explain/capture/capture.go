// Package capture turns what a user has in hand into explain.Input: the
// flags of `connect-doctor explain`, a pasted capture (curl -v output, curl -i
// output, a raw request followed by a raw response, or a browser's HAR
// export) and an app descriptor. The CLI, the admin panel and the corpus
// test all go through it, so they cannot read the same paste differently.
package capture

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/scope"
)

// Errors. Each returned error wraps one of them (or a parse error of the
// explain package).
var (
	ErrUsage      = errors.New("bad flags")
	ErrBadURL     = errors.New("unparseable URL")
	ErrDescriptor = errors.New("unreadable app descriptor")
)

// MaxInput bounds what is read from one file or paste.
const MaxInput = 8 << 20

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// headerFlag is a repeatable "Name: value" flag, checked when set.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }
func (f *headerFlag) Set(v string) error {
	name, value, err := explain.ParseHeaderLine(v)
	if err != nil {
		return err
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(name, value)
	return nil
}

// Flags are the explain command's flags. Bind them to a flag set, parse,
// then call Inputs.
type Flags struct {
	method, url, body, bodyFile        string
	status                             int
	reqHeaders, respHeaders            headerFlag
	reqBody                            bool
	scopes, appKey, clientKey, secret  string
	previous                           multiFlag
	baseURL, identity, tenantState     string
	respFile, requestFile, captureFile string
	harFile, urlContains               string
	entry                              int
	descriptor                         string
	exchangeErr, networkErr, now       string
	JSON, NoColor                      bool
	set                                map[string]bool
	fs                                 *flag.FlagSet
}

// Bind registers the flags on fs.
func (f *Flags) Bind(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.method, "method", "GET", "request method")
	fs.StringVar(&f.url, "url", "", "request URL (absolute, or a path relative to --base-url)")
	fs.IntVar(&f.status, "status", 0, "response status code")
	fs.Var(&f.reqHeaders, "header", "request header 'Name: value' (repeatable)")
	fs.Var(&f.respHeaders, "response-header", "response header 'Name: value' (repeatable)")
	fs.StringVar(&f.body, "body", "", "response body")
	fs.StringVar(&f.bodyFile, "body-file", "", "file holding the response body ('-' = stdin)")
	fs.BoolVar(&f.reqBody, "request-body", false, "the request carried a body")
	fs.StringVar(&f.scopes, "scopes", "", "the app's declared Connect scopes, e.g. \"READ,WRITE,ACT_AS_USER\"")
	fs.StringVar(&f.descriptor, "descriptor", "", "the app descriptor (atlassian-connect.json): its key and scopes")
	fs.StringVar(&f.appKey, "app-key", "", "the app key (descriptor \"key\")")
	fs.StringVar(&f.clientKey, "client-key", "", "the tenant's clientKey")
	fs.StringVar(&f.secret, "secret", "", "the tenant's shared secret (to check JWT signatures; never printed)")
	fs.Var(&f.previous, "previous-secret", "a shared secret from before a reinstall (repeatable)")
	fs.StringVar(&f.baseURL, "base-url", "", "the tenant's baseUrl, e.g. https://acme.atlassian.net")
	fs.StringVar(&f.identity, "identity", "", "who the request acts as: app or user")
	fs.StringVar(&f.identity, "as", "", "alias of --identity")
	fs.StringVar(&f.tenantState, "tenant-state", "", "the app's record of the install: installed, disabled or uninstalled")
	fs.StringVar(&f.respFile, "response-file", "", "raw HTTP response as printed by curl -i ('-' = stdin)")
	fs.StringVar(&f.requestFile, "request-file", "", "raw HTTP request or curl -v output ('-' = stdin)")
	fs.StringVar(&f.captureFile, "capture", "", "any paste, recognised by its shape: curl -v, curl -i, a raw request and response, or a HAR ('-' = stdin)")
	fs.StringVar(&f.harFile, "har", "", "a browser's network export (HAR); explains its failing entries ('-' = stdin)")
	fs.IntVar(&f.entry, "entry", -1, "with --har: explain only this entry (0-based index in log.entries)")
	fs.StringVar(&f.urlContains, "url-contains", "", "with --har: explain only entries whose URL contains this text")
	fs.StringVar(&f.exchangeErr, "exchange-error", "", "the token exchange error text, if the user token could not be obtained")
	fs.StringVar(&f.networkErr, "network-error", "", "the transport error, if no response came back")
	fs.StringVar(&f.now, "now", "", "the clock to judge token times by (RFC 3339; default: now)")
	fs.BoolVar(&f.JSON, "json", false, "print the diagnosis as JSON")
	fs.BoolVar(&f.NoColor, "no-color", false, "never colour the output")
}

// Env is what Inputs needs from the outside world.
type Env struct {
	// ReadFile reads a named file; "-" means standard input.
	ReadFile func(name string) (string, error)
	// Now is the default clock when --now is not given; nil or a zero time
	// means "judge token times by the response's Date header only".
	Now func() time.Time
}

// Item is one exchange to diagnose, with a label saying where it came
// from (a HAR entry) when there are several.
type Item struct {
	Label string
	Input explain.Input
}

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

// Inputs builds the exchanges to diagnose from the parsed flags. It fails
// with a one-line error on anything it cannot read.
func (f *Flags) Inputs(env Env) ([]Item, error) {
	f.set = map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	}
	read := func(flagName, name string) (string, error) {
		s, err := env.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", flagName, err)
		}
		if len(s) > MaxInput {
			return "", fmt.Errorf("--%s: input larger than %d MiB", flagName, MaxInput>>20)
		}
		return s, nil
	}
	var items []Item
	var base explain.Input
	switch {
	case f.harFile != "":
		raw, err := read("har", f.harFile)
		if err != nil {
			return nil, err
		}
		hs, err := HAR(raw, Select{Entry: f.entry, URLContains: f.urlContains})
		if err != nil {
			return nil, fmt.Errorf("--har: %w", err)
		}
		items = hs
	case f.captureFile != "":
		raw, err := read("capture", f.captureFile)
		if err != nil {
			return nil, err
		}
		if LooksLikeHAR(raw) {
			hs, err := HAR(raw, Select{Entry: f.entry, URLContains: f.urlContains})
			if err != nil {
				return nil, fmt.Errorf("--capture: %w", err)
			}
			items = hs
			break
		}
		in, err := Paste(raw)
		if err != nil {
			return nil, fmt.Errorf("--capture: %w", err)
		}
		base = in
	}
	if f.requestFile != "" {
		raw, err := read("request-file", f.requestFile)
		if err != nil {
			return nil, err
		}
		req, resp, err := explain.ParseExchange(raw)
		switch {
		case err == nil:
			base.Request, base.Response = req, resp
		case errors.Is(err, explain.ErrNoResponse):
			base.Request = req
			if cerr := explain.CurlError(raw); cerr != nil {
				base.Context.NetworkErr = cerr
			}
		default:
			return nil, fmt.Errorf("--request-file: %w", err)
		}
	}
	if f.respFile != "" {
		raw, err := read("response-file", f.respFile)
		if err != nil {
			return nil, err
		}
		resp, err := explain.ParseResponse(raw)
		if err != nil {
			return nil, fmt.Errorf("--response-file: %w", err)
		}
		base.Response = resp
	}
	if items == nil {
		items = []Item{{Input: base}}
	}
	ctx, err := f.context(read, env)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if err := f.apply(&items[i].Input, ctx, read); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// context builds the Context the flags describe.
func (f *Flags) context(read func(string, string) (string, error), env Env) (explain.Context, error) {
	var ctx explain.Context
	if f.descriptor != "" {
		raw, err := read("descriptor", f.descriptor)
		if err != nil {
			return ctx, err
		}
		key, scopes, err := Descriptor(raw)
		if err != nil {
			return ctx, fmt.Errorf("--descriptor: %w", err)
		}
		ctx.AppKey, ctx.DeclaredScopes = key, scopes
	}
	if f.scopes != "" {
		s, err := scope.ParseSet(f.scopes)
		if err != nil {
			return ctx, fmt.Errorf("--scopes: %w", err)
		}
		ctx.DeclaredScopes = s
	}
	switch f.identity {
	case "", explain.IdentityApp, explain.IdentityUser:
		ctx.Identity = f.identity
	default:
		return ctx, usage("--identity %q: want app or user", f.identity)
	}
	switch f.tenantState {
	case "", "installed", "disabled", "uninstalled":
		ctx.TenantState = f.tenantState
	default:
		return ctx, usage("--tenant-state %q: want installed, disabled or uninstalled", f.tenantState)
	}
	if f.baseURL != "" {
		if err := CheckURL(f.baseURL); err != nil {
			return ctx, fmt.Errorf("--base-url: %w", err)
		}
	}
	if f.appKey != "" {
		ctx.AppKey = f.appKey
	}
	ctx.TenantBaseURL, ctx.ClientKey, ctx.SharedSecret, ctx.PreviousSecrets = f.baseURL, f.clientKey, f.secret, f.previous
	if f.networkErr != "" {
		ctx.NetworkErr = errors.New(f.networkErr)
	}
	if f.exchangeErr != "" {
		ctx.ExchangeErr = errors.New(f.exchangeErr)
	}
	switch {
	case f.now != "":
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return ctx, usage("--now: %v (want RFC 3339, e.g. 2026-03-14T15:09:26Z)", err)
		}
		ctx.Now = t
	case env.Now != nil:
		ctx.Now = env.Now()
	}
	return ctx, nil
}

// apply lays the flags over one captured exchange.
func (f *Flags) apply(in *explain.Input, ctx explain.Context, read func(string, string) (string, error)) error {
	if f.set["method"] || in.Request.Method == "" {
		in.Request.Method = strings.ToUpper(f.method)
	}
	if f.set["url"] {
		in.Request.URL = f.url
	}
	if in.Request.URL == "" && in.Response.Status == 0 && f.captureFile == "" {
		return usage("missing --url (or --request-file, --capture, --har)")
	}
	if in.Request.URL != "" {
		if err := CheckURL(in.Request.URL); err != nil {
			return err
		}
	}
	if in.Request.Header == nil {
		in.Request.Header = http.Header{}
	}
	for k, vs := range f.reqHeaders.h {
		in.Request.Header[k] = vs // a flag replaces the captured header
	}
	if f.reqBody {
		in.Request.HasBody = true
	}
	if f.set["status"] {
		if f.status < 100 || f.status > 999 {
			return usage("--status %d is not an HTTP status", f.status)
		}
		in.Response.Status = f.status
	}
	if in.Response.Header == nil {
		in.Response.Header = http.Header{}
	}
	for k, vs := range f.respHeaders.h {
		in.Response.Header[k] = vs
	}
	switch {
	case f.set["body-file"]:
		raw, err := read("body-file", f.bodyFile)
		if err != nil {
			return err
		}
		in.Response.Body = []byte(raw)
	case f.set["body"]:
		in.Response.Body = []byte(f.body)
	}
	netErr := in.Context.NetworkErr
	in.Context = ctx
	if in.Context.NetworkErr == nil {
		in.Context.NetworkErr = netErr
	}
	if in.Response.Status == 0 && in.Context.NetworkErr == nil && in.Context.ExchangeErr == nil {
		return usage("missing --status (or --response-file, --capture, --network-error, --exchange-error)")
	}
	if in.Request.URL == "" {
		in.Context.ResponseOnly = true
	}
	return nil
}

// CheckURL refuses a request URL the engine could not read: an absolute URL
// that does not parse or lacks a host, or a relative one that is not a
// path.
func CheckURL(raw string) error {
	s := strings.TrimSpace(raw)
	if s == "" {
		return fmt.Errorf("%w: empty", ErrBadURL)
	}
	if strings.HasPrefix(s, "/") {
		if strings.ContainsAny(s, " \t\r\n") {
			return fmt.Errorf("%w: %q contains whitespace", ErrBadURL, trunc(s, 80))
		}
		if _, err := url.ParseRequestURI(s); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrBadURL, trunc(s, 80), errors.Unwrap(err))
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %q: %v", ErrBadURL, trunc(s, 80), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: %q: want an http(s) URL or a path starting with /", ErrBadURL, trunc(s, 80))
	}
	if u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%w: %q: no host, or whitespace in it", ErrBadURL, trunc(s, 80))
	}
	return nil
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Paste reads a pasted capture: curl -v output, a raw request followed by
// a raw response, or a response alone (curl -i). A paste with only a
// request (curl -v that failed before any answer) yields the request and
// the transport error curl printed.
func Paste(raw string) (explain.Input, error) {
	var in explain.Input
	req, resp, err := explain.ParseExchange(raw)
	switch {
	case err == nil:
		in.Request, in.Response = req, resp
	case errors.Is(err, explain.ErrNoRequest):
		resp, rerr := explain.ParseResponse(raw)
		if rerr != nil {
			return in, rerr
		}
		in.Response = resp
		in.Context.ResponseOnly = true
	case errors.Is(err, explain.ErrNoResponse):
		in.Request = req
		cerr := explain.CurlError(raw)
		if cerr == nil {
			return in, err
		}
		in.Context.NetworkErr = cerr
	default:
		return in, err
	}
	if in.Request.URL != "" {
		if err := CheckURL(in.Request.URL); err != nil {
			return in, err
		}
	}
	return in, nil
}

// Descriptor reads an app descriptor's key and scopes. Connect descriptors
// declare scopes in lower or upper case; both are accepted.
func Descriptor(raw string) (string, scope.Set, error) {
	var d struct {
		Key    string   `json:"key"`
		Scopes []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return "", nil, fmt.Errorf("%w: not JSON: %v", ErrDescriptor, err)
	}
	if d.Key == "" {
		return "", nil, fmt.Errorf("%w: no \"key\"", ErrDescriptor)
	}
	set, err := scope.ParseList(d.Scopes)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrDescriptor, err)
	}
	if set == nil {
		set = scope.Set{}
	}
	return d.Key, set, nil
}
