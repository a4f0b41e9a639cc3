package explain

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func (a *analysis) detectRouting() {
	said := a.said()
	ctx := &a.in.Context
	// api.atlassian.com needs /ex/<product>/<cloudId>.
	if a.gateway {
		switch {
		case a.gatewayPfx == "" && (strings.HasPrefix(a.rawPath, "/rest/") || strings.HasPrefix(a.rawPath, "/wiki/")):
			a.addExact(WrongHost, 0.93, "Through api.atlassian.com, prefix the REST path with /ex/jira/<cloudId> (https://api.atlassian.com/ex/jira/<cloudId>"+a.rawPath+"); get the cloudId from https://api.atlassian.com/oauth/token/accessible-resources or https://<site>.atlassian.net/_edge/tenant_info.",
				"the request went to api.atlassian.com"+a.rawPath+" without the /ex/jira/<cloudId> prefix")
		case a.gatewayPfx != "":
			id := strings.TrimPrefix(a.gatewayPfx, "/ex/")
			if _, cid, ok := strings.Cut(id, "/"); ok && !reUUID.MatchString(cid) {
				a.addExact(WrongHost, 0.8, "The segment after /ex/jira/ must be the site's cloudId (a UUID from accessible-resources or /_edge/tenant_info), not the site name.",
					"cloudId segment "+quote(cid, 60)+" is not a UUID")
			}
		}
		if a.cred.kind == credJWT || a.cred.kind == credQuery {
			a.add(WrongHost, 0.85, "Send Connect JWT requests to the tenant's baseUrl (https://<site>.atlassian.net/rest/…), not to api.atlassian.com.",
				"a Connect JWT was sent to api.atlassian.com, which does not accept Connect JWTs")
		}
	}
	// The /ex/<product>/<cloudId> prefix belongs to api.atlassian.com only.
	// On a site host, or in a Forge product fetch (requestJira and
	// friends, whose host is the product's name: the runtime picks the
	// site and adds the credential), the prefix makes the path wrong.
	if !a.gateway && a.host != "" && (siteHost(a.host) || forgeProductHost(a.host)) {
		if segs := strings.SplitN(strings.TrimPrefix(a.rawPath, "/"), "/", 4); len(segs) == 4 && segs[0] == "ex" && reUUID.MatchString(segs[2]) {
			fix := "Drop the /ex/" + segs[1] + "/<cloudId> prefix: it is only for https://api.atlassian.com. Call /" + segs[3] + " on the site"
			ev := []string{"the path starts with /ex/" + segs[1] + "/" + segs[2] + ", the api.atlassian.com prefix, but the request went to " + a.host}
			if forgeProductHost(a.host) {
				fix = "In a Forge product fetch (requestJira/requestConfluence) the route starts at /rest/… (or /wiki/…): drop the /ex/" + segs[1] + "/<cloudId> prefix. An invocation reaches only the site it runs on; another site needs its own installation"
				ev = append(ev, "host "+quote(a.host, 20)+" is the Forge runtime's product placeholder: the runtime chooses the site and adds the credential")
				// The runtime authenticates the call: a missing header
				// in the paste proves nothing.
				a.drop(AuthHeaderMissing)
			}
			if said != "" && a.status >= 400 {
				ev = append(ev, said)
			}
			a.addExact(WrongHost, 0.93, fix+".", ev...)
		}
	}
	// The tenant's baseUrl vs the host used.
	// Another port on the same host is another server; http vs https on
	// the default ports is a scheme question, handled below.
	webPort := func(p string) bool { return p == "80" || p == "443" }
	otherPort := a.host == a.tenantHost && a.port != "" && a.tenantPort != "" && a.port != a.tenantPort && !(webPort(a.port) && webPort(a.tenantPort))
	if a.tenantHost != "" && a.host != "" && (a.host != a.tenantHost || otherPort) && !a.gateway {
		conf := 0.7
		if a.status == 404 || a.status == 401 {
			conf = 0.8
		}
		ev := "request host " + a.host + " differs from the tenant's baseUrl host " + a.tenantHost
		if otherPort {
			// Same name, another port: another server (a local proxy,
			// a dev server, the app itself), not the site.
			ev = "request goes to port " + a.port + " of " + a.host + "; the tenant's baseUrl is on port " + a.tenantPort + ": a different server"
		}
		a.add(WrongHost, conf, "Call the tenant's baseUrl ("+ctx.TenantBaseURL+"); the displayUrl or a custom domain only serves links for people, never REST calls.", ev)
	}
	if _, ok := a.bodyHas("site is unavailable", "site temporarily unavailable", "site is currently unavailable", "can't find your site", "cannot find your site",
		"we couldn't find the site", "no site found", "site not found", "this site doesn't exist", "site does not exist"); ok {
		a.addExact(WrongHost, 0.88, "Check the site URL: a typo, a renamed or deleted site, or a sandbox that no longer exists. Use the tenant's baseUrl exactly as received at install.", said, "the host "+orDefault(a.host, "called")+" answers like an Atlassian site that does not exist or is not active")
	}
	// Redirects.
	for _, r := range a.in.Response.Redirects {
		if r.Location == "" {
			continue
		}
		if a.status == 401 || a.status == 403 {
			ev := fmt.Sprintf("the request was redirected (%d → %s) before the final %d", r.Status, r.Location, a.status)
			fix := "Call the final URL directly (https, the exact host and path); most clients drop the Authorization header when a redirect changes host or scheme, and a JWT's qsh no longer matches the new path."
			a.add(RedirectDroppedAuth, 0.75, fix, ev)
		}
	}
	if a.redirectedToLogin() {
		a.addExact(AnonymousRequest, 0.8, a.suggestedAuth(), "the server redirected to a login page ("+truncate(a.hdr.Get("Location"), 120)+"): the request was not authenticated")
	}
	if a.scheme == "http" && (siteHost(a.host) || a.gateway) {
		a.add(RedirectDroppedAuth, 0.6, "Use https:// — http:// is redirected and the credentials may be dropped on the way.", "the request used http:// to "+a.host)
	}
	// Jira Align uses its own API paths.
	if alignHost(a.host) && strings.HasPrefix(a.rawPath, "/rest/api/") {
		a.add(EndpointUnknown, 0.6, "Jira Align's REST API lives under /rest/align/api/2/…; the Jira Cloud paths do not exist there.", "Jira Align host with a Jira Cloud path "+a.rawPath)
	}
}

func (a *analysis) detectRequestShape() {
	if a.in.Request.HasBody && (a.method == "GET" || a.method == "HEAD") {
		conf := 0.5
		switch {
		case a.status == 403 || a.status == 400 && a.isHTML:
			// Jira Cloud's edge (CloudFront) refuses GET bodies with its
			// own HTML error page: the body is why the "firewall" answered.
			conf = 0.95
		case a.status == 401 && a.seraph == "AUTHENTICATED_FAILED":
			conf = 0.75
		case a.status == 400 || a.status == 401:
			conf = 0.6
		case a.status >= 200 && a.status < 300:
			conf = 0.2
		}
		alt := "put the parameters in the query string"
		if strings.Contains(a.apiPath, "/search") {
			alt += " or use POST /rest/api/3/search/jql with the JSON body"
		}
		a.addExact(GetWithBody, conf, "Send GET requests without a body (and without Content-Length/Transfer-Encoding); "+alt+". Some HTTP clients add a body when you pass data to a GET.",
			a.method+" request with a body: Jira Cloud refuses it (CHANGE-2328)")
	}
}

var reIPBlock = regexp.MustCompile(`\bip\b(?: address)?[^<"\n]{0,40}(?:allow ?list|whitelist|not allowed|not permitted|blocked|restricted|denied|forbidden)|(?:allow ?list|whitelist)[^<"\n]{0,40}\bip\b`)

type wafSig struct {
	name    string
	headers []string // header names whose presence identifies it
	server  string   // substring of Server
	body    []string // body needles that identify a block page
}

var wafs = []wafSig{
	{"Cloudflare", []string{"Cf-Ray", "Cf-Mitigated"}, "cloudflare", []string{"attention required! | cloudflare", "sorry, you have been blocked", "error code: 1020", "used cloudflare to restrict access", "cf-error-details", "cloudflare ray id", "just a moment...", "cf-chl"}},
	{"AWS WAF / CloudFront", []string{"X-Amzn-Waf-Action", "X-Amz-Cf-Id"}, "cloudfront", []string{"request blocked.", "aws waf"}},
	{"Akamai", []string{"X-Akamai-Request-Id", "Akamai-Grn"}, "akamaighost", []string{"you don't have permission to access", "reference&#32;&#35;", "reference #", "errors.edgesuite.net"}},
	{"Imperva/Incapsula", []string{"X-Iinfo", "X-Cdn"}, "incapsula", []string{"incapsula incident id", "request unsuccessful. incapsula"}},
	{"F5 BIG-IP ASM", nil, "bigip", []string{"the requested url was rejected. please consult with your administrator", "your support id is"}},
	{"Sucuri", []string{"X-Sucuri-Id", "X-Sucuri-Block"}, "sucuri", []string{"sucuri website firewall", "access denied - sucuri"}},
	{"ModSecurity", nil, "", []string{"mod_security", "modsecurity", "this error was generated by mod_security"}},
	{"Zscaler", nil, "zscaler", []string{"zscaler", "internet security by zscaler"}},
	{"a corporate web filter", []string{"X-Squid-Error"}, "squid", []string{"web page blocked", "fortiguard", "forcepoint", "websense", "blue coat", "this page has been blocked", "access to this site is blocked", "the requested url could not be retrieved"}},
}

func (a *analysis) detectIntermediaries() {
	h := a.hdr
	server := strings.ToLower(h.Get("Server"))
	said := a.said()
	blockStatus := a.status == 403 || a.status == 401 || a.status == 406 || a.status == 429 || a.status == 503 || a.status == 400 || a.status == 451
	for _, w := range wafs {
		var ev []string
		present := w.server != "" && strings.Contains(server, w.server)
		for _, hn := range w.headers {
			if v := h.Get(hn); v != "" {
				if hn == "X-Cdn" && !strings.Contains(strings.ToLower(v), "imperva") && !strings.Contains(strings.ToLower(v), "incapsula") {
					continue
				}
				present = true
				ev = append(ev, hn+": "+truncate(v, 60))
			}
		}
		if present && server != "" {
			ev = append([]string{"Server: " + h.Get("Server")}, ev...)
		}
		n, bodyHit := a.bodyHas(w.body...)
		if w.name == "Akamai" && bodyHit && !present && !a.text.Contains("access denied") {
			bodyHit = false
		}
		act := strings.ToLower(h.Get("X-Amzn-Waf-Action"))
		switch {
		case bodyHit && blockStatus:
			conf := 0.9
			if !present && !a.isHTML {
				conf = 0.75
			}
			if strings.Contains(n, "just a moment") || strings.Contains(n, "cf-chl") || h.Get("Cf-Mitigated") != "" {
				ev = append(ev, "a bot challenge page (API clients cannot pass JavaScript challenges)")
			}
			ev = append(ev, said, w.name+" block page (\""+n+"\")")
			a.addExact(FirewallBlock, conf, "The request was stopped by "+w.name+" before reaching the API. Ask whoever runs it (your network team, the API owner or your proxy) to allow this client: share the block reference (Ray ID / reference / support ID) from the page; check the request for patterns WAFs flag (odd User-Agent, huge headers, SQL/script-like strings in the URL or body).", ev...)
		case act == "block" || act == "captcha" || act == "challenge":
			a.addExact(FirewallBlock, 0.92, "AWS WAF blocked the request: ask the owner of the web ACL to allow it (the x-amzn-waf-action header names the action).", append(ev, "x-amzn-waf-action: "+act)...)
		case present && blockStatus && a.isHTML && !a.atlassian:
			a.addExact(FirewallBlock, 0.6, "The HTML answer came from "+w.name+", not from the API: check its firewall/access rules and the URL.", append(ev, said)...)
		case present:
			a.notes = append(a.notes, "the answer passed through "+w.name+" ("+strings.Join(ev, ", ")+")")
		}
	}
	// Cloudflare IP bans (1006/1007/1008) and other IP blocks.
	if n, ok := a.bodyHas("error code: 1006", "error code: 1007", "error code: 1008", "your ip address has been banned", "ip address is not allowed",
		"ip allowlist", "ip allow list", "ip allowlisting", "not on the allowlist", "ip whitelist", "ip address is blocked", "restricted access from your current ip",
		"ip address has been blocked", "your ip is not allowed", "ip forbidden", "ip address rejected", "access from your ip",
		"not on the allowedlist", "not on the allowed list", "ip address has been rejected"); ok {
		a.addExact(IPAllowlistBlock, 0.88, "Add this client's egress IP address to the allowlist (Atlassian Administration → Security → IP allowlists, or the firewall/WAF that answered), or call from an allowlisted network. Note that NAT, VPNs and cloud runners change the egress IP.",
			said, "the answer names an IP restriction (\""+n+"\")")
	}
	if a.has(IPAllowlistBlock) == nil && (a.status == 403 || a.status == 401) {
		if m := findIPBlock(a.low); m != "" {
			a.addExact(IPAllowlistBlock, 0.8, "Add this client's egress IP address to the allowlist (Atlassian Administration → Security → IP allowlists, or the firewall that answered), or call from an allowlisted network.",
				said, "the answer mentions an IP restriction: "+quote(m, 100))
		}
	}
	// 407 from a forward proxy.
	if a.status == 407 || h.Get("Proxy-Authenticate") != "" {
		a.addExact(FirewallBlock, 0.9, "Configure the HTTP client with the corporate proxy's credentials (HTTPS_PROXY=http://user:pass@proxy:port) or ask for an exception for this host.",
			"407 Proxy Authentication Required / Proxy-Authenticate: "+truncate(h.Get("Proxy-Authenticate"), 80)).Title = "A forward proxy requires authentication"
	}
	// AWS API Gateway style answers.
	if et := h.Get("X-Amzn-Errortype"); et != "" || a.text.Contains("missing authentication token") {
		switch {
		case a.text.Contains("missing authentication token"):
			a.addExact(EndpointUnknown, 0.75, "API Gateway answers \"Missing Authentication Token\" for paths and methods it has no route for: check the URL, stage name and method.", said, "X-Amzn-ErrorType: "+et).Title = "No such route on the API gateway"
		case a.text.Contains("explicit deny") || a.text.Contains("not authorized to access this resource"):
			a.add(UserPermissionMissing, 0.75, "The API gateway's authorizer or resource policy denies this caller: check the policy, the token's claims/scopes and the caller's IP.", said, "X-Amzn-ErrorType: "+et)
		case a.text.Contains("security token included in the request is invalid") || strings.Contains(strings.ToLower(et), "unauthorized"):
			a.add(CredentialsRejected, 0.75, "The API gateway rejected the credentials: check the token/API key, its environment and expiry.", said, "X-Amzn-ErrorType: "+et)
		}
	}
	// Cached answers.
	a.detectCache()
	// A generic HTML page where JSON was expected.
	if a.isHTML && a.status >= 400 && a.has(FirewallBlock) == nil {
		conf := 0.55
		who := "something other than the API (a proxy, load balancer, or a login/error page)"
		if a.atlassian {
			conf = 0.35
			who = "Atlassian's edge or Jira's web UI, not the REST API (wrong path, or a browser-only URL)"
		}
		ev := []string{"Content-Type: " + orDefault(h.Get("Content-Type"), "(none)") + ", body is HTML"}
		if a.htmlTitle != "" {
			ev = append(ev, "page title: "+quote(a.htmlTitle, 120))
		}
		if server != "" {
			ev = append(ev, "Server: "+h.Get("Server"))
		}
		a.addExact(HTMLErrorPage, conf, "The page came from "+who+". Send `Accept: application/json`, call the REST URL (…/rest/api/3/…) on the tenant's baseUrl, and check any proxy between you and the API.", ev...)
	}
}

func (a *analysis) detectCache() {
	h := a.hdr
	var ev []string
	strong := false
	for _, k := range []string{"X-Cache", "Cf-Cache-Status", "X-Cache-Status", "X-Proxy-Cache", "X-Cache-Lookup", "X-Drupal-Cache", "X-Fastly-Cache-Status"} {
		v := strings.ToUpper(h.Get(k))
		if strings.Contains(v, "HIT") || strings.Contains(v, "STALE") {
			ev = append(ev, k+": "+h.Get(k))
			strong = true
		}
	}
	if age, err := strconv.Atoi(strings.TrimSpace(h.Get("Age"))); err == nil && age > 0 {
		ev = append(ev, "Age: "+strconv.Itoa(age)+" (the answer is "+human(secondsDur(age))+" old)")
	}
	if len(ev) == 0 || a.status < 400 {
		return
	}
	conf := 0.6
	if strong {
		conf = 0.85
	}
	if a.status == 429 || a.status >= 500 {
		conf *= 0.6
	}
	a.addExact(CachedResponse, conf, "A cache served a stored error: retry bypassing it (`Cache-Control: no-cache`, a cache-busting query parameter), and configure the proxy/CDN never to cache 401/403 (honour `Cache-Control: no-store`, vary on Authorization). Earlier failures may have had a different cause than the current request.", ev...)
}

func (a *analysis) detectStatus() {
	h := a.hdr
	ctx := &a.in.Context
	switch st := strings.ToLower(ctx.TenantState); st {
	case "uninstalled", "disabled":
		if a.status == 401 || a.status == 403 || a.status == 404 || a.status == 0 && ctx.ExchangeErr != nil {
			a.addExact(TenantUninstalled, 0.9, "The app is "+st+" on this site: Jira refuses its tokens. Ask a site admin to install/enable it again; a reinstall sends a new shared secret.", "the app's record of this tenant says "+st)
		}
	}
	switch {
	case a.status == 429:
		ev := []string{"HTTP 429 Too Many Requests"}
		for _, k := range []string{"Retry-After", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Ratelimit-Reason", "X-Ratelimit-Nearlimit", "Beta-Retry-After"} {
			if v := h.Get(k); v != "" {
				ev = append(ev, k+": "+v)
			}
		}
		wait := "the Retry-After header"
		if ra := h.Get("Retry-After"); ra != "" {
			wait = "Retry-After (" + ra + ")"
		}
		a.addExact(RateLimited, 0.97, "Wait for "+wait+" before retrying, then back off exponentially with jitter; lower concurrency and batch requests. Jira Cloud limits are per app/user and per tenant, so one busy client can throttle others.", ev...)
	case a.status == 503 && h.Get("Retry-After") != "":
		a.addExact(RateLimited, 0.55, "Honour Retry-After ("+h.Get("Retry-After")+") and back off.", "503 with Retry-After: "+h.Get("Retry-After")+" (Jira also signals overload this way)")
		a.addExact(ServerError, 0.6, "Retry later with backoff; check https://status.atlassian.com.", "HTTP 503")
	case a.status >= 500:
		ev := []string{fmt.Sprintf("HTTP %d %s", a.status, strings.ToLower(httpText(a.status)))}
		if s := a.said(); s != "" {
			ev = append(ev, s)
		}
		fix := "Server-side failure: retry with backoff; if it persists check https://status.atlassian.com and report it with the trace id (Atl-Traceid / X-Arequestid)."
		if (a.status == 502 || a.status == 504) && !a.atlassian {
			fix = "A gateway between you and the API failed (" + orDefault(h.Get("Server"), "proxy") + "): check the proxy/load balancer and the upstream; retry with backoff."
		}
		a.addExact(ServerError, 0.85, fix, ev...)
	case a.status == 404 || a.status == 405 || a.status == 410:
		a.detectNotFound()
	}
	if a.op != nil && a.op.Deprecated && a.has(EndpointDeprecated) == nil {
		conf := 0.15
		if a.status == 410 {
			conf = 0.9
		} else if a.status == 404 {
			conf = 0.45
		}
		fix := "Move to the operation that replaces it (see the Jira REST changelog)"
		if strings.Contains(a.op.Path, "/search") {
			fix += "; issue search moved to /rest/api/3/search/jql"
		}
		a.addExact(EndpointDeprecated, conf, fix+".", opName(a.op)+" is deprecated in Jira's REST spec")
	}
}

func httpText(code int) string {
	if t := statusTexts[code]; t != "" {
		return t
	}
	return "error"
}

var statusTexts = map[int]string{500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}

func (a *analysis) detectNotFound() {
	if a.has(WrongHost) != nil && a.has(WrongHost).legacy >= 0.8 {
		return
	}
	if a.op == nil && a.looksLikeProductAPI() {
		if len(a.pathOps) > 0 {
			var ms []string
			for _, o := range a.pathOps {
				ms = append(ms, o.Method)
			}
			a.addExact(EndpointUnknown, 0.85, "Use one of the methods the endpoint supports ("+strings.Join(ms, ", ")+").",
				fmt.Sprintf("%s has no %s operation; it supports %s", a.pathOps[0].Path, a.method, strings.Join(ms, ", "))).Title = "Method not allowed on this endpoint"
			return
		}
		a.addExact(EndpointUnknown, 0.75, "Check the path against the Jira REST reference: a typo, the wrong API version (/rest/api/3 vs /rest/agile/1.0), a Confluence path on Jira, or an endpoint newer than this catalog.",
			a.method+" "+a.apiPath+" matches no operation in the catalog")
		return
	}
	if a.op != nil && a.status == 404 && a.has(UserPermissionMissing) == nil && a.has(AppPermissionMissing) == nil {
		code := UserPermissionMissing
		if a.identity == IdentityApp {
			code = AppPermissionMissing
		}
		ev := []string{a.method + " " + a.apiPath + " is a valid operation (" + a.op.OperationID + "), so the 404 is about the resource"}
		if s := a.said(); s != "" {
			ev = append(ev, s)
		}
		a.addExact(code, 0.4, "Check the key/id exists, and that the caller has Browse projects on its project: Jira answers 404 for what the caller cannot see.", ev...)
	}
}

func (a *analysis) detectNetwork() {
	err := a.in.Context.NetworkErr
	msg := err.Error()
	low := strings.ToLower(msg)
	ev := "transport error: " + truncate(msg, 240)
	var dnsErr *net.DNSError
	var uaErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr *x509.CertificateInvalidError
	switch {
	case errors.As(err, &dnsErr) || strings.Contains(low, "no such host") || strings.Contains(low, "could not resolve host") || strings.Contains(low, "server misbehaving"):
		a.addExact(WrongHost, 0.85, "The host name does not resolve: check the spelling of the site (https://<site>.atlassian.net), that the site still exists, and the DNS/proxy settings of this machine.", ev)
		a.addExact(NetworkError, 0.6, "Check DNS resolution from this machine (nslookup/dig).", ev)
	case errors.As(err, &uaErr) || errors.As(err, &hostErr) || errors.As(err, &certErr) || strings.Contains(low, "x509") || strings.Contains(low, "certificate") || strings.Contains(low, "tls"):
		a.addExact(NetworkError, 0.85, "TLS failed: the certificate is not trusted or does not match the host. A corporate proxy that intercepts TLS needs its CA in the client's trust store; never disable verification.", ev).Title = "TLS handshake failed"
		if strings.Contains(low, "unknown authority") || strings.Contains(low, "self signed") || strings.Contains(low, "self-signed") {
			a.addExact(FirewallBlock, 0.55, "A TLS-intercepting proxy/firewall re-signed the connection: install its CA certificate or get an exception for this host.", ev, "an unknown certificate authority usually means a TLS-inspecting proxy")
		}
	case strings.Contains(low, "cors") || strings.Contains(low, "failed to fetch") || strings.Contains(low, "access-control-allow-origin"):
		a.addExact(NetworkError, 0.85, "Browsers block cross-origin calls to Atlassian REST APIs (no CORS). From a Connect iframe use AP.request(); from Forge use requestJira(); otherwise call the API from your backend.", ev).Title = "The browser blocked a cross-origin call (CORS)"
	case strings.Contains(low, "connection refused"):
		a.addExact(NetworkError, 0.85, "Nothing accepts connections at that address/port: check the URL and port, and whether a firewall rejects the connection.", ev)
		a.addExact(FirewallBlock, 0.4, "Check outbound firewall rules for this host.", ev)
	case strings.Contains(low, "timeout") || strings.Contains(low, "timed out") || strings.Contains(low, "deadline exceeded"):
		a.addExact(NetworkError, 0.85, "The connection timed out: check outbound firewall/proxy rules (HTTPS_PROXY) and connectivity to the host; retry with backoff.", ev)
		a.addExact(FirewallBlock, 0.5, "A firewall that silently drops packets looks like a timeout: check egress rules for this host.", ev)
	case strings.Contains(low, "connection reset") || strings.Contains(low, "eof") || strings.Contains(low, "broken pipe"):
		a.addExact(NetworkError, 0.8, "The connection was cut: check proxies/firewalls that reset connections, and retry with backoff.", ev)
		a.addExact(FirewallBlock, 0.5, "Check for a proxy or firewall resetting connections to this host.", ev)
	default:
		a.addExact(NetworkError, 0.8, "Check connectivity, DNS and proxy settings from this machine to the host.", ev)
	}
}

// detectFallback adds a low-confidence, status-level explanation when
// nothing specific was found, and the "everything checks out" candidates
// for a Connect JWT refused with 401.
func (a *analysis) detectFallback() {
	t := a.cred.token
	best := a.best()
	if a.status == 401 && t != nil && t.Kind == KindConnectJWT && a.bestSpecific() < 0.65 {
		ev := []string{"the token passes every check we can make here (scheme, times, iss, qsh" + map[bool]string{true: ", signature", false: ""}[t.Signature == SigValid] + ")"}
		if t.Signature == SigValid {
			a.addExact(SharedSecretStale, 0.5, "Jira may hold a newer secret than yours: check the latest installed callback was stored (reinstalls rotate the secret) and that this is the right tenant.", append(ev, "the secret you hold verifies the signature, but Jira checks against the secret of the last install")...)
			a.addExact(TenantUninstalled, 0.45, "Check the app is still installed and enabled on the site (Manage apps).", ev...)
		} else {
			a.addExact(JWTSignatureInvalid, 0.5, "Verify the signature with the tenant's shared secret (pass it to check).", append(ev, "the signature could not be checked: no shared secret given")...)
			a.addExact(SharedSecretStale, 0.45, "Make sure the secret from the latest installed callback is stored and used.", ev...)
			a.addExact(TenantUninstalled, 0.35, "Check the app is still installed and enabled on the site.", ev...)
		}
		return
	}
	if best >= 0.5 {
		return
	}
	said := a.said()
	switch a.status {
	case 401:
		a.addExact(CredentialsRejected, 0.35, "The server did not accept the credentials; nothing here points to a specific reason. Re-create the credential, check it belongs to this site/environment, and compare with a request that works.",
			"HTTP 401 with "+orDefault(a.cred.source, "no credential")+"; "+orDefault(said, "no body")).fallback = true
	case 403:
		code := UserPermissionMissing
		if a.identity == IdentityApp {
			code = AppPermissionMissing
		}
		a.addExact(code, 0.35, "The caller is authenticated but refused: check the permission the operation needs for this identity.", "HTTP 403; "+orDefault(said, "no body")).fallback = true
		a.addExact(IPAllowlistBlock, 0.2, "If the organisation uses IP allowlisting, check this client's egress IP is on it.", "a bare 403 can also come from an IP allowlist").fallback = true
	}
}

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }

// forgeProductHost: the host a Forge product fetch shows (requestJira's
// requests name the product, not a site).
func forgeProductHost(h string) bool {
	return h == "jira" || h == "confluence" || h == "bitbucket"
}

// findIPBlock runs reIPBlock only around the words "ip" of the body: every
// match contains one, and a large HTML page would otherwise make the
// regular expression walk the whole body (the windows reach past the
// furthest a match may extend from its "ip").
func findIPBlock(low string) string {
	for off := 0; off < len(low); {
		i := strings.Index(low[off:], "ip")
		if i < 0 {
			return ""
		}
		i += off
		off = i + 2
		if i > 0 && isWordByte(low[i-1]) || i+2 < len(low) && isWordByte(low[i+2]) {
			continue // "ipsum", "script": not the word "ip"
		}
		lo, hi := max(0, i-64), min(len(low), i+96)
		for lo > 0 && isWordByte(low[lo-1]) {
			lo--
		}
		for hi < len(low) && isWordByte(low[hi]) {
			hi++
		}
		if m := reIPBlock.FindString(low[lo:hi]); m != "" {
			return m
		}
	}
	return ""
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
