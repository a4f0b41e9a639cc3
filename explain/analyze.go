package explain

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/explain/knowledge"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// Credential kinds found on a request.
const (
	credNone    = "none"
	credJWT     = "jwt"     // Authorization: JWT <token>
	credQuery   = "query"   // ?jwt=<token>
	credBearer  = "bearer"  // Authorization: Bearer <token>
	credBasic   = "basic"   // Authorization: Basic <base64>
	credBare    = "bare"    // Authorization: <token> (no scheme)
	credOther   = "other"   // an unknown scheme
	credCookie  = "cookie"  // a browser session cookie
	credEmpty   = "empty"   // an empty Authorization header
	credAPIKeyH = "apikeyh" // a token in X-API-Key or similar
	credForm    = "form"    // a JWT-bearer assertion in a token request's form body
)

// credential is what the request presented.
type credential struct {
	kind   string
	scheme string // as written
	value  string // the credential after the scheme
	source string

	token  *TokenReport // when value is a JWT
	tokErr error

	basicUser, basicSecret string
	basicErr               string
}

// challenge is one WWW-Authenticate challenge.
type challenge struct {
	scheme string
	params map[string]string
}

// analysis holds everything derived from the input; detectors read it and
// add causes.
type analysis struct {
	in  *Input
	cat *catalog.Catalog

	method   string
	origin   string // scheme://host of the request, if known
	scheme   string
	host     string // lower case, without port
	rawPath  string
	rawQuery string
	reqURI   string // path?query as sent

	tenantHost string
	port       string // the request's port, explicit or the scheme's default
	tenantPort string // the tenant baseUrl's port, explicit or the scheme's default
	tenantPath string
	basePath   string // stripped before hashing
	apiPath    string // path relative to the product, for the catalog
	gateway    bool   // api.atlassian.com
	gatewayPfx string // /ex/jira/<cloudId>

	cred     credential
	identity string // app | user | "" (from Context or inferred)
	connect  bool   // Connect rules (scopes, INACCESSIBLE) apply
	// forwarded: the JWT is one Jira minted for the app, sent back to Jira.
	forwarded bool

	match    *catalog.Match
	op       *catalog.Operation
	pathOps  []*catalog.Operation
	required string // the Connect scope the operation needs

	status     int
	hdr        http.Header
	low        string          // lower-cased body (bounded)
	text       *knowledge.Text // low, indexed for the many substring questions
	saidText   string          // said(), computed once
	saidDone   bool
	messages   []string // error texts from a JSON body
	isHTML     bool
	htmlTitle  string
	jsonBody   bool
	challenges []challenge
	seraph     string
	accountID  string
	atlassian  bool // the answer carries Atlassian edge headers
	now        time.Time
	serverNow  time.Time

	notes  []string
	causes []*rawCause

	formGrant string // grant_type of a token request's form body
	formScope string // its scope parameter

	kb       *knowledge.Base
	obs      knowledge.Observation
	services []knowledge.Identified
	svc      *knowledge.Service // who answered, when recognised
}

type rawCause struct {
	Cause
	exact    bool // legacy already accounts for the status
	order    int
	legacy   float64            // a detector's numeric estimate (see legacyClass)
	explicit knowledge.Strength // the class stated by the evidence, if any
	class    knowledge.Strength // the class the ranking uses
	fallback bool               // what the status alone suggests
}

var reTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// analyze derives the facts every detector needs.
func (e *Engine) analyze(in *Input) *analysis {
	a := &analysis{in: in, cat: e.cat, kb: e.kb, hdr: in.Response.Header, status: in.Response.Status, now: in.Context.Now}
	if a.hdr == nil {
		a.hdr = http.Header{}
	}
	a.method = strings.ToUpper(strings.TrimSpace(in.Request.Method))
	if a.method == "" {
		a.method = "GET"
	}
	a.parseURL()
	a.parseCredential()
	a.parseResponse()
	a.identifyService()
	a.lookupEndpoint()
	a.inferIdentity()
	return a
}

func (a *analysis) parseURL() {
	ctx := &a.in.Context
	if ctx.TenantBaseURL != "" {
		if u, err := url.Parse(strings.TrimSpace(ctx.TenantBaseURL)); err == nil {
			a.tenantHost = strings.ToLower(u.Hostname())
			a.tenantPort = effectivePort(u)
			a.tenantPath = strings.TrimSuffix(u.EscapedPath(), "/")
		}
	}
	raw := strings.TrimSpace(a.in.Request.URL)
	origin, path, query := splitURI(raw)
	if origin != "" {
		if u, err := url.Parse(origin); err == nil {
			a.scheme = strings.ToLower(u.Scheme)
			a.host = strings.ToLower(u.Hostname())
			a.port = effectivePort(u)
			a.origin = origin
		}
	} else if a.tenantHost != "" {
		a.host, a.port = a.tenantHost, a.tenantPort
		a.origin = "https://" + a.tenantHost
		a.scheme = "https"
		if a.tenantPath != "" && !strings.HasPrefix(path, a.tenantPath+"/") && path != a.tenantPath {
			// A path relative to the base URL.
			path = a.tenantPath + path
		}
	}
	if path == "" {
		path = "/"
	}
	a.rawPath, a.rawQuery = path, query
	a.reqURI = path
	if query != "" {
		a.reqURI += "?" + query
	}
	a.gateway = a.host == "api.atlassian.com" || a.host == "api.stg.atlassian.com" ||
		// A Forge app calls its app.apiBaseUrl, which a simulator or proxy
		// may serve from another host: the /ex/<product>/ prefix says it.
		(a.in.Context.Path == PathForge || a.in.Context.ForgeInvocation != nil) && strings.HasPrefix(path, "/ex/")
	api := path
	switch {
	case a.gateway:
		segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
		if len(segs) >= 3 && segs[0] == "ex" {
			a.gatewayPfx = "/" + segs[0] + "/" + segs[1] + "/" + segs[2]
			a.basePath = a.gatewayPfx
			api = strings.TrimPrefix(path, a.gatewayPfx)
			if segs[1] == "confluence" && strings.HasPrefix(api, "/wiki/") {
				api = strings.TrimPrefix(api, "/wiki")
			}
		}
	case a.tenantPath != "" && (a.host == "" || a.host == a.tenantHost) && strings.HasPrefix(path, a.tenantPath+"/"):
		a.basePath = a.tenantPath
		api = strings.TrimPrefix(path, a.tenantPath)
	case a.tenantHost == "" && strings.HasPrefix(path, "/wiki/"):
		a.basePath = "/wiki"
		api = strings.TrimPrefix(path, "/wiki")
		a.notes = append(a.notes, "assumed a Confluence site (base path /wiki) because the path starts with /wiki and no tenant base URL was given")
	}
	if api == "" {
		api = "/"
	}
	a.apiPath = api
}

func (a *analysis) parseCredential() {
	h := a.in.Request.Header
	c := &a.cred
	c.kind = credNone
	if jwtq := queryParam(a.rawQuery, "jwt"); jwtq != "" {
		c.kind, c.value, c.source, c.scheme = credQuery, jwtq, "jwt query parameter", ""
	}
	auths := h.Values("Authorization")
	if len(auths) > 1 {
		a.notes = append(a.notes, "the request carries "+strconv.Itoa(len(auths))+" Authorization headers; servers use one of them, often the first")
	}
	if len(auths) > 0 && c.kind == credNone {
		v := auths[0]
		c.source = "Authorization header"
		t := strings.TrimSpace(v)
		switch {
		case t == "":
			c.kind = credEmpty
		case isSchemeWord(t):
			// "Authorization: Bearer" and nothing after: the token
			// variable was empty when the header was built.
			c.kind, c.scheme = credEmpty, t
		default:
			scheme, rest, has := strings.Cut(t, " ")
			rest = strings.TrimSpace(rest)
			if !has {
				c.kind, c.value = credBare, t
				break
			}
			c.scheme, c.value = scheme, rest
			switch strings.ToLower(scheme) {
			case "jwt":
				c.kind = credJWT
			case "bearer":
				c.kind = credBearer
			case "basic":
				c.kind = credBasic
			default:
				c.kind = credOther
			}
		}
	}
	if c.kind == credNone {
		for _, k := range []string{"X-Api-Key", "X-Auth-Token", "Api-Key", "X-Atlassian-Token-Api"} {
			if v := h.Get(k); v != "" {
				c.kind, c.value, c.source = credAPIKeyH, v, k+" header"
				break
			}
		}
	}
	if c.kind == credNone {
		if name, v := a.queryCredential(); v != "" {
			c.kind, c.value, c.source = credAPIKeyH, v, name+" query parameter"
		}
	}
	if c.kind == credNone {
		a.parseFormCredential()
	}
	if c.kind == credNone && a.kb != nil {
		// Credential headers the known services use.
	kbHeaders:
		for _, s := range a.kb.Services {
			if s.Schemes == nil {
				continue
			}
			for _, name := range s.Schemes.Header {
				if v := h.Get(name); v != "" {
					c.kind, c.value, c.source = credAPIKeyH, v, name+" header"
					break kbHeaders
				}
			}
		}
	}
	if c.kind == credNone {
		// A custom header that carries a key or token.
		for name, vs := range h {
			low := strings.ToLower(name)
			if len(vs) > 0 && vs[0] != "" && (strings.HasSuffix(low, "key") || strings.HasSuffix(low, "token") || strings.HasSuffix(low, "secret")) && low != "x-atlassian-token" {
				c.kind, c.value, c.source = credAPIKeyH, vs[0], name+" header"
				break
			}
		}
	}
	if c.kind == credNone {
		if ck := h.Get("Cookie"); ck != "" {
			c.kind, c.source = credCookie, "Cookie header"
			c.value = ck
		}
	}
	// Decode a JWT wherever it is.
	tok := strings.Trim(c.value, `"'<> `)
	if c.kind == credOther || c.kind == credBare {
		// "Bearer: x", "JWT JWT x": look at the last word.
		f := strings.Fields(tok)
		if len(f) > 0 {
			tok = f[len(f)-1]
		}
	}
	if c.kind != credBasic && c.kind != credCookie && looksLikeJWT(tok) {
		c.token, c.tokErr = DecodeToken(tok)
		if c.tokErr != nil && c.token != nil {
			// Header decoded, payload did not.
			c.token.Problems = append(c.token.Problems, c.tokErr.Error())
		}
	} else if c.kind == credJWT || c.kind == credQuery {
		_, c.tokErr = DecodeToken(tok)
		if c.tokErr == nil {
			c.tokErr = ErrNotJWT
		}
	}
	if c.kind == credBasic {
		a.parseBasic()
	}
}

// parseFormCredential reads a token request's form body: a JWT-bearer
// assertion is the credential, and its scope parameter says which scopes
// were asked for.
func (a *analysis) parseFormCredential() {
	body := string(a.in.Request.Body)
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		// A JSON body carrying a key or token (some gateways read it there).
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) == nil {
			for _, k := range []string{"apiKey", "api_key", "apikey", "access_token", "token", "client_secret", "password"} {
				if v, ok := m[k].(string); ok && v != "" {
					a.cred.kind, a.cred.value, a.cred.source = credForm, v, "the "+k+" field of the JSON request body"
					return
				}
			}
		}
		return
	}
	if body == "" || !strings.Contains(body, "grant_type=") {
		return
	}
	v, err := url.ParseQuery(strings.TrimSpace(body))
	if err != nil {
		return
	}
	a.formGrant = v.Get("grant_type")
	if s := v.Get("scope"); s != "" {
		a.formScope = s
	}
	if as := v.Get("assertion"); as != "" {
		a.cred.kind, a.cred.value, a.cred.source = credForm, as, "assertion in the token request's form body"
	} else if v.Get("client_secret") != "" || v.Get("refresh_token") != "" || v.Get("code") != "" {
		a.cred.kind, a.cred.source = credForm, "credentials in the token request's form body"
	}
}

func (a *analysis) parseBasic() {
	c := &a.cred
	v := strings.TrimSpace(c.value)
	dec, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		dec, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
	}
	if err != nil {
		c.basicErr = "not base64"
		if strings.Contains(v, ":") {
			c.basicErr = "not base64: the email:token pair was sent as plain text"
			c.basicUser, c.basicSecret, _ = strings.Cut(v, ":")
		}
		return
	}
	s := string(dec)
	user, secret, ok := strings.Cut(s, ":")
	if !ok {
		c.basicErr = "no colon"
		c.basicSecret = s
		return
	}
	c.basicUser, c.basicSecret = user, secret
}

func queryParam(rawQuery, name string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k == name {
			if d, err := url.QueryUnescape(v); err == nil {
				return d
			}
			return v
		}
	}
	return ""
}

func (a *analysis) parseResponse() {
	h := a.hdr
	body := a.in.Response.Body
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	a.low = strings.ToLower(string(body))
	a.text = knowledge.NewText(a.low)
	ct := strings.ToLower(h.Get("Content-Type"))
	trim := strings.TrimSpace(a.low)
	a.isHTML = strings.Contains(ct, "html") || strings.HasPrefix(trim, "<!doctype html") || strings.HasPrefix(trim, "<html") ||
		(strings.HasPrefix(trim, "<") && strings.Contains(trim, "<body"))
	if a.isHTML {
		if m := reTitle.FindSubmatch(body); m != nil {
			a.htmlTitle = strings.Join(strings.Fields(string(m[1])), " ")
		}
	}
	if strings.HasPrefix(trim, "{") || strings.HasPrefix(trim, "[") {
		var v any
		if json.Unmarshal(body, &v) == nil {
			a.jsonBody = true
			collectTexts(v, 0, &a.messages)
		}
	}
	for _, v := range h.Values("Www-Authenticate") {
		a.challenges = append(a.challenges, parseChallenges(v)...)
	}
	a.seraph = strings.ToUpper(strings.TrimSpace(h.Get("X-Seraph-Loginreason")))
	a.accountID = h.Get("X-Aaccountid")
	server := strings.ToLower(h.Get("Server"))
	a.atlassian = h.Get("Atl-Traceid") != "" || h.Get("X-Arequestid") != "" || h.Get("Atl-Request-Id") != "" ||
		strings.HasPrefix(server, "atlassian") || a.seraph != "" || a.accountID != "" ||
		h.Get("X-Ausername") != "" || h.Get("X-Asen") != "" || h.Get("X-Confluence-Request-Time") != ""
	if d := h.Get("Date"); d != "" {
		if t, err := http.ParseTime(d); err == nil {
			a.serverNow = t
		}
	}
}

// collectTexts gathers the human-readable error strings of a JSON body.
func collectTexts(v any, depth int, out *[]string) {
	if depth > 4 || len(*out) >= 20 {
		return
	}
	switch t := v.(type) {
	case string:
		if s := strings.TrimSpace(t); s != "" {
			*out = append(*out, s)
		}
	case []any:
		for _, e := range t {
			collectTexts(e, depth+1, out)
		}
	case map[string]any:
		for _, k := range []string{"errorMessages", "errorMessage", "message", "error", "error_description", "errors", "detail", "title", "reason", "description"} {
			if e, ok := t[k]; ok {
				collectTexts(e, depth+1, out)
			}
		}
	}
}

// parseChallenges reads a WWW-Authenticate value: one or more challenges
// `Scheme k="v", k2=v2`.
func parseChallenges(v string) []challenge {
	var out []challenge
	s := strings.TrimSpace(v)
	for s != "" && len(out) < 8 {
		// scheme
		i := 0
		for i < len(s) && s[i] != ' ' && s[i] != ',' {
			i++
		}
		ch := challenge{scheme: strings.ToLower(s[:i]), params: map[string]string{}}
		s = strings.TrimLeft(s[i:], " ")
		// params until the next scheme token (a word followed by a space
		// and not by '=')
		for s != "" {
			s = strings.TrimLeft(s, " ,")
			j := 0
			for j < len(s) && s[j] != '=' && s[j] != ' ' && s[j] != ',' {
				j++
			}
			if j == len(s) || s[j] != '=' {
				break // a new scheme starts here
			}
			key := strings.ToLower(s[:j])
			s = s[j+1:]
			var val string
			if strings.HasPrefix(s, `"`) {
				k := 1
				var b strings.Builder
				for k < len(s) && s[k] != '"' {
					if s[k] == '\\' && k+1 < len(s) {
						k++
					}
					b.WriteByte(s[k])
					k++
				}
				val = b.String()
				if k < len(s) {
					k++
				}
				s = s[k:]
			} else {
				k := 0
				for k < len(s) && s[k] != ',' {
					k++
				}
				val = strings.TrimSpace(s[:k])
				s = s[k:]
			}
			ch.params[key] = val
		}
		if ch.scheme != "" {
			out = append(out, ch)
		}
	}
	return out
}

func (a *analysis) lookupEndpoint() {
	if pf := a.in.Context.Preflight; pf != nil && pf.Operation != nil {
		a.op = pf.Operation
	}
	if a.cat != nil && a.op == nil {
		if m, ok := a.cat.Match(a.method, a.apiPath); ok {
			a.match = &m
			a.op = m.Op
		} else {
			a.pathOps = a.cat.PathOperations(a.apiPath)
		}
	}
	if a.op != nil {
		a.required = string(a.op.ConnectScope)
	}
}

func (a *analysis) inferIdentity() {
	ctx := &a.in.Context
	a.identity = ctx.Identity
	switch a.cred.kind {
	case credJWT, credQuery:
		if a.identity == "" {
			a.identity = IdentityApp
		}
		a.connect = true
	case credBearer:
		// A bearer token is a Connect user token only when the caller says
		// so or gives Connect context.
		if ctx.Identity != "" || ctx.DeclaredScopes != nil || ctx.Preflight != nil {
			a.connect = true
			if a.identity == "" {
				a.identity = IdentityUser
			}
		}
	default:
		a.connect = ctx.Identity != "" && (ctx.DeclaredScopes != nil || ctx.AppKey != "" || ctx.ClientKey != "")
	}
}

// effectivePort is the port of u, or the default port of its scheme.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// siteHost reports whether host is an Atlassian Cloud site.
func siteHost(h string) bool {
	return strings.HasSuffix(h, ".atlassian.net") || strings.HasSuffix(h, ".jira.com") ||
		strings.HasSuffix(h, ".jira-dev.com") || strings.HasSuffix(h, ".atlassian-us-gov-mod.net") ||
		strings.HasSuffix(h, ".atlassian-stg-fedm.net")
}

func alignHost(h string) bool { return strings.HasSuffix(h, ".jiraalign.com") }

// bodyHas returns the first needle found in the lower-cased body.
func (a *analysis) bodyHas(needles ...string) (string, bool) {
	for _, n := range needles {
		if a.text.Contains(n) {
			return n, true
		}
	}
	return "", false
}

// said quotes what the server said, for evidence.
func (a *analysis) said() string {
	if !a.saidDone {
		a.saidText, a.saidDone = a.computeSaid(), true
	}
	return a.saidText
}

func (a *analysis) computeSaid() string {
	switch {
	case len(a.messages) > 0:
		return "response body says: " + quote(strings.Join(a.messages, " | "), 240)
	case a.htmlTitle != "":
		return "HTML page titled " + quote(a.htmlTitle, 120)
	case strings.TrimSpace(a.low) != "":
		return "response body: " + quote(strings.TrimSpace(string(a.in.Response.Body)), 160)
	}
	return ""
}

func quote(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	return strconv.Quote(truncate(s, n))
}

func short(s string) string {
	if len(s) > 16 {
		return s[:12] + "…"
	}
	return s
}

// isSchemeWord reports whether a whole Authorization value is only a
// scheme name.
func isSchemeWord(v string) bool {
	switch strings.ToLower(v) {
	case "bearer", "basic", "jwt", "token", "digest", "negotiate", "ntlm", "apikey", "sso-key", "ssws":
		return true
	}
	return false
}
