package forgeapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

func bearerHeader(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// assertRefused checks a 401 envelope with the code and the challenge.
func assertRefused(t *testing.T, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	if got := errCode(t, resp); got != code {
		t.Fatalf("code %q, want %q", got, code)
	}
}

// TestFITRejectionsOverHTTP sends every kind of bad invocation token to
// every /forge route and expects 401 with the FIT's code, and nothing
// stored.
func TestFITRejectionsOverHTTP(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	f := startForge(t, "", site, nil)
	mt := site.Minter()
	otherKey, err := forgesim.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	connectJWT := func() string {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "client-key", "iat": time.Now().Unix(),
			"exp": time.Now().Add(time.Minute).Unix(), "qsh": connect.ContextQSH}).SignedString([]byte("a-shared-secret-of-enough-length"))
		return tok
	}
	stagingHost := "https://api.stg.atlassian.com/ex/jira/" + site.CloudID()
	tests := []struct {
		name   string
		header func() http.Header
		code   string
	}{
		{"no Authorization", func() http.Header { return nil }, "fit_missing"},
		{"Connect JWT scheme", func() http.Header { return http.Header{"Authorization": {"JWT " + connectJWT()}} }, "fit_missing"},
		{"Connect JWT as Bearer (HS256)", func() http.Header { return bearerHeader(connectJWT()) }, "fit_bad_alg"},
		{"basic auth", func() http.Header { return http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}} }, "fit_missing"},
		{"not a JWT", func() http.Header { return bearerHeader("not-a-jwt") }, "fit_malformed"},
		{"alg none", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithAlg("none", nil))) }, "fit_bad_alg"},
		{"alg HS256 with the public key", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithAlg("HS256", nil))) }, "fit_bad_alg"},
		{"alg ES256", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithAlg("ES256", nil))) }, "fit_bad_alg"},
		{"alg PS256", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithAlg("PS256", nil))) }, "fit_bad_alg"},
		{"signed by another key", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithAlg("RS256", otherKey))) }, "fit_bad_signature"},
		{"unknown kid (other environment's key set)", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithKID("forge/stg-key"))) }, "fit_unknown_kid"},
		{"no kid", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithKID(""))) }, "fit_unknown_kid"},
		{"Forge context token", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithClaim("iss", "forge/context-token"), forgesim.WithClaim("aud", "forge")))
		}, "fit_wrong_iss"},
		{"another app's token", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithClaim("aud", "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555"),
				forgesim.WithClaim("app.id", "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555")))
		}, "fit_wrong_aud"},
		{"bare UUID aud", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithClaim("aud", strings.TrimPrefix(site.AppID(), "ari:cloud:ecosystem::app/"))))
		}, "fit_wrong_aud"},
		{"app.id differs from aud", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithClaim("app.id", "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555")))
		}, "fit_app_mismatch"},
		{"expired (clock skew)", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithIssuedAt(time.Now().Add(-2 * time.Minute))))
		}, "fit_expired"},
		{"not valid yet", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithIssuedAt(time.Now().Add(2 * time.Minute))))
		}, "fit_not_yet_valid"},
		{"no jti", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithoutClaim("jti"))) }, "fit_claim_missing"},
		{"no nbf", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithoutClaim("nbf"))) }, "fit_claim_missing"},
		{"no exp", func() http.Header { return bearerHeader(mt.MustMint(forgesim.WithoutClaim("exp"))) }, "fit_claim_missing"},
		{"no installation id", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithoutClaim("app.installationId"), forgesim.WithoutClaim("app.installation")))
		}, "fit_claim_missing"},
		{"development environment", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithClaim("app.environment.type", "DEVELOPMENT")))
		}, "fit_dev_environment"},
		{"apiBaseUrl outside FORGE_API_HOSTS", func() http.Header {
			return bearerHeader(mt.MustMint(forgesim.WithClaim("app.apiBaseUrl", stagingHost)))
		}, "fit_malformed"},
		{"OAuth header with a scheme", func() http.Header {
			return http.Header{"Authorization": {"Bearer " + mt.MustMint()}, "X-Forge-Oauth-System": {"Bearer abc"}}
		}, "forge_token_malformed"},
	}
	routes := []struct{ method, path string }{
		{"POST", "/forge/lifecycle"}, {"POST", "/forge/scheduled"}, {"POST", "/forge/pre-uninstall"},
		{"GET", "/forge/api/installation"}, {"POST", "/forge/api/checks"}, {"GET", "/forge/api/link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range routes {
				status := 401
				if tc.code == "forge_token_malformed" {
					status = 400
				}
				resp := f.do(t, r.method, r.path, tc.header(), mustJSON(forgesim.InstalledEvent(site.InstallationID(), site.AppID(), site.CloudID(), "")))
				t.Run(r.path, func(t *testing.T) { assertRefused(t, resp, status, tc.code) })
			}
		})
	}
	if _, err := f.app.ForgeStore.Get(context.Background(), site.InstallationID()); err == nil {
		t.Fatal("a refused invocation stored an installation")
	}
}

// TestProtocolSplit: Connect routes refuse a FIT, Forge routes refuse a
// Connect token even of an installed tenant, and the Forge routes are off
// without FORGE_APP_ID.
func TestProtocolSplit(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	f := startForge(t, "", site, nil)
	fit := site.Minter().MustMint()
	for _, r := range []struct{ method, path string }{{"GET", "/api/installation"}, {"POST", "/api/checks"}, {"GET", "/admin"}, {"POST", "/enabled"}} {
		resp := f.do(t, r.method, r.path, bearerHeader(fit), []byte(`{}`))
		if resp.StatusCode != 401 {
			t.Errorf("%s %s with a FIT: %d", r.method, r.path, resp.StatusCode)
		}
		if code := errCode(t, resp); code != "auth_scheme_invalid" {
			t.Errorf("%s %s with a FIT: code %s", r.method, r.path, code)
		}
	}
	// A FIT in the jwt query parameter of a Connect route is not a Connect JWT either.
	if resp := f.do(t, "GET", "/api/installation?jwt="+fit, nil, nil); resp.StatusCode != 401 {
		t.Errorf("FIT as ?jwt=: %d", resp.StatusCode)
	}
	// The Connect JWT query parameter is never read on /forge routes.
	if resp := f.do(t, "GET", "/forge/api/installation?jwt=x.y.z", nil, nil); resp.StatusCode != 401 || errCode(t, resp) != "fit_missing" {
		t.Errorf("?jwt= on a Forge route: %d", resp.StatusCode)
	}

	off := startForge(t, "", site, map[string]string{"FORGE_APP_ID": ""})
	for _, p := range []string{"/forge/lifecycle", "/forge/scheduled", "/forge/pre-uninstall", "/forge/api/checks"} {
		if resp := off.do(t, "POST", p, bearerHeader(fit), []byte(`{}`)); resp.StatusCode != 404 || errCode(t, resp) != "not_found" {
			t.Errorf("%s with Forge off: %d", p, resp.StatusCode)
		}
	}
	if off.app.Forge != nil || off.app.ForgeStore != nil {
		t.Error("Forge components built without FORGE_APP_ID")
	}
}

// TestFITKeyRotation: Forge rotates its signing key; the remote fetches
// the key set once for the new kid and refuses the retired one.
func TestFITKeyRotation(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	var skew atomic.Int64 // the app's clock runs ahead by this much
	f := startForgeClock(t, "", site, nil, func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	ctx := context.Background()
	if resp, err := site.Install(ctx, f.base); err != nil || resp.StatusCode != 200 {
		t.Fatalf("install: %v %v", resp, err)
	}
	// Past the key set's refresh cooldown (10 s) since the install fetched it.
	skew.Store(int64(11 * time.Second))
	fetches := site.KeyHost().Fetches()
	newKey, err := forgesim.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	old := site.Minter().MustMint() // minted before the rotation
	site.KeyHost().Rotate("forgesim-key-2", newKey, false)
	rotated := *site.Minter()
	rotated.Key, rotated.KID = newKey, "forgesim-key-2"
	for i := range 3 {
		resp := f.do(t, "GET", "/forge/api/link", bearerHeader(rotated.MustMint()), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d with the new key: %d %s", i, resp.StatusCode, readAll(resp))
		}
		resp.Body.Close()
	}
	if got := site.KeyHost().Fetches() - fetches; got != 1 {
		t.Fatalf("%d key set fetches for the new kid, want 1", got)
	}
	// The retired key is gone from the set (and the cooldown stops a
	// refetch storm): its tokens are refused.
	assertRefused(t, f.do(t, "GET", "/forge/api/link", bearerHeader(old), nil), 401, "fit_unknown_kid")
}

// TestFITReplay: an event's FIT is accepted once (Forge mints a new one per
// delivery); a requestRemote FIT, which the browser caches, may be reused
// on /forge/api until it expires.
func TestFITReplay(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	f := startForge(t, "", site, nil)
	fit := site.Minter().MustMint()
	body := mustJSON(forgesim.InstalledEvent(site.InstallationID(), site.AppID(), site.CloudID(), ""))
	if resp := f.do(t, "POST", "/forge/lifecycle", bearerHeader(fit), body); resp.StatusCode != 200 {
		t.Fatalf("first delivery: %d %s", resp.StatusCode, readAll(resp))
	}
	assertRefused(t, f.do(t, "POST", "/forge/lifecycle", bearerHeader(fit), body), 401, "fit_replayed")
	assertRefused(t, f.do(t, "POST", "/forge/scheduled", bearerHeader(fit), nil), 401, "fit_replayed")
	ui := site.Minter().MustMint(forgesim.WithClaim("app.module.type", "jira:adminPage"), forgesim.WithPrincipal(userAcc))
	for i := range 3 {
		if resp := f.do(t, "GET", "/forge/api/link", bearerHeader(ui), nil); resp.StatusCode != 200 {
			t.Fatalf("requestRemote reuse %d: %d", i, resp.StatusCode)
		}
	}
}

// TestEnvironmentPolicy: a production backend refuses DEVELOPMENT and
// STAGING installations unless FORGE_ALLOWED_ENVIRONMENTS lists them.
func TestEnvironmentPolicy(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, env, allowed string
		ok                 bool
	}{
		{"production by default", "PRODUCTION", "", true},
		{"development refused by default", "DEVELOPMENT", "", false},
		{"staging refused by default", "STAGING", "", false},
		{"development allowed when listed", "DEVELOPMENT", "PRODUCTION,DEVELOPMENT", true},
		{"production refused by a development backend", "PRODUCTION", "DEVELOPMENT", false},
		{"environment ARI listed", "DEVELOPMENT", forgesim.DefaultEnvironmentID, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			site := newSite(t, forgesim.SiteOptions{Environment: tc.env})
			f := startForge(t, "", site, map[string]string{"FORGE_ALLOWED_ENVIRONMENTS": tc.allowed})
			resp, err := site.Install(ctx, f.base)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				if resp.StatusCode != 200 {
					t.Fatalf("%d %s", resp.StatusCode, readAll(resp))
				}
				inst, err := f.app.ForgeStore.Get(ctx, site.InstallationID())
				if err != nil || inst.EnvironmentType != tc.env {
					t.Fatalf("%+v %v", inst, err)
				}
				return
			}
			assertRefused(t, resp, 401, "fit_dev_environment")
		})
	}
}

// TestCORSPreflight: requestRemote's browser preflight needs no token.
func TestCORSPreflight(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	f := startForge(t, "", site, nil)
	resp := f.do(t, "OPTIONS", "/forge/api/checks", http.Header{"Origin": {"https://abc.cdn.prod.atlassian-dev.net"},
		"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}}, nil)
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp = f.do(t, "GET", "/forge/api/link", http.Header{"Origin": {"https://abc.cdn.prod.atlassian-dev.net"}}, nil)
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("refusal must be readable by the iframe: %d %v", resp.StatusCode, resp.Header)
	}
}
