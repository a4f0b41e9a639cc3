package e2e_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// e2eCase drives one failure through the simulator. run performs the real
// exchange and returns it with the context the admin panel or the CLI
// would have; want is the true cause.
type e2eCase struct {
	name string
	want string
	// tokenScopes is the narrowing of the user token, for the panel's
	// preflight (nil = the app's scopes).
	tokenScopes scope.Set
	// alt runs the case on the site with the simulator's alternative
	// behaviours (see altOptions).
	alt bool
	run func(t *testing.T, f *fixture) explain.Input
}

// altOptions switch on the simulator's alternatives for behaviour the
// protocol notes do not confirm: 403 (not 401) for a user token lacking a
// scope, 404 for an issue the user may not see, and app bot users without
// Administer Jira.
var altOptions = jirasim.Options{UserTokenScopeDenialStatus: http.StatusForbidden, HideForbiddenIssues: true, AppUsersNotAdmin: true}

// appCall sends a correctly signed app request (JWT) for method and relURL.
func appCall(t *testing.T, f *fixture, key, method, relURL string) (explain.Input, error) {
	a := f.app(key)
	req := f.request(t, method, relURL, nil)
	req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, method, relURL))
	ereq, eresp, err := f.send(t, req)
	return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}, err
}

// signedCall sends relURL with a hand-signed app JWT.
func signedCall(t *testing.T, f *fixture, key, method, relURL, secret string, claims jwt.MapClaims) explain.Input {
	a := f.app(key)
	req := f.request(t, method, relURL, nil)
	req.Header.Set("Authorization", "JWT "+sign(t, secret, claims))
	ereq, eresp, err := f.send(t, req)
	mustStatus(t, eresp, err, http.StatusUnauthorized)
	return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
}

// userCall sends relURL with a real user token of key's app for the user
// playing role.
func userCall(t *testing.T, f *fixture, key, role, method, relURL string, scopes scope.Set) (explain.Input, error) {
	a := f.app(key)
	tok, err := f.userToken(t, a, f.sim.User(role).AccountID, scopes)
	if err != nil {
		t.Fatalf("user token: %v", err)
	}
	req := f.request(t, method, relURL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	ereq, eresp, err := f.send(t, req)
	return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityUser)}, err
}

// exchangeFailure tries to get a user token and returns what the admin
// panel has when the exchange fails: the Jira call it meant to make, no
// response, and the exchange error.
func exchangeFailure(t *testing.T, f *fixture, key, accountID, relURL, code string) explain.Input {
	a := f.app(key)
	// The app tries whatever its record says, so that the simulator
	// answers (a record marked disabled or uninstalled stops the
	// exchanger before it sends anything).
	ten := f.tenant(a)
	ten.State = tenant.StateInstalled
	_, err := f.exchanger().Exchange(t.Context(), ten, accountID, nil)
	mustFail(t, err)
	if code != "" {
		mustOAuthError(t, err, code)
	}
	ctx := f.context(a, explain.IdentityUser)
	ctx.ExchangeErr = err
	return explain.Input{Request: explain.Request{Method: "GET", URL: f.sim.URL() + relURL, Header: http.Header{}}, Context: ctx}
}

const myself = "/rest/api/3/myself"

func cases() []e2eCase {
	return []e2eCase{
		// ---- credentials and their format
		{name: "no Authorization header", want: explain.AuthHeaderMissing, run: func(t *testing.T, f *fixture) explain.Input {
			ereq, eresp, err := f.send(t, f.request(t, "GET", myself, nil))
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(f.app(appBasic), explain.IdentityApp)}
		}},
		{name: "no Authorization header, Accept text/html", want: explain.AuthHeaderMissing, run: func(t *testing.T, f *fixture) explain.Input {
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Accept", "text/html")
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(f.app(appBasic), explain.IdentityApp)}
		}},
		{name: "user token of another site (Jira treats the call as anonymous)", want: explain.AnonymousRequest, run: func(t *testing.T, f *fixture) explain.Input {
			other := newFixtureSite(t)
			tok, err := other.userToken(t, other.app(appBasic), other.sim.User("user").AccountID, nil)
			if err != nil {
				t.Fatal(err)
			}
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(f.app(appBasic), explain.IdentityUser)}
		}},
		{name: "Connect JWT sent as Bearer", want: explain.AuthSchemeInvalid, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "Bearer "+f.appJWT(t, a, "GET", myself))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "Connect JWT with lower-case scheme", want: explain.AuthSchemeInvalid, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "jwt "+f.appJWT(t, a, "GET", myself))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "Connect JWT without scheme", want: explain.AuthSchemeInvalid, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", f.appJWT(t, a, "GET", myself))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "token malformed (not a JWT)", want: explain.TokenMalformed, run: func(t *testing.T, f *fixture) explain.Input {
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "JWT not-a-token")
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(f.app(appBasic), explain.IdentityApp)}
		}},
		{name: "token malformed (truncated when copied)", want: explain.TokenMalformed, run: func(t *testing.T, f *fixture) explain.Input {
			tok := f.appJWT(t, f.app(appBasic), "GET", myself)
			dot := strings.IndexByte(tok, '.')
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "JWT "+tok[:dot+20]+"."+tok[len(tok)-10:])
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(f.app(appBasic), explain.IdentityApp)}
		}},
		{name: "token expired", want: explain.TokenExpired, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["iat"], c["exp"] = f.now.Add(-10*time.Minute).Unix(), f.now.Add(-7*time.Minute).Unix()
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "token from the future (nbf ahead, minting clock fast)", want: explain.TokenNotYetValid, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["iat"], c["nbf"], c["exp"] = f.now.Add(10*time.Minute).Unix(), f.now.Add(10*time.Minute).Unix(), f.now.Add(13*time.Minute).Unix()
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "site clock 10 min ahead of the signer (clock-skew fault)", want: explain.TokenExpired, run: func(t *testing.T, f *fixture) explain.Input {
			const skew = 10 * time.Minute
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.ClockSkew, Skew: skew, AppKey: appBasic})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 401)
			// The diagnosis runs on a machine in sync with Jira; the
			// machine that minted the token is behind.
			in.Context.Now = f.now.Add(skew)
			return in
		}},
		{name: "site clock 10 min behind the signer: user token exchange (clock-skew fault)", want: explain.TokenNotYetValid, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.ClockSkew, Skew: -10 * time.Minute, AppKey: appBasic})
			in := exchangeFailure(t, f, appBasic, f.sim.User("user").AccountID, myself, "invalid_grant")
			in.Context.Now = f.now.Add(-10 * time.Minute)
			return in
		}},
		{name: "iss is the clientKey", want: explain.JWTIssuerWrong, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["iss"] = f.sim.ClientKey()
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "iss is a misspelt app key", want: explain.JWTIssuerWrong, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["iss"] = "e2e-basic"
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "signed with a wrong secret", want: explain.JWTSignatureInvalid, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			return signedCall(t, f, appBasic, "GET", myself, "not-the-shared-secret-of-this-tenant", f.claims(a, "GET", myself))
		}},
		{name: "signed with the secret from before a reinstall", want: explain.SharedSecretStale, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appStale)
			if a.previous == "" || a.previous == a.secret {
				t.Fatal("the reinstall did not rotate the shared secret")
			}
			return signedCall(t, f, appStale, "GET", myself, a.previous, f.claims(a, "GET", myself))
		}},
		{name: "qsh missing", want: explain.QSHMissing, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			delete(c, "qsh")
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "qsh over another path", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			return signedCall(t, f, appBasic, "GET", "/rest/api/3/serverInfo", a.secret, f.claims(a, "GET", myself))
		}},
		{name: "qsh without the query", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			return signedCall(t, f, appBasic, "GET", myself+"?expand=groups", a.secret, f.claims(a, "GET", myself))
		}},
		{name: "qsh over another method", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			return signedCall(t, f, appBasic, "GET", myself, a.secret, f.claims(a, "POST", myself))
		}},
		{name: "qsh with + for spaces (url.Values.Encode)", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			u := "/rest/api/3/search/jql?jql=project%20%3D%20DOC&maxResults=5"
			c := f.claims(a, "GET", u)
			c["qsh"] = connect.QSH("GET&/rest/api/3/search/jql&jql=project+%3D+DOC&maxResults=5")
			return signedCall(t, f, appBasic, "GET", u, a.secret, c)
		}},
		{name: "qsh over the unsorted query", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			u := "/rest/api/3/search/jql?maxResults=5&jql=project%3DDOC"
			c := f.claims(a, "GET", u)
			c["qsh"] = connect.QSH("GET&/rest/api/3/search/jql&maxResults=5&jql=project%3DDOC")
			return signedCall(t, f, appBasic, "GET", u, a.secret, c)
		}},
		{name: "qsh with unencoded commas", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			u := "/rest/api/3/issue/DOC-1?fields=summary,status"
			c := f.claims(a, "GET", u)
			c["qsh"] = connect.QSH("GET&/rest/api/3/issue/DOC-1&fields=summary,status")
			return signedCall(t, f, appBasic, "GET", u, a.secret, c)
		}},
		{name: "qsh over the absolute URL", want: explain.QSHMismatch, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["qsh"] = connect.QSH("GET&" + f.sim.URL() + myself + "&")
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "context token used for a REST call", want: explain.ContextTokenMisused, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			tok, err := f.sim.ContextToken(a.key, f.sim.User("admin").AccountID)
			if err != nil {
				t.Fatal(err)
			}
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "JWT "+tok)
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "admin page token forwarded to Jira", want: explain.ContextTokenMisused, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			mod, err := f.sim.ModuleURL(a.key, "doctor-admin", f.sim.User("admin").AccountID)
			if err != nil {
				t.Fatal(err)
			}
			tok := mod[strings.Index(mod, "jwt=")+4:]
			if i := strings.IndexByte(tok, '&'); i >= 0 {
				tok = tok[:i]
			}
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "JWT "+tok)
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 401)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},

		{name: "site clock 10 min ahead of the signer: user token exchange (clock-skew fault)", want: explain.TokenExpired, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.ClockSkew, Skew: 10 * time.Minute, AppKey: appBasic})
			in := exchangeFailure(t, f, appBasic, f.sim.User("user").AccountID, myself, "invalid_grant")
			in.Context.Now = f.now.Add(10 * time.Minute)
			return in
		}},
		{name: "legacy impersonation through the JWT sub", want: explain.ActAsUserMissing, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["sub"] = f.sim.User("user").AccountID
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "JWT "+sign(t, a.secret, c))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 403)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "legacy impersonation of an inactive user through the JWT sub", want: explain.ActAsUserMissing, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			c := f.claims(a, "GET", myself)
			c["sub"] = f.sim.User("inactive").AccountID
			return signedCall(t, f, appBasic, "GET", myself, a.secret, c)
		}},
		{name: "app bot user deactivated", want: explain.UserInactiveOrUnknown, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appBotGone, "GET", myself)
			mustStatus(t, in.Response, err, 401)
			return in
		}},

		// ---- scopes and permissions
		{name: "app without ADMIN calls GET /rest/api/2/permissions", want: explain.ScopeMissing, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appBasic, "GET", "/rest/api/2/permissions")
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "user token without ADMIN on /rest/api/2/permissions", want: explain.TokenScopeMissing, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appBasic, "admin", "GET", "/rest/api/2/permissions", nil)
			mustStatus(t, in.Response, err, 401)
			return in
		}},
		{name: "user token narrowed to READ on /rest/api/2/permissions", want: explain.TokenScopeMissing, tokenScopes: scope.Set{scope.Read},
			run: func(t *testing.T, f *fixture) explain.Input {
				in, err := userCall(t, f, appAdmin, "admin", "GET", "/rest/api/2/permissions", scope.Set{scope.Read})
				mustStatus(t, in.Response, err, 401)
				return in
			}},
		{name: "app calls /rest/api/2/settings/columns", want: explain.EndpointInaccessibleToConnect, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appAdmin, "GET", "/rest/api/2/settings/columns")
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "site admin's user token on /rest/api/2/settings/columns", want: explain.EndpointInaccessibleToConnect, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appAdmin, "admin", "GET", "/rest/api/2/settings/columns", nil)
			mustStatus(t, in.Response, err, 401)
			return in
		}},
		{name: "regular user lacks Administer Jira", want: explain.UserPermissionMissing, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appAdmin, "user", "GET", "/rest/api/3/application-properties/advanced-settings", nil)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "regular user cannot browse the project", want: explain.UserPermissionMissing, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appBasic, "user", "GET", "/rest/api/3/issue/OPS-1", nil)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "app bot user without Administer Jira", want: explain.AppPermissionMissing, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appBotPerm, "GET", "/rest/api/3/application-properties/advanced-settings")
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "inactive user: token exchange refused", want: explain.UserInactiveOrUnknown, run: func(t *testing.T, f *fixture) explain.Input {
			return exchangeFailure(t, f, appBasic, f.sim.User("inactive").AccountID, myself, "invalid_grant")
		}},
		{name: "unknown user: token exchange refused", want: explain.UserInactiveOrUnknown, run: func(t *testing.T, f *fixture) explain.Input {
			return exchangeFailure(t, f, appBasic, "557058:00000000-0000-0000-0000-000000000000", myself, "invalid_grant")
		}},
		{name: "app without ACT_AS_USER: token exchange refused", want: explain.ActAsUserMissing, run: func(t *testing.T, f *fixture) explain.Input {
			return exchangeFailure(t, f, appNoAAU, f.sim.User("user").AccountID, myself, "unauthorized_client")
		}},
		{name: "token server down (token-server-down fault, 503)", want: explain.TokenExchangeFailed, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.TokenServerDown})
			return exchangeFailure(t, f, appBasic, f.sim.User("user").AccountID, myself, "")
		}},
		{name: "token server drops the connection (token-server-down fault, drop)", want: explain.TokenExchangeFailed, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.TokenServerDown, Drop: true})
			return exchangeFailure(t, f, appBasic, f.sim.User("user").AccountID, myself, "")
		}},

		// ---- installation state
		{name: "app uninstalled from the site", want: explain.TenantUninstalled, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appGone, "GET", myself)
			mustStatus(t, in.Response, err, 401)
			return in
		}},
		{name: "app disabled on the site", want: explain.TenantUninstalled, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appDisabled, "GET", myself)
			mustStatus(t, in.Response, err, 401)
			return in
		}},
		{name: "app disabled: token exchange refused", want: explain.TenantUninstalled, run: func(t *testing.T, f *fixture) explain.Input {
			return exchangeFailure(t, f, appDisabled, f.sim.User("user").AccountID, myself, "unauthorized_client")
		}},
		{name: "app disabled, missed callback: token exchange refused", want: explain.TenantUninstalled, run: func(t *testing.T, f *fixture) explain.Input {
			in := exchangeFailure(t, f, appDisabled, f.sim.User("user").AccountID, myself, "unauthorized_client")
			in.Context.TenantState = string(tenant.StateInstalled)
			return in
		}},
		{name: "app uninstalled, missed callback: token exchange refused", want: explain.TenantUninstalled, run: func(t *testing.T, f *fixture) explain.Input {
			in := exchangeFailure(t, f, appGone, f.sim.User("user").AccountID, myself, "invalid_client")
			in.Context.TenantState = string(tenant.StateInstalled)
			return in
		}},

		// ---- request shape and routing
		{name: "GET with a body", want: explain.GetWithBody, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			req := f.request(t, "GET", myself, strings.NewReader(`{"expand":"groups"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, "GET", myself))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 403)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "unknown REST path", want: explain.EndpointUnknown, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appBasic, "GET", "/rest/api/3/issues/DOC-1")
			mustStatus(t, in.Response, err, 404)
			return in
		}},
		{name: "method the endpoint does not support", want: explain.EndpointUnknown, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appBasic, "DELETE", myself)
			mustStatus(t, in.Response, err, 405)
			return in
		}},
		{name: "deprecated endpoint (GET /rest/api/3/search)", want: explain.EndpointDeprecated, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appBasic, "GET", "/rest/api/3/search?jql=project%3DDOC")
			mustStatus(t, in.Response, err, 200)
			return in
		}},
		{name: "browser page requested as HTML", want: explain.HTMLErrorPage, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			u := "/secure/ViewProfile.jspa"
			req := f.request(t, "GET", u, nil)
			req.Header.Set("Accept", "text/html,application/xhtml+xml")
			req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, "GET", u))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 404)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "request sent to another server (wrong port)", want: explain.WrongHost, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			other := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(other.Close)
			req := newRequest(t, "GET", other.URL+myself, nil)
			req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, "GET", myself))
			ereq, eresp, err := f.send(t, req)
			mustStatus(t, eresp, err, 404)
			return explain.Input{Request: ereq, Response: eresp, Context: f.context(a, explain.IdentityApp)}
		}},
		{name: "host name that does not resolve", want: explain.WrongHost, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			req := newRequest(t, "GET", "http://jira-e2e-site.invalid"+myself, nil)
			req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, "GET", myself))
			ereq, _, err := f.send(t, req)
			mustFail(t, err)
			ctx := f.context(a, explain.IdentityApp)
			ctx.NetworkErr = err
			return explain.Input{Request: ereq, Context: ctx}
		}},
		{name: "nothing listens at the address", want: explain.NetworkError, run: func(t *testing.T, f *fixture) explain.Input {
			a := f.app(appBasic)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			req := newRequest(t, "GET", "http://"+addr+myself, nil)
			req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, "GET", myself))
			ereq, _, err := f.send(t, req)
			mustFail(t, err)
			ctx := f.context(a, explain.IdentityApp)
			ctx.NetworkErr = err
			return explain.Input{Request: ereq, Context: ctx}
		}},

		// ---- faults in front of Jira
		{name: "firewall block page (firewall fault)", want: explain.FirewallBlock, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.FirewallBlock, Count: 1})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "IP allowlist (ip-allowlist fault)", want: explain.IPAllowlistBlock, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.IPAllowlist, Count: 1})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "IP allowlist on a user token (ip-allowlist fault)", want: explain.IPAllowlistBlock, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.IPAllowlist, Count: 1})
			in, err := userCall(t, f, appBasic, "user", "GET", myself, nil)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "proxy-cached 401 (cached-401 fault)", want: explain.CachedResponse, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.CachedUnauthorized, Count: 1})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 401)
			return in
		}},
		{name: "rate limited (rate-limit fault)", want: explain.RateLimited, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, Count: 1, RetryAfter: 10 * time.Second})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 429)
			return in
		}},
		{name: "site unavailable (unavailable fault)", want: explain.ServerError, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.Unavailable, Count: 1})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 503)
			return in
		}},
		{name: "site unavailable with Retry-After (unavailable fault)", want: explain.ServerError, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.Unavailable, Count: 1, RetryAfter: 30 * time.Second})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustStatus(t, in.Response, err, 503)
			return in
		}},
		{name: "site drops the connection (unavailable fault, drop)", want: explain.NetworkError, run: func(t *testing.T, f *fixture) explain.Input {
			// Every attempt is dropped: net/http retries a GET once on a
			// reused connection closed before the answer.
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.Unavailable, Drop: true})
			in, err := appCall(t, f, appBasic, "GET", myself)
			mustFail(t, err)
			in.Context.NetworkErr = err
			return in
		}},
		{name: "site too slow for the client's timeout (slow fault)", want: explain.NetworkError, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.Slow, Count: 1, Delay: 2 * time.Second})
			a := f.app(appBasic)
			req := f.request(t, "GET", myself, nil)
			req.Header.Set("Authorization", "JWT "+f.appJWT(t, a, "GET", myself))
			ereq := explain.Request{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone()}
			_, err := (&http.Client{Timeout: 200 * time.Millisecond}).Do(req)
			mustFail(t, err)
			ctx := f.context(a, explain.IdentityApp)
			ctx.NetworkErr = err
			return explain.Input{Request: ereq, Context: ctx}
		}},
		{name: "install key server answers 500 (key-server-down fault)", want: explain.ServerError, run: func(t *testing.T, f *fixture) explain.Input {
			f.sim.SetFault(jirasim.Fault{Kind: jirasim.KeyServerDown, Count: 1})
			ereq, eresp, err := f.send(t, newRequest(t, "GET", f.sim.KeyServerURL()+"/"+f.sim.InstallKeyID(), nil))
			mustStatus(t, eresp, err, 500)
			return explain.Input{Request: ereq, Response: eresp, Context: explain.Context{Now: f.now}}
		}},

		// ---- the simulator's alternative behaviours (altOptions)
		{name: "alt: user token without ADMIN gets 403 with the scope text", want: explain.TokenScopeMissing, alt: true, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appBasic, "admin", "GET", "/rest/api/2/permissions", nil)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "alt: site admin's user token on settings/columns gets 403", want: explain.EndpointInaccessibleToConnect, alt: true, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appAdmin, "admin", "GET", "/rest/api/2/settings/columns", nil)
			mustStatus(t, in.Response, err, 403)
			return in
		}},
		{name: "alt: issue the user may not see answers 404", want: explain.UserPermissionMissing, alt: true, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := userCall(t, f, appBasic, "user", "GET", "/rest/api/3/issue/OPS-1", nil)
			mustStatus(t, in.Response, err, 404)
			return in
		}},
		{name: "alt: app bot users are not site admins", want: explain.AppPermissionMissing, alt: true, run: func(t *testing.T, f *fixture) explain.Input {
			in, err := appCall(t, f, appAdmin, "GET", "/rest/api/3/application-properties/advanced-settings")
			mustStatus(t, in.Response, err, 403)
			return in
		}},
	}
}

// newFixtureSite is a second, independent site with appBasic installed.
func newFixtureSite(t *testing.T) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	sim, err := jirasim.New(jirasim.Options{Seed: 77, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	f := &fixture{sim: sim, now: now, apps: map[string]*app{}}
	a := newApp(t, appBasic, "READ", "ACT_AS_USER")
	f.apps[appBasic] = a
	f.install(t, a)
	return f
}

// TestExplainerEndToEnd drives every failure of the table through the
// simulator and checks the engine's leading cause, once with the admin
// panel's context (with its preflight) and once with the CLI's (without).
func TestExplainerEndToEnd(t *testing.T) {
	sites := map[bool]*fixture{false: newFixture(t, jirasim.Options{}), true: newFixture(t, altOptions)}
	cs := cases()
	hits := 0
	var misses []string
	for _, c := range cs {
		f := sites[c.alt]
		ok := t.Run(c.name, func(t *testing.T) {
			t.Cleanup(f.sim.ClearFaults)
			in := c.run(t, f)
			for _, mode := range []struct {
				name string
				in   explain.Input
			}{{"cli", in}, {"panel", f.withPreflight(in, c.tokenScopes)}} {
				d := f.engine.Diagnose(mode.in)
				top, _ := d.Top()
				if top.Code != c.want {
					t.Errorf("%s: top cause %q (%.2f), want %q\n%s", mode.name, top.Code, top.Confidence, c.want, describe(d))
					continue
				}
				if len(top.Evidence) == 0 || top.Fix == "" {
					t.Errorf("%s: top cause %q has no evidence or no fix", mode.name, top.Code)
				}
			}
		})
		if ok {
			hits++
		} else {
			misses = append(misses, c.name)
		}
	}
	line := fmt.Sprintf("explainer e2e hit rate: %d/%d (%.0f%%)", hits, len(cs), 100*float64(hits)/float64(len(cs)))
	t.Log(line)
	fmt.Println(line)
	if hits < len(cs) {
		t.Errorf("hit rate below 100%%; missed: %s", strings.Join(misses, "; "))
	}
}

// describe lists the ranked causes for a failure message.
func describe(d explain.Diagnosis) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s\n", d.Summary)
	for i, c := range d.Causes {
		if i == 5 {
			break
		}
		fmt.Fprintf(&b, "  %d. %s %.2f %s\n", i+1, c.Code, c.Confidence, strings.Join(c.Evidence, " | "))
	}
	return b.String()
}

// TestCasesCoverEveryFault keeps the table honest: every fault kind of the
// simulator is driven by at least one case.
func TestCasesCoverEveryFault(t *testing.T) {
	names := strings.Builder{}
	for _, c := range cases() {
		names.WriteString(c.name + "\n")
	}
	for k := jirasim.ClockSkew; k <= jirasim.TokenServerDown; k++ {
		if !strings.Contains(names.String(), "("+k.String()) {
			t.Errorf("no case drives the %s fault", k)
		}
	}
}
