package explain

import (
	"encoding/base64"
	"fmt"

	"github.com/connect-doctor/connect-doctor/explain/knowledge"
	"regexp"
	"strings"
	"time"
)

const (
	fixServiceAccount = "Call the API through the gateway: https://api.atlassian.com/ex/jira/<cloudId>/rest/… (Confluence: /ex/confluence/<cloudId>/wiki/rest/…), with the same credentials; get the cloudId from https://<site>.atlassian.net/_edge/tenant_info. Scoped API tokens and service-account tokens are refused on the site URL."
	fixConnectJWT     = "Send `Authorization: JWT <token>` (the scheme is exactly \"JWT\", not Bearer), where the token is HS256-signed with the tenant's shared secret and carries iss = the app key, iat, exp (≤ 3 minutes ahead) and qsh = the hash of this exact request."
	fixBasic          = "For Jira Cloud with an API token send `Authorization: Basic <base64(email:api_token)>`, e.g. `curl -u you@example.com:$API_TOKEN …` (encode with `printf '%s' 'email:token' | base64`, no trailing newline)."
	fixBearer         = "Send `Authorization: Bearer <access_token>` (OAuth 2.0 tokens go to https://api.atlassian.com/ex/jira/<cloudId>/…; a Connect user-impersonation token goes to the site's baseUrl)."
)

var (
	reUUID      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	reHex64     = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	rePlacehold = regexp.MustCompile(`^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*\}\}|<[^>]*>|%[A-Za-z_]+%|null|undefined|none|nil|token|your[_-]?(api[_-]?)?token|xxx+|\*+)$`)
)

// tokenShape names what a bare credential string looks like.
func tokenShape(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "empty"
	case len(v) < 48 && rePlacehold.MatchString(strings.ToLower(v)):
		return "placeholder"
	case strings.HasPrefix(v, "ATATT"):
		return "api-token"
	case strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") == 2:
		return "jwt"
	case strings.ContainsAny(v, " \t\r\n"):
		return "whitespace"
	}
	return "opaque"
}

func looksLikeClientKey(iss string) bool {
	return reUUID.MatchString(iss) || strings.HasPrefix(iss, "jira:") || strings.HasPrefix(iss, "confluence:")
}

func (a *analysis) authStatus() bool {
	return a.status == 401 || a.status == 403 || a.status == 400 || a.status == 404 || a.status == 0 || a.redirectedToLogin()
}

func (a *analysis) redirectedToLogin() bool {
	if a.status < 300 || a.status >= 400 {
		return false
	}
	l := strings.ToLower(a.hdr.Get("Location"))
	return strings.Contains(l, "login") || strings.Contains(l, "id.atlassian.com")
}

// suggestedAuth proposes the header for the kind of target.
func (a *analysis) suggestedAuth() string {
	switch {
	case alignHost(a.host):
		return "Jira Align expects `Authorization: bearer <api_token>` (the token from your Jira Align profile)."
	case a.in.Context.Identity == IdentityApp || a.in.Context.AppKey != "" || a.cred.kind == credJWT || a.cred.kind == credQuery:
		return fixConnectJWT
	case a.in.Context.Identity == IdentityUser:
		return "Exchange a JWT-bearer assertion for a user access token and send `Authorization: Bearer <access_token>` to the site's baseUrl."
	case a.gateway:
		return fixBearer + " " + fixBasic
	case siteHost(a.host) || a.atlassian || a.op != nil:
		return fixBasic + " A Connect app signs with `Authorization: JWT <token>`; OAuth 2.0 uses `Authorization: Bearer <token>` via api.atlassian.com."
	}
	return "Send the credential in the scheme the API documents, typically `Authorization: Bearer <token>` (RFC 6750) or `Authorization: Basic <base64(user:password)>`."
}

func (a *analysis) detectCredential() {
	c := &a.cred
	hdrEv := func() string {
		if c.scheme == "" {
			return "Authorization header: " + quote(short(c.value), 40) + " (no scheme)"
		}
		return "Authorization header scheme: " + quote(c.scheme, 30)
	}
	switch c.kind {
	case credNone:
		if a.status == 0 && a.in.Context.ExchangeErr != nil {
			return // the token exchange failed, so no request was sent
		}
		if a.in.Context.ResponseOnly || a.in.Request.URL == "" {
			// Only the response was pasted: whether credentials were sent
			// is unknown, and the request would tell.
			a.notes = append(a.notes, "only the response was given: the request (curl -v output, or a HAR entry) would show which credential was sent, in which scheme and to which URL")
			return
		}
		if a.status >= 200 && a.status < 300 {
			if a.op != nil && a.op.AnonymousAllowed {
				a.addExact(AnonymousRequest, 0.3, "Authenticate the call if you expected more data: anonymous requests only see what anonymous users may browse.",
					"the request carried no credentials", a.op.OperationID+" can be called anonymously, so it succeeded with anonymous visibility (results may be empty or partial)")
			}
			return
		}
		conf := 0.6
		switch a.status {
		case 401, 407:
			conf = 0.9
		case 403:
			conf = 0.75
		}
		if a.redirectedToLogin() {
			conf = 0.85
		}
		ev := []string{"the request carries no Authorization header, no jwt query parameter and no session cookie"}
		if _, ok := a.bodyHas("client must be authenticated"); ok {
			conf = 0.95
			ev = append(ev, a.said())
		}
		a.addExact(AuthHeaderMissing, conf, a.suggestedAuth()+" If your code does set the header, check that a proxy, a redirect or the HTTP library does not drop it.", ev...)
	case credEmpty:
		ev, fix := "the Authorization header is present but empty (an unset variable?)", a.suggestedAuth()
		if c.scheme != "" {
			ev = "the Authorization header is " + quote(c.scheme, 20) + " with no credential after the scheme: the variable meant to hold the token was empty"
			fix = "Put the credential after the scheme (`Authorization: " + c.scheme + " <credential>`): check that the variable or command that should produce it is not empty before the call."
		}
		a.addExact(AuthSchemeInvalid, 0.9, fix, ev)
	case credCookie:
		if a.status == 401 || a.status == 403 || a.redirectedToLogin() {
			a.add(CredentialsRejected, 0.55, "Browser session cookies expire and are not meant for API clients: use an API token (Basic email:token) or OAuth 2.0 instead.",
				"the only credential is a Cookie header (a browser session), which has expired or is not accepted here")
		}
	case credAPIKeyH:
		if a.toAtlassian() {
			a.add(AuthSchemeInvalid, 0.8, a.suggestedAuth(), "the credential was sent in the "+c.source+"; Atlassian APIs read only the Authorization header")
		} else if a.status == 401 {
			a.add(CredentialsRejected, 0.45, "Check the API key, and whether this API wants it in Authorization instead of "+c.source+".", "the credential was sent in the "+c.source)
		}
	case credBare:
		a.detectBare(hdrEv())
	case credForm:
		// A token request: detectExchange reads the answer.
	case credOther:
		if a.schemeLegit(c.scheme) {
			a.notes = append(a.notes, "Authorization scheme "+quote(c.scheme, 30)+" is one "+a.serviceName()+" (or a known service) accepts")
			if len(strings.Fields(c.value)) > 1 && !strings.Contains(c.value, ",") && !strings.Contains(c.value, "=") {
				a.add(AuthSchemeInvalid, 0.9, "Send the scheme once: `Authorization: <Scheme> <token>`.", hdrEv(), "the credential contains more than one word ("+quote(short(c.value), 30)+"); a doubled scheme?")
			}
			break
		}
		a.detectOtherScheme(hdrEv())
	case credBearer:
		a.detectBearer(hdrEv())
	case credBasic:
		a.detectBasic()
	case credJWT, credQuery:
		if c.kind == credJWT && c.scheme != "JWT" {
			a.add(AuthSchemeInvalid, 0.6, fixConnectJWT, "Authorization scheme written "+quote(c.scheme, 10)+"; Atlassian's verifiers look for the exact prefix \"JWT \"")
		}
		if c.token == nil {
			switch tokenShape(c.value) {
			case "api-token":
				a.add(AuthSchemeInvalid, 0.9, fixBasic, "an Atlassian API token (ATATT…) was sent with the JWT scheme; API tokens are not JWTs")
			case "placeholder", "empty":
				a.add(TokenMalformed, 0.93, fixConnectJWT, "the token is a placeholder or unset variable: "+quote(c.value, 30))
			default:
				ev := "the " + c.source + " does not hold a decodable JWT"
				if c.tokErr != nil {
					ev += ": " + c.tokErr.Error()
				}
				a.add(TokenMalformed, 0.9, fixConnectJWT, ev)
			}
		}
	}
}

func (a *analysis) detectBare(ev string) {
	v := a.cred.value
	switch tokenShape(v) {
	case "jwt":
		if t := a.cred.token; t != nil && (t.Kind == KindConnectJWT || t.Kind == KindConnectContext) {
			a.add(AuthSchemeInvalid, 0.93, fixConnectJWT, ev, "the value is a Connect JWT (it has a qsh claim) sent without the \"JWT \" prefix")
			return
		}
		a.add(AuthSchemeInvalid, 0.9, "Send `Authorization: Bearer <token>`.", ev, "the value is a JWT sent without a scheme")
	case "api-token":
		a.add(AuthSchemeInvalid, 0.93, fixBasic, ev, "the value is an Atlassian API token (ATATT…) sent without a scheme; Jira Cloud takes API tokens only as Basic email:token")
	case "placeholder":
		a.add(TokenMalformed, 0.93, a.suggestedAuth(), ev, "the header holds a placeholder or unset variable, not a credential")
	default:
		fix := "Prefix the token with its scheme: `Authorization: Bearer <token>`."
		if alignHost(a.host) {
			fix = "Jira Align expects `Authorization: bearer <api_token>`."
		} else if siteHost(a.host) || a.atlassian {
			fix = fixBasic + " For OAuth 2.0 access tokens: `Authorization: Bearer <token>`."
		}
		a.add(AuthSchemeInvalid, 0.88, fix, ev, "the Authorization header has no scheme (\"Bearer\", \"Basic\", \"JWT\"); servers ignore or reject it")
	}
}

func (a *analysis) detectOtherScheme(ev string) {
	c := &a.cred
	s := strings.ToLower(c.scheme)
	inner := strings.Fields(c.value)
	switch {
	case strings.HasSuffix(s, ":"):
		a.add(AuthSchemeInvalid, 0.9, "Write the scheme without a colon: `Authorization: "+strings.TrimSuffix(c.scheme, ":")+" <token>`.", ev, "the scheme is followed by a colon")
	case s == "token" || s == "apikey" || s == "api-key" || s == "api_key" || s == "key" || s == "sso-key" || s == "oauth":
		fix := a.suggestedAuth()
		if c.token != nil {
			fix = "Send `Authorization: Bearer <token>`."
			if c.token.Kind == KindConnectJWT {
				fix = fixConnectJWT
			}
		}
		a.add(AuthSchemeInvalid, 0.85, fix, ev, "\""+c.scheme+"\" is not a scheme this API accepts")
	default:
		a.add(AuthSchemeInvalid, 0.75, a.suggestedAuth(), ev, "unrecognised Authorization scheme")
	}
	if len(inner) > 1 {
		a.add(AuthSchemeInvalid, 0.9, "Send the scheme once: `Authorization: <Scheme> <token>`.", ev, "the credential contains more than one word ("+quote(short(c.value), 30)+"); a doubled scheme such as \"Bearer Bearer …\"?")
	}
}

func (a *analysis) detectBearer(ev string) {
	c := &a.cred
	v := c.value
	if strings.ContainsAny(v, " \t") {
		f := strings.Fields(v)
		if len(f) > 1 && (strings.EqualFold(f[0], "bearer") || strings.EqualFold(f[0], "jwt") || strings.EqualFold(f[0], "basic")) {
			a.add(AuthSchemeInvalid, 0.92, "Send the scheme once: `Authorization: Bearer <token>`.", ev, "the value repeats a scheme: \"Bearer "+f[0]+" …\"")
			return
		}
		a.add(TokenMalformed, 0.85, "Remove whitespace and line breaks from the token.", ev, "the bearer token contains whitespace")
		return
	}
	if strings.HasPrefix(v, "\"") || strings.HasPrefix(v, "'") {
		a.add(TokenMalformed, 0.85, "Send the token without quotes: `Authorization: Bearer <token>`.", ev, "the bearer token is wrapped in quotes")
	}
	switch tokenShape(v) {
	case "empty":
		a.add(AuthSchemeInvalid, 0.9, a.suggestedAuth(), ev, "\"Bearer\" is followed by no token (an unset variable?)")
		return
	case "placeholder":
		a.add(TokenMalformed, 0.93, a.suggestedAuth(), ev, "the bearer token is a placeholder or unset variable: "+quote(v, 30))
		return
	case "api-token":
		if !a.gateway && (siteHost(a.host) || a.atlassian || a.op != nil) {
			a.add(AuthSchemeInvalid, 0.85, fixBasic+" (Service-account API tokens are used as Bearer, but only through https://api.atlassian.com/ex/jira/<cloudId>.)",
				ev, "an Atlassian API token (ATATT…) was sent as a Bearer token to the site; Jira Cloud accepts API tokens only in Basic auth (email:token)")
		}
	}
	if t := c.token; t != nil {
		switch t.Kind {
		case KindConnectJWT:
			if a.toAtlassian() || a.op != nil || a.host == "" {
				a.addExact(AuthSchemeInvalid, a.schemeConf(), fixConnectJWT, ev,
					"the bearer token is a Connect app JWT (it has a qsh claim); Jira ignores a Connect JWT sent as Bearer and runs the request as anonymous")
			}
		case KindConnectContext:
			// handled by detectToken (context_token_misused)
		}
	}
}

// schemeConf is the confidence of "wrong scheme" for the status seen: Jira
// treats such requests as anonymous, which can surface as 401, 403, 404 or
// odd 400s ("Field 'summary' cannot be set").
func (a *analysis) schemeConf() float64 {
	switch {
	case a.status == 401:
		return 0.92
	case a.status == 403 || a.status == 404 || a.status == 400:
		return 0.8
	case a.status >= 200 && a.status < 300:
		return 0.35
	}
	return 0.6
}

func (a *analysis) detectBasic() {
	c := &a.cred
	switch {
	case alignHost(a.host):
		a.add(AuthSchemeInvalid, 0.85, "Jira Align expects `Authorization: bearer <api_token>`; Basic auth is not accepted.", "Basic credentials sent to Jira Align ("+a.host+")")
		return
	case c.basicErr == "not base64":
		fix := fixBasic
		if tokenShape(c.value) == "api-token" {
			fix = "The API token alone is not enough: " + fixBasic
		}
		a.add(AuthSchemeInvalid, 0.88, fix, "the Basic credentials are not base64: "+quote(short(c.value), 30))
		return
	case strings.HasPrefix(c.basicErr, "not base64"):
		a.add(AuthSchemeInvalid, 0.92, fixBasic, "the Basic credentials are plain text (\""+c.basicUser+":…\"); they must be base64-encoded")
		return
	case c.basicErr == "no colon":
		ev := "the decoded Basic credentials contain no ':'; they must be email:api_token"
		if tokenShape(c.basicSecret) == "api-token" {
			ev = "the Basic credentials encode only the API token; Jira needs email:api_token"
		}
		a.add(AuthSchemeInvalid, 0.9, fixBasic, ev)
		return
	}
	user, secret := c.basicUser, c.basicSecret
	if isDCPAT(secret) && (a.status == 401 || a.status == 403) {
		a.addStrength(AuthSchemeInvalid, knowledge.Decisive, "Data Center personal access tokens are sent as `Authorization: Bearer <token>`, not as the password of Basic auth.",
			"the Basic password is a Data Center personal access token (base64 of \"<id>:<secret>\"), which is accepted only as a Bearer token")
	}
	clean := !strings.HasSuffix(secret, "\n") && !strings.HasSuffix(secret, "\r") && !strings.HasSuffix(secret, " ")
	if clean && siteHost(a.host) && !a.gateway && (a.status == 401 || a.status == 403 || a.status == 404) {
		switch {
		case strings.HasSuffix(strings.ToLower(user), "@serviceaccount.atlassian.com"):
			a.addStrength(ServiceAccountSiteURL, knowledge.Decisive, fixServiceAccount,
				"Basic user "+quote(user, 80)+" is an Atlassian service account, whose API tokens work only through api.atlassian.com", "the request went to the site host "+a.host)
		case tokenShape(secret) == "api-token" && strings.Contains(user, "@") && (a.seraph == "AUTHENTICATED_FAILED" || a.hdr.Get("X-Ausername") == "anonymous"):
			a.addStrength(ServiceAccountSiteURL, knowledge.Strong, fixServiceAccount,
				"a well-formed email:API token pair was refused by the site host "+a.host+" (X-Seraph-LoginReason "+orDefault(a.seraph, "-")+")",
				"API tokens created with scopes (and every service-account token) are accepted only through https://api.atlassian.com/ex/<product>/<cloudId>; an unscoped token would work here unless revoked or expired").Collect = "whether the token was created with scopes (id.atlassian.com → API tokens), and the same call through https://api.atlassian.com/ex/jira/<cloudId>/…"
		}
	}
	if strings.HasSuffix(secret, "\n") || strings.HasSuffix(secret, "\r") || strings.HasSuffix(secret, " ") {
		a.add(CredentialsRejected, 0.92, "Encode without the trailing newline: `printf '%s' 'email:token' | base64` (or `echo -n`), or let the client build the header (`curl -u email:token`).",
			"the decoded Basic credentials end with a newline or space (typical of `echo 'email:token' | base64`), so the token does not match")
		return
	}
	atl := siteHost(a.host) || a.atlassian || a.gateway || a.op != nil || a.svc != nil && a.svc.Atlassian
	if atl && !strings.Contains(user, "@") && user != "" {
		a.add(CredentialsRejected, 0.7, "Jira Cloud authenticates API tokens with the account's email address: use `email:api_token`, not the username.",
			"Basic username "+quote(user, 40)+" is not an email address")
	}
	if secret == "" {
		a.add(CredentialsRejected, 0.85, fixBasic, "the Basic credentials have an empty password/token part")
	}
	if atl && a.status == 401 && tokenShape(secret) != "api-token" && (len(secret) < 20 || strings.ContainsAny(secret, "!@#$%^&*()+= ")) {
		a.add(CredentialsRejected, 0.65, "Jira Cloud no longer accepts account passwords for REST calls: create an API token at https://id.atlassian.com/manage-profile/security/api-tokens and use email:api_token.",
			"the Basic secret looks like a password rather than an API token")
	}
	if a.status == 401 && a.seraph == "AUTHENTICATED_FAILED" || a.status == 401 && a.bodyHasAny("basic authentication with passwords is deprecated") {
		ev := []string{"X-Seraph-LoginReason: " + a.seraph}
		if a.seraph == "" {
			ev = []string{a.said()}
		}
		a.add(CredentialsRejected, 0.75, "Check the email and API token: tokens can be revoked or expire (they have an expiry date), the account may be deactivated or lack access to this site; scoped API tokens work only through https://api.atlassian.com/ex/jira/<cloudId>.",
			append(ev, "Basic credentials for "+quote(user, 60)+" were presented and refused")...)
	}
}

func (a *analysis) bodyHasAny(n ...string) bool { _, ok := a.bodyHas(n...); return ok }

// clock returns the reference time and whether it came from the caller.
func (a *analysis) detectToken() {
	t := a.cred.token
	if t == nil {
		return
	}
	ctx := &a.in.Context
	t.CheckTimes(a.now)
	toJira := a.toAtlassian() || a.op != nil
	connectKind := t.Kind == KindConnectJWT || t.Kind == KindConnectContext || t.Kind == KindAssertion || a.cred.kind == credJWT || a.cred.kind == credQuery
	for _, p := range t.Problems {
		fatal := strings.HasPrefix(p, `alg is "none"`) || strings.Contains(p, "not base64url") || strings.Contains(p, "not a JSON")
		connectOnly := strings.HasPrefix(p, "no exp claim") || strings.Contains(p, "is not a number") ||
			strings.Contains(p, "must be a number") || strings.Contains(p, "milliseconds")
		switch {
		case connectKind && (fatal || connectOnly):
			a.add(TokenMalformed, 0.85, "Mint the token with a JWT library: header {\"alg\":\"HS256\",\"typ\":\"JWT\"}, numeric iat/exp in seconds, base64url without padding.", "token problem: "+p)
		case fatal:
			a.add(TokenMalformed, 0.6, "Send the token exactly as issued.", "token problem: "+p)
		}
	}
	if a.cred.tokErr != nil {
		// The header decoded but the payload did not: there are no claims
		// to judge, so a missing iss, qsh or exp says nothing more. The
		// usual story is a token cut short when copied or logged.
		conf := 0.6
		if connectKind {
			conf = 0.93
		}
		a.add(TokenMalformed, conf, "Send the token exactly as it was minted, in one piece: a JWT is three base64url parts separated by dots, and a token truncated by a log line, a copy or a header size limit no longer decodes.",
			"the token's header decodes but its payload does not ("+a.cred.tokErr.Error()+"), so none of its claims can be read")
		return
	}
	a.checkTimes(t)

	switch t.Kind {
	case KindConnectContext:
		if toJira {
			a.add(ContextTokenMisused, 0.95, "Context tokens (AP.context.getToken()) only authenticate your app's frontend to your app's backend. To call Jira, sign a new JWT on the backend with the tenant's shared secret (iss = app key, qsh of the Jira request), or call from the iframe with AP.request().",
				`the token's qsh is "context-qsh": it is a context token minted by Jira for the app's frontend, not a token for calling Jira`)
		}
		return
	case KindAssertion:
		if a.cred.kind == credForm {
			return // an assertion posted to a token endpoint, as it should be
		}
		a.add(TokenExchangeFailed, 0.9, "POST the assertion to https://oauth-2-authorization-server.services.atlassian.com/oauth2/token (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=<jwt>) and send the access_token it returns as `Authorization: Bearer <access_token>`.",
			"the token is a JWT-bearer assertion (iss "+quote(t.Claims.Issuer, 80)+"): it must be exchanged for an access token, not sent to the API").Title = "The JWT-bearer assertion was sent instead of an access token"
		return
	case KindForgeInvocation, KindForgeContext, KindConnectInstall:
		if toJira {
			what := map[string]string{KindForgeInvocation: "a Forge Invocation Token (it authenticates Forge calling your remote)",
				KindForgeContext: "a Forge context token", KindConnectInstall: "Jira's signed install/uninstall token (it authenticates Jira calling your app)"}[t.Kind]
			a.add(ContextTokenMisused, 0.9, "Use a credential meant for calling Jira: for Connect a JWT you sign (`Authorization: JWT <token>`); for Forge Remote the app/user OAuth token from the x-forge-oauth-system / x-forge-oauth-user headers, sent as Bearer to the FIT's app.apiBaseUrl.",
				"the token is "+what+", replayed against the API")
		}
		return
	case KindOAuthAccess:
		if a.cred.kind == credJWT || a.cred.kind == credQuery {
			a.add(AuthSchemeInvalid, 0.85, fixBearer, "an OAuth access token was sent with the JWT scheme")
		}
		if siteHost(a.host) && (strings.Contains(t.Claims.Issuer, "auth.atlassian.com") || hasAud(t.Claims.Audience, "api.atlassian.com")) {
			a.add(WrongHost, 0.8, "OAuth 2.0 (3LO) and Forge tokens are accepted only through https://api.atlassian.com/ex/jira/<cloudId>/… (get the cloudId from https://api.atlassian.com/oauth/token/accessible-resources), not the site URL.",
				"an api.atlassian.com access token (iss "+quote(t.Claims.Issuer, 60)+") was sent to the site host "+a.host)
		}
		a.checkOAuthScopes(t)
		return
	case KindJWT:
		return
	}
	// A Connect app JWT.
	if !toJira && ctx.AppKey == "" && ctx.SharedSecret == "" {
		return
	}
	if alg := t.Header.Alg; alg != "HS256" && !strings.EqualFold(alg, "none") && alg != "" {
		a.add(JWTSignatureInvalid, 0.8, "Sign app JWTs with HS256 and the tenant's shared secret.", "the token's alg is "+alg+"; Jira verifies app JWTs with HS256 only")
	}
	a.checkIssuer(t)
	a.checkQSH(t)
	a.checkSignature(t)
	if t.Claims.Subject != "" {
		a.notes = append(a.notes, "the app JWT carries sub="+quote(t.Claims.Subject, 60)+": Jira ignores it (legacy sub impersonation was removed); to act as a user use the JWT-bearer grant and a Bearer token")
	}
}

func (a *analysis) checkTimes(t *TokenReport) {
	c := &t.Claims
	now, srv := a.now, a.serverNow
	if now.IsZero() && srv.IsZero() {
		if c.ExpiresAt != nil {
			a.notes = append(a.notes, "token times not checked: no clock was given and the response has no Date header")
		}
		return
	}
	const leeway = 30 * time.Second
	// A response dated hours away from your clock is an old capture (a
	// pasted curl -v or HAR), not a clock that far off: its token times are
	// judged by the moment it was captured.
	if !now.IsZero() && !srv.IsZero() && (now.Sub(srv) > time.Hour || srv.Sub(now) > time.Hour) {
		a.notes = append(a.notes, "the response is dated "+srv.UTC().Format(time.RFC3339)+", "+human(now.Sub(srv).Abs())+" away from your clock: token times are judged by that Date (when the exchange was captured)")
		now = srv
	}
	var skewEv string
	if !now.IsZero() && !srv.IsZero() {
		if d := now.Sub(srv); d > leeway || d < -leeway {
			dir := "ahead of"
			if d < 0 {
				dir, d = "behind", -d
			}
			skewEv = fmt.Sprintf("your clock (%s) is %s %s the server's Date header (%s)", now.UTC().Format(time.RFC3339), human(d), dir, srv.UTC().Format(time.RFC3339))
		}
	}
	fixExp := "Mint a fresh token for every request (Connect app JWTs: exp = iat + ≤ 3 min; OAuth tokens: refresh before expires_in runs out) and keep the server clock in sync (NTP)."
	if c.ExpiresAt != nil {
		exp := time.Unix(*c.ExpiresAt, 0)
		switch {
		case !now.IsZero() && !exp.After(now) && now.Sub(exp) < 30*time.Second:
			a.add(TokenExpired, 0.8, fixExp+" It expired only seconds before: lengthen the lifetime a little and mint it right before the call.", fmt.Sprintf("exp %s: expired %s ago (now %s); Atlassian allows little or no leeway", exp.UTC().Format(time.RFC3339), human(now.Sub(exp)), now.UTC().Format(time.RFC3339)), skewEv)
		case !now.IsZero() && !exp.After(now):
			a.add(TokenExpired, 0.95, fixExp, fmt.Sprintf("exp %s: expired %s ago (now %s)", exp.UTC().Format(time.RFC3339), human(now.Sub(exp)), now.UTC().Format(time.RFC3339)), skewEv)
		case !srv.IsZero() && !exp.After(srv):
			a.add(TokenExpired, 0.85, fixExp+" The token was still valid by your clock, so your clock is behind: fix NTP.",
				fmt.Sprintf("exp %s is %s before the server's Date header %s", exp.UTC().Format(time.RFC3339), human(srv.Sub(exp)), srv.UTC().Format(time.RFC3339)), skewEv).Title = "The token expired by the server's clock (clock skew)"
		}
	}
	for _, tc := range []struct {
		name string
		v    *int64
	}{{"iat", c.IssuedAt}, {"nbf", c.NotBefore}} {
		if tc.v == nil {
			continue
		}
		ts := time.Unix(*tc.v, 0)
		ref, by := srv, "the server's Date header"
		if ref.IsZero() || (!now.IsZero() && ts.Sub(now) > ts.Sub(srv)) {
			ref, by = now, "your clock"
		}
		if ref.IsZero() {
			continue
		}
		if d := ts.Sub(ref); d > leeway {
			a.add(TokenNotYetValid, 0.85, "The clock of the machine that minted the token runs ahead: sync it with NTP, or back-date iat by a few seconds. Atlassian allows little or no leeway.",
				fmt.Sprintf("%s %s is %s in the future by %s (%s)", tc.name, ts.UTC().Format(time.RFC3339), human(d), by, ref.UTC().Format(time.RFC3339)), skewEv)
		}
	}
	if skewEv != "" {
		a.notes = append(a.notes, skewEv)
	}
}

func (a *analysis) checkIssuer(t *TokenReport) {
	ctx := &a.in.Context
	iss := t.Claims.Issuer
	fix := "Set iss to the app key (the \"key\" of your descriptor" + keyHint(ctx.AppKey) + "), not the tenant's clientKey; aud may carry the clientKey."
	forwarded := len(t.Claims.Context) > 0 || (t.Claims.Subject != "" && looksLikeClientKey(iss))
	switch {
	case iss == "":
		a.add(JWTIssuerWrong, 0.85, fix, "the token has no iss claim")
	case ctx.ClientKey != "" && iss == ctx.ClientKey:
		if forwarded {
			a.forwarded = true
			a.add(ContextTokenMisused, 0.96, "Do not forward the JWT Jira sent to your app (iframe, webhook); sign a new token for each Jira call: "+fixConnectJWT,
				"iss is the tenant's clientKey and the token carries a context/sub claim: it is a token Jira minted for your app, forwarded back to Jira")
		}
		a.add(JWTIssuerWrong, 0.93, fix, "iss in token: "+quote(iss, 80)+" is the tenant's clientKey; Jira expects the app key"+keyHint(ctx.AppKey))
	case ctx.AppKey != "" && iss != ctx.AppKey:
		a.add(JWTIssuerWrong, 0.9, fix, "iss in token: "+quote(iss, 80)+"; app key: "+quote(ctx.AppKey, 80))
	case ctx.AppKey == "" && looksLikeClientKey(iss):
		if forwarded {
			a.forwarded = true
			a.add(ContextTokenMisused, 0.7, "Do not forward the JWT Jira sent to your app; sign a new token for each Jira call: "+fixConnectJWT,
				"iss looks like a clientKey and the token carries context/sub claims, as tokens Jira sends to apps do")
		}
		a.add(JWTIssuerWrong, 0.6, fix, "iss in token: "+quote(iss, 80)+" looks like a tenant clientKey (UUID or \"jira:\" prefix), not an app key (no app key given to compare)")
	}
	if ctx.ClientKey != "" && len(t.Claims.Audience) > 0 && !hasAudExact(t.Claims.Audience, ctx.ClientKey) {
		a.notes = append(a.notes, "aud "+fmt.Sprint(t.Claims.Audience)+" does not contain the clientKey "+quote(ctx.ClientKey, 60)+" (Jira tolerates a missing aud; a wrong one is suspicious)")
	}
}

func hasAudExact(aud []string, v string) bool {
	for _, x := range aud {
		if x == v {
			return true
		}
	}
	return false
}

func keyHint(k string) string {
	if k == "" {
		return ""
	}
	return ", " + quote(k, 80)
}

func (a *analysis) checkQSH(t *TokenReport) {
	basePath := a.basePath
	q := t.CheckQSH(a.method, a.reqURI, basePath)
	where := "relative to the base URL"
	if basePath != "" {
		where = "without the base path " + basePath
	}
	switch {
	case q.ContextQSH:
		return
	case t.Claims.QSH == "":
		a.add(QSHMissing, 0.92, fmt.Sprintf("Add qsh = hex(SHA-256(%q)) = %s to the claims (the canonical request: method, path %s, sorted RFC 3986 query).", q.Canonical, q.Expected, where),
			"the JWT has no qsh claim", "expected qsh for "+a.method+" "+a.apiPath+": "+q.Expected+" (canonical request: "+q.Canonical+")")
	case q.Match:
		a.notes = append(a.notes, "qsh matches the request (canonical request "+q.Canonical+")")
	default:
		ev := []string{
			"qsh in token: " + short(t.Claims.QSH) + "; expected for " + a.method + " " + a.apiPath + ": " + short(q.Expected),
			"canonical request we computed: " + q.Canonical,
		}
		if !reHex64.MatchString(t.Claims.QSH) {
			ev = append(ev, "the token's qsh is not a 64-character hex SHA-256")
		}
		fix := fmt.Sprintf("Compute qsh = hex(SHA-256(canonical)) over the request exactly as sent: method, path %s, and the query sorted and RFC 3986-encoded (space = %%20). For this request: qsh(%q) = %s.", where, q.Canonical, q.Expected)
		conf := 0.95
		if a.forwarded {
			conf = 0.85
			ev = append(ev, "expected for a forwarded token: it was minted for the request Jira made to your app")
		}
		if q.VariantName != "" {
			ev = append(ev, "the token's qsh matches the canonical request "+quote(q.VariantCanonical, 200)+": "+q.VariantName)
			fix = "Fix the qsh computation: " + q.VariantName + ". " + fix
			conf = 0.97
		} else {
			fix += " If a proxy or HTTP client re-encodes the URL (spaces, commas, brackets), hash the URL that actually goes on the wire; a token minted for another request cannot be reused."
		}
		a.add(QSHMismatch, conf, fix, ev...)
	}
}

func (a *analysis) checkSignature(t *TokenReport) {
	ctx := &a.in.Context
	if ctx.SharedSecret == "" && len(ctx.PreviousSecrets) == 0 {
		a.notes = append(a.notes, "signature not checked: no shared secret given")
		return
	}
	switch t.VerifySignature(ctx.SharedSecret, ctx.PreviousSecrets...) {
	case SigValidPrevious:
		a.add(SharedSecretStale, 0.97, "Store the sharedSecret from every installed callback (it changes on each install) and sign with the tenant's current secret; drop any cached copy.",
			"the signature verifies with a previous shared secret (from before a reinstall), not the current one")
	case SigInvalid:
		ev := "the signature does not verify with the shared secret given (HS256; secret not shown)"
		a.add(JWTSignatureInvalid, 0.9, "Sign with the current shared secret of this tenant (clientKey "+quote(ctx.ClientKey, 60)+") as received in the latest installed callback, using HS256 over base64url(header).base64url(payload).", ev)
		if len(ctx.PreviousSecrets) == 0 {
			a.add(SharedSecretStale, 0.5, "If the site reinstalled the app, store the new sharedSecret from the installed callback.", "a site reinstall rotates the secret; a signer holding the old one produces exactly this mismatch")
		}
	case SigValid:
		a.notes = append(a.notes, "signature verifies with the shared secret given")
	}
}

// checkOAuthScopes compares an OAuth token's scope claim with the
// operation's OAuth scopes.
func (a *analysis) checkOAuthScopes(t *TokenReport) {
	if a.op == nil || t.Claims.Scope == "" || (len(a.op.OAuthClassic) == 0 && len(a.op.OAuthGranular) == 0) {
		return
	}
	have := map[string]bool{}
	for _, s := range strings.Fields(t.Claims.Scope) {
		have[s] = true
	}
	all := func(need []string) bool {
		if len(need) == 0 {
			return false
		}
		for _, n := range need {
			if !have[n] {
				return false
			}
		}
		return true
	}
	if all(a.op.OAuthClassic) || all(a.op.OAuthGranular) {
		return
	}
	a.add(TokenScopeMissing, 0.75, "Request the missing OAuth scopes in the app's configuration and have the user consent again (or redeploy the Forge app and upgrade the installation); then get a new token.",
		"token scopes: "+quote(t.Claims.Scope, 200),
		fmt.Sprintf("%s needs classic scopes %v or granular scopes %v", a.op.OperationID, a.op.OAuthClassic, a.op.OAuthGranular))
}

func (a *analysis) detectChallenges() {
	for _, ch := range a.challenges {
		errCode := ch.params["error"]
		desc := ch.params["error_description"]
		ev := "WWW-Authenticate: " + ch.scheme
		if errCode != "" {
			ev += ` error="` + errCode + `"`
		}
		if desc != "" {
			ev += ` error_description="` + truncate(desc, 160) + `"`
		}
		if s := ch.params["scope"]; s != "" {
			ev += ` scope="` + truncate(s, 160) + `"`
		}
		ld := strings.ToLower(desc)
		switch errCode {
		case "invalid_token":
			switch {
			case strings.Contains(ld, "expired") || strings.Contains(ld, "expiry") || strings.Contains(ld, "exp "):
				a.add(TokenExpired, 0.9, "Get a new access token (refresh it before it expires) and retry.", ev)
			case strings.Contains(ld, "revoked"):
				a.add(CredentialsRejected, 0.88, "The token was revoked: obtain a new one (re-authorise the app).", ev).Title = "The token was revoked"
			case strings.Contains(ld, "signature"):
				a.add(JWTSignatureInvalid, 0.8, "Check the signing key and algorithm the token was issued with.", ev)
			case strings.Contains(ld, "malformed") || strings.Contains(ld, "decode") || strings.Contains(ld, "parse"):
				a.add(TokenMalformed, 0.8, "Send the token exactly as issued: `Authorization: Bearer <token>`, no quotes or line breaks.", ev)
			case strings.Contains(ld, "audience") || strings.Contains(ld, "aud"):
				a.add(TokenAudienceWrong, 0.9, "The token was issued for another API (audience): request it for this API's audience (resource/scope), or send it to the API it was issued for.", ev)
			case strings.Contains(ld, "issuer") || strings.Contains(ld, "iss"):
				a.add(JWTIssuerWrong, 0.7, "Use a token from the issuer this API trusts.", ev)
			default:
				a.add(CredentialsRejected, 0.75, "The server says the token is invalid: it may be expired, revoked, issued for another API or environment, or truncated. Obtain a fresh token and send it as `Authorization: Bearer <token>`.", ev)
				if a.cred.token == nil || a.cred.token.Claims.ExpiresAt == nil {
					a.add(TokenExpired, 0.45, "Get a new token and retry; refresh tokens before they expire.", ev, "an expired token is the most common reason for invalid_token; its expiry cannot be read here")
				}
			}
		case "insufficient_scope":
			fix := "Request a token with the scope the API needs"
			if s := ch.params["scope"]; s != "" {
				fix += " (" + s + ")"
			}
			a.add(TokenScopeMissing, 0.92, fix+", re-consent if needed, and retry with the new token.", ev)
		case "invalid_request":
			a.add(TokenMalformed, 0.6, "Send exactly one credential, in the Authorization header: `Authorization: Bearer <token>`.", ev)
		case "":
			if a.cred.kind == credNone {
				if c := a.has(AuthHeaderMissing); c != nil {
					c.Evidence = append(c.Evidence, ev+" (the server asks for credentials)")
				}
				continue
			}
			want := ch.scheme
			got := strings.ToLower(a.cred.scheme)
			if (want == "bearer" || want == "basic" || want == "jwt") && got != "" && got != want && len(a.challenges) == 1 {
				a.add(AuthSchemeInvalid, 0.55, "Use the scheme the server asks for: `Authorization: "+strings.ToUpper(want[:1])+want[1:]+" <credential>`.", ev+" but the request used "+quote(a.cred.scheme, 20))
			}
		}
	}
}

var reDCPAT = regexp.MustCompile(`^[0-9]{10,14}:`)

// isDCPAT reports whether s has the shape of a Jira/Confluence Data Center
// personal access token: base64 of "<numeric id>:<random bytes>".
func isDCPAT(s string) bool {
	if len(s) < 40 || len(s) > 64 {
		return false
	}
	d, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	return reDCPAT.Match(d)
}
