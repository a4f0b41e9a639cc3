package explain

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/explain/knowledge"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
)

var reGranted = regexp.MustCompile(`granted the following scopes: \[([^\]]*)\]`)

// detectServerTexts reads the server's own words.
func (a *analysis) detectServerTexts() {
	said := a.said()
	if _, ok := a.bodyHas("client must be authenticated to access this resource"); ok && a.cred.kind != credNone {
		a.add(AnonymousRequest, 0.6, a.suggestedAuth(), said, "credentials were sent ("+a.cred.source+") but Jira did not recognise them and treated the request as anonymous")
	}
	if n, ok := a.bodyHas("query hash does not match", "expecting claim 'qsh'", "invalid qsh", "qsh does not match"); ok {
		a.addExact(QSHMismatch, 0.9, "Recompute the qsh over the exact method, path and query of this request (see the canonical request in the evidence).", said, "the server reports a qsh mismatch ("+n+")")
	}
	if _, ok := a.bodyHas("did not contain the query string hash", "tokens without qsh are not allowed"); ok {
		a.addExact(QSHMissing, 0.92, "Add the qsh claim to the JWT.", said)
	}
	if _, ok := a.bodyHas("signature verification failed", "invalid signature", "signature is invalid"); ok {
		a.addExact(JWTSignatureInvalid, 0.85, "Sign with the tenant's current shared secret (HS256); after a reinstall the secret changes.", said)
		a.add(SharedSecretStale, 0.55, "Store the sharedSecret of every installed callback; re-read it before signing.", said, "a stale secret after a reinstall is the usual reason for a signature failure on a token that used to work")
	}
	if _, ok := a.bodyHas("authentication request has expired", "jwt expired", "token has expired", "token is expired", "token expired"); ok {
		a.addExact(TokenExpired, 0.88, "Mint a fresh token per request and keep the clock in sync (NTP).", said)
	}
	if _, ok := a.bodyHas("could not find stored client data", "is this client registered"); ok {
		a.addExact(TenantUninstalled, 0.8, "The receiving app has no record of this tenant: the app was uninstalled, its database lost the tenant, or the clientKey (iss/aud) is wrong. Reinstall the app on the site.", said)
	}
	if _, ok := a.bodyHas("app is not installed", "add-on is not installed", "addon is not installed", "plugin is not installed", "app has been disabled", "add-on is disabled", "app is disabled", "not installed on this"); ok && a.status >= 400 {
		a.addExact(TenantUninstalled, 0.8, "Install or enable the app on the site again (a reinstall sends a new shared secret to store).", said)
	}
	if _, ok := a.bodyHas("basic auth with password", "basic authentication with passwords", "password is not allowed", "passwords are not allowed", "api token is required"); ok {
		a.addExact(CredentialsRejected, 0.9, "Jira Cloud does not accept account passwords for REST calls: create an API token (https://id.atlassian.com/manage-profile/security/api-tokens) and send email:api_token with Basic auth.", said).Title = "A password was used where an API token is required"
	}
	if a.cred.kind != credNone && (a.status == 401 || a.status == 403) {
		if n, ok := a.bodyHas("bad credentials", "invalid credentials", "invalid api key", "invalid token", "token is invalid", "authentication failed", "invalid_token", "unauthorized access", "access token is invalid", "token has been revoked", "revoked"); ok {
			a.add(CredentialsRejected, 0.65, "The server rejected the credential ("+n+"): check it is current (not revoked or expired), belongs to this environment/site and is sent in the scheme the API documents.", said)
		}
		if _, ok := a.bodyHas(`"insufficient_scope"`, "insufficient scope", "insufficient_scope"); ok {
			a.addExact(TokenScopeMissing, 0.85, "Request a token with the scope this operation needs and retry.", said)
		}
	}
	if a.gateway && a.status == 401 && a.cred.kind == credBearer && (a.cred.token == nil || a.cred.token.Claims.ExpiresAt == nil) {
		if _, ok := a.bodyHas(`"message":"unauthorized"`, `"message": "unauthorized"`); ok {
			a.add(CredentialsRejected, 0.55, "api.atlassian.com refused the bearer token: 3LO access tokens expire after an hour (refresh them), can be revoked, and work only for the cloudId they were granted for; check the /ex/jira/<cloudId> in the URL.", said)
			a.add(TokenExpired, 0.45, "Refresh the access token (they expire after about an hour) and retry.", said, "an expired access token is the most frequent cause of a bare 401 from api.atlassian.com")
		}
	}
	if a.status == 200 && a.isHTML && strings.HasPrefix(a.apiPath, "/rest/") && (strings.Contains(strings.ToLower(a.htmlTitle), "log in") || strings.Contains(strings.ToLower(a.htmlTitle), "login")) {
		a.addExact(AnonymousRequest, 0.7, a.suggestedAuth(), "a REST call returned the HTML login page "+quote(a.htmlTitle, 80)+": the credentials were not accepted")
	}
	if _, ok := a.bodyHas("could not find authentication data on request"); ok {
		a.add(AuthHeaderMissing, 0.75, fixConnectJWT, said, "the receiver found no JWT: none was sent, or it was sent as Bearer")
	}
	_, parseFail := a.bodyHas("failed to parse connect session auth token")
	switch {
	case parseFail && a.cred.kind == credBearer && tokenShape(a.cred.value) == "api-token":
		a.addStrength(APITokenAsBearer, knowledge.Decisive, fixBasic, said, "the bearer value is an Atlassian API token (ATATT…), which the site tried to read as a Connect session token")
	case parseFail && a.cred.token == nil:
		// The bearer value is unknown (only the response was given) or
		// opaque: the two things people send are an API token and an
		// api.atlassian.com access token.
		a.addStrength(APITokenAsBearer, knowledge.Strong, fixBasic, said, "the site read the Bearer value as a Connect session token and failed: an API token sent as Bearer is the usual reason").Collect = "the Authorization header that was sent: an ATATT… value is an API token (use Basic), an eyJ… JWT is an OAuth/Forge token (use api.atlassian.com)"
		a.add(WrongHost, 0.7, "Send OAuth 2.0/scoped/Forge tokens to https://api.atlassian.com/ex/jira/<cloudId>/…, not to the site URL.", said, "an OAuth 2.0 or Forge token sent to the site host fails the same way")
		parseFail = false
	}
	if ok := parseFail; ok {
		a.add(WrongHost, 0.85, "Send OAuth 2.0/scoped/Forge tokens to https://api.atlassian.com/ex/jira/<cloudId>/…, not to the site URL.", said, "the site tried to read the bearer token as a Connect session token: it was sent to the wrong host")
	}
	if _, ok := a.bodyHas("oauth 2.0 is not enabled for this method", "is not available for oauth", "not supported for this authentication"); ok {
		a.add(AuthMethodNotSupported, 0.9, "This operation cannot be called with an OAuth 2.0 token. Use another operation, or another credential the operation accepts (API token with Basic auth, or a Connect JWT if it has a Connect scope).", said)
	}
	if _, ok := a.bodyHas("disallowed to impersonate"); ok {
		a.add(ActAsUserMissing, 0.8, "Impersonation through the JWT sub claim is gone: declare ACT_AS_USER, have the site update the app, and use the JWT-bearer grant for a user token.", said)
	}
	if _, ok := a.bodyHas("your presented credentials do not provide access"); ok {
		a.add(UserInactiveOrUnknown, 0.7, "Reactivate the app's user (Jira user management → apps) or reinstall the app.", said, "the app's user is inactive or cannot be found")
	}
	if n, ok := a.bodyHas("user is inactive", "account is deactivated", "user has been deactivated", "account has been deactivated", "user does not exist", "user not found", "unknown user", "inactive user"); ok {
		a.add(UserInactiveOrUnknown, 0.85, "Check the accountId exists on this site and the account is active (and has product access to Jira).", said, "the server names the user problem ("+n+")")
	}
	if _, ok := a.bodyHas("captcha"); ok || a.seraph == "AUTHENTICATION_DENIED" || strings.Contains(strings.ToUpper(a.hdr.Get("X-Authentication-Denied-Reason")), "CAPTCHA") {
		ev := []string{}
		if a.seraph != "" {
			ev = append(ev, "X-Seraph-LoginReason: "+a.seraph)
		}
		if r := a.hdr.Get("X-Authentication-Denied-Reason"); r != "" {
			ev = append(ev, "X-Authentication-Denied-Reason: "+r)
		}
		if ok {
			ev = append(ev, said)
		}
		a.addExact(CaptchaRequired, 0.9, "Log in once in a browser as this user and solve the CAPTCHA (or have an admin reset the failed-login count), then fix the credentials your script sends so it stops failing.", ev...)
	}
	if _, ok := a.bodyHas("xsrf check failed", "xsrf token"); ok {
		a.add(XSRFCheckFailed, 0.95, "Add the header `X-Atlassian-Token: no-check` to form/multipart POSTs (e.g. attachments), and do not send a browser User-Agent or Origin from a server-side client.", said)
	}
	if _, ok := a.bodyHas("has been removed", "has been deprecated and removed", "api has been removed", "no longer available"); ok && (a.status == 410 || a.status == 404) {
		fix := "Migrate to the replacement operation named in the message"
		if strings.Contains(a.apiPath, "/search") {
			fix += " (issue search moved to /rest/api/3/search/jql with nextPageToken pagination)"
		}
		a.add(EndpointDeprecated, 0.95, fix+".", said).Title = "The endpoint was removed"
	}
}

// connectScopeFix builds the descriptor fix for a missing Connect scope.
func (a *analysis) connectScopeFix(missing scope.Scope, thenToken bool) string {
	declared := a.in.Context.DeclaredScopes
	next := append(scope.Set{}, declared...)
	if !next.Allows(missing) {
		next = append(next, missing)
	}
	var quoted []string
	for _, s := range next.Strings() {
		quoted = append(quoted, `"`+strings.ToLower(s)+`"`)
	}
	site := "the site"
	if a.tenantHost != "" {
		site = a.tenantHost
	} else if siteHost(a.host) {
		site = a.host
	}
	fix := fmt.Sprintf("Add %q to the descriptor's scopes (\"scopes\": [%s]), release the new app version, and have an admin of %s update the app: Jira applies only the scopes of the installed version.",
		strings.ToLower(string(missing)), strings.Join(quoted, ", "), site)
	if thenToken {
		fix += " Then mint a new user token (tokens carry the scopes the app had when they were issued; if you narrow `scope` in the exchange, include " + string(missing) + ")."
	}
	return fix
}

func opName(op *catalog.Operation) string {
	return op.Method + " " + op.Path + " (" + op.OperationID + ")"
}

func (a *analysis) detectScopes() {
	said := a.said()
	// The server's own scope texts.
	if _, ok := a.bodyHas("not in an authorized api scope"); ok {
		if a.op != nil && a.op.ConnectScope == scope.Inaccessible {
			// Jira gives the same scope text for an operation no scope
			// unlocks; detectScopes below names it.
			a.notes = append(a.notes, "Jira's scope refusal ("+said+") is about an operation no Connect scope can unlock")
		} else if a.op != nil && a.in.Context.DeclaredScopes != nil && a.in.Context.DeclaredScopes.Allows(a.op.ConnectScope) {
			a.addExact(ScopeMissing, 0.88, fmt.Sprintf("The descriptor declares the scope %s needs, but the site still runs an older app version: have a site admin update the app (Manage apps → update), then retry.", a.op.ConnectScope),
				said, "your declared scopes ("+setStr(a.in.Context.DeclaredScopes)+") include "+string(a.op.ConnectScope)+", so the installed version must be older").Title = "The site has not installed the app version with the needed scope"
		} else {
			fix := "Add the needed scope to the descriptor and have the site update the app."
			if a.op != nil && a.op.ConnectScope != scope.Inaccessible {
				fix = a.connectScopeFix(a.op.ConnectScope, false)
			}
			if a.identity == IdentityUser && a.cred.kind == credBearer {
				// The refused credential is a user token: it carries
				// the app's scopes, so the token is what lacks the scope.
				if a.op != nil && a.op.ConnectScope != scope.Inaccessible {
					fix = a.connectScopeFix(a.op.ConnectScope, true)
				}
				a.addExact(TokenScopeMissing, 0.95, fix, said, "the refused credential is a user-impersonation token, which carries the scopes of the installed app version")
				a.addExact(ScopeMissing, 0.85, fix, said)
			} else {
				a.addExact(ScopeMissing, 0.95, fix, said)
			}
		}
	}
	if _, ok := a.bodyHas("missing scope grants"); ok {
		ev := []string{said}
		if m := reGranted.FindStringSubmatch(a.low); m != nil {
			g := strings.TrimSpace(m[1])
			if g == "" {
				ev = append(ev, "the token was granted no scopes at all ([]): the installed version predates the scopes, or the user has not consented")
			} else {
				ev = append(ev, "granted scopes: "+g)
			}
		}
		// The service's own text names this cause, whoever sent the
		// request (a Forge product fetch, an OAuth 2.0 app, a paste
		// without the request): the gateway detector refines the fix.
		a.addExact(MissingScopeGrants, 0.95, "Add one of the scope groups the message lists to the app (manifest/developer console), redeploy, have the installation upgraded and the user re-consent, then use a fresh token.", ev...)
	}
	if _, ok := a.bodyHas("scope does not match"); ok {
		fix := "The access token lacks the scopes this endpoint needs: add them to the OAuth 2.0 app (for granular scopes, every scope of the set), re-consent, and use a new token."
		if a.op != nil && (len(a.op.OAuthClassic) > 0 || len(a.op.OAuthGranular) > 0) {
			fix += fmt.Sprintf(" %s accepts classic %v or granular %v.", a.op.OperationID, a.op.OAuthClassic, a.op.OAuthGranular)
		}
		if strings.HasPrefix(a.apiPath, "/rest/agile/") {
			fix += " Jira Software (/rest/agile) endpoints need Jira Software scopes (e.g. read:board-scope:jira-software), not only platform scopes."
		}
		a.addExact(TokenScopeMissing, 0.92, fix, said)
	}

	pf := a.runPreflight()
	op := a.op
	if op != nil && !a.connect && a.cred.kind == credBearer && a.cred.token == nil && a.status == 401 && siteHost(a.host) && a.in.Context.DeclaredScopes == nil &&
		op.ConnectScope != scope.None && op.ConnectScope != scope.Read && op.ConnectScope != scope.Inaccessible {
		c := a.addStrength(TokenScopeMissing, knowledge.Weak, a.connectScopeFix(op.ConnectScope, true), opName(op)+" needs Connect scope "+string(op.ConnectScope),
			"an opaque Bearer token on the site URL is typically a Connect user-impersonation token (JWT-bearer grant); Jira answers such a token 401 when it lacks the operation's scope")
		c.Collect = "the app's scopes (--scopes or --descriptor atlassian-connect.json) and --identity user, which decide whether the token can carry " + string(op.ConnectScope)
	}
	if op == nil || !a.connect {
		if op != nil && op.ConnectScope == scope.Inaccessible && a.cred.kind == credBearer && a.in.Context.Identity == "" && (a.status == 403 || a.status == 401) {
			a.add(EndpointInaccessibleToConnect, 0.4, "If this bearer token came from a Connect app's user impersonation, no scope will unlock "+op.Path+": use an API token, OAuth 2.0 (3LO) or Forge for it.",
				opName(op)+" has Connect scope INACCESSIBLE", "the token's origin is unknown (pass --identity user if it is a Connect impersonation token)")
		}
		return
	}
	declared := a.in.Context.DeclaredScopes
	user := a.identity == IdentityUser
	req := op.ConnectScope
	base := opName(op) + " needs Connect scope " + string(req)
	if pf != nil && pf.Reason != "" && pf != a.in.Context.Preflight {
		// computed by us
	} else if pf != nil && pf.Reason != "" && !strings.Contains(pf.Reason, base) {
		// The caller's preflight adds to the claim; when it only
		// restates it, saying it again would repeat the fact.
		base += " (preflight: " + truncate(pf.Reason, 200) + ")"
	}
	switch {
	case req == scope.Inaccessible:
		conf := 0.93
		if a.status == 401 {
			conf = 0.85
		}
		ev := []string{opName(op) + " is marked INACCESSIBLE for Connect apps (x-atlassian-connect-scope) in Jira's REST spec",
			"the request used a Connect credential (" + a.credName() + ")"}
		if _, ok := a.bodyHas("not in an authorized api scope"); ok {
			conf = 0.96
			ev = append(ev, said)
		}
		a.addExact(EndpointInaccessibleToConnect, a.okScale(conf),
			"No descriptor scope makes this operation callable by a Connect app, as the app or as an impersonated user. It works in the browser because the browser uses your own session. Options: a different operation that covers the need; or do this part outside the Connect JWT path: Forge or an OAuth 2.0 (3LO) integration"+oauthScopes(op)+", or a script with an admin's API token.",
			ev...)
	case req == scope.ActAsUser && !user:
		a.add(ActAsUserMissing, 0.8, "This operation acts on the calling user's own data: call it with a user token (JWT-bearer grant, needs ACT_AS_USER in the installed descriptor), not as the app.",
			base+"; it was called as the app")
	case pf != nil && pf.Outcome == preflight.ActAsUserMissing || user && declared != nil && !declared.Has(scope.ActAsUser):
		a.add(ActAsUserMissing, 0.88, a.connectScopeFix(scope.ActAsUser, true), "the call acts as a user, but the declared scopes ("+setStr(declared)+") lack ACT_AS_USER, so no user token can be issued")
	case declared != nil && !declared.Allows(req):
		ev := []string{base + "; the app declares " + setStr(declared), "missing scope: " + string(req)}
		if user {
			conf := 0.9
			if a.status == 403 {
				conf = 0.85
			}
			a.addExact(TokenScopeMissing, a.okScale(conf), a.connectScopeFix(req, true),
				append(ev, "a user-impersonation token carries the app's declared scopes, so it lacks "+string(req)+" (Jira answers 401 here, not 403)")...)
			a.addExact(ScopeMissing, a.okScale(0.8), a.connectScopeFix(req, true), ev...)
		} else {
			conf := 0.92
			if a.status == 401 {
				conf = 0.7
			}
			a.addExact(ScopeMissing, a.okScale(conf), a.connectScopeFix(req, false), ev...)
		}
	case pf != nil && pf.Outcome == preflight.TokenScopeMissing:
		a.add(TokenScopeMissing, 0.85, pf.Fix, base, "preflight: "+pf.Reason)
	case declared == nil && (a.status == 401 || a.status == 403) && req != scope.None && req != scope.Read:
		code := ScopeMissing
		if user {
			code = TokenScopeMissing
		}
		a.add(code, 0.4, a.connectScopeFix(req, user), base, "the app's declared scopes are unknown, so this cannot be confirmed (give the scopes to check)")
	case declared != nil && declared.Allows(req):
		if user && a.status == 401 && req != scope.None && req != scope.Read && a.cred.kind == credBearer {
			// Jira answers 401, not 403, to an impersonation token that
			// lacks the operation's scope. The app has the scope, so the
			// token does not: it was narrowed in the exchange or minted
			// before the site installed the version with the scope.
			a.addExact(TokenScopeMissing, 0.5, a.connectScopeFix(req, true), base,
				"the declared scopes ("+setStr(declared)+") allow "+string(req)+", yet Jira refused the user token with 401, its answer to a token lacking the operation's scope: a token narrowed with the exchange's `scope` parameter, or one minted while the site ran an app version without "+string(req))
			a.addExact(TokenExpired, 0.3, "User tokens live 15 minutes: get a new one (the oauth cache refreshes them before expiry).", "an expired user token also gets a bare 401")
		}
		a.notes = append(a.notes, "the declared scopes ("+setStr(declared)+") allow "+string(req)+": a Connect scope problem is unlikely unless the site runs an older app version")
	}
}

func (a *analysis) okScale(c float64) float64 {
	if a.status >= 200 && a.status < 300 {
		return c * 0.35
	}
	if a.status == 429 || a.status >= 500 {
		return c * 0.3
	}
	return c
}

func oauthScopes(op *catalog.Operation) string {
	if len(op.OAuthClassic) > 0 {
		return " (OAuth scope " + strings.Join(op.OAuthClassic, ", ") + ")"
	}
	if len(op.OAuthGranular) > 0 {
		return " (OAuth scopes " + strings.Join(op.OAuthGranular, ", ") + ")"
	}
	return ""
}

func (a *analysis) credName() string {
	switch a.cred.kind {
	case credJWT:
		return "Authorization: JWT"
	case credQuery:
		return "jwt query parameter"
	case credBearer:
		return "user-impersonation Bearer token"
	}
	return a.cred.source
}

var permissionTexts = []string{
	"you do not have permission", "you don't have permission", "do not have the permission", "does not have permission",
	"does not have the required permission", "not have the necessary permission", "you do not have the permission",
	"administrator privileges are required", "you are not authorized to perform this action", "must have global administrator",
	"only jira administrators", "you must be a jira administrator", "don't have access", "do not have access",
	"not authorized to access", "insufficient permissions", "permission denied", "you are not allowed",
	"you cannot edit the configuration", "you cannot view", "you do not have the required permissions",
}

func (a *analysis) detectPermissions() {
	said := a.said()
	n, explicit := a.bodyHas(permissionTexts...)
	hidden := false
	if !explicit {
		if n2, ok := a.bodyHas("does not exist or you do not have permission", "no project could be found", "issue does not exist", "does not exist for the field 'project'"); ok {
			n, hidden = n2, true
		}
	}
	if explicit && strings.Contains(n, "does not exist or you do not have permission") {
		hidden = true
	}
	need := a.op.PermissionNeeded()
	if pf := a.runPreflight(); pf != nil && pf.MissingPermission != "" {
		need = pf.MissingPermission
	}
	who := "the acting user"
	code := UserPermissionMissing
	switch {
	case a.identity == IdentityApp:
		who, code = "the app's user", AppPermissionMissing
	case a.identity == IdentityUser:
		who = "the impersonated user"
	case a.cred.kind == credBasic:
		who = "the API token's owner (" + a.cred.basicUser + ")"
	}
	if a.accountID != "" {
		who += " (Jira identified the caller as accountId " + a.accountID + ")"
	}
	fix := func() string {
		n := need
		if n == "" {
			n = "the permission the operation needs"
		}
		if code == AppPermissionMissing {
			return "Grant " + n + " to the app's user: add the app to the project role or permission scheme entry (e.g. the atlassian-addons-project-access role) or, for global permissions, to a group that holds it. Admin operations need the ADMIN scope, which puts the app user in the admins group."
		}
		return "Grant " + n + " to " + who + " (permission scheme, project role or group), or call as a user who has it. Check with GET /rest/api/3/mypermissions?permissions=… as that user."
	}
	switch {
	case explicit && !hidden && (a.status == 403 || a.status == 401):
		a.add(code, 0.85, fix(), said, who+" is authenticated but lacks a permission"+needText(need))
	case hidden && (a.status == 404 || a.status == 400):
		a.add(code, 0.55, fix(), said, "Jira answers 404 (or a field error) for resources the caller cannot see; a missing Browse projects permission looks like a missing resource"+needText(need))
	case a.status == 403 && a.op != nil && !a.isHTML && a.cred.kind != credNone && a.has(ScopeMissing) == nil && a.has(EndpointInaccessibleToConnect) == nil:
		conf := 0.45
		if a.accountID != "" {
			conf = 0.6
		}
		if a.op.Permission == catalog.PermAdmin {
			conf += 0.1
		}
		if a.op.Permission == catalog.PermNone {
			conf = 0.25
		}
		ev := []string{opName(a.op) + " needs " + orUnknown(need)}
		if said != "" {
			ev = append(ev, said)
		}
		a.add(code, conf, fix(), ev...)
	}
	if pf := a.in.Context.Preflight; pf != nil && (pf.Outcome == preflight.PermissionMissing || pf.Outcome == preflight.NeedsAdmin) && a.status >= 400 {
		a.add(code, 0.85, orDefault(pf.Fix, fix()), "preflight: "+pf.Reason)
	}
}

func needText(need string) string {
	if need == "" {
		return ""
	}
	return "; the operation needs " + need
}

func orUnknown(s string) string {
	if s == "" {
		return "a permission the spec does not name"
	}
	return s
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// detectExchange explains a failed JWT-bearer token exchange, from the
// error the caller passes or from a token-endpoint answer in the body.
func (a *analysis) detectExchange() {
	err := a.in.Context.ExchangeErr
	var code, desc, server string
	status := 0
	ours := false // the failure comes from our oauth.Exchanger
	if err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			ours = true
			code, desc, server, status = oe.Code, oe.Description, oe.Server, oe.StatusCode
			if status == 0 {
				// Jira was never called: the step that failed is the
				// exchange, and the network is why.
				ev := "token exchange could not reach the authorization server: " + truncate(err.Error(), 200)
				a.addExact(TokenExchangeFailed, 0.88, "No user token could be obtained, so Jira was never called: allow outbound HTTPS to "+orDefault(server, "the authorization server")+" (proxy, firewall, DNS), check the configured token URL, and retry with backoff.", ev).Title = "The authorization server could not be reached"
				a.addExact(NetworkError, 0.8, "Allow outbound HTTPS to "+orDefault(server, "the authorization server")+" (proxy, firewall, DNS) and retry.", ev)
				return
			}
		} else {
			low := strings.ToLower(err.Error())
			for _, c := range []string{"invalid_grant", "unauthorized_client", "invalid_client", "invalid_scope", "invalid_request", "access_denied"} {
				if strings.Contains(low, c) {
					code = c
				}
			}
			desc = err.Error()
		}
	} else if c := oauthBodyError(a.text); a.jsonBody && c != "" && (a.atlassianTarget() || a.cred.kind == credForm && a.formGrant == jwtBearerGrant) {
		code = c
		desc = strings.Join(a.messages, " ")
		server = a.host
		status = a.status
	} else {
		return
	}
	ev := []string{fmt.Sprintf("token exchange refused: %s %s", orDefault(code, "error"), quote(desc, 240))}
	if server != "" {
		ev = append(ev, "authorization server: "+server)
	}
	if status != 0 {
		ev = append(ev, fmt.Sprintf("token endpoint status: %d", status))
	}
	ld := strings.ToLower(desc)
	declared := a.in.Context.DeclaredScopes
	if declared == nil && a.formScope != "" {
		// The token request named its scopes: a JWT-bearer grant asks for
		// (at most) the scopes the app has.
		if s, err := scope.ParseSet(a.formScope); err == nil {
			declared = s
			ev = append(ev, "the token request asked for scopes "+quote(a.formScope, 120))
		}
	}
	actAs := strings.Contains(ld, "act as") || strings.Contains(ld, "act_as_user") || strings.Contains(ld, "impersonat")
	_, notInstalled := firstIn(ld, "not installed", "no installed app", "uninstalled", "is disabled", "app is disabled", "disabled on this site")
	switch {
	case strings.Contains(ld, "refresh token") || strings.Contains(ld, "refresh_token"):
		a.addExact(TokenExchangeFailed, 0.9, "The refresh token is invalid, expired or already used: Atlassian rotates refresh tokens, so store the new refresh_token from every token response and use it next time; if it is lost, have the user authorise the app again.", ev...).Title = "The OAuth refresh failed"
	case notInstalled:
		a.addExact(TenantUninstalled, 0.9, "The authorization server knows no installed, enabled app for this assertion: the app was uninstalled or disabled on the site, or the stored oauthClientId is out of date. Have a site admin install or enable the app again, and store the installed payload it sends.", ev...)
		a.addExact(TokenExchangeFailed, 0.6, "", ev...)
	case code == "unauthorized_client" && declared != nil && !declared.Has(scope.ActAsUser):
		// The grant is refused to an app without ACT_AS_USER with the
		// same error as a wrong server.
		a.addExact(ActAsUserMissing, 0.95, a.connectScopeFix(scope.ActAsUser, true), append(ev, "the declared scopes ("+setStr(declared)+") lack ACT_AS_USER, which the JWT-bearer grant requires")...)
		a.addExact(TokenExchangeFailed, 0.6, "If the app does declare ACT_AS_USER on this site: send the assertion to the Connect authorization server, not to the 3LO one (auth.atlassian.io/auth.atlassian.com).", ev...)
	case code == "invalid_client":
		a.addExact(TokenExchangeFailed, 0.9, "The client_id/client_secret pair was refused: check both against the developer console (secrets can be rotated) and the environment (staging vs production app).", ev...).Title = "The OAuth client credentials were refused"
	case code == "unauthorized_client":
		a.addExact(TokenExchangeFailed, 0.92, "Send the assertion to the Connect authorization server (https://oauth-2-authorization-server.services.atlassian.com/oauth2/token; staging/FedRAMP have their own), not to auth.atlassian.io/auth.atlassian.com, which serve 3LO.", ev...).Title = "The assertion went to the wrong authorization server"
	case strings.Contains(ld, "too far in the future") || strings.Contains(ld, "expiration"):
		a.assertionTooFar(ld, ours, ev)
	case strings.Contains(ld, "assertion") && (strings.Contains(ld, "expired") || strings.Contains(ld, "exp claim")):
		if ours {
			// Our exchanger signs the assertion right before it sends
			// it, valid for oauth.AssertionLifetime: the server judged
			// a fresh assertion expired, so its clock is ahead of ours.
			life := human(oauth.AssertionLifetime)
			a.addExact(TokenExpired, 0.93, "Synchronise this machine's clock (NTP): it runs behind Atlassian's by more than "+life+", so a freshly signed assertion already looks expired. App JWTs signed here expire early too.",
				append([]string{"the assertion was signed just before the exchange and is valid for " + life + ", yet the server found it expired: this machine's clock runs behind the authorization server's"}, ev...)...).Title = "The token expired by the server's clock (clock skew)"
			a.addExact(TokenExchangeFailed, 0.6, "", ev...)
			break
		}
		a.addExact(TokenExpired, 0.88, "Sign the assertion right before the exchange (exp = iat + ≤ 60 s) and keep the clock in sync (NTP).", ev...)
		a.addExact(TokenExchangeFailed, 0.6, "", ev...)
	case actAs:
		ev2 := ev
		if declared != nil && !declared.Has(scope.ActAsUser) {
			ev2 = append(ev2, "the scopes ("+setStr(declared)+") lack ACT_AS_USER")
		}
		a.addExact(ActAsUserMissing, 0.95, a.connectScopeFix(scope.ActAsUser, true), ev2...)
		a.addExact(TokenExchangeFailed, 0.6, "", ev...)
	case strings.Contains(ld, "user") || strings.Contains(ld, "account") || strings.Contains(ld, "subject"):
		a.addExact(UserInactiveOrUnknown, 0.8, "Check the accountId (sub = urn:atlassian:connect:useraccountid:<accountId>) exists on the site, is active and has access to the product.", ev...)
		a.addExact(TokenExchangeFailed, 0.6, "", ev...)
	case strings.Contains(ld, "scope") || strings.Contains(ld, "act_as_user") || strings.Contains(ld, "impersonat"):
		a.addExact(ActAsUserMissing, 0.85, a.connectScopeFix(scope.ActAsUser, true), ev...)
	case strings.Contains(ld, "signature") || strings.Contains(ld, "secret"):
		a.addExact(SharedSecretStale, 0.75, "Sign the assertion with the tenant's current shared secret (reinstalls rotate it).", ev...)
		a.addExact(TokenExchangeFailed, 0.7, "", ev...)
	default:
		a.addExact(TokenExchangeFailed, 0.85, "Check the assertion: iss = urn:atlassian:connect:clientid:<oauthClientId from the install payload>, sub = urn:atlassian:connect:useraccountid:<accountId>, tnt = the site baseUrl, aud = the authorization server URL, exp ≤ iat + 60 s, HS256 with the current shared secret; the app must declare ACT_AS_USER.", ev...)
		if declared != nil && !declared.Has(scope.ActAsUser) {
			a.addExact(ActAsUserMissing, 0.85, a.connectScopeFix(scope.ActAsUser, true), "declared scopes "+setStr(declared)+" lack ACT_AS_USER")
		} else if declared == nil {
			a.addExact(ActAsUserMissing, 0.4, a.connectScopeFix(scope.ActAsUser, true), "the declared scopes are unknown; without ACT_AS_USER the grant is refused")
		}
		a.addExact(SharedSecretStale, 0.35, "Sign the assertion with the tenant's current shared secret.", "a stale secret is refused as invalid_grant too")
		a.addExact(UserInactiveOrUnknown, 0.35, "Check the accountId is active on the site.", "an unknown or deactivated user is refused as invalid_grant too")
	}
}

var reAhead = regexp.MustCompile(`was (\d+) seconds from now`)

// assertionTooFar explains "Expiration timestamp too far in the future
// [was N seconds from now …]". N is the assertion's lifetime plus the
// amount by which the signer's clock runs ahead of the server's. Our own
// exchanger signs assertions that live oauth.AssertionLifetime, so from it
// a large N can only be clock skew.
func (a *analysis) assertionTooFar(ld string, ours bool, ev []string) {
	fixLifetime := "Set the assertion's exp to at most 60 s after iat (use 55–60 s) and keep the clock in sync."
	m := reAhead.FindStringSubmatch(ld)
	n, err := 0, error(nil)
	if m != nil {
		n, err = strconv.Atoi(m[1])
	}
	life := int(oauth.AssertionLifetime / time.Second)
	if !ours || m == nil || err != nil || n <= life+5 {
		a.addExact(TokenExchangeFailed, 0.95, fixLifetime, ev...).Title = "The assertion's lifetime is too long"
		return
	}
	skew := n - life
	skewEv := fmt.Sprintf("the server saw exp %d s ahead of its clock; our assertions live %d s, so this machine's clock runs about %s ahead of the authorization server's", n, life, human(time.Duration(skew)*time.Second))
	fixSkew := "Synchronise this machine's clock (NTP): it runs ahead of Atlassian's, so the assertion's exp looks too far in the future. Everything signed here (app JWTs too) is affected."
	// The server refuses exp more than 60 s ahead; ours is life s ahead, so
	// any refusal of our assertion means the clocks disagree by more than
	// 60 - life seconds.
	if n > 60 {
		a.addExact(TokenNotYetValid, 0.93, fixSkew, append([]string{skewEv}, ev...)...).Title = "This machine's clock runs ahead (clock skew)"
		a.addExact(TokenExchangeFailed, 0.6, fixLifetime, ev...)
		return
	}
	a.addExact(TokenExchangeFailed, 0.95, fixLifetime, ev...).Title = "The assertion's lifetime is too long"
	a.addExact(TokenNotYetValid, 0.6, fixSkew, append([]string{skewEv}, ev...)...)
}

// firstIn returns the first needle found in s.
func firstIn(s string, needles ...string) (string, bool) {
	for _, n := range needles {
		if strings.Contains(s, n) {
			return n, true
		}
	}
	return "", false
}

func setStr(s scope.Set) string {
	if len(s) == 0 {
		return "no scopes"
	}
	return strings.Join(s.Strings(), ", ")
}

// oauthBodyError returns the RFC 6749 error code of a token-endpoint answer.
func oauthBodyError(low *knowledge.Text) string {
	for _, c := range []string{"invalid_grant", "unauthorized_client", "invalid_client"} {
		if low.Contains(`"error":"`+c+`"`) || low.Contains(`"error": "`+c+`"`) {
			return c
		}
	}
	return ""
}

// jwtBearerGrant is the grant_type of the JWT-bearer (user impersonation)
// token request.
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
