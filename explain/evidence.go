package explain

import (
	"slices"
	"strings"
	"unicode"

	"github.com/connect-doctor/connect-doctor/explain/knowledge"
)

// The evidence model. Every cause carries the class of its strongest
// evidence (knowledge.Decisive, Strong, Weak). One rule ranks every cause:
// the class first (decisive specific evidence beats any heuristic), then
// specificity (a cause naming a mechanism beats a generic one such as
// "credentials rejected" or "permission missing"), then the order the
// evidence was found in. Confidence is a function of the class alone,
// lowered when other causes share the top class, and calibrated on the
// real-world corpus (TestCorpus prints the table). A generic cause that
// nothing specific confirms is reported as unconfirmed, with what to
// collect to decide it.

// classConfidence is the calibrated confidence of a leading cause per
// class (see TestCorpus's calibration table).
var classConfidence = map[knowledge.Strength]float64{
	knowledge.Decisive: 0.96,
	knowledge.Strong:   0.90,
	knowledge.Weak:     0.78,
}

// classEstimate is the detector-style estimate a class stands for, so a
// cause found by a rule and by a detector compares on one scale.
var classEstimate = map[knowledge.Strength]float64{
	knowledge.Decisive: 0.93,
	knowledge.Strong:   0.75,
	knowledge.Weak:     0.45,
}

// rivalPenalty lowers the leader's confidence per rival in its class
// (at most two): rivals cost a strong lead more than a decisive one.
var rivalPenalty = map[knowledge.Strength]float64{
	knowledge.Decisive: 0.02,
	knowledge.Strong:   0.13,
	knowledge.Weak:     0.05,
}

// unconfirmedConfidence is the confidence of a generic cause that nothing
// specific confirms.
const unconfirmedConfidence = 0.78

// silentConfidence caps an unconfirmed cause when the answer said nothing
// (no body) and came from no known service: the status is all there is.
const silentConfidence = 0.4

// advisoryConfidence caps advice that accompanies a successful answer.
const advisoryConfidence = 0.3

// rank orders strength classes.
func rank(s knowledge.Strength) int {
	switch s {
	case knowledge.Decisive:
		return 3
	case knowledge.Strong:
		return 2
	case knowledge.Weak:
		return 1
	}
	return 0
}

// legacyClass classifies a detector's estimate. Detectors written before
// the evidence model state how sure their observation is as a number; only
// its class survives into the ranking.
func legacyClass(conf float64) knowledge.Strength {
	switch {
	case conf >= 0.85:
		return knowledge.Decisive
	case conf >= 0.65:
		return knowledge.Strong
	}
	return knowledge.Weak
}

// genericCodes name an outcome rather than a mechanism: they are what a
// status says by itself.
var genericCodes = []string{CredentialsRejected, UserPermissionMissing, AppPermissionMissing, AnonymousRequest, HTMLErrorPage, EndpointUnknown}

// advisoryCodes are findings that are not failures (a deprecated endpoint
// that still answers): they may accompany a 2xx answer.
var advisoryCodes = []string{EndpointDeprecated}

// IsFailureCause reports whether a code explains a failure (every code but
// the advisory ones).
func IsFailureCause(code string) bool { return !slices.Contains(advisoryCodes, code) }

func isGeneric(code string) bool { return slices.Contains(genericCodes, code) }

// addStrength records a cause with an explicit evidence class.
// A detector's fix, written for the exact situation, is kept over a rule's.
func (a *analysis) addStrength(code string, s knowledge.Strength, fix string, evidence ...string) *rawCause {
	if c := a.has(code); c != nil {
		c.Evidence = dedupe(append(c.Evidence, evidence...))
		if c.Fix == "" {
			c.Fix = fix
		}
		if rank(s) > rank(c.explicit) {
			c.explicit = s
		}
		return c
	}
	c := a.put(code, classEstimate[s], fix, true, evidence)
	c.explicit = s
	return c
}

// identifyService recognises who answered, from the knowledge files.
func (a *analysis) identifyService() {
	if a.kb == nil {
		return
	}
	a.obs = knowledge.Observation{Host: a.host, Path: a.rawPath, Status: a.status, Header: a.hdr, Low: a.low, Text: a.text, Credential: a.cred.kind}
	for _, ch := range a.challenges {
		if e := ch.params["error"]; e != "" {
			a.obs.WWWErrors = append(a.obs.WWWErrors, e)
		}
		if d := ch.params["error_description"]; d != "" {
			// The challenge's description is the server's words too.
			a.obs.Low += "\n" + strings.ToLower(d)
			a.obs.Text = nil // re-indexed below
		}
	}
	if a.obs.Text == nil {
		a.obs.Text = knowledge.NewText(a.obs.Low)
	}
	a.services = a.kb.Identify(&a.obs)
	if len(a.services) > 0 {
		s := a.services[0]
		a.svc = s.Service
		a.notes = append(a.notes, "answered by "+s.Service.Name+" ("+s.Why+")")
	}
}

// atlassianTarget reports whether the exchange involves an Atlassian
// product, so Jira's and Connect's rules apply.
func (a *analysis) atlassianTarget() bool {
	if a.svc != nil && !a.svc.Atlassian {
		return false
	}
	return a.toAtlassian() || (a.svc != nil && a.svc.Atlassian)
}

// serviceName names who answered, for titles and fixes.
func (a *analysis) serviceName() string {
	if a.svc != nil {
		return a.svc.Name
	}
	if a.atlassianTarget() {
		return "Jira"
	}
	return "the service"
}

// schemeLegit reports whether some service this exchange may involve
// accepts the Authorization scheme; for unknown services any scheme a
// known service uses counts (it is not a typo).
func (a *analysis) schemeLegit(scheme string) bool {
	if a.kb == nil || scheme == "" {
		return false
	}
	for _, id := range a.services {
		if id.Service.SchemeOK(scheme) {
			return true
		}
	}
	if a.atlassianTarget() {
		return false
	}
	for _, s := range a.kb.Services {
		if s.SchemeOK(scheme) {
			return true
		}
	}
	return false
}

// queryCredential returns a query parameter that carries a credential for
// a service this exchange may involve.
func (a *analysis) queryCredential() (string, string) {
	if a.kb == nil || a.rawQuery == "" {
		return "", ""
	}
	for _, s := range a.kb.Services {
		if s.Schemes == nil {
			continue
		}
		for _, q := range s.Schemes.Query {
			if v := queryParam(a.rawQuery, q); v != "" {
				return q, v
			}
		}
	}
	return "", ""
}

// detectKnowledge applies the rule files.
func (a *analysis) detectKnowledge() {
	if a.kb == nil {
		return
	}
	said := a.said()
	for _, h := range a.kb.Match(&a.obs, a.services) {
		r := h.Rule
		ev := []string{h.Service.Name + ": " + h.Matched + " (rule " + r.ID + ", " + r.Source + ")"}
		if said != "" && !strings.Contains(h.Matched, "header") {
			ev = append(ev, said)
		}
		c := a.addStrength(r.Cause, r.Strength, r.Fix, ev...)
		if r.Title != "" && c.explicit == r.Strength {
			c.Title = r.Title
		}
		if r.Collect != "" && c.Collect == "" {
			c.Collect = r.Collect
		}
	}
}

// finishCauses applies the evidence model: classes, ranking, confidence,
// honest inputs.
func (a *analysis) finishCauses() {
	// A 2xx or 3xx answer has no failure cause, except an authentication
	// redirect (a login page, or one served with 200 to a REST call).
	if a.status >= 200 && a.status < 400 && a.in.Context.NetworkErr == nil {
		loginPage := a.redirectedToLogin() || a.status == 200 && a.isHTML && strings.HasPrefix(a.apiPath, "/rest/") && strings.Contains(strings.ToLower(a.htmlTitle), "log")
		if !loginPage {
			kept := a.causes[:0]
			for _, c := range a.causes {
				if !IsFailureCause(c.Code) {
					kept = append(kept, c)
				}
			}
			a.causes = kept
		}
	}
	for _, c := range a.causes {
		info, _ := LookupCode(c.Code)
		conf := c.legacy
		if !c.exact {
			conf *= statusFactor(info.Class, a.status)
		}
		cls := legacyClass(conf)
		if rank(c.explicit) > rank(cls) {
			cls = c.explicit
		}
		c.class = cls
		c.legacy = conf
	}
	slices.SortStableFunc(a.causes, func(x, y *rawCause) int {
		if d := rank(y.class) - rank(x.class); d != 0 {
			return d
		}
		if x.fallback != y.fallback {
			if x.fallback {
				return 1
			}
			return -1
		}
		if x.fallback && y.fallback {
			return x.order - y.order
		}
		gx, gy := isGeneric(x.Code), isGeneric(y.Code)
		if gx != gy {
			if gx {
				return 1
			}
			return -1
		}
		if x.legacy != y.legacy {
			if x.legacy > y.legacy {
				return -1
			}
			return 1
		}
		return x.order - y.order
	})
	if len(a.causes) == 0 {
		return
	}
	top := a.causes[0]
	// Causes sharing the top class (specific ones, when the top is
	// specific) compete: each rival lowers the confidence.
	rivals := 0
	for _, c := range a.causes[1:] {
		if c.class == top.class && !c.fallback {
			rivals++
		}
	}
	for i, c := range a.causes {
		conf := classConfidence[c.class]
		if i == 0 {
			conf -= rivalPenalty[c.class] * float64(min(rivals, 2))
		} else {
			// Lower-ranked causes stay below the leader.
			conf = min(conf, a.causes[i-1].Confidence) - 0.05
		}
		if i == 0 && (c.fallback || isGeneric(c.Code) && c.class == knowledge.Weak && c.legacy < 0.5) {
			c.Unconfirmed = true
			conf = min(conf, unconfirmedConfidence)
			if strings.TrimSpace(a.low) == "" && a.svc == nil {
				conf = min(conf, silentConfidence)
			}
			if c.Collect == "" {
				c.Collect = a.whatToCollect(c.Code)
			}
		}
		if a.status >= 200 && a.status < 300 && !IsFailureCause(c.Code) {
			conf = min(conf, advisoryConfidence) // advice, not an explanation
		}
		c.Confidence = clampConf(conf)
		c.Strength = string(c.class)
		a.localize(c)
	}
	a.eachFactOnce()
}

// eachFactOnce says every fact once (issue 18): a bullet that repeats
// itself in a parenthesis keeps the fuller half, a bullet contained in
// another bullet of the same cause goes, and a fix already given under a
// higher-ranked cause is referenced instead of repeated.
func (a *analysis) eachFactOnce() {
	for _, c := range a.causes {
		c.Evidence = tidyEvidence(c.Evidence)
	}
	for i, c := range a.causes {
		fix := strings.TrimSpace(c.Fix)
		if fix == "" {
			continue
		}
		for _, prev := range a.causes[:i] {
			if p := prev.Fix; p != "" && strings.Contains(p, fix) {
				c.Fix = "The fix given for " + prev.Code + " above applies here too."
				break
			}
		}
	}
}

// tidyEvidence removes repetition within and across the bullets of one
// cause.
func tidyEvidence(ev []string) []string {
	out := make([]string, 0, len(ev))
	for _, e := range ev {
		if i := closingParen(e); i > 0 {
			outer, inner := e[:i], e[i+2:len(e)-1]
			lo, li := normSpace(outer), normSpace(inner)
			switch {
			case strings.Contains(li, lo):
				e = inner
			case strings.Contains(lo, li):
				e = outer
			}
		}
		out = append(out, e)
	}
	kept := out[:0]
	for i, e := range out {
		le := e
		dup := false
		for j, lf := range out {
			if i != j && strings.Contains(lf, le) && (len(lf) > len(le) || j < i) {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, e)
		}
	}
	return kept
}

// closingParen returns the index of the " (" that opens the parenthesis
// ending e, or -1.
func closingParen(e string) int {
	if !strings.HasSuffix(e, ")") {
		return -1
	}
	depth := 0
	for i := len(e) - 1; i > 0; i-- {
		switch e[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				if e[i-1] == ' ' {
					return i - 1
				}
				return -1
			}
		}
	}
	return -1
}

// normSpace lower-cases s and folds its runs of white space and the
// quoting characters that differ between two renderings of one fact.
func normSpace(s string) string {
	s = strings.ReplaceAll(s, "preflight:", " ")
	var b strings.Builder
	b.Grow(len(s))
	space := true // drop leading space
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '…', '"', '\'', '`':
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		} else if r >= 0x80 {
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
		space = false
	}
	return strings.TrimSuffix(b.String(), " ")
}

func clampConf(c float64) float64 {
	c = min(c, maxConfidence)
	if c < 0.05 {
		c = 0.05
	}
	return float64(int(c*100+0.5)) / 100
}

// whatToCollect says what would decide a generic cause.
func (a *analysis) whatToCollect(code string) string {
	var parts []string
	if a.in.Context.ResponseOnly || a.in.Request.URL == "" {
		parts = append(parts, "the request side (curl -v output or a HAR entry): which credential was sent, in which scheme, to which URL")
	}
	if strings.TrimSpace(a.low) == "" {
		parts = append(parts, "the full response body, which usually names the reason")
	}
	switch code {
	case UserPermissionMissing, AppPermissionMissing:
		if a.atlassianTarget() && a.in.Context.DeclaredScopes == nil && a.cred.kind != credBasic {
			parts = append(parts, "the app's scopes (--scopes or --descriptor atlassian-connect.json)")
		}
		parts = append(parts, "the acting identity's permissions for this resource (e.g. GET /rest/api/3/mypermissions as that user)")
	case CredentialsRejected, AnonymousRequest:
		parts = append(parts, "a request with the same credential that works (or does not) against a simple endpoint such as the current-user endpoint", "the WWW-Authenticate header")
	}
	return strings.Join(parts, "; ")
}

// localize makes titles and fixes of generic causes name the service that
// answered instead of Jira.
func (a *analysis) localize(c *rawCause) {
	if a.atlassianTarget() {
		return
	}
	name := a.serviceName()
	switch c.Code {
	case UserPermissionMissing, AppPermissionMissing:
		if strings.Contains(c.Title, "Jira") {
			c.Title = "The caller lacks a permission on " + name
		}
		if strings.Contains(c.Fix, "Jira") || strings.Contains(c.Fix, "permission scheme") {
			c.Fix = "The credential was accepted but the identity it stands for is not allowed to do this on " + name + ": grant the role, policy or permission the operation needs, or call as an identity that has it."
		}
	case AnonymousRequest:
		c.Title = name + " treated the request as anonymous"
		if strings.Contains(c.Fix, "Jira") || strings.Contains(c.Fix, "Atlassian") {
			c.Fix = "Send the credential in the scheme " + name + " documents; check that nothing between you and " + name + " removes the Authorization header."
		}
	default:
		if strings.Contains(c.Title, "Jira") {
			c.Title = strings.ReplaceAll(c.Title, "Jira", name)
		}
	}
}

// bestSpecific is the highest estimate of a specific (not generic) cause.
func (a *analysis) bestSpecific() float64 {
	b := 0.0
	for _, c := range a.causes {
		if !isGeneric(c.Code) {
			b = max(b, c.legacy, classConfidence[c.explicit])
		}
	}
	return b
}

// Confluence REST paths, which live under /wiki on a Cloud site.
var confluencePaths = []string{"/rest/api/content", "/rest/api/space", "/rest/api/search?cql", "/rest/api/longtask", "/api/v2/pages", "/api/v2/spaces", "/api/v2/blogposts", "/rest/api/contentbody"}

// detectComputed covers the causes the engine works out from the exchange
// itself rather than from a service's words.
func (a *analysis) detectComputed() {
	// A Confluence path on a Cloud site without /wiki.
	if siteHost(a.host) && !strings.HasPrefix(a.rawPath, "/wiki/") && (a.status == 404 || a.status == 401 || a.status == 403) {
		for _, p := range confluencePaths {
			if strings.HasPrefix(a.reqURI, p) {
				a.addStrength(WikiPrefixMissing, knowledge.Strong, "Confluence Cloud serves its REST API under /wiki: call https://"+a.host+"/wiki"+a.reqURI+".",
					a.rawPath+" is a Confluence REST path, sent to "+a.host+" without the /wiki prefix")
				break
			}
		}
	}
	// A REST path behind a page path: the base URL was copied from the
	// browser (…/browse/KEY-1, …/wiki/spaces/X) or carries a context path.
	if i := strings.Index(a.rawPath, "/rest/"); i > 0 && a.status >= 400 {
		prefix := a.rawPath[:i]
		for _, ui := range []string{"/browse/", "/secure/", "/jira/software/", "/jira/servicedesk/", "/projects/", "/spaces/", "/display/", "/pages/", "/issues/"} {
			if strings.Contains(prefix+"/", ui) {
				a.addStrength(WrongHost, knowledge.Decisive, "Use the site's base URL (scheme and host, plus a real context path if the server has one), not the address of a page: drop "+quote(prefix, 80)+" from the configured URL.",
					"the REST path follows the page path "+quote(prefix, 80)+": the base URL was copied from a browser address")
				break
			}
		}
	}
	// A REST call answered by an Atlassian web UI's 404 page: the context
	// path is wrong (/wiki or /jira added or missing).
	if a.status == 404 && a.isHTML && (a.atlassian || a.svc != nil && a.svc.Atlassian) && (strings.Contains(a.rawPath, "/rest/") || a.in.Context.ResponseOnly) {
		a.addStrength(WrongHost, knowledge.Strong, "The application answered with its web 404 page: the REST path does not exist under this base URL. Check the context path: Cloud serves Jira at the site root and Confluence under /wiki; a self-hosted server may use /, /jira or /confluence.",
			"an Atlassian application (its own headers) answered "+a.rawPath+" with an HTML 404 page, not the REST API's JSON")
	}
	// Bitbucket Cloud's 1.0 API is gone: every REST path is under /2.0.
	if a.host == "api.bitbucket.org" && !strings.HasPrefix(a.rawPath, "/2.0/") && !strings.HasPrefix(a.rawPath, "/internal/") && a.status >= 400 {
		a.addStrength(EndpointDeprecated, knowledge.Strong, "Call the 2.0 API: https://api.bitbucket.org/2.0"+a.rawPath+" (the 1.0 API was removed; /2.0/user replaces /user).",
			a.rawPath+" is not under /2.0/: Bitbucket Cloud removed its 1.0 API (https://developer.atlassian.com/cloud/bitbucket/deprecation-notice-v1-apis/)").Title = "The endpoint was removed"
	}
	// Credentials were sent, yet the server says it received none.
	if a.cred.kind != credNone && a.cred.kind != credForm && !a.in.Context.ResponseOnly && (a.status == 401 || a.status == 403) {
		if n, ok := a.bodyHas("missing authorization header", "authorization header is missing", "no authorization header", "authorization header required",
			"no auth credentials found", "missing authentication credentials", "authorization header not found", "no credentials provided", "missing credentials",
			"authentication credentials were not provided", `{"detail":"not authenticated"}`); ok {
			a.addStrength(AuthHeaderStripped, knowledge.Decisive, "The client sent "+a.cred.source+" but the server saw none: something on the way removed it. Check proxies, load balancers and web servers in front of the application (Apache passes Authorization to CGI/PHP/WSGI only with `CGIPassAuth On` or `WSGIPassAuthorization On`), and redirects to another host, which make clients drop the header.",
				"the request carried "+a.cred.source, "the server says it received no credentials ("+quote(n, 60)+")")
		}
	}
	// A credential in a header whose name has an underscore: nginx (and
	// other proxies) drop such headers by default.
	if a.status == 401 || a.status == 403 {
		for name := range a.in.Request.Header {
			low := strings.ToLower(name)
			if strings.Contains(low, "_") && (strings.Contains(low, "key") || strings.Contains(low, "token") || strings.Contains(low, "auth") || strings.Contains(low, "secret")) {
				s := knowledge.Weak
				if strings.Contains(strings.ToLower(a.hdr.Get("Server")), "nginx") || a.bodyHasAny("missing", "no api key", "not provided") {
					s = knowledge.Strong
				}
				a.addStrength(AuthHeaderStripped, s, "Rename the header with hyphens ("+strings.ReplaceAll(name, "_", "-")+"), or allow underscores on the proxy (nginx: `underscores_in_headers on;`): nginx, and proxies like it, silently drop request headers whose names contain underscores.",
					"the credential travelled in the header "+quote(name, 40)+", whose name contains an underscore", "the server answered as if no credential arrived")
				break
			}
		}
	}
	// An Atlassian API token sent as Bearer.
	if a.cred.kind == credBearer && tokenShape(a.cred.value) == "api-token" && !a.gateway && (siteHost(a.host) || a.atlassian || a.svc != nil && a.svc.Atlassian) && a.status >= 400 {
		a.addStrength(APITokenAsBearer, knowledge.Decisive, fixBasic, "an Atlassian API token (ATATT…) was sent as `Authorization: Bearer`; the site accepts API tokens only with Basic auth (email:token)")
	}
	// A token whose own claims say it is not an access token.
	if t := a.cred.token; t != nil && a.cred.kind == credBearer && (a.status == 401 || a.status == 403) {
		use := strings.ToLower(t.Claims.TokenUse)
		switch {
		case strings.Contains(use, "refresh"):
			a.addStrength(TokenTypeWrong, knowledge.Strong, "Exchange the refresh token for an access token at the token endpoint and send the access token.", "the bearer token's claims say it is a refresh token")
		case use == "id" || use == "id_token" || use == "id+jwt":
			a.addStrength(TokenTypeWrong, knowledge.Weak, "APIs take access tokens; an ID token proves a login to the client only. Request an access token for this API's audience (unless its authorizer is configured for ID tokens).", "the bearer token's claims say it is an ID token")
		case use == "access" && strings.Contains(a.host, ".execute-api.") && a.status == 401:
			a.addStrength(TokenTypeWrong, knowledge.Strong, "An API Gateway Cognito user-pool authorizer validates the ID token unless the method declares OAuth scopes: send the ID token, or configure authorization scopes on the method to accept access tokens.", "a Cognito access token (token_use \"access\") was refused by an API Gateway authorizer")
		}
	}
}
