package forge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

func TestVerifyAcceptsGenuineFIT(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	tok := f.minter.MustMint(forgesim.WithPrincipal("5b10ac8d82e05b22cc7d4ef5"),
		forgesim.WithClaim("context", map[string]any{"cloudId": "c-1", "siteUrl": "https://x.atlassian.net", "moduleKey": "doctor-admin"}))
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.App.ID != forgesim.DefaultAppID || c.InstallationID() != forgesim.DefaultInstallationID {
		t.Errorf("app = %+v", c.App)
	}
	if c.App.Environment.Type != forge.EnvProduction || c.App.Module.Type != "core:endpoint" {
		t.Errorf("environment/module = %+v %+v", c.App.Environment, c.App.Module)
	}
	if c.UserAccountID() != "5b10ac8d82e05b22cc7d4ef5" || c.CloudID() != "c-1" || c.Context.SiteURL != "https://x.atlassian.net" {
		t.Errorf("principal %q cloud %q context %+v", c.UserAccountID(), c.CloudID(), c.Context)
	}
	if c.ID == "" || c.ExpiresAt.Sub(c.IssuedAt.Time) != forgesim.DefaultLifetime {
		t.Errorf("jti %q exp-iat %v", c.ID, c.ExpiresAt.Sub(c.IssuedAt.Time))
	}
	if err := v.CheckAPIBaseURL(c.App.APIBaseURL); err != nil {
		t.Errorf("CheckAPIBaseURL(%q): %v", c.App.APIBaseURL, err)
	}
}

func TestVerifyRejections(t *testing.T) {
	f := newFixture(t)
	keys := testKeys()
	now := f.clock.Now()
	tests := []struct {
		name  string
		token func() string
		want  error
		code  string
	}{
		{"empty", func() string { return "" }, forge.ErrFITMissing, "fit_missing"},
		{"not a jwt", func() string { return "abc.def" }, forge.ErrFITMalformed, "fit_malformed"},
		{"garbage segments", func() string { return "e30.e30.e30" }, forge.ErrFITMalformed, "fit_malformed"},
		{"too long", func() string { return strings.Repeat("a", forge.MaxTokenLen+1) }, forge.ErrFITMalformed, "fit_malformed"},
		{"alg none", func() string { return f.minter.MustMint(forgesim.WithAlg("none", nil)) }, forge.ErrFITBadAlg, "fit_bad_alg"},
		{"alg HS256 keyed with the public modulus", func() string { return f.minter.MustMint(forgesim.WithAlg("HS256", nil)) }, forge.ErrFITBadAlg, "fit_bad_alg"},
		{"alg RS384", func() string { return f.minter.MustMint(forgesim.WithAlg("RS384", nil)) }, forge.ErrFITBadAlg, "fit_bad_alg"},
		{"alg PS256", func() string { return f.minter.MustMint(forgesim.WithAlg("PS256", nil)) }, forge.ErrFITBadAlg, "fit_bad_alg"},
		{"alg ES256", func() string { return f.minter.MustMint(forgesim.WithAlg("ES256", nil)) }, forge.ErrFITBadAlg, "fit_bad_alg"},
		{"signed by another key under a known kid", func() string { return f.minter.MustMint(forgesim.WithAlg("RS256", keys[1])) }, forge.ErrFITBadSignature, "fit_bad_signature"},
		{"tampered payload", func() string {
			p := strings.Split(f.minter.MustMint(), ".")
			other := strings.Split(f.minter.MustMint(forgesim.WithClaim("principal", "attacker")), ".")
			return p[0] + "." + other[1] + "." + p[2]
		}, forge.ErrFITBadSignature, "fit_bad_signature"},
		{"no kid", func() string { return f.minter.MustMint(forgesim.WithKID("")) }, forge.ErrFITUnknownKID, "fit_unknown_kid"},
		{"unknown kid", func() string { return f.minter.MustMint(forgesim.WithKID("staging-key")) }, forge.ErrFITUnknownKID, "fit_unknown_kid"},
		{"context token issuer", func() string {
			return f.minter.MustMint(forgesim.WithClaim("iss", "forge/context-token"), forgesim.WithClaim("aud", "forge"))
		}, forge.ErrFITWrongIssuer, "fit_wrong_iss"},
		{"no issuer", func() string { return f.minter.MustMint(forgesim.WithoutClaim("iss")) }, forge.ErrFITClaimMissing, "fit_claim_missing"},
		{"connect issuer", func() string { return f.minter.MustMint(forgesim.WithClaim("iss", "jira:1234")) }, forge.ErrFITWrongIssuer, "fit_wrong_iss"},
		{"other app's aud", func() string {
			other := "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555"
			return f.minter.MustMint(forgesim.WithClaim("aud", other), forgesim.WithClaim("app.id", other))
		}, forge.ErrFITWrongAudience, "fit_wrong_aud"},
		{"bare uuid aud", func() string {
			return f.minter.MustMint(forgesim.WithClaim("aud", strings.TrimPrefix(forgesim.DefaultAppID, forge.AppARIPrefix)))
		}, forge.ErrFITWrongAudience, "fit_wrong_aud"},
		{"two audiences", func() string {
			return f.minter.MustMint(forgesim.WithClaim("aud", []string{forgesim.DefaultAppID, "forge"}))
		}, forge.ErrFITWrongAudience, "fit_wrong_aud"},
		{"app.id differs from aud", func() string {
			return f.minter.MustMint(forgesim.WithClaim("app.id", "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555"))
		}, forge.ErrFITAppMismatch, "fit_app_mismatch"},
		{"expired beyond leeway", func() string {
			return f.minter.MustMint(forgesim.WithIssuedAt(now.Add(-31 * time.Second)))
		}, forge.ErrFITExpired, "fit_expired"},
		{"nbf in the future", func() string {
			return f.minter.MustMint(forgesim.WithClaim("nbf", now.Add(10*time.Second).Unix()))
		}, forge.ErrFITNotYetValid, "fit_not_yet_valid"},
		{"iat in the future", func() string {
			return f.minter.MustMint(forgesim.WithIssuedAt(now.Add(time.Minute)))
		}, forge.ErrFITNotYetValid, "fit_not_yet_valid"},
		{"valid for a day", func() string {
			return f.minter.MustMint(forgesim.WithLifetime(24 * time.Hour))
		}, forge.ErrFITLifetimeTooLong, "fit_lifetime_too_long"},
		{"valid a second past the maximum", func() string {
			return f.minter.MustMint(forgesim.WithLifetime(forge.DefaultMaxLifetime + time.Second))
		}, forge.ErrFITLifetimeTooLong, "fit_lifetime_too_long"},
		{"no exp", func() string { return f.minter.MustMint(forgesim.WithoutClaim("exp")) }, forge.ErrFITClaimMissing, "fit_claim_missing"},
		{"no nbf", func() string { return f.minter.MustMint(forgesim.WithoutClaim("nbf")) }, forge.ErrFITClaimMissing, "fit_claim_missing"},
		{"no iat", func() string { return f.minter.MustMint(forgesim.WithoutClaim("iat")) }, forge.ErrFITClaimMissing, "fit_claim_missing"},
		{"no jti", func() string { return f.minter.MustMint(forgesim.WithoutClaim("jti")) }, forge.ErrFITClaimMissing, "fit_claim_missing"},
		{"no installation id", func() string {
			return f.minter.MustMint(forgesim.WithoutClaim("app.installationId"), forgesim.WithoutClaim("app.installation"))
		}, forge.ErrFITClaimMissing, "fit_claim_missing"},
		{"development environment", func() string {
			return f.minter.MustMint(forgesim.WithClaim("app.environment.type", "DEVELOPMENT"))
		}, forge.ErrFITDevEnvironment, "fit_dev_environment"},
		{"no environment", func() string { return f.minter.MustMint(forgesim.WithoutClaim("app.environment")) }, forge.ErrFITDevEnvironment, "fit_dev_environment"},
		{"exp of the wrong type", func() string { return f.minter.MustMint(forgesim.WithClaim("exp", "tomorrow")) }, forge.ErrFITMalformed, "fit_malformed"},
		{"app of the wrong type", func() string { return f.minter.MustMint(forgesim.WithClaim("app", "x")) }, forge.ErrFITMalformed, "fit_malformed"},
	}
	v := f.verifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token())
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if got := forge.Code(err); got != tt.code {
				t.Errorf("Code = %q, want %q (err %v)", got, tt.code, err)
			}
			if status, d := httperr.For(err); status != http.StatusUnauthorized || d.Code != tt.code || d.Hint == "" {
				t.Errorf("httperr.For = %d %+v", status, d)
			}
		})
	}
}

// A FIT valid for exactly the maximum lifetime is accepted; the limit is
// configurable.
func TestMaxLifetimeBoundary(t *testing.T) {
	f := newFixture(t)
	if _, err := f.verifier(t).Verify(context.Background(), f.minter.MustMint(forgesim.WithLifetime(forge.DefaultMaxLifetime))); err != nil {
		t.Fatalf("a FIT valid for exactly %v: %v", forge.DefaultMaxLifetime, err)
	}
	f.cfg.MaxLifetime = 2 * time.Minute
	v := f.verifier(t)
	if _, err := v.Verify(context.Background(), f.minter.MustMint(forgesim.WithLifetime(2*time.Minute+time.Second))); !errors.Is(err, forge.ErrFITLifetimeTooLong) {
		t.Fatalf("MaxLifetime 2m, FIT valid 2m1s: err = %v", err)
	}
	if _, err := v.Verify(context.Background(), f.minter.MustMint()); err != nil {
		t.Fatalf("a default FIT under MaxLifetime 2m: %v", err)
	}
}

func TestLeewayAcceptsSmallSkew(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	now := f.clock.Now()
	for name, tok := range map[string]string{
		"expired 4s ago":  f.minter.MustMint(forgesim.WithIssuedAt(now.Add(-29 * time.Second))),
		"issued 4s ahead": f.minter.MustMint(forgesim.WithIssuedAt(now.Add(4 * time.Second))),
	} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	f.cfg.Leeway = -1 // none
	strict := f.verifier(t)
	if _, err := strict.Verify(context.Background(), f.minter.MustMint(forgesim.WithIssuedAt(now.Add(-26*time.Second)))); !errors.Is(err, forge.ErrFITExpired) {
		t.Errorf("no leeway: err = %v, want ErrFITExpired", err)
	}
}

func TestEnvironmentPolicy(t *testing.T) {
	f := newFixture(t)
	devID := "ari:cloud:ecosystem::environment/dev-1"
	tests := []struct {
		name    string
		allowed []string
		envType string
		envID   string
		ok      bool
	}{
		{"default accepts production", nil, "PRODUCTION", "", true},
		{"default refuses development", nil, "DEVELOPMENT", devID, false},
		{"default refuses staging", nil, "STAGING", "", false},
		{"development allowed by type", []string{"PRODUCTION", "DEVELOPMENT"}, "DEVELOPMENT", devID, true},
		{"type match is case-insensitive", []string{"development"}, "DEVELOPMENT", devID, true},
		{"development allowed by environment id", []string{devID}, "DEVELOPMENT", devID, true},
		{"another development environment id refused", []string{devID}, "DEVELOPMENT", devID + "x", false},
		{"development-only backend refuses production", []string{"DEVELOPMENT"}, "PRODUCTION", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.AllowedEnvironments = tt.allowed
			v, err := forge.NewVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			opts := []forgesim.Option{forgesim.WithClaim("app.environment.type", tt.envType)}
			if tt.envID != "" {
				opts = append(opts, forgesim.WithClaim("app.environment.id", tt.envID))
			}
			_, err = v.Verify(context.Background(), f.minter.MustMint(opts...))
			if tt.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, forge.ErrFITDevEnvironment) {
				t.Errorf("err = %v, want ErrFITDevEnvironment", err)
			}
		})
	}
}

func TestReplayCache(t *testing.T) {
	f := newFixture(t)
	tok := f.minter.MustMint()
	plain := f.verifier(t)
	for i := range 2 {
		if _, err := plain.Verify(context.Background(), tok); err != nil {
			t.Fatalf("without replay cache, use %d: %v", i, err)
		}
	}
	f.cfg.ReplayCache = true
	v := f.verifier(t)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, forge.ErrFITReplayed) || forge.Code(err) != "fit_replayed" {
		t.Fatalf("second use: err = %v, want ErrFITReplayed", err)
	}
	// A token that fails another check is not recorded.
	bad := f.minter.MustMint(forgesim.WithClaim("jti", "j-bad"), forgesim.WithClaim("app.environment.type", "DEVELOPMENT"))
	if _, err := v.Verify(context.Background(), bad); !errors.Is(err, forge.ErrFITDevEnvironment) {
		t.Fatalf("bad: %v", err)
	}
	good := f.minter.MustMint(forgesim.WithClaim("jti", "j-bad"))
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Errorf("jti of a refused token was recorded: %v", err)
	}
}

func TestReplayCacheIsBounded(t *testing.T) {
	f := newFixture(t)
	f.cfg.ReplayCache, f.cfg.ReplayCacheSize = true, 3
	v := f.verifier(t)
	var toks []string
	for i := range 4 {
		toks = append(toks, f.minter.MustMint(forgesim.WithLifetime(time.Duration(10+i)*time.Second)))
		if _, err := v.Verify(context.Background(), toks[i]); err != nil {
			t.Fatal(err)
		}
	}
	// The first token (earliest exp) was evicted to make room; the newest
	// ones are still remembered.
	if _, err := v.Verify(context.Background(), toks[0]); err != nil {
		t.Errorf("evicted token: %v", err)
	}
	if _, err := v.Verify(context.Background(), toks[3]); !errors.Is(err, forge.ErrFITReplayed) {
		t.Errorf("newest token: err = %v, want ErrFITReplayed", err)
	}
}

func TestReplayEntriesExpireWithToken(t *testing.T) {
	f := newFixture(t)
	f.cfg.ReplayCache, f.cfg.Leeway = true, -1
	v := f.verifier(t)
	tok := f.minter.MustMint(forgesim.WithClaim("jti", "fixed"))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(forgesim.DefaultLifetime + time.Second)
	// The old token is now expired (not replayed), and a fresh token may
	// reuse the jti because the entry left with its token.
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, forge.ErrFITExpired) {
		t.Errorf("old token: %v", err)
	}
	if _, err := v.Verify(context.Background(), f.minter.MustMint(forgesim.WithClaim("jti", "fixed"))); err != nil {
		t.Errorf("fresh token with recycled jti: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		err    error
	}{
		{"bearer", []string{"Bearer abc"}, "abc", nil},
		{"lower-case scheme", []string{"bearer abc"}, "abc", nil},
		{"extra spaces", []string{"  Bearer   abc  "}, "abc", nil},
		{"absent", nil, "", forge.ErrFITMissing},
		{"connect JWT scheme", []string{"JWT abc"}, "", forge.ErrFITMissing},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", forge.ErrFITMissing},
		{"scheme only", []string{"Bearer"}, "", forge.ErrFITMissing},
		{"empty token", []string{"Bearer   "}, "", forge.ErrFITMissing},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", forge.ErrFITMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Authorization", v)
			}
			got, err := forge.BearerToken(h)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("BearerToken = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestNormalizeAppID(t *testing.T) {
	const ari = "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107"
	tests := []struct {
		in, want string
		ok       bool
	}{
		{ari, ari, true},
		{"8db33809-1f32-48bb-8c52-5877dab48107", ari, true},
		{" 8DB33809-1F32-48BB-8C52-5877DAB48107 ", ari, true},
		{"", "", false},
		{"ari:cloud:ecosystem::app/not-a-uuid", "", false},
		{"ari:cloud:ecosystem::installation/8db33809-1f32-48bb-8c52-5877dab48107", "", false},
		{"forge", "", false},
	}
	for _, tt := range tests {
		got, err := forge.NormalizeAppID(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("NormalizeAppID(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, forge.ErrConfig) {
			t.Errorf("NormalizeAppID(%q) error %v is not ErrConfig", tt.in, err)
		}
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	tests := map[string]forge.Config{
		"no app id":         {},
		"bad jwks url":      {AppID: forgesim.DefaultAppID, JWKSURL: "forge.cdn.prod/.well-known"},
		"huge leeway":       {AppID: forgesim.DefaultAppID, Leeway: time.Hour},
		"tiny max lifetime": {AppID: forgesim.DefaultAppID, MaxLifetime: time.Second},
		"bad staging url":   {AppID: forgesim.DefaultAppID, StagingURL: "ftp://x/y"},
	}
	for name, cfg := range tests {
		if _, err := forge.NewVerifier(cfg); !errors.Is(err, forge.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, on, err := forge.ConfigFromEnv(env(nil))
	if on || err != nil || cfg.AppID != "" {
		t.Errorf("unset: %+v %v %v", cfg, on, err)
	}
	cfg, on, err = forge.ConfigFromEnv(env(map[string]string{
		"FORGE_APP_ID":               "8db33809-1f32-48bb-8c52-5877dab48107",
		"FORGE_ALLOW_STAGING":        "true",
		"FORGE_ALLOWED_ENVIRONMENTS": "production, development",
		"FORGE_API_HOSTS":            "api.atlassian.com,API.STG.ATLASSIAN.COM",
	}))
	if !on || err != nil {
		t.Fatalf("set: %v %v", on, err)
	}
	if !cfg.AllowStaging || strings.Join(cfg.AllowedEnvironments, ",") != "PRODUCTION,DEVELOPMENT" ||
		strings.Join(cfg.APIHosts, ",") != "api.atlassian.com,api.stg.atlassian.com" {
		t.Errorf("cfg = %+v", cfg)
	}
	v, err := forge.NewVerifier(cfg)
	if err != nil || v.AppID() != "ari:cloud:ecosystem::app/8db33809-1f32-48bb-8c52-5877dab48107" {
		t.Errorf("verifier app id %q, %v", v.AppID(), err)
	}
	for name, m := range map[string]map[string]string{
		"bad bool":        {"FORGE_APP_ID": forgesim.DefaultAppID, "FORGE_ALLOW_STAGING": "sometimes"},
		"bad environment": {"FORGE_APP_ID": forgesim.DefaultAppID, "FORGE_ALLOWED_ENVIRONMENTS": "PROD"},
		"bad app id":      {"FORGE_APP_ID": "my-app"},
		"bad jwks url":    {"FORGE_APP_ID": forgesim.DefaultAppID, "FORGE_JWKS_URL": "not a url"},
	} {
		if _, on, err := forge.ConfigFromEnv(env(m)); !on || !errors.Is(err, forge.ErrConfig) {
			t.Errorf("%s: on=%v err=%v", name, on, err)
		}
	}
}

func TestCheckAPIBaseURL(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	for u, ok := range map[string]bool{
		"https://api.atlassian.com/ex/jira/abc":          true,
		"https://API.atlassian.com/ex/jira/abc":          true,
		"https://example.atlassian.net":                  false,
		"http://api.atlassian.com/ex/jira/abc":           false,
		"https://api.atlassian.com.evil.com/ex/jira/abc": false,
		"https://api.atlassian.com:8443/ex/jira/abc":     false,
		"https://user@api.atlassian.com/ex/jira/abc":     false,
		"https://api.stg.atlassian.com/ex/jira/abc":      false,
	} {
		if err := v.CheckAPIBaseURL(u); (err == nil) != ok {
			t.Errorf("CheckAPIBaseURL(%q) = %v, want ok=%v", u, err, ok)
		}
	}
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := forge.ClaimsFromContext(r.Context())
		if !ok {
			t.Error("no claims in context")
			return
		}
		_, _ = w.Write([]byte(c.InstallationID()))
	}), func(w http.ResponseWriter, _ *http.Request, err error) { httperr.Write(w, err) })

	req, _ := forgesim.NewRequest(context.Background(), http.MethodPost, "/forge/lifecycle", strings.NewReader("{}"),
		forgesim.Invocation{FIT: f.minter.MustMint()})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != forgesim.DefaultInstallationID {
		t.Errorf("genuine: %d %q", rec.Code, rec.Body)
	}

	req = httptest.NewRequest(http.MethodPost, "/forge/lifecycle", nil)
	req.Header.Set("Authorization", "JWT eyJhbGciOiJIUzI1NiJ9.e30.x")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body httperr.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 401 || body.Error.Code != "fit_missing" || body.Error.Message == "" || body.Error.Hint == "" ||
		!strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("Connect JWT on a Forge route: %d %+v %v", rec.Code, body, rec.Header())
	}
}

func TestHTTPErrorStatuses(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{forge.ErrFITExpired, 401, "fit_expired"},
		{forge.ErrJWKSUnavailable, 503, "fit_jwks_unavailable"},
		{forge.ErrForgeTokenMalformed, 400, "forge_token_malformed"},
		{errors.New("boom"), 500, "internal"},
	}
	for _, tt := range tests {
		status, d := httperr.For(tt.err)
		if status != tt.status || d.Code != tt.code || (tt.code != "internal" && forge.Code(tt.err) != tt.code) {
			t.Errorf("httperr.For(%v) = %d %+v", tt.err, status, d)
		}
		if tt.code == "internal" && strings.Contains(d.Message, "boom") {
			t.Errorf("internal error text leaked: %q", d.Message)
		}
	}
	if forge.Code(nil) != "" {
		t.Error("Code(nil) != \"\"")
	}
}
