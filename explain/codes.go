package explain

// Cause codes. They are stable identifiers: the admin panel, the JSON output
// and the README refer to them, so a code is never renamed or reused. New
// codes are added by appending a constant, a row in codeTable and a
// detector.
const (
	// Credentials and their format.
	AuthHeaderMissing      = "auth_header_missing"
	AuthSchemeInvalid      = "auth_scheme_invalid"
	TokenMalformed         = "token_malformed"
	TokenExpired           = "token_expired"
	TokenNotYetValid       = "token_not_yet_valid"
	JWTIssuerWrong         = "jwt_issuer_wrong"
	JWTSignatureInvalid    = "jwt_signature_invalid"
	SharedSecretStale      = "shared_secret_stale"
	QSHMissing             = "qsh_missing"
	QSHMismatch            = "qsh_mismatch"
	ContextTokenMisused    = "context_token_misused"
	AnonymousRequest       = "anonymous_request"
	CredentialsRejected    = "credentials_rejected"
	CaptchaRequired        = "captcha_required"
	AuthMethodNotSupported = "auth_method_not_supported"
	// Scopes and permissions.
	ScopeMissing                  = "scope_missing"
	TokenScopeMissing             = "token_scope_missing"
	EndpointInaccessibleToConnect = "endpoint_inaccessible_to_connect"
	ActAsUserMissing              = "act_as_user_missing"
	UserPermissionMissing         = "user_permission_missing"
	AppPermissionMissing          = "app_permission_missing"
	UserInactiveOrUnknown         = "user_inactive_or_unknown"
	TenantUninstalled             = "tenant_uninstalled"
	TokenExchangeFailed           = "token_exchange_failed"
	XSRFCheckFailed               = "xsrf_check_failed"
	// Request shape and routing.
	GetWithBody         = "get_with_body"
	WrongHost           = "wrong_host"
	RedirectDroppedAuth = "redirect_dropped_auth"
	EndpointUnknown     = "endpoint_unknown"
	EndpointDeprecated  = "endpoint_deprecated"
	// Things between the caller and Jira.
	HTMLErrorPage    = "html_error_page"
	FirewallBlock    = "firewall_block"
	IPAllowlistBlock = "ip_allowlist_block"
	CachedResponse   = "cached_response"
	NetworkError     = "network_error"
	RateLimited      = "rate_limited"
	ServerError      = "server_error"
	// Forge Remote: the Forge Invocation Token a remote receives. The codes
	// equal the forge package's sentinel codes, so a remote's JSON error
	// code maps to its cause.
	FITMissing         = "fit_missing"
	FITMalformed       = "fit_malformed"
	FITBadAlg          = "fit_bad_alg"
	FITBadSignature    = "fit_bad_signature"
	FITUnknownKID      = "fit_unknown_kid"
	FITWrongIssuer     = "fit_wrong_iss"
	FITWrongAudience   = "fit_wrong_aud"
	FITAppMismatch     = "fit_app_mismatch"
	FITExpired         = "fit_expired"
	FITNotYetValid     = "fit_not_yet_valid"
	FITClaimMissing    = "fit_claim_missing"
	FITLifetimeTooLong = "fit_lifetime_too_long"
	FITDevEnvironment  = "fit_dev_environment"
	FITReplayed        = "fit_replayed"
	FITICLabelRefused  = "fit_ic_label_refused"
	FITJWKSUnavailable = "fit_jwks_unavailable"
	// Forge OAuth tokens and OAuth 2.0 on api.atlassian.com.
	ForgeTokenAbsent             = "forge_token_absent"
	ForgeTokenExpired            = "forge_token_expired"
	ForgeTokenMalformed          = "forge_token_malformed"
	OAuthScopeMismatch           = "oauth_scope_mismatch"
	MissingScopeGrants           = "missing_scope_grants"
	SiteURLInsteadOfAPIGateway   = "site_url_instead_of_api_gateway"
	ConnectScopesOnlyOnForgePath = "connect_scopes_only_on_forge_path"
	// Identity providers, gateways and intermediaries (any service).
	TokenAudienceWrong       = "token_audience_wrong"
	TokenTypeWrong           = "token_type_wrong"
	SSOAuthorizationRequired = "sso_authorization_required"
	AuthHeaderStripped       = "auth_header_stripped"
	APINotEnabled            = "api_not_enabled"
	ProxyAuthRequired        = "proxy_auth_required"
	ServiceAccountSiteURL    = "service_account_site_url"
	APITokenAsBearer         = "api_token_as_bearer"
	RequestTimeSkew          = "request_time_skew"
	CSRFCheckFailed          = "csrf_check_failed"
	AccountLocked            = "account_locked"
	MFARequired              = "mfa_required"
	OrgAPIKeyRequired        = "org_api_key_required"
	WikiPrefixMissing        = "wiki_prefix_missing"
	RefreshTokenInvalid      = "refresh_token_invalid"
	ConsentRequired          = "consent_required"
	OAuthClientUnknown       = "oauth_client_unknown"
)

// CodeInfo documents one cause code.
type CodeInfo struct {
	Code string `json:"code"`
	// Class is the verdict the cause implies when it is the leading one
	// (authentication, authorization, rate_limited, not_found, client_error,
	// server, network).
	Class       string `json:"class"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

// Verdicts.
const (
	VerdictAuthentication = "authentication"
	VerdictAuthorization  = "authorization"
	VerdictRateLimited    = "rate_limited"
	VerdictNotFound       = "not_found"
	VerdictClientError    = "client_error"
	VerdictServer         = "server"
	VerdictNetwork        = "network"
	VerdictOK             = "ok"
)

var codeTable = []CodeInfo{
	{AuthHeaderMissing, VerdictAuthentication, "No credentials were sent",
		"The request carried no Authorization header, no jwt query parameter and no session cookie."},
	{AuthSchemeInvalid, VerdictAuthentication, "Wrong or missing Authorization scheme",
		"The credential was sent with the wrong scheme (Bearer for a Connect JWT, JWT for an OAuth token, a bare API token, Basic without base64(email:token))."},
	{TokenMalformed, VerdictAuthentication, "The token is malformed",
		"The token cannot be decoded, lacks a required claim (exp, iss) or uses an unusable algorithm."},
	{TokenExpired, VerdictAuthentication, "The token has expired",
		"exp is in the past by the clock of the server that judged it (possibly because of clock skew)."},
	{TokenNotYetValid, VerdictAuthentication, "The token is not valid yet (clock skew)",
		"iat or nbf lies in the future: the clock of the machine that minted it runs ahead."},
	{JWTIssuerWrong, VerdictAuthentication, "The JWT's iss is not the app key",
		"A Connect app JWT to Jira must carry iss = the app key from the descriptor; the tenant's clientKey is the classic mistake."},
	{JWTSignatureInvalid, VerdictAuthentication, "The JWT signature does not verify",
		"The token was not signed with the tenant's current shared secret (or uses the wrong algorithm)."},
	{SharedSecretStale, VerdictAuthentication, "The shared secret is out of date",
		"The site reinstalled the app and sent a new sharedSecret that the app did not store; tokens are signed with the old one."},
	{QSHMissing, VerdictAuthentication, "The JWT has no qsh claim",
		"Connect app JWTs must carry the query-string hash of the request they are sent with."},
	{QSHMismatch, VerdictAuthentication, "The qsh does not match the request",
		"The token's qsh was computed over a different canonical request (path, base path, query, encoding or method)."},
	{ContextTokenMisused, VerdictAuthentication, "A context or incoming token was sent to Jira",
		"A token minted by Jira for the app (AP.context.getToken with qsh=context-qsh, or an iframe/webhook JWT with iss=clientKey) was replayed against the REST API."},
	{AnonymousRequest, VerdictAuthentication, "Jira treated the request as anonymous",
		"Jira did not recognise any credential and ran the request as an anonymous user."},
	{CredentialsRejected, VerdictAuthentication, "The credentials were rejected",
		"The server recognised the credential type but refused it: wrong email or API token, revoked or expired API/OAuth token, password instead of API token."},
	{CaptchaRequired, VerdictAuthentication, "Login is blocked behind a CAPTCHA",
		"After repeated failed logins Jira requires a CAPTCHA (X-Seraph-LoginReason: AUTHENTICATION_DENIED); API logins fail until a browser login clears it."},
	{AuthMethodNotSupported, VerdictAuthentication, "The endpoint does not accept this kind of credential",
		"The operation is not available to this authentication method (e.g. \"OAuth 2.0 is not enabled for this method\")."},
	{ScopeMissing, VerdictAuthorization, "The app's descriptor lacks the Connect scope",
		"The operation needs a Connect scope the app did not declare, or the site still runs an app version without it."},
	{TokenScopeMissing, VerdictAuthorization, "The access token lacks the required scope",
		"The user/OAuth token was issued without the scope the operation needs (impersonation tokens get 401 here; OAuth 2.0 gets 'scope does not match' or 'missing scope grants')."},
	{EndpointInaccessibleToConnect, VerdictAuthorization, "Connect apps cannot call this endpoint at all",
		"Jira marks the operation INACCESSIBLE for Connect: no scope and no user permission makes it callable with a Connect JWT or impersonation token."},
	{ActAsUserMissing, VerdictAuthorization, "The app lacks the ACT_AS_USER scope",
		"User impersonation (the JWT-bearer grant) and user-only endpoints need ACT_AS_USER in the installed descriptor."},
	{UserPermissionMissing, VerdictAuthorization, "The user lacks a Jira permission",
		"The acting user (API token owner, OAuth or impersonated user) does not hold the product permission the operation needs."},
	{AppPermissionMissing, VerdictAuthorization, "The app's user lacks a Jira permission",
		"Requests signed as the app run as the app's bot user, which lacks the project or global permission the operation needs."},
	{UserInactiveOrUnknown, VerdictAuthentication, "The user is inactive, unknown or cannot be impersonated",
		"The account does not exist on the site, is deactivated, or may not be impersonated by the app."},
	{TenantUninstalled, VerdictAuthentication, "The app is not installed (or disabled) on the site",
		"Jira no longer accepts the app's tokens for this site: the app was uninstalled or disabled."},
	{TokenExchangeFailed, VerdictAuthentication, "The user-token exchange failed",
		"The JWT-bearer grant at the authorization server was refused (invalid_grant, unauthorized_client) or could not be completed."},
	{XSRFCheckFailed, VerdictAuthorization, "Jira's XSRF check rejected the request",
		"A form or multipart POST without 'X-Atlassian-Token: no-check' (or with a browser User-Agent/Origin) failed Jira's XSRF protection."},
	{GetWithBody, VerdictClientError, "A GET request carried a body",
		"Jira Cloud rejects GET requests with a body (CHANGE-2328); send the parameters in the query or use the POST variant."},
	{WrongHost, VerdictNotFound, "The request went to the wrong host or URL prefix",
		"The URL does not reach the site's REST API: displayUrl instead of baseUrl, api.atlassian.com without /ex/jira/<cloudId>, an OAuth token sent to the site host, a typo in the site name or DNS."},
	{RedirectDroppedAuth, VerdictAuthentication, "A redirect dropped the Authorization header",
		"The request was redirected (http→https, another host, trailing slash) and the client did not resend the credentials."},
	{EndpointUnknown, VerdictNotFound, "The endpoint is not in the catalog",
		"The method and path match no known Jira REST operation, so scopes and permissions cannot be checked; check the path and API version."},
	{EndpointDeprecated, VerdictNotFound, "The endpoint is deprecated or removed",
		"The operation is marked deprecated; Jira may answer 410 Gone once it is removed."},
	{HTMLErrorPage, VerdictClientError, "An HTML error page came back instead of the API's JSON",
		"Something other than the REST API (a proxy, load balancer, login page or error page) produced the answer."},
	{FirewallBlock, VerdictAuthorization, "A firewall or WAF blocked the request",
		"A web application firewall or CDN (Cloudflare, Akamai, AWS WAF, Imperva, F5, a corporate proxy) refused the request before it reached the API."},
	{IPAllowlistBlock, VerdictAuthorization, "An IP allowlist blocked the request",
		"The organisation restricts access to allowlisted IP addresses and the caller's address is not on the list."},
	{CachedResponse, VerdictAuthentication, "The error was served from a cache",
		"A proxy or CDN returned a stored response (Age, X-Cache: HIT, CF-Cache-Status: HIT) instead of asking the API."},
	{NetworkError, VerdictNetwork, "The request did not reach the server",
		"A transport failure: DNS, connection refused or reset, TLS handshake or timeout."},
	{RateLimited, VerdictRateLimited, "Rate limited",
		"The server throttled the caller (429); wait for Retry-After and back off."},
	{ServerError, VerdictServer, "Server-side failure",
		"The server or a gateway failed (5xx); usually transient and not caused by the credentials."},
	{FITMissing, VerdictAuthentication, "No Forge Invocation Token",
		"A Forge route got no `Authorization: Bearer <FIT>`: the call bypassed Forge (a direct call, a proxy that strips the header) or carried a Connect JWT."},
	{FITMalformed, VerdictAuthentication, "The Forge Invocation Token is malformed",
		"The bearer value on a Forge route is not a decodable JWT (truncated, re-encoded, quoted)."},
	{FITBadAlg, VerdictAuthentication, "The FIT is not signed with RS256",
		"Forge signs FITs with RS256 only; a token with another alg (HS256, none) is forged or is not a FIT."},
	{FITBadSignature, VerdictAuthentication, "The FIT signature does not verify",
		"The token was altered or signed by a key of another key set than the one the remote trusts."},
	{FITUnknownKID, VerdictAuthentication, "The FIT's key is not in the trusted key set (environment mismatch)",
		"The FIT's kid is unknown to the configured JWKS: a staging token checked against the production key set or the reverse, Isolated Cloud, or a stale key cache."},
	{FITWrongIssuer, VerdictAuthentication, "The token is not a Forge Invocation Token",
		"iss is not \"forge/invocation-token\": a Forge context token, a Connect JWT or another token reached a Forge route."},
	{FITWrongAudience, VerdictAuthentication, "The FIT was minted for another app",
		"aud is not the configured app id (FORGE_APP_ID): a separately registered app, a bare UUID compared with the ARI, or a context token."},
	{FITAppMismatch, VerdictAuthentication, "The FIT's app.id differs from its aud",
		"A genuine FIT carries the same app ARI in aud and app.id."},
	{FITExpired, VerdictAuthentication, "The FIT has expired (clock skew or delay)",
		"FITs live about 25 s: the remote's clock runs ahead, the request was queued, or a captured request was replayed."},
	{FITNotYetValid, VerdictAuthentication, "The FIT is not valid yet (clock skew)",
		"iat or nbf lies in the future by the remote's clock: the remote's clock runs behind Forge's."},
	{FITLifetimeTooLong, VerdictAuthentication, "The FIT is valid for too long",
		"exp - iat is beyond the remote's maximum (1 hour by default): Forge's FITs live about 25 s, so the token was not minted by Forge for one invocation."},
	{FITClaimMissing, VerdictAuthentication, "The FIT lacks a required claim",
		"exp, iat, nbf, jti, app.id and app.installationId are required of every FIT."},
	{FITDevEnvironment, VerdictAuthentication, "The FIT comes from a Forge environment the backend refuses",
		"All Forge environments share the app id; a production backend refuses DEVELOPMENT or STAGING installations unless configured."},
	{FITReplayed, VerdictAuthentication, "The FIT was already used",
		"The remote's replay cache saw this jti before: a replayed or duplicated request."},
	{FITICLabelRefused, VerdictAuthentication, "The FIT names an Isolated Cloud the remote does not trust",
		"icLabel picks the key set of an Isolated Cloud, and it is read before the signature is checked, so only a label of the pinned shape (^[a-z0-9_-]{1,50}$) listed in the remote's configuration may do so."},
	{FITJWKSUnavailable, VerdictServer, "The Forge key set could not be fetched",
		"The remote could not download the JWKS it trusts, so it cannot verify any FIT."},
	{ForgeTokenAbsent, VerdictAuthentication, "Forge delivered no OAuth token for this call",
		"x-forge-oauth-user is never sent to triggers, scheduled triggers or requestRemote calls, nor without auth.appUserToken and a user scope; x-forge-oauth-system needs auth.appSystemToken."},
	{ForgeTokenExpired, VerdictAuthentication, "The Forge OAuth token has expired",
		"A cached system or user token was used after its exp (tokens live at most 4 h); api.atlassian.com answers 401."},
	{ForgeTokenMalformed, VerdictClientError, "A Forge OAuth header is not a usable token",
		"x-forge-oauth-system / x-forge-oauth-user carry the raw token without a scheme, once."},
	{OAuthScopeMismatch, VerdictAuthorization, "The OAuth token lacks the endpoint's scopes (401 scope does not match)",
		"api.atlassian.com answered \"Unauthorized; scope does not match\": the granted scopes include neither all classic nor all granular scopes of the operation."},
	{MissingScopeGrants, VerdictAuthorization, "The app was not granted a scope group the endpoint accepts (403 missing scope grants)",
		"Jira listed the granted scopes and the acceptable scope groups; the smallest group to complete names the permissions.scopes entries to add."},
	{SiteURLInsteadOfAPIGateway, VerdictAuthentication, "A Forge/OAuth token was sent to the site URL instead of api.atlassian.com",
		"OAuth 2.0 and Forge tokens work only through https://api.atlassian.com/ex/jira/<cloudId>/… (app.apiBaseUrl), never https://<site>.atlassian.net/rest/…."},
	{ConnectScopesOnlyOnForgePath, VerdictAuthorization, "Only Connect scopes were granted, but the call uses a Forge/OAuth token",
		"Connect scopes (read:connect-jira, …) authorise Connect JWTs only; Forge OAuth tokens need OAuth 2.0 scopes in permissions.scopes."},
	{TokenAudienceWrong, VerdictAuthentication, "The token was issued for another audience",
		"The token's aud (or resource) names another API, client or environment than the one that refused it (\"invalid audience\", AADSTS50013/500131, JWT audience checks)."},
	{TokenTypeWrong, VerdictAuthentication, "The wrong kind of token was sent",
		"An ID token, refresh token, authorization code, app-level token or user token was sent where the API wants another kind (usually an access token)."},
	{SSOAuthorizationRequired, VerdictAuthorization, "The token must be authorized for the organization's SSO",
		"The organization enforces SAML/OIDC single sign-on and the personal token or key was not authorized for it (GitHub \"Resource protected by organization SAML enforcement\", X-GitHub-SSO)."},
	{AuthHeaderStripped, VerdictAuthentication, "Something between client and API removed the Authorization header",
		"The client sent credentials but a proxy, load balancer, web server (Apache without CGIPassAuth), CDN or a redirect to another host dropped the header, so the API saw none."},
	{APINotEnabled, VerdictAuthorization, "The API is not enabled for this project or account",
		"The cloud project or account has not enabled the API (Google SERVICE_DISABLED / accessNotConfigured), or the feature is switched off for the tenant."},
	{ProxyAuthRequired, VerdictAuthentication, "A forward proxy requires authentication (407)",
		"A corporate or forward proxy answered 407 Proxy Authentication Required: the client must authenticate to the proxy (Proxy-Authorization), not to the API."},
	{ServiceAccountSiteURL, VerdictAuthentication, "A service account's scoped token was sent to the site URL",
		"Atlassian service-account (and other scoped) API tokens work only through https://api.atlassian.com/ex/<product>/<cloudId>/…, not https://<site>.atlassian.net."},
	{APITokenAsBearer, VerdictAuthentication, "An API token was sent as a Bearer token",
		"A personal API token that the service accepts only with Basic auth (email:token) was sent as `Authorization: Bearer`."},
	{RequestTimeSkew, VerdictAuthentication, "The request's signature or timestamp is outside the allowed clock skew",
		"A signed request (AWS SigV4 RequestTimeTooSkewed / \"Signature expired\", HMAC webhooks, Kerberos) carries a time too far from the server's: the client's clock is off."},
	{CSRFCheckFailed, VerdictAuthorization, "The framework's CSRF protection refused the request",
		"A state-changing request lacked the CSRF token or matching cookie/Origin (Spring Security, Django, Express csurf, Rails): send the token, or exempt the API route that uses token authentication."},
	{AccountLocked, VerdictAuthentication, "The account is locked or suspended",
		"Too many failed logins or an administrator locked, suspended or disabled the account; credentials are refused until it is unlocked."},
	{MFARequired, VerdictAuthentication, "Multi-factor authentication is required",
		"The identity provider requires a second factor (or a one-time code header) that the non-interactive client did not provide."},
	{OrgAPIKeyRequired, VerdictAuthentication, "The organization API needs an organization API key",
		"The Atlassian organization (Admin) API accepts only an API key created in admin.atlassian.com as Bearer, not a personal API token or OAuth token."},
	{WikiPrefixMissing, VerdictNotFound, "The Confluence path lacks /wiki",
		"Confluence Cloud's REST API lives under https://<site>.atlassian.net/wiki/rest/… (and /wiki/api/v2); without /wiki the site answers 404 or Jira's error."},
	{RefreshTokenInvalid, VerdictAuthentication, "The OAuth refresh token was refused",
		"The authorization server answered invalid_grant for the refresh token: it expired, was already used (rotating refresh tokens invalidate the previous one) or was revoked; store each new refresh_token or authorize again."},
	{ConsentRequired, VerdictAuthorization, "The app's permissions were not consented",
		"The identity provider will not issue the token because the user or an administrator never consented to the app's permissions (Entra ID AADSTS65001, consent_required)."},
	{OAuthClientUnknown, VerdictAuthentication, "The authorization server does not know this client",
		"The client id is not registered where the request went (Entra ID AADSTS700016: wrong tenant or app id; invalid_client \"client not found\")."},
}

var codeIndex = func() map[string]int {
	m := make(map[string]int, len(codeTable))
	for i, c := range codeTable {
		m[c.Code] = i
	}
	return m
}()

// Codes returns every cause code with its class and a one-line description,
// in documentation order.
func Codes() []CodeInfo { return append([]CodeInfo(nil), codeTable...) }

// LookupCode returns the documentation of a code.
func LookupCode(code string) (CodeInfo, bool) {
	i, ok := codeIndex[code]
	if !ok {
		return CodeInfo{}, false
	}
	return codeTable[i], true
}
