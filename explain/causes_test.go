package explain_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
)

type causeCase struct {
	name     string
	in       func(t *testing.T) explain.Input
	top      string   // expected leading cause
	evidence []string // substrings expected in the leading cause's evidence
	fix      []string // substrings expected in its fix
	minConf  float64
	maxConf  float64 // 0 = no upper bound
	verdict  string  // "" = not checked
	also     string  // a cause expected somewhere in the list
}

const anonBody = `{"message":"Client must be authenticated to access this resource.","status-code":401}`

func appReq(t *testing.T, method, uri string, c claims, secret string) explain.Request {
	return explain.Request{Method: method, URL: testBase + uri, Header: hdr("Authorization", "JWT "+mint(t, c, secret), "Accept", "application/json")}
}

func jiraResp(status int, body string, kv ...string) explain.Response {
	return explain.Response{Status: status, Header: jiraHeaders(kv...), Body: []byte(body)}
}

func scopes(s string) scope.Set {
	set, err := scope.ParseSet(s)
	if err != nil {
		panic(err)
	}
	return set
}

func causeCases() []causeCase {
	return append([]causeCase{
		// ---- credentials -------------------------------------------------
		{name: "auth_header_missing/jira anonymous 401", top: explain.AuthHeaderMissing, minConf: 0.9, verdict: "authentication",
			evidence: []string{"no Authorization header", "Client must be authenticated"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Accept", "application/json")},
					Response: jiraResp(401, anonBody, "Www-Authenticate", `OAuth realm="https%3A%2F%2Facme.atlassian.net"`),
				}
			}},
		{name: "auth_scheme_invalid/connect JWT sent as Bearer", top: explain.AuthSchemeInvalid, minConf: 0.9,
			evidence: []string{"Connect app JWT"}, fix: []string{"Authorization: JWT <token>"},
			in: func(t *testing.T) explain.Input {
				tok := mint(t, appClaims("GET", "/rest/api/3/myself"), testSecret)
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+tok)},
					Response: jiraResp(401, anonBody),
					Context:  appCtx(),
				}
			}},
		{name: "auth_scheme_invalid/API token without scheme", top: explain.AuthSchemeInvalid, minConf: 0.9,
			evidence: []string{"API token (ATATT…) sent without a scheme"}, fix: []string{"Basic", "email:api_token"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/project/ABC", Header: hdr("Authorization", "ATATT3xFfGF0T9m2kqYb7Zx1_example_token_value=A1B2C3D4")},
					Response: jiraResp(401, anonBody, "X-Seraph-Loginreason", "AUTHENTICATED_FAILED"),
				}
			}},
		{name: "auth_scheme_invalid/Basic not base64", top: explain.AuthSchemeInvalid, minConf: 0.85,
			evidence: []string{"plain text"}, fix: []string{"base64(email:api_token)"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "Basic jane@acme.com:ATATT3xFfGF0abcdef")},
					Response: jiraResp(401, anonBody, "X-Seraph-Loginreason", "AUTHENTICATED_FAILED"),
				}
			}},
		{name: "auth_scheme_invalid/Jira Align token without bearer", top: explain.AuthSchemeInvalid, minConf: 0.85,
			fix: []string{"Authorization: bearer <api_token>"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: "https://acme.jiraalign.com/rest/align/api/2/Features", Header: hdr("Authorization", "user:3141|kXo9fT2mQvZr8LpW")},
					Response: explain.Response{Status: 401, Header: hdr("Content-Type", "application/json; charset=utf-8", "Server", "Microsoft-IIS/10.0"), Body: []byte(`{"message":"Authorization has been denied for this request."}`)},
				}
			}},
		{name: "auth_scheme_invalid/Bearer with colon", top: explain.AuthSchemeInvalid, minConf: 0.85,
			evidence: []string{"colon"}, fix: []string{"Authorization: Bearer <token>"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request: explain.Request{Method: "GET", URL: "https://api.example.com/v1/orders", Header: hdr("Authorization", "Bearer: 9f8e7d6c5b4a39281706f5e4d3c2b1a0")},
					Response: explain.Response{Status: 401, Header: hdr("Content-Type", "application/json", "Www-Authenticate", `Bearer realm="api"`),
						Body: []byte(`{"error":"unauthorized"}`)},
				}
			}},
		{name: "api_token_as_bearer/API token as Bearer to the site", top: explain.APITokenAsBearer, minConf: 0.8, also: explain.AuthSchemeInvalid,
			evidence: []string{"Basic auth"}, fix: []string{"base64(email:api_token)"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/search/jql?jql=project%3DABC", Header: hdr("Authorization", "Bearer ATATT3xFfGF0T9m2kqYb7Zx1exampletoken")},
					Response: jiraResp(401, anonBody),
				}
			}},
		{name: "token_malformed/unset variable", top: explain.TokenMalformed, minConf: 0.9,
			evidence: []string{"placeholder"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer undefined")},
					Response: jiraResp(401, anonBody),
				}
			}},
		{name: "token_malformed/JWT scheme with garbage", top: explain.TokenMalformed, minConf: 0.85,
			evidence: []string{"does not hold a decodable JWT"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request:  explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "JWT abc.def")},
					Response: jiraResp(401, ""),
					Context:  appCtx(),
				}
			}},
		{name: "token_expired/app JWT expired 5m ago", top: explain.TokenExpired, minConf: 0.9, verdict: "authentication",
			evidence: []string{"expired 5m ago"}, fix: []string{"fresh token"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "iat", testNow.Add(-8*time.Minute).Unix(), "exp", testNow.Add(-5*time.Minute).Unix())
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "token_expired/RFC 6750 invalid_token expired", top: explain.TokenExpired, minConf: 0.85,
			evidence: []string{`error="invalid_token"`},
			in: func(t *testing.T) explain.Input {
				return explain.Input{
					Request: explain.Request{Method: "GET", URL: "https://api.example.com/v2/me", Header: hdr("Authorization", "Bearer 2YotnFZFEjr1zCsicMWpAA")},
					Response: explain.Response{Status: 401, Header: hdr("Www-Authenticate", `Bearer realm="example", error="invalid_token", error_description="The access token expired"`),
						Body: nil},
				}
			}},
		{name: "token_expired/valid by our clock, expired by the server's (skew)", top: explain.TokenExpired, minConf: 0.8,
			evidence: []string{"before the server's Date header"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "iat", testNow.Add(-2*time.Minute).Unix(), "exp", testNow.Add(time.Minute).Unix())
				resp := jiraResp(401, "", "Date", testNow.Add(5*time.Minute).Format("Mon, 02 Jan 2006 15:04:05 GMT"))
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: resp, Context: appCtx()}
			}},
		{name: "token_not_yet_valid/minting clock 10 minutes ahead", top: explain.TokenNotYetValid, minConf: 0.8,
			evidence: []string{"iat", "in the future"}, fix: []string{"NTP"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "iat", testNow.Add(10*time.Minute).Unix(), "exp", testNow.Add(13*time.Minute).Unix())
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "jwt_issuer_wrong/clientKey as iss", top: explain.JWTIssuerWrong, minConf: 0.9,
			evidence: []string{"clientKey", testClientKey}, fix: []string{"app key", testAppKey},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "iss", testClientKey)
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "jwt_issuer_wrong/clientKey-looking iss without context", top: explain.JWTIssuerWrong, minConf: 0.35, maxConf: 0.7,
			evidence: []string{"looks like a tenant clientKey"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "iss", "jira:"+testClientKey)
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""),
					Context: explain.Context{Now: testNow}}
			}},
		{name: "jwt_signature_invalid/wrong secret", top: explain.JWTSignatureInvalid, minConf: 0.85,
			evidence: []string{"does not verify"}, also: explain.SharedSecretStale,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", appClaims("GET", "/rest/api/3/myself"), "some-other-secret-entirely-0123456789abcdef"),
					Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "shared_secret_stale/signed with the pre-reinstall secret", top: explain.SharedSecretStale, minConf: 0.9,
			evidence: []string{"previous shared secret"}, fix: []string{"installed callback"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.PreviousSecrets = []string{testOldSecret}
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", appClaims("GET", "/rest/api/3/myself"), testOldSecret),
					Response: jiraResp(401, ""), Context: ctx}
			}},
		{name: "qsh_missing/no qsh claim", top: explain.QSHMissing, minConf: 0.9,
			evidence: []string{"no qsh", "GET&/rest/api/3/myself&"}, fix: []string{"c790e863"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "qsh", nil)
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "qsh_mismatch/query left out", top: explain.QSHMismatch, minConf: 0.9,
			evidence: []string{"GET&/rest/api/3/search/jql&jql=project%20%3D%20ABC", "the query string was left out"},
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/3/search/jql?jql=project%20%3D%20ABC"
				c := with(appClaims("GET", uri), "qsh", connect.QSH("GET&/rest/api/3/search/jql&"))
				return explain.Input{Request: appReq(t, "GET", uri, c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "qsh_mismatch/Confluence /wiki hashed", top: explain.QSHMismatch, minConf: 0.9,
			evidence: []string{"base path /wiki was included", "GET&/rest/api/space&"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/space"), "qsh", connect.QSH("GET&/wiki/rest/api/space&"))
				ctx := appCtx()
				ctx.TenantBaseURL = testBase + "/wiki"
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/wiki/rest/api/space", Header: hdr("Authorization", "JWT "+mint(t, c, testSecret))},
					Response: jiraResp(401, ""), Context: ctx}
			}},
		{name: "qsh_mismatch/plus for spaces", top: explain.QSHMismatch, minConf: 0.9,
			evidence: []string{`"+" instead of "%20"`},
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/3/search/jql?jql=project+%3D+ABC&maxResults=50"
				c := with(appClaims("GET", uri), "qsh", connect.QSH("GET&/rest/api/3/search/jql&jql=project+%3D+ABC&maxResults=50"))
				return explain.Input{Request: appReq(t, "GET", uri, c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "qsh_mismatch/minted for another method", top: explain.QSHMismatch, minConf: 0.9,
			evidence: []string{"minted for method GET but the request used PUT"},
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/3/issue/ABC-1"
				c := appClaims("GET", uri)
				return explain.Input{Request: appReq(t, "PUT", uri, c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "qsh_mismatch/unknown mistake still strong", top: explain.QSHMismatch, minConf: 0.9,
			evidence: []string{"canonical request we computed: GET&/rest/api/3/myself&"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "qsh", connect.QSH("GET&/rest/api/3/serverInfo&"))
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "context_token_misused/context-qsh token sent to Jira", top: explain.ContextTokenMisused, minConf: 0.9,
			evidence: []string{"context-qsh"}, fix: []string{"AP.request"},
			in: func(t *testing.T) explain.Input {
				c := claims{"iss": testClientKey, "sub": "557058:f1e2d3c4", "qsh": "context-qsh", "iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(14 * time.Minute).Unix(),
					"context": map[string]any{"jira": map[string]any{"issue": map[string]any{"id": "10001"}}}}
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/issue/10001", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "context_token_misused/forwarded iframe token", top: explain.ContextTokenMisused, minConf: 0.8, also: explain.JWTIssuerWrong,
			evidence: []string{"forwarded back to Jira"},
			in: func(t *testing.T) explain.Input {
				c := claims{"iss": testClientKey, "sub": "557058:f1e2d3c4", "qsh": connect.QSH("GET&/panel&xdm_e=https%3A%2F%2Facme.atlassian.net"), "iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(2 * time.Minute).Unix(),
					"context": map[string]any{}}
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "anonymous_request/redirected to login with a stale cookie", top: explain.AnonymousRequest, minConf: 0.7,
			evidence: []string{"login page"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/secure/Dashboard.jspa", Header: hdr("Cookie", "tenant.session.token=eyJraWQiOiJzZXNzaW9u")},
					Response: explain.Response{Status: 302, Header: jiraHeaders("Location", "https://id.atlassian.com/login?continue=https%3A%2F%2Facme.atlassian.net%2Fsecure%2FDashboard.jspa", "Content-Type", "text/html")}}
			}},
		{name: "credentials_rejected/Basic with trailing newline", top: explain.CredentialsRejected, minConf: 0.9,
			evidence: []string{"newline"}, fix: []string{"printf"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself",
					Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBleGFtcGxlCg==")},
					Response: jiraResp(401, anonBody, "X-Seraph-Loginreason", "AUTHENTICATED_FAILED")}
			}},
		{name: "service_account_site_url/well-formed API token refused by the site", top: explain.ServiceAccountSiteURL, minConf: 0.7, maxConf: 0.8, also: explain.CredentialsRejected,
			evidence: []string{"AUTHENTICATED_FAILED"}, fix: []string{"API token"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself",
					Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDFfcmV2b2tlZA==")},
					Response: jiraResp(401, anonBody, "X-Seraph-Loginreason", "AUTHENTICATED_FAILED")}
			}},
		{name: "credentials_rejected/generic API invalid_token", top: explain.CredentialsRejected, minConf: 0.7,
			evidence: []string{`error="invalid_token"`},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.example.com/v1/things", Header: hdr("Authorization", "Bearer mF_9.B5f-4.1JqM")},
					Response: explain.Response{Status: 401, Header: hdr("Www-Authenticate", `Bearer realm="example", error="invalid_token", error_description="The access token is invalid"`, "Content-Type", "application/json"),
						Body: []byte(`{"error":"invalid_token"}`)}}
			}},
		{name: "captcha_required/AUTHENTICATION_DENIED", top: explain.CaptchaRequired, minConf: 0.85,
			evidence: []string{"AUTHENTICATION_DENIED"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/2/issue/ABC-1",
					Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: jiraResp(403, "", "X-Seraph-Loginreason", "AUTHENTICATION_DENIED", "X-Authentication-Denied-Reason", "CAPTCHA_CHALLENGE; login-url=https://acme.atlassian.net/login.jsp", "Content-Type", "text/html;charset=UTF-8")}
			}},
		{name: "auth_method_not_supported/OAuth not enabled", top: explain.AuthMethodNotSupported, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/api/3/application-properties", Header: hdr("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")},
					Response: jiraResp(401, `{"errorMessages":["OAuth 2.0 is not enabled for this method."],"errors":{}}`)}
			}},
		// ---- scopes and permissions --------------------------------------
		{name: "scope_missing/app JWT DELETE with READ WRITE", top: explain.ScopeMissing, minConf: 0.85, verdict: "authorization",
			evidence: []string{"DELETE", "READ, WRITE"}, fix: []string{`"delete"`, "update the app"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.DeclaredScopes = scopes("READ WRITE")
				uri := "/rest/api/3/issue/ABC-1"
				return explain.Input{Request: appReq(t, "DELETE", uri, appClaims("DELETE", uri), testSecret),
					Response: jiraResp(403, ""), Context: ctx}
			}},
		{name: "scope_missing/Jira says not in an authorized API scope", top: explain.ScopeMissing, minConf: 0.9,
			evidence: []string{"Request not in an authorized API scope"},
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/3/issue"
				return explain.Input{Request: appReq(t, "POST", uri, appClaims("POST", uri), testSecret),
					Response: jiraResp(403, `{"errorMessages":["Request not in an authorized API scope"],"errors":{}}`), Context: appCtx()}
			}},
		{name: "scope_missing/declared but site not updated", top: explain.ScopeMissing, minConf: 0.8,
			evidence: []string{"installed version must be older"}, fix: []string{"update the app"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.DeclaredScopes = scopes("READ WRITE")
				uri := "/rest/api/3/issue"
				return explain.Input{Request: appReq(t, "POST", uri, appClaims("POST", uri), testSecret),
					Response: jiraResp(403, `{"errorMessages":["Request not in an authorized API scope"],"errors":{}}`), Context: ctx}
			}},
		{name: "token_scope_missing/RFC 6750 insufficient_scope", top: explain.TokenScopeMissing, minConf: 0.9, verdict: "authorization",
			evidence: []string{"insufficient_scope", "orders:write"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "POST", URL: "https://api.example.com/v1/orders", Header: hdr("Authorization", "Bearer 8xLOxBtZp8"), HasBody: true},
					Response: explain.Response{Status: 403, Header: hdr("Www-Authenticate", `Bearer realm="example", error="insufficient_scope", scope="orders:write"`)}}
			}},
		{name: "missing_scope_grants/gateway text without Forge context", top: explain.MissingScopeGrants, minConf: 0.8,
			evidence: []string{"missing scope grants"},
			in: func(t *testing.T) explain.Input {
				body := `{"errorMessages":["Access to the resource was denied due to missing scope grants. Your app was granted the following scopes: [].\nThe resource can be accessed by having one of these groups of scopes:\n * [read:jira-user]\n * [read:application-role:jira, read:group:jira, read:user:jira, read:avatar:jira]\n"]}`
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/api/3/myself", Header: hdr("Authorization", "Bearer eyJraWQiOiJmb3JnZS9zeXN0ZW0ifQ.e30.c2ln")},
					Response: jiraResp(403, body)}
			}},
		{name: "token_scope_missing/scope does not match on api.atlassian.com", top: explain.TokenScopeMissing, minConf: 0.85,
			fix: []string{"Jira Software"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789/rest/agile/1.0/board", Header: hdr("Authorization", "Bearer eyJraWQiOiIzbG8ifQ.e30.c2ln")},
					Response: explain.Response{Status: 401, Header: hdr("Content-Type", "application/json"), Body: []byte(`{"code":401,"message":"Unauthorized; scope does not match"}`)}}
			}},
		{name: "act_as_user_missing/exchange refused without ACT_AS_USER", top: explain.ActAsUserMissing, minConf: 0.8,
			fix: []string{`"act_as_user"`},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.Identity = explain.IdentityUser
				ctx.DeclaredScopes = scopes("READ WRITE")
				ctx.ExchangeErr = fmt.Errorf("user token: %w", &oauth.Error{StatusCode: 400, Code: "invalid_grant", Description: "Invalid grant", Server: "https://oauth-2-authorization-server.services.atlassian.com"})
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"}, Context: ctx}
			}},
		{name: "user_permission_missing/admin endpoint with API token", top: explain.UserPermissionMissing, minConf: 0.8, verdict: "authorization",
			evidence: []string{"Administrator privileges are required"}, fix: []string{"Administer Jira"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/settings/columns",
					Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: jiraResp(403, `{"errorMessages":["You are not authorized to perform this action. Administrator privileges are required."],"errors":{}}`, "X-Aaccountid", "5b10ac8d82e05b22cc7d4ef5")}
			}},
		{name: "app_permission_missing/app user cannot create issues", top: explain.AppPermissionMissing, minConf: 0.8,
			evidence: []string{"You do not have permission to create issues"}, fix: []string{"app's user"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.DeclaredScopes = scopes("READ WRITE")
				uri := "/rest/api/3/issue"
				return explain.Input{Request: appReq(t, "POST", uri, appClaims("POST", uri), testSecret),
					Response: jiraResp(403, `{"errorMessages":["You do not have permission to create issues in this project."],"errors":{}}`, "X-Aaccountid", "557058:app-user-id"), Context: ctx}
			}},
		{name: "user_inactive_or_unknown/exchange refused for the user", top: explain.UserInactiveOrUnknown, minConf: 0.75,
			evidence: []string{"invalid_grant"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.Identity = explain.IdentityUser
				ctx.DeclaredScopes = scopes("READ ACT_AS_USER")
				ctx.ExchangeErr = &oauth.Error{StatusCode: 400, Code: "invalid_grant", Description: "The user account is deactivated or does not exist", Server: "https://oauth-2-authorization-server.services.atlassian.com"}
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"}, Context: ctx}
			}},
		{name: "tenant_uninstalled/app record says uninstalled", top: explain.TenantUninstalled, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.TenantState = "uninstalled"
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", appClaims("GET", "/rest/api/3/myself"), testSecret),
					Response: jiraResp(401, ""), Context: ctx}
			}},
		{name: "token_exchange_failed/assertion lifetime too long", top: explain.TokenExchangeFailed, minConf: 0.9,
			evidence: []string{"too far in the future"}, fix: []string{"60 s"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.Identity = explain.IdentityUser
				ctx.DeclaredScopes = scopes("READ ACT_AS_USER")
				// The user's own exchanger (not ours, whose assertions
				// live 50 s) signed a 135 s assertion.
				ctx.ExchangeErr = errors.New("oauth2: invalid_grant: Expiration timestamp too far in the future [was 135 seconds from now; please set `exp` to no more than 60 seconds after issue time]")
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"}, Context: ctx}
			}},
		{name: "token_not_yet_valid/our assertion judged too far ahead: clock skew", top: explain.TokenNotYetValid, minConf: 0.9,
			evidence: []string{"runs about"}, fix: []string{"NTP"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.Identity = explain.IdentityUser
				ctx.DeclaredScopes = scopes("READ ACT_AS_USER")
				// Our exchanger's assertions live 50 s: 75 s means a 25 s skew.
				ctx.ExchangeErr = &oauth.Error{StatusCode: 400, Code: "invalid_grant", Description: "Expiration timestamp too far in the future [was 75 seconds from now; please set `exp` to no more than 60 seconds after issue time]", Server: "https://oauth-2-authorization-server.services.atlassian.com"}
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"}, Context: ctx}
			}},
		{name: "token_exchange_failed/unauthorized_client at the 3LO server", top: explain.TokenExchangeFailed, minConf: 0.9,
			fix: []string{"oauth-2-authorization-server"},
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.Identity = explain.IdentityUser
				ctx.ExchangeErr = &oauth.Error{StatusCode: 401, Code: "unauthorized_client", Description: "The authenticated client is not authorized to use this authorization grant type", Server: "https://auth.atlassian.io"}
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"}, Context: ctx}
			}},
		{name: "xsrf_check_failed/attachment upload", top: explain.XSRFCheckFailed, minConf: 0.9,
			fix: []string{"X-Atlassian-Token: no-check"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "POST", URL: testBase + "/rest/api/3/issue/ABC-1/attachments", HasBody: true,
					Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=", "Content-Type", "multipart/form-data; boundary=x")},
					Response: explain.Response{Status: 403, Header: jiraHeaders("Content-Type", "text/plain"), Body: []byte("XSRF check failed")}}
			}},
		{name: "endpoint_inaccessible_to_connect/app JWT on settings/columns", top: explain.EndpointInaccessibleToConnect, minConf: 0.9,
			evidence: []string{"INACCESSIBLE"},
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/3/settings/columns"
				ctx := appCtx()
				ctx.DeclaredScopes = scopes("READ WRITE DELETE PROJECT_ADMIN ADMIN")
				return explain.Input{Request: appReq(t, "GET", uri, appClaims("GET", uri), testSecret), Response: jiraResp(403, ""), Context: ctx}
			}},
		// ---- request shape and routing -----------------------------------
		{name: "get_with_body/search with a JSON body", top: explain.GetWithBody, minConf: 0.85,
			fix: []string{"POST /rest/api/3/search/jql"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/2/search", HasBody: true,
					Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=", "Content-Type", "application/json")},
					Response: jiraResp(403, "", "Content-Type", "text/html;charset=UTF-8", "X-Seraph-Loginreason", "AUTHENTICATED_FAILED")}
			}},
		{name: "wrong_host/api.atlassian.com without /ex/jira", top: explain.WrongHost, minConf: 0.9, verdict: "not_found",
			fix: []string{"/ex/jira/<cloudId>"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.atlassian.com/rest/api/3/myself", Header: hdr("Authorization", "Bearer eyJraWQiOiIzbG8ifQ.e30.c2ln")},
					Response: explain.Response{Status: 404, Header: hdr("Content-Type", "application/json", "Atl-Traceid", "abc"), Body: []byte(`{"code":404,"message":"Not Found"}`)}}
			}},
		{name: "wrong_host/displayUrl used for REST", top: explain.WrongHost, minConf: 0.75,
			evidence: []string{"jira.acme.com", "acme.atlassian.net"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://jira.acme.com/rest/api/3/myself", Header: hdr("Authorization", "JWT "+mint(t, appClaims("GET", "/rest/api/3/myself"), testSecret))},
					Response: explain.Response{Status: 404, Header: hdr("Content-Type", "text/html", "Server", "nginx"), Body: []byte("<html><head><title>404 Not Found</title></head><body>not found</body></html>")}, Context: appCtx()}
			}},
		{name: "wrong_host/site does not exist", top: explain.WrongHost, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://acmee.atlassian.net/rest/api/3/myself", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: explain.Response{Status: 404, Header: hdr("Content-Type", "text/html; charset=utf-8", "Server", "AtlassianEdge"),
						Body: []byte(`<!DOCTYPE html><html><head><title>Atlassian Cloud</title></head><body><h1>Your Atlassian Cloud site is currently unavailable.</h1></body></html>`)}}
			}},
		{name: "wrong_host/DNS failure", top: explain.WrongHost, minConf: 0.8, verdict: "network",
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://acme.atlasian.net/rest/api/3/myself"},
					Context: explain.Context{NetworkErr: &net.DNSError{Err: "no such host", Name: "acme.atlasian.net", IsNotFound: true}}}
			}},
		{name: "redirect_dropped_auth/http to https", top: explain.RedirectDroppedAuth, minConf: 0.7,
			evidence: []string{"redirected (301"},
			in: func(t *testing.T) explain.Input {
				resp := jiraResp(401, anonBody)
				resp.Redirects = []explain.Redirect{{Status: 301, Location: "https://acme.atlassian.net/rest/api/3/myself"}}
				return explain.Input{Request: explain.Request{Method: "GET", URL: "http://acme.atlassian.net/rest/api/3/myself", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: resp}
			}},
		{name: "endpoint_unknown/typo in the path", top: explain.EndpointUnknown, minConf: 0.7, verdict: "not_found",
			evidence: []string{"matches no operation"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/issues/ABC-1", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: jiraResp(404, `{"errorMessages":["null for uri: https://acme.atlassian.net/rest/api/3/issues/ABC-1"]}`)}
			}},
		{name: "endpoint_deprecated/search removed with 410", top: explain.EndpointDeprecated, minConf: 0.9,
			fix: []string{"/rest/api/3/search/jql"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/search?jql=project%3DABC", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: jiraResp(410, `{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],"errors":{}}`)}
			}},
		// ---- between the caller and the API ------------------------------
		{name: "firewall_block/Cloudflare attention required", top: explain.FirewallBlock, minConf: 0.85, maxConf: 0.97,
			evidence: []string{"Cf-Ray", "Cloudflare block page"},
			in: func(t *testing.T) explain.Input {
				body := `<!DOCTYPE html><html lang="en-US"><head><title>Attention Required! | Cloudflare</title></head><body><h1>Sorry, you have been blocked</h1><p>You are unable to access acme-proxy.example.com</p><span>Cloudflare Ray ID: <strong>7d2f1c0a9b8e7f6d</strong></span></body></html>`
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://acme-proxy.example.com/rest/api/3/myself", Header: hdr("Authorization", "JWT "+mint(t, appClaims("GET", "/rest/api/3/myself"), testSecret))},
					Response: explain.Response{Status: 403, Header: hdr("Server", "cloudflare", "Cf-Ray", "7d2f1c0a9b8e7f6d-FRA", "Content-Type", "text/html; charset=UTF-8"), Body: []byte(body)}}
			}},
		{name: "firewall_block/AWS WAF via CloudFront", top: explain.FirewallBlock, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				body := `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY><H1>403 ERROR</H1><H2>The request could not be satisfied.</H2><HR noshade size="1px">Request blocked.<BR clear="all">Generated by cloudfront (CloudFront)<BR clear="all">Request ID: 3x4mpl3-Id==</BODY></HTML>`
				return explain.Input{Request: explain.Request{Method: "POST", URL: "https://app.example.com/api/jira-webhook", HasBody: true},
					Response: explain.Response{Status: 403, Header: hdr("Server", "CloudFront", "X-Amz-Cf-Id", "3x4mpl3-Id==", "X-Cache", "Error from cloudfront", "Content-Type", "text/html"), Body: []byte(body)}}
			}},
		{name: "firewall_block/Akamai access denied", top: explain.FirewallBlock, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				body := `<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have permission to access "http&#58;&#47;&#47;jira&#46;corp&#46;example&#46;com&#47;rest&#47;api&#47;2&#47;myself" on this server.<P>Reference&#32;&#35;18&#46;5f1d3b17&#46;1700000000&#46;2a3b4c5d</BODY></HTML>`
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://jira.corp.example.com/rest/api/2/myself", Header: hdr("Authorization", "Bearer NjE2NDM4NzE2MzE0OkRhdGFDZW50ZXJQQVQ=")},
					Response: explain.Response{Status: 403, Header: hdr("Server", "AkamaiGHost", "Mime-Version", "1.0", "Content-Type", "text/html"), Body: []byte(body)}}
			}},
		{name: "proxy_auth_required/corporate proxy wants credentials", top: explain.ProxyAuthRequired, minConf: 0.85, verdict: "authentication",
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"},
					Response: explain.Response{Status: 407, Header: hdr("Proxy-Authenticate", `Basic realm="corp-proxy"`, "Server", "squid/5.7", "X-Squid-Error", "ERR_CACHE_ACCESS_DENIED 0")}}
			}},
		{name: "ip_allowlist_block/IP not allowed", top: explain.IPAllowlistBlock, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: jiraResp(403, `{"errorMessages":["Your IP address is not allowed to access this site. Contact your organization admin."]}`)}
			}},
		{name: "cached_response/stale 401 from CloudFront", top: explain.CachedResponse, minConf: 0.8,
			evidence: []string{"X-Cache: Hit from cloudfront", "Age: 1834"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.example.com/v1/profile", Header: hdr("Authorization", "Bearer 0b79bab50daca910b000d4f1a2b675d604257e42")},
					Response: explain.Response{Status: 401, Header: hdr("Age", "1834", "X-Cache", "Hit from cloudfront", "Via", "1.1 7e3b9b4f.cloudfront.net (CloudFront)", "Content-Type", "application/json"),
						Body: []byte(`{"message":"Unauthorized"}`)}}
			}},
		{name: "rate_limited/429 with Retry-After", top: explain.RateLimited, minConf: 0.9, verdict: "rate_limited",
			evidence: []string{"Retry-After: 30"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", appClaims("GET", "/rest/api/3/myself"), testSecret),
					Response: jiraResp(429, `{"errorMessages":["Rate limit exceeded."]}`, "Retry-After", "30", "X-Ratelimit-Limit", "350", "X-Ratelimit-Remaining", "0", "Ratelimit-Reason", "jira-burst-based"), Context: appCtx()}
			}},
		{name: "server_error/502 from a proxy", top: explain.ServerError, minConf: 0.8, verdict: "server",
			fix: []string{"gateway"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://jira-proxy.example.com/rest/api/3/myself"},
					Response: explain.Response{Status: 502, Header: hdr("Server", "nginx/1.25.3", "Content-Type", "text/html"), Body: []byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.25.3</center></body></html>")}}
			}},
		{name: "network_error/connection refused", top: explain.NetworkError, minConf: 0.8, verdict: "network",
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://localhost:8443/rest/api/3/myself"},
					Context: explain.Context{NetworkErr: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}}
			}},
		{name: "html_error_page/nginx 403 page", top: explain.HTMLErrorPage, minConf: 0.5, maxConf: 0.8,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://jira-proxy.example.com/rest/api/3/myself", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: explain.Response{Status: 403, Header: hdr("Server", "nginx", "Content-Type", "text/html"), Body: []byte("<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>")}}
			}},
		{name: "refresh_token_invalid/3LO refresh token rotated", top: explain.RefreshTokenInvalid, minConf: 0.85,
			fix: []string{"store the new refresh_token"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "POST", URL: "https://auth.atlassian.com/oauth/token", HasBody: true, Header: hdr("Content-Type", "application/json")},
					Response: explain.Response{Status: 403, Header: hdr("Content-Type", "application/json"), Body: []byte(`{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`)}}
			}},
		{name: "network_error/browser CORS", top: explain.NetworkError, minConf: 0.8,
			fix: []string{"AP.request()"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself"},
					Context: explain.Context{NetworkErr: errors.New("TypeError: Failed to fetch (blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present)")}}
			}},
		{name: "ip_allowlist_block/proxy names an IP restriction", top: explain.IPAllowlistBlock, minConf: 0.75,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")},
					Response: jiraResp(403, `{"message":"Request from IP 203.0.113.7 is blocked by the organization's access policy"}`)}
			}},
		{name: "credentials_rejected/password instead of API token", top: explain.CredentialsRejected, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/2/myself", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpodW50ZXIy")},
					Response: jiraResp(401, "Basic authentication with passwords is deprecated.  For more information, see: https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/", "Content-Type", "text/plain")}
			}},
		{name: "token_expired/seconds ago is less certain", top: explain.TokenExpired, minConf: 0.7, maxConf: 0.9,
			evidence: []string{"little or no leeway"},
			in: func(t *testing.T) explain.Input {
				c := with(appClaims("GET", "/rest/api/3/myself"), "iat", testNow.Add(-3*time.Minute).Unix(), "exp", testNow.Add(-5*time.Second).Unix())
				return explain.Input{Request: appReq(t, "GET", "/rest/api/3/myself", c, testSecret), Response: jiraResp(401, ""), Context: appCtx()}
			}},
		{name: "fallback/bare 401 stays low", top: explain.CredentialsRejected, maxConf: 0.5,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: "https://api.example.com/v1/x", Header: hdr("Authorization", "Bearer abcdefghijklmnop")},
					Response: explain.Response{Status: 401}}
			}},
	}, append(forgeCauseCases(), serviceCauseCases()...)...)
}

func TestCauses(t *testing.T) {
	for _, tc := range causeCases() {
		t.Run(tc.name, func(t *testing.T) {
			d := engine.Diagnose(tc.in(t))
			top, ok := d.Top()
			if !ok {
				t.Fatalf("no causes\n%s", dump(d))
			}
			if top.Code != tc.top {
				t.Fatalf("top cause %s, want %s\n%s", top.Code, tc.top, dump(d))
			}
			if top.Confidence < tc.minConf || (tc.maxConf > 0 && top.Confidence > tc.maxConf) {
				t.Errorf("confidence %.2f outside [%.2f, %.2f]\n%s", top.Confidence, tc.minConf, tc.maxConf, dump(d))
			}
			for _, e := range tc.evidence {
				if !evidenceHas(top, e) {
					t.Errorf("evidence lacks %q: %q", e, top.Evidence)
				}
			}
			for _, f := range tc.fix {
				if !strings.Contains(top.Fix, f) {
					t.Errorf("fix lacks %q: %q", f, top.Fix)
				}
			}
			if top.Fix == "" {
				t.Errorf("top cause has no fix")
			}
			if tc.verdict != "" && d.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s", d.Verdict, tc.verdict)
			}
			if tc.also != "" {
				if _, i := findCause(d, tc.also); i < 0 {
					t.Errorf("cause %s missing\n%s", tc.also, dump(d))
				}
			}
			for i := 1; i < len(d.Causes); i++ {
				if d.Causes[i].Confidence > d.Causes[i-1].Confidence {
					t.Errorf("causes not ranked: %v", d.Causes)
				}
			}
		})
	}
}

// TestEveryCodeHasACase keeps the table honest: every documented code is
// the leading cause of at least one case.
func TestEveryCodeHasACase(t *testing.T) {
	tops := map[string]bool{}
	for _, tc := range causeCases() {
		tops[tc.top] = true
		if tc.also != "" {
			tops[tc.also] = true
		}
	}
	for _, c := range explain.Codes() {
		if !tops[c.Code] {
			t.Errorf("no test case for cause code %s", c.Code)
		}
		if c.Title == "" || c.Description == "" || c.Class == "" {
			t.Errorf("code %s is not documented", c.Code)
		}
	}
}
