package explain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

// Forge facts (forge.md §1.3, §5).
const (
	fitIssuer       = "forge/invocation-token"
	appARIPrefix    = "ari:cloud:ecosystem::app/"
	fitLeeway       = 5 * time.Second // the forge package's DefaultLeeway
	forgeProdJWKS   = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
	forgeStgJWKS    = "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json"
	hdrForgeSystem  = "X-Forge-Oauth-System"
	hdrForgeUser    = "X-Forge-Oauth-User"
	redeployAdvice  = "then `forge deploy -e production` (a scope change is a major version: approve it with `--approve MAJOR_VERSION_RULE`) and have the site admin approve the upgrade (`forge install --upgrade -s <site>`); tokens carry the scopes of the installed version, so use a token issued after the upgrade."
	manifestTokenOK = "In manifest.yml, enable the token on the endpoint the call goes through (modules.endpoint[].auth.appUserToken.enabled: true / auth.appSystemToken.enabled: true) and declare read:app-user-token / read:app-system-token plus a product scope in permissions.scopes."
)

var (
	reScopeGroup = regexp.MustCompile(`(?m)^\s*\*\s*\[([^\]]*)\]`)
	reGrantedRaw = regexp.MustCompile(`granted the following scopes: \[([^\]]*)\]`)
)

// forgeFacts is what detectForge derives once.
type forgeFacts struct {
	path     bool // the exchange is on the Forge path
	toRemote bool // the request is Forge (or someone) calling the remote
	fit      *TokenReport
	invFIT   *TokenReport // the FIT of Context.ForgeInvocation
	call     string       // the kind of Forge call, when known
}

// forgeRemoteCodes are the codes a remote may answer with in its JSON error
// envelope ({"error":{"code":…}}).
var forgeRemoteCodes = []string{FITMissing, FITMalformed, FITBadAlg, FITBadSignature, FITUnknownKID, FITWrongIssuer, FITWrongAudience,
	FITAppMismatch, FITExpired, FITNotYetValid, FITLifetimeTooLong, FITClaimMissing, FITDevEnvironment, FITReplayed, FITICLabelRefused, FITJWKSUnavailable, ForgeTokenMalformed, ForgeTokenAbsent}

func (a *analysis) forgeFacts() forgeFacts {
	ctx := &a.in.Context
	var f forgeFacts
	if t := a.cred.token; t != nil && t.Kind == KindForgeInvocation {
		f.fit = t
	}
	if ctx.ForgeInvocation != nil {
		if raw, ok := strings.CutPrefix(ctx.ForgeInvocation.Get("Authorization"), "Bearer "); ok {
			if t, err := DecodeToken(raw); err == nil && t.Kind == KindForgeInvocation {
				f.invFIT = t
			}
		}
	}
	switch ctx.Path {
	case PathForge:
		f.path = true
	case PathConnect:
		f.path = false
	default:
		f.path = ctx.ForgeAppID != "" || ctx.ForgeInvocation != nil || ctx.ForgeCall != ""
	}
	atl := a.gateway || siteHost(a.host) || (a.tenantHost != "" && a.host == a.tenantHost) || a.atlassian
	if !atl && (f.fit != nil || (f.path && (strings.HasPrefix(a.rawPath, "/forge/") || a.host != "")) || (ctx.Path == "" && strings.HasPrefix(a.rawPath, "/forge/") && a.host != "")) {
		f.toRemote = true
		f.path = true
	}
	f.call = ctx.ForgeCall
	if f.call == "" {
		if t := f.invFIT; t != nil && t.Forge != nil {
			switch {
			case t.Forge.ModuleType == "core:endpoint":
				f.call = ForgeCallTrigger
			case ctx.ForgeInvocation.Get(hdrForgeSystem) == "" && ctx.ForgeInvocation.Get(hdrForgeUser) == "" && ctx.ForgeInvocation.Get("X-B3-Traceid") == "":
				f.call = ForgeCallRequestRemote
			default:
				f.call = ForgeCallUI
			}
		}
	}
	return f
}

// detectForge adds the Forge Remote and OAuth 2.0 causes (forge.md §3).
func (a *analysis) detectForge() {
	f := a.forgeFacts()
	if f.toRemote {
		a.detectFIT(f)
		return
	}
	a.detectForgeProductCall(f)
}

// ---- the remote's side: the FIT --------------------------------------------

func (a *analysis) detectFIT(f forgeFacts) {
	ctx := &a.in.Context
	if a.status >= 200 && a.status < 300 {
		return
	}
	fired := false
	put := func(code string, conf float64, fix string, ev ...string) {
		a.addExact(code, conf, fix, ev...)
		fired = true
	}
	// The remote's own verdict, when it uses the JSON error envelope.
	if code, msg := remoteErrorCode(a.in.Response.Body); code != "" && slices.Contains(forgeRemoteCodes, code) {
		info, _ := LookupCode(code)
		put(code, 0.9, fitFix(code, ctx), "the remote answered "+quote(code, 40)+": "+quote(msg, 160), info.Description)
	}
	c := &a.cred
	switch {
	case c.kind == credNone || c.kind == credEmpty:
		put(FITMissing, 0.95, fitFix(FITMissing, ctx), "the request to the Forge route "+a.rawPath+" carries no Authorization header")
		if c.kind == credNone {
			a.drop(AuthHeaderMissing)
		}
	case c.kind == credJWT || c.kind == credQuery:
		put(FITMissing, 0.93, fitFix(FITMissing, ctx), "the request carries a Connect credential ("+a.credName()+") on the Forge route "+a.rawPath+": Forge routes accept only `Authorization: Bearer <FIT>`")
	case c.kind != credBearer:
		put(FITMissing, 0.9, fitFix(FITMissing, ctx), "the Authorization header is not a Bearer token ("+c.source+")")
	case c.token == nil || c.tokErr != nil:
		put(FITMalformed, 0.9, fitFix(FITMalformed, ctx), "the bearer value on the Forge route is not a decodable JWT")
	}
	t := c.token
	if t != nil && c.kind == credBearer && c.tokErr == nil {
		fired = a.checkFIT(t, ctx) || fired
	}
	if fired {
		a.drop(TokenExpired, TokenNotYetValid, JWTIssuerWrong, JWTSignatureInvalid, TokenMalformed, AuthSchemeInvalid, CredentialsRejected)
	}
}

// checkFIT judges a bearer JWT sent to a Forge route; it reports whether it
// found a problem.
func (a *analysis) checkFIT(t *TokenReport, ctx *Context) bool {
	n := len(a.causes)
	iss := t.Claims.Issuer
	if iss != fitIssuer {
		what := "a JWT of no Forge kind"
		switch {
		case t.Kind == KindForgeContext:
			what = "a Forge context token (iss forge/context-token, aud forge)"
		case t.Kind == KindConnectJWT || t.Kind == KindConnectContext || t.Claims.QSH != "":
			what = "a Connect JWT (it has a qsh claim)"
		case t.Kind == KindOAuthAccess:
			what = "an OAuth access token"
		}
		a.addExact(FITWrongIssuer, 0.95, fitFix(FITWrongIssuer, ctx), "iss is "+quote(iss, 60)+", not \"forge/invocation-token\": the token is "+what)
	}
	if alg := t.Header.Alg; alg != "RS256" {
		conf := 0.95
		if iss != fitIssuer {
			conf = 0.8 // the issuer says more
		}
		a.addExact(FITBadAlg, conf, fitFix(FITBadAlg, ctx), "the token's alg is "+quote(alg, 20)+"; FITs are RS256 only")
	}
	if iss != fitIssuer {
		return true
	}
	fc := t.Forge
	if fc == nil {
		fc = &ForgeClaims{}
	}
	if want := normAppID(ctx.ForgeAppID); want != "" && !slices.Contains(t.Claims.Audience, want) {
		ev := []string{fmt.Sprintf("aud %v; the backend expects %s (FORGE_APP_ID)", t.Claims.Audience, want)}
		for _, aud := range t.Claims.Audience {
			if reUUID.MatchString(aud) && appARIPrefix+aud == want {
				ev = append(ev, "aud is the bare UUID of the expected app: the token was not minted by Forge, which always sends the ARI")
			}
			if aud == "forge" {
				ev = append(ev, "aud \"forge\" is the audience of Forge context tokens")
			}
		}
		a.addExact(FITWrongAudience, 0.95, fitFix(FITWrongAudience, ctx), ev...)
	}
	if fc.AppID != "" && len(t.Claims.Audience) > 0 && !slices.Contains(t.Claims.Audience, fc.AppID) {
		a.addExact(FITAppMismatch, 0.9, fitFix(FITAppMismatch, ctx), fmt.Sprintf("app.id %s is not the aud %v", fc.AppID, t.Claims.Audience))
	}
	var missing []string
	for _, m := range []struct {
		name string
		ok   bool
	}{{"exp", t.Claims.ExpiresAt != nil}, {"iat", t.Claims.IssuedAt != nil}, {"nbf", t.Claims.NotBefore != nil}, {"jti", fc.HasJTI},
		{"app.id", fc.AppID != ""}, {"app.installationId", fc.InstallationID != ""}} {
		if !m.ok {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		a.addExact(FITClaimMissing, 0.88, fitFix(FITClaimMissing, ctx), "the FIT lacks "+strings.Join(missing, ", "))
	}
	a.checkFITTimes(t, ctx)
	// Key set (checked before the environment, as the verifier does).
	kidBad := false
	stg := strings.HasPrefix(fc.APIBaseURL, "https://api.stg.atlassian.com/") || strings.EqualFold(fc.EnvironmentType, "STAGING") && strings.Contains(fc.APIBaseURL, ".stg.")
	if ctx.ForgeKIDs != nil && !slices.Contains(ctx.ForgeKIDs, t.Header.Kid) {
		ev := []string{"the FIT's kid " + quote(t.Header.Kid, 80) + " is not among the trusted key set's kids " + quote(strings.Join(ctx.ForgeKIDs, ", "), 160)}
		if stg {
			ev = append(ev, "app.apiBaseUrl "+fc.APIBaseURL+" is Atlassian's staging platform: the token was signed by the staging key set")
		}
		if ctx.ForgeJWKSURL != "" {
			ev = append(ev, "trusted key set: "+ctx.ForgeJWKSURL)
		}
		a.addExact(FITUnknownKID, 0.95, fitFix(FITUnknownKID, ctx), ev...)
		kidBad = true
	} else if stg && a.status == 401 && (ctx.ForgeJWKSURL == "" || ctx.ForgeJWKSURL == forgeProdJWKS) {
		kidBad = true
		a.addExact(FITUnknownKID, 0.94, fitFix(FITUnknownKID, ctx), "app.apiBaseUrl "+fc.APIBaseURL+" is Atlassian's staging platform, whose FITs are signed by "+forgeStgJWKS+", not the production key set the backend trusts")
	}
	// Environment policy.
	allowed := ctx.ForgeEnvironments
	if len(allowed) == 0 {
		allowed = []string{"PRODUCTION"}
	}
	if env := fc.EnvironmentType; env != "" && !envAllowed(allowed, env, fc.EnvironmentID) {
		conf := 0.93
		if kidBad {
			conf = 0.8 // the key check fails first
		}
		a.addExact(FITDevEnvironment, conf, fitFix(FITDevEnvironment, ctx),
			"app.environment.type is "+env+" ("+orDefault(fc.EnvironmentID, "no id")+"); the backend accepts "+strings.Join(allowed, ", "),
			"every Forge environment shares the app id, so the aud matches; only the environment tells a development install from production")
	}
	return len(a.causes) > n
}

func (a *analysis) checkFITTimes(t *TokenReport, ctx *Context) {
	now, by := a.now, "the remote's clock (Context.Now)"
	if now.IsZero() {
		now, by = a.serverNow, "the remote's Date header"
	}
	if now.IsZero() {
		return
	}
	life := ""
	if t.Lifetime != "" {
		life = " (lifetime " + t.Lifetime + "; Forge's FITs live about 25 s)"
	}
	if e, i := t.Claims.ExpiresAt, t.Claims.IssuedAt; e != nil && i != nil && time.Duration(*e-*i)*time.Second > forge.DefaultMaxLifetime {
		a.addExact(FITLifetimeTooLong, 0.9, fitFix(FITLifetimeTooLong, ctx),
			fmt.Sprintf("exp - iat is %s; the verifier accepts at most %s and Forge's FITs live about 25 s", human(time.Duration(*e-*i)*time.Second), human(forge.DefaultMaxLifetime)))
	}
	if e := t.Claims.ExpiresAt; e != nil {
		exp := time.Unix(*e, 0)
		if d := now.Sub(exp); d > fitLeeway {
			ev := []string{fmt.Sprintf("exp %s is %s before %s %s%s", exp.UTC().Format(time.RFC3339), human(d), by, now.UTC().Format(time.RFC3339), life)}
			if d < 2*time.Minute {
				ev = append(ev, "expired by less than two minutes: the remote's clock runs ahead of Forge's, or the request waited in a queue before verification")
			} else {
				ev = append(ev, "expired long ago: a captured or queued request was replayed")
			}
			if !a.now.IsZero() && !a.serverNow.IsZero() {
				if skew := a.now.Sub(a.serverNow); skew > fitLeeway || skew < -fitLeeway {
					ev = append(ev, fmt.Sprintf("your clock and the remote's Date header differ by %s", human(absDur(skew))))
				}
			}
			a.addExact(FITExpired, 0.95, fitFix(FITExpired, ctx), ev...)
		}
	}
	for _, tc := range []struct {
		name string
		v    *int64
	}{{"nbf", t.Claims.NotBefore}, {"iat", t.Claims.IssuedAt}} {
		if tc.v == nil {
			continue
		}
		ts := time.Unix(*tc.v, 0)
		if d := ts.Sub(now); d > fitLeeway {
			a.addExact(FITNotYetValid, 0.93, fitFix(FITNotYetValid, ctx), fmt.Sprintf("%s %s is %s after %s %s", tc.name, ts.UTC().Format(time.RFC3339), human(d), by, now.UTC().Format(time.RFC3339)))
			break
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func envAllowed(allowed []string, typ, id string) bool {
	for _, a := range allowed {
		if strings.EqualFold(a, typ) || (id != "" && a == id) {
			return true
		}
	}
	return false
}

// normAppID turns a bare app UUID into the app ARI.
func normAppID(id string) string {
	id = strings.TrimSpace(id)
	if reUUID.MatchString(id) {
		return appARIPrefix + strings.ToLower(id)
	}
	return id
}

// remoteErrorCode reads {"error":{"code":…,"message":…}}.
func remoteErrorCode(body []byte) (code, msg string) {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", ""
	}
	return env.Error.Code, env.Error.Message
}

// fitFix is the fix for a FIT cause, naming the configuration or manifest
// change.
func fitFix(code string, ctx *Context) string {
	app := normAppID(ctx.ForgeAppID)
	if app == "" {
		app = "ari:cloud:ecosystem::app/<uuid>"
	}
	switch code {
	case FITMissing:
		return "Call /forge/… routes only through Forge: a UI module's resolver.endpoint (invokeRemote) or requestRemote, a trigger or scheduledTrigger whose endpoint points at the remote. Forge sends `Authorization: Bearer <FIT>`; make sure no proxy strips it. Connect JWTs belong on the Connect routes."
	case FITMalformed:
		return "Pass the FIT exactly as Forge sent it in `Authorization: Bearer <FIT>`: no quotes, no truncation, no re-encoding by a proxy."
	case FITBadAlg:
		return "Accept RS256 only (the verifier does); a FIT with another alg was not minted by Forge. If you generate tokens for tests, sign them RS256 with a key from the trusted JWKS."
	case FITBadSignature:
		return "Check FORGE_JWKS_URL: it must be the key set of the Forge environment that minted the token (production: " + forgeProdJWKS + "). A token that still fails was altered."
	case FITUnknownKID:
		return "Point FORGE_JWKS_URL at the key set of the environment that signed the FIT: production installs use " + forgeProdJWKS + "; Atlassian's staging platform (app.apiBaseUrl on api.stg.atlassian.com) needs FORGE_ALLOW_STAGING=true. Do not pick the key set from the token. If Forge rotated its keys, the key set refreshes on the next unknown kid."
	case FITWrongIssuer:
		return "Send the Forge Invocation Token (iss forge/invocation-token) that Forge attaches to invokeRemote/requestRemote/trigger calls; a Forge context token (view.getContext) or a Connect JWT does not authenticate /forge/ routes."
	case FITWrongAudience:
		return "Set FORGE_APP_ID to the app.id of the manifest.yml that is deployed and installed (" + app + "); an app registered separately (e.g. a staging copy with its own `forge register`) has a different id and needs its own backend configuration."
	case FITAppMismatch:
		return "Refuse the token: Forge always puts the same app ARI in aud and app.id. Check for a proxy or test tool rewriting tokens."
	case FITExpired:
		return "Synchronise the remote's clock with NTP, verify the FIT as soon as the request arrives (before any queue), and keep a small leeway (5 s by default); FITs live about 25 s and cannot be replayed later."
	case FITNotYetValid:
		return "The remote's clock runs behind Forge's: synchronise it with NTP (the verifier allows 5 s of leeway)."
	case FITLifetimeTooLong:
		return "Only accept FITs as Forge mints them, for one invocation (about 25 s); a token valid for hours is a minted test token or a forgery. If a genuine Forge token is refused, raise MaxLifetime in the verifier's configuration and report the lifetime seen."
	case FITClaimMissing:
		return "Only accept FITs as Forge mints them (exp, iat, nbf, jti, app.id, app.installationId); a token without them was not issued by Forge."
	case FITDevEnvironment:
		return "Point development installs (`forge deploy -e development`, `forge install -e development`) at a development backend: give the development environment its own remotes.baseUrl (environment variables in manifest.yml) — or, for a staging backend, add the environment to FORGE_ALLOWED_ENVIRONMENTS (e.g. PRODUCTION,DEVELOPMENT)."
	case FITReplayed:
		return "Each FIT is accepted once: do not retry a request with the same FIT; Forge mints a new FIT for every delivery, retries included."
	case FITICLabelRefused:
		return "For an Isolated Cloud customer, list its label in FORGE_IC_LABELS and set FORGE_IC_JWKS_URL to the key set URL template Atlassian gave at onboarding ({IC_LABEL} in place of the label). A label of another shape (upper case, '/', '..', over 50 characters) is never accepted."
	case FITJWKSUnavailable:
		return "Let the remote reach FORGE_JWKS_URL (" + forgeProdJWKS + " by default): egress firewall, DNS, proxy settings."
	case ForgeTokenMalformed:
		return "Send x-forge-oauth-system / x-forge-oauth-user unchanged: one header each, the raw token without a scheme."
	case ForgeTokenAbsent:
		return manifestTokenOK
	}
	return ""
}

// drop removes generic causes that a Forge cause explains better.
func (a *analysis) drop(codes ...string) {
	a.causes = slices.DeleteFunc(a.causes, func(c *rawCause) bool { return slices.Contains(codes, c.Code) })
}

// ---- the app's side: product calls with Forge/OAuth tokens --------------------

func (a *analysis) detectForgeProductCall(f forgeFacts) {
	site := siteHost(a.host) || (a.tenantHost != "" && a.host == a.tenantHost && !a.gateway)
	if !a.gateway && !site {
		if f.path && a.status == 0 && a.in.Context.NetworkErr == nil {
			a.detectTokenAbsent(f) // no request could be made
		}
		return
	}
	c := &a.cred
	switch c.kind {
	case credNone, credEmpty:
		if f.path {
			a.detectTokenAbsent(f)
		}
		return
	case credBearer:
	default:
		return
	}
	t := c.token
	if t != nil && (t.Kind == KindConnectJWT || t.Kind == KindConnectContext || t.Kind == KindForgeInvocation || t.Kind == KindForgeContext) {
		return // handled by the Connect and token detectors
	}
	oauthTok := t != nil && t.Kind == KindOAuthAccess
	forgeTok := f.path || a.isForgeHeaderToken(c.value)
	if site && strings.HasPrefix(a.apiPath, "/rest/") && (forgeTok || oauthTok) && tokenShape(c.value) != "api-token" {
		conf := 0.85
		if forgeTok {
			conf = 0.96
		}
		ev := []string{"a " + a.forgeTokenName(f, oauthTok) + " was sent as Bearer to the site host " + a.host + "; the site reads Bearer values as Connect session tokens"}
		if s := a.said(); s != "" && a.status >= 400 {
			ev = append(ev, s)
		}
		a.addExact(SiteURLInsteadOfAPIGateway, a.okScale(conf), a.gatewayFix(f), ev...)
		if forgeTok {
			a.drop(WrongHost, AnonymousRequest, CredentialsRejected)
		}
		return
	}
	if !a.gateway {
		return
	}
	// An expired Forge token.
	if t != nil && t.Claims.ExpiresAt != nil && a.status == 401 && forgeTok {
		exp := time.Unix(*t.Claims.ExpiresAt, 0)
		ref, by := a.now, "your clock"
		if ref.IsZero() {
			ref, by = a.serverNow, "the gateway's Date header"
		}
		if !ref.IsZero() && !exp.After(ref) {
			a.addExact(ForgeTokenExpired, 0.96, "Do not use a stored Forge token past its exp: keep the newest system token per installation (replace it only with one that expires later), refresh it from the hourly scheduledTrigger (POST /forge/scheduled with auth.appSystemToken) and the lifecycle triggers, use x-forge-oauth-user only during the request that brought it, and fetch offline user tokens again after their ttl.",
				fmt.Sprintf("the bearer token's exp %s is %s before %s (%s)", exp.UTC().Format(time.RFC3339), human(ref.Sub(exp)), by, ref.UTC().Format(time.RFC3339)),
				"Forge OAuth tokens live at most 4 h; api.atlassian.com refuses an expired one with 401")
			a.drop(TokenExpired, CredentialsRejected)
		}
	}
	a.detectOAuthScopes(f, forgeTok)
}

func (a *analysis) isForgeHeaderToken(v string) bool {
	h := a.in.Context.ForgeInvocation
	return h != nil && v != "" && (h.Get(hdrForgeSystem) == v || h.Get(hdrForgeUser) == v)
}

func (a *analysis) forgeTokenName(f forgeFacts, oauth bool) string {
	h := a.in.Context.ForgeInvocation
	switch {
	case h != nil && h.Get(hdrForgeSystem) == a.cred.value:
		return "Forge app system token (x-forge-oauth-system)"
	case h != nil && h.Get(hdrForgeUser) == a.cred.value:
		return "Forge app user token (x-forge-oauth-user)"
	case f.path:
		return "Forge OAuth token"
	case oauth:
		return "OAuth 2.0 access token for api.atlassian.com"
	}
	return "bearer token"
}

// gatewayFix names the URL to use instead of the site.
func (a *analysis) gatewayFix(f forgeFacts) string {
	cloud := "<cloudId>"
	for _, t := range []*TokenReport{f.invFIT} {
		if t != nil && t.Forge != nil && t.Forge.CloudID != "" {
			cloud = t.Forge.CloudID
		}
	}
	base := "https://api.atlassian.com/ex/jira/" + cloud
	return "Send Forge/OAuth product calls to app.apiBaseUrl (" + base + a.apiPath + "), taken from the verified FIT, never to the site URL; in the remote, build every Jira URL from app.apiBaseUrl (the FIT's app.apiBaseUrl is NOT the site URL)."
}

// detectTokenAbsent explains a product call made without a Forge token.
func (a *analysis) detectTokenAbsent(f forgeFacts) {
	ctx := &a.in.Context
	h := ctx.ForgeInvocation
	user := ctx.Identity == IdentityUser
	siteARI := "ari:cloud:jira::site/<cloudId>"
	if f.invFIT != nil && f.invFIT.Forge != nil && f.invFIT.Forge.CloudID != "" {
		siteARI = "ari:cloud:jira::site/" + f.invFIT.Forge.CloudID
	}
	var ev []string
	fix := manifestTokenOK
	switch f.call {
	case ForgeCallTrigger, ForgeCallScheduled:
		if user {
			ev = append(ev, "the call came from a "+f.call+": Forge never sends x-forge-oauth-user to triggers or scheduled triggers (forge.md §1.2)")
			fix = "A trigger has no user in session: act as the app with the system token (auth.appSystemToken.enabled: true on the trigger's endpoint), or get an offline user token with the GraphQL offlineUserAuthToken mutation (POST https://api.atlassian.com/graphql, system token as Bearer, contextIds [\"" + siteARI + "\"], userId), cached for its ttl."
		} else {
			ev = append(ev, "the call came from a "+f.call+" and Forge sent no x-forge-oauth-system: the trigger's endpoint lacks auth.appSystemToken.enabled: true")
			fix = "In manifest.yml set auth.appSystemToken.enabled: true on the endpoint the trigger uses and declare read:app-system-token and a product scope (e.g. read:jira-work) in permissions.scopes; then redeploy and upgrade the installation."
		}
	case ForgeCallRequestRemote:
		ev = append(ev, "the call came through requestRemote, which goes straight from the browser to the remote: OAuth tokens are never included, even when configured (forge.md §1.2)")
		fix = "Use @forge/bridge invokeRemote (through a resolver.endpoint whose auth.appUserToken / auth.appSystemToken is enabled) for calls that need to reach Jira, or use the system token stored from a trigger / an offline user token (GraphQL offlineUserAuthToken) on requestRemote routes."
	case ForgeCallFunction:
		ev = append(ev, "the call came from a Forge function's invokeRemote: the tokens follow remotes[].auth.appSystemToken / appUserToken, not the endpoint's auth")
		fix = "Enable remotes[].auth.appUserToken.enabled / appSystemToken.enabled on the remote (function-to-remote calls use the remote's auth, not the endpoint's), declare read:app-user-token / read:app-system-token and a product scope, redeploy and upgrade."
	case ForgeCallUI:
		if h != nil && user && h.Get(hdrForgeUser) == "" {
			ev = append(ev, "the UI call carried no x-forge-oauth-user: the endpoint lacks auth.appUserToken.enabled: true, the manifest lacks read:app-user-token or any user scope, or no user was in session")
		}
	}
	if h != nil {
		ev = append(ev, fmt.Sprintf("Forge delivered: x-forge-oauth-system %s, x-forge-oauth-user %s", presence(h.Get(hdrForgeSystem)), presence(h.Get(hdrForgeUser))))
	}
	if a.cred.kind == credNone {
		ev = append(ev, "the product request carries no Authorization header")
	}
	if len(ev) == 0 {
		return
	}
	conf := 0.93
	if a.status == 0 {
		conf = 0.9
	}
	a.addExact(ForgeTokenAbsent, conf, fix, ev...)
	a.drop(AuthHeaderMissing)
}

func presence(v string) string {
	if v == "" {
		return "absent"
	}
	return "present"
}

// ---- OAuth scopes on api.atlassian.com ---------------------------------------

func isConnectScope(s string) bool { return strings.Contains(s, ":connect-") }

func isOAuthProductScope(s string) bool {
	s = strings.ToLower(s)
	return !isConnectScope(s) && !strings.HasPrefix(s, "read:app-") && strings.Contains(s, ":") &&
		(strings.Contains(s, "jira") || strings.Contains(s, "confluence") || strings.Contains(s, "email-address"))
}

// detectOAuthScopes explains 401 "scope does not match" and 403 "missing
// scope grants" with the smallest scope set to add.
func (a *analysis) detectOAuthScopes(f forgeFacts, forgeTok bool) {
	ctx := &a.in.Context
	_, mismatch := a.bodyHas("scope does not match")
	_, grants := a.bodyHas("missing scope grants")
	if !mismatch && !grants {
		return
	}
	// "missing scope grants" is api.atlassian.com's own text for this
	// cause: it leads whatever the path.
	lead := forgeTok || ctx.GrantedScopes != nil || grants
	var granted []string
	source := ""
	var groups [][]string
	if grants {
		for _, m := range a.messages {
			if !strings.Contains(strings.ToLower(m), "missing scope grants") {
				continue
			}
			if g := reGrantedRaw.FindStringSubmatch(m); g != nil {
				granted, source = splitScopes(g[1]), "the 403 body"
				if granted == nil {
					granted = []string{}
				}
			}
			for _, g := range reScopeGroup.FindAllStringSubmatch(m, -1) {
				if s := splitScopes(g[1]); len(s) > 0 {
					groups = append(groups, s)
				}
			}
		}
	}
	if ctx.GrantedScopes != nil {
		granted, source = ctx.GrantedScopes, "the installed manifest's permissions.scopes"
	}
	if granted == nil && a.cred.token != nil && a.cred.token.Claims.Scope != "" {
		granted, source = strings.Fields(a.cred.token.Claims.Scope), "the token's scope claim"
	}
	if op := a.op; op != nil {
		for _, gr := range [][]string{op.OAuthClassic, op.OAuthGranular} {
			if len(gr) > 0 && !containsGroup(groups, gr) {
				groups = append(groups, gr)
			}
		}
	}
	add, group, partial := smallestAddition(groups, granted)
	ev := []string{a.said()}
	if granted != nil {
		ev = append(ev, "granted scopes ("+source+"): ["+strings.Join(granted, ", ")+"]")
	}
	if a.op != nil {
		ev = append(ev, fmt.Sprintf("%s accepts all of classic %v or all of granular %v", opName(a.op), a.op.OAuthClassic, a.op.OAuthGranular))
	}
	if partial != nil {
		ev = append(ev, "the granular set is only partly granted: has "+strings.Join(partial, ", ")+"; granular sets are enforced all-of")
	}
	fix := ""
	switch {
	case len(add) > 0:
		fix = "Add " + strings.Join(add, ", ") + " to permissions.scopes in manifest.yml (permissions:\n  scopes: [" + strings.Join(mergeScopes(granted, add), ", ") + "]), " + redeployAdvice
		ev = append(ev, "smallest addition: "+strings.Join(add, ", ")+" (completes the group ["+strings.Join(group, ", ")+"])")
	case group != nil:
		fix = "The granted scopes already include the group [" + strings.Join(group, ", ") + "], so the token predates them: have the site admin approve the upgraded version (`forge install --upgrade`), let the user re-consent, and use a token issued afterwards."
	default:
		fix = "Add the operation's OAuth 2.0 scopes to permissions.scopes in manifest.yml, " + redeployAdvice
	}
	code, conf := OAuthScopeMismatch, 0.95
	if grants {
		code, conf = MissingScopeGrants, 0.96
	}
	if !lead {
		conf = 0.88 // the generic token_scope_missing leads when the path is unknown
	}
	a.addExact(code, conf, fix, ev...)
	// Connect scopes only.
	hasConnect, hasProduct := false, false
	var connect []string
	for _, s := range granted {
		if isConnectScope(s) {
			hasConnect = true
			connect = append(connect, s)
		}
		if isOAuthProductScope(s) {
			hasProduct = true
		}
	}
	if hasConnect && !hasProduct {
		var names []string
		for _, s := range connect {
			if n, _, ok := strings.Cut(s, ":connect-"); ok {
				names = append(names, n)
			}
		}
		equiv := manifest.OAuthScopesFor(names)
		cfix := "Connect scopes authorise Connect JWTs only; Forge tokens need OAuth 2.0 scopes. Add to permissions.scopes in manifest.yml"
		if len(add) > 0 {
			cfix += " at least " + strings.Join(add, ", ") + " for this call"
		}
		if len(equiv) > 0 {
			cfix += " (the OAuth 2.0 equivalents of your Connect scopes are " + strings.Join(equiv, ", ") + ")"
		}
		cfix += ", keeping the Connect scopes only while Connect modules remain; " + redeployAdvice
		cev := []string{"granted scopes are Connect scopes only: [" + strings.Join(connect, ", ") + "] and no OAuth 2.0 product scope", a.said()}
		cconf := 0.97
		if !lead {
			cconf = 0.9
		}
		a.addExact(ConnectScopesOnlyOnForgePath, cconf, cfix, cev...)
	}
	if lead {
		// The body names scopes, not product permissions.
		a.drop(TokenScopeMissing, UserPermissionMissing, AppPermissionMissing)
	}
}

func splitScopes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func containsGroup(groups [][]string, g []string) bool {
	for _, x := range groups {
		if slices.Equal(slices.Sorted(slices.Values(x)), slices.Sorted(slices.Values(g))) {
			return true
		}
	}
	return false
}

// smallestAddition returns the fewest scopes to add so that granted covers
// one whole group. Ties go to the group the app already partly holds (its
// chosen style), then to the earlier group (classic before granular).
// partial lists the granted part of a partly granted group, if any.
func smallestAddition(groups [][]string, granted []string) (add, group, partial []string) {
	best, bestHeld := -1, -1
	for _, g := range groups {
		var miss, held []string
		for _, s := range g {
			if slices.Contains(granted, s) {
				held = append(held, s)
			} else {
				miss = append(miss, s)
			}
		}
		if len(held) > 0 && len(miss) > 0 && len(g) > 1 {
			partial = held
		}
		if best < 0 || len(miss) < best || (len(miss) == best && len(held) > bestHeld) {
			best, bestHeld, add, group = len(miss), len(held), miss, g
		}
	}
	return add, group, partial
}

func mergeScopes(granted, add []string) []string {
	out := slices.Clone(granted)
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
