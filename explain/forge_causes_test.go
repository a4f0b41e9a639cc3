package explain_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

const (
	remoteBase  = "https://connect-doctor.example.com"
	forgeCloud  = "0c3c2d1e-1111-2222-3333-444455556666"
	gatewayBase = "https://api.atlassian.com/ex/jira/" + forgeCloud
	forgeUser   = "5b10ac8d82e05b22cc7d4ef5"
	// The literal bodies of forge.md §3 O1 and O2.
	bodyScopeMismatch = `{"code":401,"message":"Unauthorized; scope does not match"}`
	bodyGrantsEmpty   = `{"errorMessages":["Access to the resource was denied due to missing scope grants. Your app was granted the following scopes: [].\nThe resource can be accessed by having one of these groups of scopes:\n * [read:jira-user]\n * [read:application-role:jira, read:group:jira, read:user:jira, read:avatar:jira]\n"]}`
)

var testKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	b, err := os.ReadFile("../forge/testdata/test-key-0.pem")
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	return x509.ParsePKCS1PrivateKey(blk.Bytes)
})

func minter(t *testing.T) *forgesim.Minter {
	t.Helper()
	k, err := testKey()
	if err != nil {
		t.Fatal(err)
	}
	return &forgesim.Minter{Key: k, KID: "forge/prod-1", Now: func() time.Time { return testNow }}
}

func fit(t *testing.T, opts ...forgesim.Option) string {
	t.Helper()
	return minter(t).MustMint(opts...)
}

// remoteReq is Forge calling the remote's lifecycle route with a FIT.
func remoteReq(tok string) explain.Request {
	h := hdr("Content-Type", "application/json")
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	return explain.Request{Method: "POST", URL: remoteBase + "/forge/lifecycle", Header: h, HasBody: true}
}

// remoteResp is the remote's 401 envelope for a verification failure.
func remoteResp(status int, code, msg string) explain.Response {
	body := ""
	if code != "" {
		body = `{"error":{"code":"` + code + `","message":"` + msg + `","hint":"…"}}`
	}
	return explain.Response{Status: status, Header: hdr("Content-Type", "application/json", "Date", testNow.Format(http.TimeFormat)), Body: []byte(body)}
}

func forgeCtx() explain.Context {
	return explain.Context{Path: explain.PathForge, ForgeAppID: forgesim.DefaultAppID, Now: testNow}
}

// oauthTok mints an api.atlassian.com-shaped access token expiring at exp.
func oauthTok(t *testing.T, exp time.Time) string {
	return mint(t, claims{"iss": "https://auth.atlassian.com/", "aud": "api.atlassian.com", "sub": forgeUser, "iat": exp.Add(-4 * time.Hour).Unix(), "exp": exp.Unix()}, "gateway-secret")
}

func gatewayResp(status int, body string) explain.Response {
	return explain.Response{Status: status, Header: hdr("Content-Type", "application/json", "Server", "AtlassianEdge", "Date", testNow.Format(http.TimeFormat)), Body: []byte(body)}
}

func forgeCauseCases() []causeCase {
	validTok := func(t *testing.T) string { return oauthTok(t, testNow.Add(2*time.Hour)) }
	return []causeCase{
		// ---- the remote's side: FIT ------------------------------------------
		{name: "fit_missing/no Authorization on /forge route", top: explain.FITMissing, minConf: 0.9, verdict: "authentication",
			evidence: []string{"no Authorization header"}, fix: []string{"resolver.endpoint"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(""), Response: remoteResp(401, "fit_missing", "no Forge Invocation Token"), Context: forgeCtx()}
			}},
		{name: "fit_missing/inferred from the /forge path", top: explain.FITMissing, minConf: 0.9,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(""), Response: remoteResp(401, "", "")}
			}},
		{name: "fit_missing/Connect JWT on a Forge route", top: explain.FITMissing, minConf: 0.9, evidence: []string{"Connect credential"},
			in: func(t *testing.T) explain.Input {
				r := remoteReq("")
				r.Header.Set("Authorization", "JWT "+mint(t, appClaims("POST", "/forge/lifecycle"), testSecret))
				return explain.Input{Request: r, Response: remoteResp(401, "fit_missing", "no Forge Invocation Token"), Context: forgeCtx()}
			}},
		{name: "fit_malformed/not a JWT", top: explain.FITMalformed, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq("not-a-token"), Response: remoteResp(401, "fit_malformed", "the Forge Invocation Token is not a well-formed JWT"), Context: forgeCtx()}
			}},
		{name: "fit_bad_alg/HS256 FIT", top: explain.FITBadAlg, minConf: 0.9, evidence: []string{`"HS256"`}, fix: []string{"RS256"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t, forgesim.WithAlg("HS256", nil))), Response: remoteResp(401, "", ""), Context: forgeCtx()}
			}},
		{name: "fit_bad_signature/remote's code", top: explain.FITBadSignature, minConf: 0.85, fix: []string{"FORGE_JWKS_URL"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t)), Response: remoteResp(401, "fit_bad_signature", "the Forge Invocation Token signature does not verify"), Context: forgeCtx()}
			}},
		{name: "fit_unknown_kid/staging token, production key set", top: explain.FITUnknownKID, minConf: 0.9, evidence: []string{"staging", "forge/prod-1"}, fix: []string{"FORGE_ALLOW_STAGING"},
			also: explain.FITDevEnvironment,
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithKID("forge/stg-7"), forgesim.WithClaim("app.apiBaseUrl", "https://api.stg.atlassian.com/ex/jira/"+forgeCloud), forgesim.WithClaim("app.environment.type", "STAGING"))
				ctx := forgeCtx()
				ctx.ForgeKIDs = []string{"forge/prod-1", "forge/prod-2"}
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "fit_unknown_kid", "the Forge Invocation Token's key id is not in the configured key set"), Context: ctx}
			}},
		{name: "fit_unknown_kid/staging platform without key list", top: explain.FITUnknownKID, minConf: 0.7,
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithClaim("app.apiBaseUrl", "https://api.stg.atlassian.com/ex/jira/"+forgeCloud))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "", ""), Context: forgeCtx()}
			}},
		{name: "fit_wrong_iss/Forge context token", top: explain.FITWrongIssuer, minConf: 0.9, evidence: []string{"context token"},
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithClaim("iss", "forge/context-token"), forgesim.WithClaim("aud", "forge"))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "fit_wrong_iss", "the token's iss is not \\\"forge/invocation-token\\\""), Context: forgeCtx()}
			}},
		{name: "fit_wrong_iss/Connect JWT as Bearer", top: explain.FITWrongIssuer, minConf: 0.9, evidence: []string{"Connect JWT"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(mint(t, appClaims("POST", "/forge/lifecycle"), testSecret)), Response: remoteResp(401, "", ""), Context: forgeCtx()}
			}},
		{name: "fit_wrong_aud/another app", top: explain.FITWrongAudience, minConf: 0.9, fix: []string{"FORGE_APP_ID", "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555"},
			in: func(t *testing.T) explain.Input {
				ctx := forgeCtx()
				ctx.ForgeAppID = "99999999-2222-3333-4444-555555555555" // bare UUID: normalised
				return explain.Input{Request: remoteReq(fit(t)), Response: remoteResp(401, "fit_wrong_aud", "the token's aud is not this app's id"), Context: ctx}
			}},
		{name: "fit_app_mismatch/app.id differs from aud", top: explain.FITAppMismatch, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithClaim("app.id", "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555"))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "", ""), Context: forgeCtx()}
			}},
		{name: "fit_expired/clock skew", top: explain.FITExpired, minConf: 0.9, evidence: []string{"less than two minutes", "lifetime 25s"}, fix: []string{"NTP"},
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithIssuedAt(testNow.Add(-70*time.Second)))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "fit_expired", "the Forge Invocation Token has expired"), Context: forgeCtx()}
			}},
		{name: "fit_expired/by the remote's Date header only", top: explain.FITExpired, minConf: 0.9,
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithIssuedAt(testNow.Add(-10*time.Minute)))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "", ""), Context: explain.Context{Path: explain.PathForge}}
			}},
		{name: "fit_not_yet_valid/remote clock behind", top: explain.FITNotYetValid, minConf: 0.9,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t, forgesim.WithIssuedAt(testNow.Add(40*time.Second)))), Response: remoteResp(401, "", ""), Context: forgeCtx()}
			}},
		{name: "fit_lifetime_too_long/a token minted to last", top: explain.FITLifetimeTooLong, minConf: 0.85, evidence: []string{"exp - iat is 24h"}, fix: []string{"one invocation"},
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithLifetime(24*time.Hour))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "fit_lifetime_too_long", "the Forge Invocation Token is valid for longer than a FIT may be (exp - iat)"), Context: forgeCtx()}
			}},
		{name: "fit_lifetime_too_long/remote's code only (a remote with a tighter maximum)", top: explain.FITLifetimeTooLong, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t)), Response: remoteResp(401, "fit_lifetime_too_long", "the Forge Invocation Token is valid for longer than a FIT may be (exp - iat)"), Context: forgeCtx()}
			}},
		{name: "fit_claim_missing/no jti", top: explain.FITClaimMissing, minConf: 0.85, evidence: []string{"jti"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t, forgesim.WithoutClaim("jti"))), Response: remoteResp(401, "", ""), Context: forgeCtx()}
			}},
		{name: "fit_dev_environment/development install on production backend", top: explain.FITDevEnvironment, minConf: 0.9, evidence: []string{"DEVELOPMENT"}, fix: []string{"FORGE_ALLOWED_ENVIRONMENTS", "remotes.baseUrl"},
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithClaim("app.environment.type", "DEVELOPMENT"))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "fit_dev_environment", "the token comes from a Forge environment this backend does not accept"), Context: forgeCtx()}
			}},
		{name: "fit_replayed/remote's code", top: explain.FITReplayed, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t)), Response: remoteResp(401, "fit_replayed", "the Forge Invocation Token's jti was already used"), Context: forgeCtx()}
			}},
		{name: "fit_ic_label_refused/remote's code for an unlisted Isolated Cloud", top: explain.FITICLabelRefused, minConf: 0.85, fix: []string{"FORGE_IC_LABELS"},
			in: func(t *testing.T) explain.Input {
				tok := fit(t, forgesim.WithClaim("icLabel", "acme-gov"))
				return explain.Input{Request: remoteReq(tok), Response: remoteResp(401, "fit_ic_label_refused",
					"the token's icLabel names an Isolated Cloud whose key set this backend does not trust"), Context: forgeCtx()}
			}},
		{name: "fit_jwks_unavailable/remote's code", top: explain.FITJWKSUnavailable, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: remoteReq(fit(t)), Response: remoteResp(503, "fit_jwks_unavailable", "the Forge key set could not be fetched"), Context: forgeCtx()}
			}},
		{name: "forge_token_malformed/remote's code", top: explain.ForgeTokenMalformed, minConf: 0.85,
			in: func(t *testing.T) explain.Input {
				r := remoteReq(fit(t))
				r.Header.Set("X-Forge-Oauth-System", "Bearer x")
				return explain.Input{Request: r, Response: remoteResp(400, "forge_token_malformed", "a Forge OAuth header is present but not a usable token"), Context: forgeCtx()}
			}},
		// ---- the app's side: product calls ------------------------------------
		{name: "forge_token_absent/user token in a trigger", top: explain.ForgeTokenAbsent, minConf: 0.9, evidence: []string{"never sends x-forge-oauth-user to triggers"}, fix: []string{"offlineUserAuthToken"},
			in: func(t *testing.T) explain.Input {
				ctx := forgeCtx()
				ctx.Identity = explain.IdentityUser
				ctx.ForgeInvocation = forgesim.Invocation{FIT: fit(t), SystemToken: validTok(t)}.Header()
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself"},
					Response: gatewayResp(401, `{"code":401,"message":"Unauthorized"}`), Context: ctx}
			}},
		{name: "forge_token_absent/requestRemote", top: explain.ForgeTokenAbsent, minConf: 0.9, evidence: []string{"requestRemote"}, fix: []string{"invokeRemote"},
			in: func(t *testing.T) explain.Input {
				ctx := forgeCtx()
				ctx.Identity = explain.IdentityUser
				h := http.Header{}
				h.Set("Authorization", "Bearer "+fit(t, forgesim.WithClaim("app.module.type", "jira:adminPage"), forgesim.WithPrincipal(forgeUser)))
				ctx.ForgeInvocation = h
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself"},
					Response: gatewayResp(401, `{"code":401,"message":"Unauthorized"}`), Context: ctx}
			}},
		{name: "forge_token_expired/cached system token", top: explain.ForgeTokenExpired, minConf: 0.9, evidence: []string{"before your clock"}, fix: []string{"scheduledTrigger"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+oauthTok(t, testNow.Add(-20*time.Minute)))},
					Response: gatewayResp(401, `{"code":401,"message":"Unauthorized"}`), Context: forgeCtx()}
			}},
		{name: "oauth_scope_mismatch/system token without read:jira-user", top: explain.OAuthScopeMismatch, minConf: 0.8, verdict: "authorization",
			evidence: []string{"scope does not match", "smallest addition: read:jira-user"}, fix: []string{"Add read:jira-user to permissions.scopes", "forge deploy"},
			in: func(t *testing.T) explain.Input {
				ctx := forgeCtx()
				ctx.GrantedScopes = []string{"read:app-system-token", "read:jira-work"}
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+validTok(t))},
					Response: gatewayResp(401, bodyScopeMismatch), Context: ctx}
			}},
		{name: "missing_scope_grants/O2 verbatim, nothing granted", top: explain.MissingScopeGrants, minConf: 0.9, verdict: "authorization",
			evidence: []string{"granted scopes (the 403 body): []"}, fix: []string{"Add read:jira-user to permissions.scopes"},
			in: func(t *testing.T) explain.Input {
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+validTok(t))},
					Response: gatewayResp(403, bodyGrantsEmpty), Context: forgeCtx()}
			}},
		{name: "missing_scope_grants/one granular scope missing", top: explain.MissingScopeGrants, minConf: 0.9,
			evidence: []string{"only partly granted", "smallest addition: read:avatar:jira"}, fix: []string{"Add read:avatar:jira"},
			in: func(t *testing.T) explain.Input {
				body := `{"errorMessages":["Access to the resource was denied due to missing scope grants. Your app was granted the following scopes: [read:app-user-token, read:application-role:jira, read:group:jira, read:user:jira].\nThe resource can be accessed by having one of these groups of scopes:\n * [read:jira-user]\n * [read:application-role:jira, read:group:jira, read:user:jira, read:avatar:jira]\n"]}`
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+validTok(t))},
					Response: gatewayResp(403, body), Context: forgeCtx()}
			}},
		{name: "site_url_instead_of_api_gateway/Forge token to the site", top: explain.SiteURLInsteadOfAPIGateway, minConf: 0.9,
			evidence: []string{"site host acme.atlassian.net", "Failed to parse Connect Session Auth Token"}, fix: []string{"https://api.atlassian.com/ex/jira/" + forgeCloud + "/rest/api/3/myself"},
			in: func(t *testing.T) explain.Input {
				ctx := forgeCtx()
				ctx.ForgeInvocation = forgesim.Invocation{FIT: fit(t), SystemToken: validTok(t)}.Header()
				return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+ctx.ForgeInvocation.Get("X-Forge-Oauth-System"))},
					Response: jiraResp(401, `{"message":"Failed to parse Connect Session Auth Token","status-code":401}`), Context: ctx}
			}},
		{name: "connect_scopes_only_on_forge_path/Connect scopes, gateway call", top: explain.ConnectScopesOnlyOnForgePath, minConf: 0.8,
			evidence: []string{"read:connect-jira"}, fix: []string{"read:jira-user", "OAuth 2.0 equivalents"}, also: explain.OAuthScopeMismatch,
			in: func(t *testing.T) explain.Input {
				ctx := forgeCtx()
				ctx.GrantedScopes = []string{"read:connect-jira", "write:connect-jira", "read:app-system-token"}
				return explain.Input{Request: explain.Request{Method: "GET", URL: gatewayBase + "/rest/api/3/myself", Header: hdr("Authorization", "Bearer "+validTok(t))},
					Response: gatewayResp(401, bodyScopeMismatch), Context: ctx}
			}},
	}
}
