package explain_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/oauth"
)

// TestSimulatorFindings pins the engine fixes found by the end-to-end
// suite (explain/e2e): each case is the shape of an exchange the
// Jira simulator produced on which the engine used to rank another cause
// first.
func TestSimulatorFindings(t *testing.T) {
	const server = "https://oauth-2-authorization-server.services.atlassian.com"
	userCtx := func(declared string) explain.Context {
		c := appCtx()
		c.Identity = explain.IdentityUser
		c.DeclaredScopes = scopes(declared)
		return c
	}
	exchange := func(ctx explain.Context, err error) explain.Input {
		ctx.ExchangeErr = err
		return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: http.Header{}}, Context: ctx}
	}
	unauthorized := `{"message":"Unauthorized","status-code":401}`
	scopeText := `{"message":"Request not in an authorized API scope","status-code":403}`
	for _, tc := range []struct {
		name     string
		in       func(t *testing.T) explain.Input
		top      string
		not      string // a cause that must not be listed at all
		evidence string
	}{
		{name: "another port of the tenant's host", top: explain.WrongHost, evidence: "port 8081",
			in: func(t *testing.T) explain.Input {
				ctx := appCtx()
				ctx.TenantBaseURL = "http://127.0.0.1:41234"
				uri := "/rest/api/3/myself"
				return explain.Input{Request: explain.Request{Method: "GET", URL: "http://127.0.0.1:8081" + uri, Header: hdr("Authorization", "JWT "+mint(t, appClaims("GET", uri), testSecret))},
					Response: explain.Response{Status: 404, Header: hdr("Content-Type", "text/plain; charset=utf-8"), Body: []byte("404 page not found\n")}, Context: ctx}
			}},
		{name: "http and https on the default ports is not another server", top: explain.RedirectDroppedAuth, not: explain.WrongHost,
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/3/myself"
				return explain.Input{Request: explain.Request{Method: "GET", URL: "http://acme.atlassian.net" + uri, Header: hdr("Authorization", "JWT "+mint(t, appClaims("GET", uri), testSecret))},
					Response: explain.Response{Status: 401, Redirects: []explain.Redirect{{Status: 301, Location: "https://acme.atlassian.net" + uri}}}, Context: appCtx()}
			}},
		{name: "JWT truncated inside its payload", top: explain.TokenMalformed, not: explain.QSHMissing, evidence: "payload does not",
			in: func(t *testing.T) explain.Input {
				tok := mint(t, appClaims("GET", "/rest/api/3/myself"), testSecret)
				dot := strings.IndexByte(tok, '.')
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "JWT "+tok[:dot+20]+"."+tok[len(tok)-10:])},
					Response: jiraResp(401, unauthorized), Context: appCtx()}
			}},
		{name: "scope text on an INACCESSIBLE operation", top: explain.EndpointInaccessibleToConnect, evidence: "Request not in an authorized API scope",
			in: func(t *testing.T) explain.Input {
				uri := "/rest/api/2/settings/columns"
				ctx := appCtx()
				ctx.DeclaredScopes = scopes("READ ADMIN")
				return explain.Input{Request: appReq(t, "GET", uri, appClaims("GET", uri), testSecret), Response: jiraResp(403, scopeText), Context: ctx}
			}},
		{name: "user token narrowed below the app's scopes gets 401", top: explain.TokenScopeMissing, evidence: "narrowed",
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/2/permissions", Header: hdr("Authorization", "Bearer opaque-user-access-token")},
					Response: jiraResp(401, unauthorized), Context: userCtx("READ ADMIN ACT_AS_USER")}
			}},
		{name: "user token gets the scope text as 403", top: explain.TokenScopeMissing,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/2/permissions", Header: hdr("Authorization", "Bearer opaque-user-access-token")},
					Response: jiraResp(403, scopeText), Context: userCtx("READ ACT_AS_USER")}
			}},
		{name: "unauthorized_client for an app without ACT_AS_USER", top: explain.ActAsUserMissing, not: explain.AuthHeaderMissing, evidence: "lack ACT_AS_USER",
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ"), &oauth.Error{StatusCode: 400, Code: "unauthorized_client", Description: "The authenticated client is not authorized to use this authorization grant type", Server: server})
			}},
		{name: "exchange refused: app disabled on the site", top: explain.TenantUninstalled,
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ ACT_AS_USER"), &oauth.Error{StatusCode: 400, Code: "unauthorized_client", Description: "The app is disabled on this site", Server: server})
			}},
		{name: "exchange refused: no installed app has the oauthClientId", top: explain.TenantUninstalled,
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ ACT_AS_USER"), &oauth.Error{StatusCode: 401, Code: "invalid_client", Description: "Unknown client: no installed app has this oauthClientId", Server: server})
			}},
		{name: "exchange stopped locally: the app's record says disabled", top: explain.TenantUninstalled,
			in: func(t *testing.T) explain.Input {
				ctx := userCtx("READ ACT_AS_USER")
				ctx.TenantState = "disabled"
				return exchange(ctx, errors.New("oauth: tenant is not installed and enabled"))
			}},
		{name: "our assertion 650 s in the future: clock ahead", top: explain.TokenNotYetValid, evidence: "ahead",
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ ACT_AS_USER"), &oauth.Error{StatusCode: 400, Code: "invalid_grant", Server: server,
					Description: "Expiration timestamp too far in the future [was 650 seconds from now; please set `exp` to no more than 60 seconds after issue time]"})
			}},
		{name: "someone else's assertion 650 s in the future: lifetime", top: explain.TokenExchangeFailed,
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ ACT_AS_USER"), fmt.Errorf("exchange: invalid_grant: Expiration timestamp too far in the future [was 650 seconds from now; please set `exp` to no more than 60 seconds after issue time]"))
			}},
		{name: "our fresh assertion found expired: clock behind", top: explain.TokenExpired, evidence: "runs behind",
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ ACT_AS_USER"), &oauth.Error{StatusCode: 400, Code: "invalid_grant", Description: "Assertion has expired", Server: server})
			}},
		{name: "token server unreachable", top: explain.TokenExchangeFailed, evidence: "could not reach",
			in: func(t *testing.T) explain.Input {
				return exchange(userCtx("READ ACT_AS_USER"), &oauth.Error{Server: server, Err: errors.New("EOF")})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := engine.Diagnose(tc.in(t))
			top, ok := d.Top()
			if !ok || top.Code != tc.top {
				t.Fatalf("top cause %q, want %q\n%s", top.Code, tc.top, dump(d))
			}
			if tc.evidence != "" && !evidenceHas(top, tc.evidence) {
				t.Errorf("evidence lacks %q: %q", tc.evidence, top.Evidence)
			}
			if tc.not != "" {
				if _, i := findCause(d, tc.not); i >= 0 {
					t.Errorf("cause %s listed\n%s", tc.not, dump(d))
				}
			}
		})
	}
}
