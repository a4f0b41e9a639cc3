package main

// The diagnosis subcommands: explain (a 401/403 from flags or curl
// captures), jwt decode (a token without trusting it) and qsh (a canonical
// request and its hash). The work lives in explain.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/scope"
)

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

// colorFor reports whether w is a terminal and colour is wanted.
func colorFor(w io.Writer, noColor bool, std stdio) bool {
	if noColor || (std.getenv != nil && std.getenv("NO_COLOR") != "") {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--now: %w (want RFC 3339, e.g. 2026-03-14T15:09:26Z)", err)
	}
	return t, nil
}

func readInput(path string, std stdio) (string, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(std.in, 8<<20))
		return string(b), err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func writeDoctorJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func runExplain(args []string, std stdio) int {
	fs := cmdFlags("explain")
	var (
		method      = fs.String("method", "GET", "request method")
		url         = fs.String("url", "", "request URL (absolute, or a path relative to --base-url)")
		status      = fs.Int("status", 0, "response status code")
		reqHeaders  headerFlag
		respHeaders headerFlag
		body        = fs.String("body", "", "response body")
		bodyFile    = fs.String("body-file", "", "file holding the response body ('-' = stdin)")
		reqBody     = fs.Bool("request-body", false, "the request carried a body")
		scopesFlag  = fs.String("scopes", "", "the app's declared Connect scopes, e.g. \"READ,WRITE,ACT_AS_USER\"")
		appKey      = fs.String("app-key", "", "the app key (descriptor \"key\")")
		clientKey   = fs.String("client-key", "", "the tenant's clientKey")
		secret      = fs.String("secret", "", "the tenant's shared secret (to check JWT signatures; never printed)")
		previous    multiFlag
		baseURL     = fs.String("base-url", "", "the tenant's baseUrl, e.g. https://acme.atlassian.net")
		identity    = fs.String("identity", "", "who the request acts as: app or user")
		tenantState = fs.String("tenant-state", "", "the app's record of the install: installed, disabled or uninstalled")
		respFile    = fs.String("response-file", "", "raw HTTP response as printed by curl -i ('-' = stdin)")
		requestFile = fs.String("request-file", "", "raw HTTP request or curl -v output ('-' = stdin)")
		exchangeErr = fs.String("exchange-error", "", "the token exchange error text, if the user token could not be obtained")
		networkErr  = fs.String("network-error", "", "the transport error, if no response came back")
		nowFlag     = fs.String("now", "", "the clock to judge token times by (RFC 3339; default: now)")
		asJSON      = fs.Bool("json", false, "print the diagnosis as JSON")
		noColor     = fs.Bool("no-color", false, "never colour the output")
	)
	fs.Var(&reqHeaders, "header", "request header 'Name: value' (repeatable)")
	fs.Var(&respHeaders, "response-header", "response header 'Name: value' (repeatable)")
	fs.Var(&previous, "previous-secret", "a shared secret from before a reinstall (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) > 0 {
		return usageError(std, fs, fmt.Errorf("unexpected argument %q (explain takes only flags)", pos[0]))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var in explain.Input
	if *requestFile != "" {
		raw, err := readInput(*requestFile, std)
		if err != nil {
			return usageError(std, fs, fmt.Errorf("--request-file: %w", err))
		}
		req, resp, err := explain.ParseExchange(raw)
		switch {
		case err == nil:
			in.Request, in.Response = req, resp
		case errors.Is(err, explain.ErrNoResponse):
			in.Request = req
			if cerr := explain.CurlError(raw); cerr != nil {
				in.Context.NetworkErr = cerr
			}
		default:
			return usageError(std, fs, fmt.Errorf("--request-file: %w", err))
		}
	}
	if *respFile != "" {
		raw, err := readInput(*respFile, std)
		if err != nil {
			return usageError(std, fs, fmt.Errorf("--response-file: %w", err))
		}
		resp, err := explain.ParseResponse(raw)
		if err != nil {
			return usageError(std, fs, fmt.Errorf("--response-file: %w", err))
		}
		in.Response = resp
	}
	if set["method"] || in.Request.Method == "" {
		in.Request.Method = strings.ToUpper(*method)
	}
	if set["url"] {
		in.Request.URL = *url
	}
	if in.Request.URL == "" {
		return usageError(std, fs, errors.New("missing --url (or --request-file)"))
	}
	if in.Request.Header == nil {
		in.Request.Header = http.Header{}
	}
	for k, vs := range reqHeaders.h {
		in.Request.Header[k] = vs // a flag replaces the captured header
	}
	if *reqBody {
		in.Request.HasBody = true
	}
	if set["status"] {
		if *status < 100 || *status > 999 {
			return usageError(std, fs, fmt.Errorf("--status %d is not an HTTP status", *status))
		}
		in.Response.Status = *status
	}
	if in.Response.Header == nil {
		in.Response.Header = http.Header{}
	}
	for k, vs := range respHeaders.h {
		in.Response.Header[k] = vs
	}
	switch {
	case set["body-file"]:
		raw, err := readInput(*bodyFile, std)
		if err != nil {
			return usageError(std, fs, fmt.Errorf("--body-file: %w", err))
		}
		in.Response.Body = []byte(raw)
	case set["body"]:
		in.Response.Body = []byte(*body)
	}
	ctx := &in.Context
	if *networkErr != "" {
		ctx.NetworkErr = errors.New(*networkErr)
	}
	if in.Response.Status == 0 && ctx.NetworkErr == nil && *exchangeErr == "" {
		return usageError(std, fs, errors.New("missing --status (or --response-file, --network-error, --exchange-error)"))
	}
	if *exchangeErr != "" {
		ctx.ExchangeErr = errors.New(*exchangeErr)
	}
	if *scopesFlag != "" {
		s, err := scope.ParseSet(*scopesFlag)
		if err != nil {
			return usageError(std, fs, fmt.Errorf("--scopes: %w", err))
		}
		ctx.DeclaredScopes = s
	}
	switch *identity {
	case "", explain.IdentityApp, explain.IdentityUser:
		ctx.Identity = *identity
	default:
		return usageError(std, fs, fmt.Errorf("--identity %q: want app or user", *identity))
	}
	switch *tenantState {
	case "", "installed", "disabled", "uninstalled":
		ctx.TenantState = *tenantState
	default:
		return usageError(std, fs, fmt.Errorf("--tenant-state %q: want installed, disabled or uninstalled", *tenantState))
	}
	ctx.TenantBaseURL, ctx.AppKey, ctx.ClientKey, ctx.SharedSecret, ctx.PreviousSecrets = *baseURL, *appKey, *clientKey, *secret, previous
	if ctx.Now, err = parseNow(*nowFlag); err != nil {
		return usageError(std, fs, err)
	}
	cat, err := catalogFor("", std)
	if err != nil {
		return usageError(std, fs, err)
	}
	d := explain.New(cat).Diagnose(in)
	if *asJSON {
		writeDoctorJSON(std.out, d)
		return 0
	}
	d.WriteText(std.out, colorFor(std.out, *noColor, std))
	return 0
}

func runJWT(args []string, std stdio) int {
	fs := cmdFlags("jwt decode")
	var (
		secret   = fs.String("secret", "", "shared secret to check an HMAC signature (never printed)")
		previous multiFlag
		method   = fs.String("method", "GET", "request method the token was sent with")
		url      = fs.String("url", "", "request URL or path the token was sent with (enables the qsh check)")
		basePath = fs.String("base-path", "", "base path left out of the qsh (e.g. /wiki)")
		nowFlag  = fs.String("now", "", "the clock to judge times by (RFC 3339; default: now)")
		asJSON   = fs.Bool("json", false, "print the report as JSON")
		noColor  = fs.Bool("no-color", false, "never colour the output")
	)
	fs.Var(&previous, "previous-secret", "a secret from before a reinstall (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) != 1 {
		return usageError(std, fs, errors.New("takes exactly one TOKEN"))
	}
	tok := pos[0]
	if tok == "-" {
		b, err := io.ReadAll(io.LimitReader(std.in, 64<<10))
		if err != nil {
			return usageError(std, fs, err)
		}
		tok = strings.TrimSpace(string(b))
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return usageError(std, fs, err)
	}
	r, err := explain.DecodeToken(tok)
	if err != nil {
		return usageError(std, fs, fmt.Errorf("cannot decode the token: %w", err))
	}
	r.CheckTimes(now)
	if *secret != "" || len(previous) > 0 {
		r.VerifySignature(*secret, previous...)
	}
	if *url != "" {
		bp := *basePath
		if bp == "" {
			bp = gatewayBase(*url)
		}
		r.CheckQSH(*method, *url, bp)
	}
	if *asJSON {
		writeDoctorJSON(std.out, r)
		return 0
	}
	color := colorFor(std.out, *noColor, std)
	r.WriteText(std.out, color)
	writeTokenVerdicts(std.out, r, now, *url != "")
	return 0
}

// gatewayBase returns the /ex/<product>/<cloudId> prefix of an
// api.atlassian.com URL, which is not part of the hashed path.
func gatewayBase(u string) string {
	i := strings.Index(u, "api.atlassian.com/ex/")
	if i < 0 {
		return ""
	}
	segs := strings.SplitN(u[i+len("api.atlassian.com"):], "/", 5)
	if len(segs) < 4 {
		return ""
	}
	return "/" + segs[1] + "/" + segs[2] + "/" + segs[3]
}

// writeTokenVerdicts adds one-line judgements under the report.
func writeTokenVerdicts(w io.Writer, r *explain.TokenReport, now time.Time, qshChecked bool) {
	fmt.Fprintln(w, "\nchecks:")
	c := r.Claims
	switch {
	case c.ExpiresAt == nil:
		fmt.Fprintln(w, "   expiry:    no exp claim")
	case time.Unix(*c.ExpiresAt, 0).After(now):
		fmt.Fprintf(w, "   expiry:    valid for another %s\n", time.Unix(*c.ExpiresAt, 0).Sub(now).Round(time.Second))
	default:
		fmt.Fprintf(w, "   expiry:    EXPIRED %s ago\n", now.Sub(time.Unix(*c.ExpiresAt, 0)).Round(time.Second))
	}
	if c.IssuedAt != nil {
		if d := time.Unix(*c.IssuedAt, 0).Sub(now); d > 30*time.Second {
			fmt.Fprintf(w, "   skew:      iat is %s in the future: the minting clock runs ahead\n", d.Round(time.Second))
		} else {
			fmt.Fprintln(w, "   skew:      iat is not in the future")
		}
	}
	switch r.Signature {
	case explain.SigNotChecked:
		fmt.Fprintln(w, "   signature: not checked (give --secret)")
	case explain.SigValid:
		fmt.Fprintln(w, "   signature: valid with the given secret")
	case explain.SigValidPrevious:
		fmt.Fprintln(w, "   signature: valid only with a previous secret: the signer uses a stale secret")
	case explain.SigInvalid:
		fmt.Fprintln(w, "   signature: INVALID with the given secret")
	case explain.SigNotVerifiable:
		fmt.Fprintf(w, "   signature: %s is not an HMAC algorithm; it needs a public key\n", r.Header.Alg)
	}
	if !qshChecked {
		fmt.Fprintln(w, "   qsh:       not checked (give --method and --url)")
	}
}

func runQSH(args []string, std stdio) int {
	fs := cmdFlags("qsh")
	basePath := fs.String("base-path", "", "base path left out of the hash (e.g. /wiki, or the app's baseUrl path)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(std, fs, err)
	}
	if len(pos) != 2 {
		return usageError(std, fs, errors.New("takes METHOD and URL"))
	}
	m := strings.ToUpper(pos[0])
	if !validMethod(m) {
		return usageError(std, fs, fmt.Errorf("%q is not an HTTP method", pos[0]))
	}
	bp := *basePath
	if bp == "" {
		bp = gatewayBase(pos[1])
	}
	canon := connect.CanonicalRequest(m, pos[1], bp)
	sum := connect.QSH(canon)
	if *asJSON {
		writeDoctorJSON(std.out, map[string]string{"method": m, "url": pos[1], "basePath": bp, "canonical": canon, "qsh": sum})
		return 0
	}
	fmt.Fprintf(std.out, "canonical: %s\nqsh:       %s\n", canon, sum)
	return 0
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS":
		return true
	}
	return false
}
