package explain_test

import (
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
)

// serviceCauseCases cover the causes identity providers, gateways,
// intermediaries and other services produce, with their own literal error
// texts (the rule files name the sources).
func serviceCauseCases() []causeCase {
	resp := func(status int, body string, kv ...string) explain.Response {
		return explain.Response{Status: status, Header: hdr(append([]string{"Content-Type", "application/json"}, kv...)...), Body: []byte(body)}
	}
	req := func(method, url string, kv ...string) explain.Request {
		return explain.Request{Method: method, URL: url, Header: hdr(kv...)}
	}
	in := func(r explain.Request, s explain.Response) func(t *testing.T) explain.Input {
		return func(*testing.T) explain.Input { return explain.Input{Request: r, Response: s} }
	}
	return []causeCase{
		{name: "token_audience_wrong/ASP.NET API refuses the audience", top: explain.TokenAudienceWrong, minConf: 0.8, evidence: []string{"audience"},
			in: in(req("GET", "https://api.example.com/orders", "Authorization", "Bearer opaque-aaa.bbb.ccc"),
				resp(401, "", "Www-Authenticate", `Bearer error="invalid_token", error_description="The audience 'api://other' is invalid"`))},
		{name: "token_type_wrong/Google wants an OAuth access token", top: explain.TokenTypeWrong, minConf: 0.8,
			in: in(req("GET", "https://www.googleapis.com/drive/v3/files", "Authorization", "Bearer AIzaSyExampleKey"),
				resp(401, `{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}}`))},
		{name: "sso_authorization_required/GitHub SAML enforcement", top: explain.SSOAuthorizationRequired, minConf: 0.8, fix: []string{"SSO"},
			in: in(req("GET", "https://api.github.com/orgs/acme/repos", "Authorization", "token ghp_example"),
				resp(403, `{"message":"Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization."}`, "X-Github-Sso", "required; url=https://github.com/orgs/acme/sso?authorization_request=x", "X-Github-Request-Id", "1:2:3"))},
		{name: "auth_header_stripped/DRF behind Apache sees no credentials", top: explain.AuthHeaderStripped, minConf: 0.8, fix: []string{"WSGIPassAuthorization"},
			in: in(req("GET", "https://apps.example.com/api/projects/", "Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"),
				resp(401, `{"detail":"Authentication credentials were not provided."}`, "Server", "Apache/2.4.58"))},
		{name: "api_not_enabled/Google SERVICE_DISABLED", top: explain.APINotEnabled, minConf: 0.8,
			in: in(req("GET", "https://sheets.googleapis.com/v4/spreadsheets/x", "Authorization", "Bearer ya29.example"),
				resp(403, `{"error":{"code":403,"message":"Google Sheets API has not been used in project 1234 before or it is disabled.","status":"PERMISSION_DENIED","details":[{"reason":"SERVICE_DISABLED"}]}}`))},
		{name: "request_time_skew/AWS signature expired", top: explain.RequestTimeSkew, minConf: 0.8, fix: []string{"NTP"},
			in: in(req("POST", "https://sqs.us-east-1.amazonaws.com/", "Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261201/us-east-1/sqs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"),
				resp(403, `{"message":"Signature expired: 20261201T064107Z is now earlier than 20261201T064337Z (20261201T064837Z - 5 min.)"}`, "X-Amzn-Requestid", "r-1"))},
		{name: "csrf_check_failed/Django CSRF verification failed", top: explain.CSRFCheckFailed, minConf: 0.8,
			in: in(req("POST", "https://app.example.com/api/items/", "Cookie", "sessionid=abc"),
				explain.Response{Status: 403, Header: hdr("Content-Type", "text/html"), Body: []byte(`<html><head><title>403 Forbidden</title></head><body><h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p></body></html>`)})},
		{name: "account_locked/Okta user locked", top: explain.AccountLocked, minConf: 0.8,
			in: in(req("POST", "https://acme.okta.com/api/v1/authn"),
				resp(401, `{"errorCode":"E0000069","errorSummary":"User Locked","errorLink":"E0000069","errorId":"oae1"}`))},
		{name: "mfa_required/Entra ID conditional access", top: explain.MFARequired, minConf: 0.8,
			in: in(req("POST", "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"),
				resp(400, `{"error":"invalid_grant","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access 'api'.","error_codes":[50076]}`))},
		{name: "consent_required/Entra ID AADSTS65001", top: explain.ConsentRequired, minConf: 0.8,
			in: in(req("POST", "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"),
				resp(400, `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented to use the application.","suberror":"consent_required"}`))},
		{name: "oauth_client_unknown/Entra ID AADSTS700016", top: explain.OAuthClientUnknown, minConf: 0.8,
			in: in(req("POST", "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"),
				resp(400, `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory 'Contoso'."}`))},
		{name: "org_api_key_required/personal token on the Admin API", top: explain.OrgAPIKeyRequired, minConf: 0.8,
			in: in(req("GET", "https://api.atlassian.com/admin/v1/orgs", "Authorization", "Bearer ATATTpersonal"),
				resp(401, `{"code":401,"message":"An API key is required to access the organization API"}`))},
		{name: "wiki_prefix_missing/Confluence path without /wiki", top: explain.WikiPrefixMissing, minConf: 0.7, fix: []string{"/wiki/rest/api/content"},
			in: in(req("GET", testBase+"/rest/api/content/12345", "Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE="),
				jiraResp(404, `{"message":"null for uri: https://acme.atlassian.net/rest/api/content/12345","status-code":404}`))},
		{name: "ip_allowlist_block/Atlassian allowed list", top: explain.IPAllowlistBlock, minConf: 0.8,
			in: in(req("GET", testBase+"/rest/api/3/myself", "Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE="),
				jiraResp(403, `{"errorMessages":["The IP address has been rejected because it is not on the allowedlist. See your admin for more information."],"errors":{}}`))},
	}
}

// TestNoFailureCauseOn2xx: a success whose body mentions a failure word is
// still a success (issue 14's "IP allowlist" issue summary).
func TestNoFailureCauseOn2xx(t *testing.T) {
	for _, body := range []string{
		`{"key":"OPS-1","fields":{"summary":"IP allowlist blocks the nightly export"}}`,
		`{"issues":[{"fields":{"summary":"401 Unauthorized: token expired, missing scope grants"}}]}`,
	} {
		d := engine.Diagnose(explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/issue/OPS-1", Header: hdr("Authorization", "Basic amFuZUBhY21lLmNvbTpBVEFUVDN4RmZHRjBUOW0ya3FZYjdaeDE=")}, Response: jiraResp(200, body)})
		for _, c := range d.Causes {
			if explain.IsFailureCause(c.Code) {
				t.Errorf("200 diagnosed as %s\n%s", c.Code, dump(d))
			}
		}
		if d.Verdict != explain.VerdictOK {
			t.Errorf("verdict %s", d.Verdict)
		}
	}
}

// TestResponseOnlyNeverClaimsNoCredentials: a pasted curl -i tells nothing
// about the request.
func TestResponseOnlyNeverClaimsNoCredentials(t *testing.T) {
	d := engine.Diagnose(explain.Input{Response: jiraResp(401, anonBody), Context: explain.Context{ResponseOnly: true}})
	if _, i := findCause(d, explain.AuthHeaderMissing); i >= 0 {
		t.Fatalf("response-only input claims no credentials were sent\n%s", dump(d))
	}
	found := false
	for _, n := range d.Notes {
		if strings.Contains(n, "curl -v") {
			found = true
		}
	}
	if !found {
		t.Errorf("no note saying what the request would tell: %q", d.Notes)
	}
}
