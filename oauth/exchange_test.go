package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestServerFor(t *testing.T) {
	tests := []struct{ name, base, want string }{
		{"production", "https://acme.atlassian.net", ServerProduction},
		{"production jira.com", "https://acme.jira.com", ServerProduction},
		{"confluence wiki", "https://acme.atlassian.net/wiki", ServerProduction},
		{"staging", "https://acme.jira-dev.com", ServerStaging},
		{"staging upper case", "https://ACME.JIRA-DEV.COM/", ServerStaging},
		{"fedramp", "https://agency.atlassian-us-gov-mod.net", ServerFedRAMP},
		{"fedramp staging", "https://agency.atlassian-stg-fedm.net", ServerFedRAMPStaging},
		{"lookalike is production", "https://jira-dev.com.evil.example", ServerProduction},
		{"suffix without dot is production", "https://evil-jira-dev.com", ServerProduction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ServerFor(tt.base); got != tt.want {
				t.Errorf("ServerFor(%q) = %q, want %q", tt.base, got, tt.want)
			}
		})
	}
}

func TestAssertionSign(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	a := Assertion{OAuthClientID: "cid", AccountID: "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", TenantBaseURL: "https://acme.atlassian.net/wiki", Audience: ServerProduction}
	tok, err := a.Sign(secret, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	var c assertionCheck
	parsed, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return fixedNow })).
		ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil })
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Header["typ"] != "JWT" || parsed.Header["alg"] != "HS256" {
		t.Errorf("header %v", parsed.Header)
	}
	want := assertionCheck{Iss: "urn:atlassian:connect:clientid:cid", Sub: "urn:atlassian:connect:useraccountid:557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", Tnt: "https://acme.atlassian.net/wiki", Aud: ServerProduction}
	if c.Iss != want.Iss || c.Sub != want.Sub || c.Tnt != want.Tnt || c.Aud != want.Aud {
		t.Errorf("claims %+v, want %+v", c, want)
	}
	if !c.IssuedAt.Equal(fixedNow) || !c.ExpiresAt.Equal(fixedNow.Add(AssertionLifetime)) {
		t.Errorf("iat %v exp %v", c.IssuedAt, c.ExpiresAt)
	}
	if AssertionLifetime > 55*time.Second {
		t.Errorf("AssertionLifetime %s leaves too little margin under the 60 s limit", AssertionLifetime)
	}
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"})).Parse(tok, func(*jwt.Token) (any, error) { return []byte("wrong"), nil }); err == nil {
		t.Error("assertion verified with the wrong secret")
	}
}

func TestAssertionSignRefuses(t *testing.T) {
	good := Assertion{OAuthClientID: "cid", AccountID: "acc-1", TenantBaseURL: "https://a.atlassian.net", Audience: ServerProduction}
	tests := []struct {
		name   string
		mutate func(*Assertion)
		secret string
	}{
		{"no secret", func(*Assertion) {}, ""},
		{"no oauthClientId", func(a *Assertion) { a.OAuthClientID = "" }, "s"},
		{"no accountId", func(a *Assertion) { a.AccountID = "" }, "s"},
		{"accountId with a space", func(a *Assertion) { a.AccountID = "a b" }, "s"},
		{"accountId with a slash", func(a *Assertion) { a.AccountID = "x/../y" }, "s"},
		{"no tenant", func(a *Assertion) { a.TenantBaseURL = "" }, "s"},
		{"no audience", func(a *Assertion) { a.Audience = "" }, "s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good
			tt.mutate(&a)
			if _, err := a.Sign(tt.secret, fixedNow); !errors.Is(err, ErrAssertion) {
				t.Errorf("err = %v, want ErrAssertion", err)
			}
		})
	}
}

func TestExchangeFormAndClaims(t *testing.T) {
	tests := []struct {
		name      string
		scopes    scope.Set
		wantScope string
	}{
		{"not narrowing: no scope field", nil, ""},
		{"NONE only is not narrowing", scope.Set{scope.None}, ""},
		{"single scope", scope.Set{scope.Read}, "READ"},
		{"upper case, space separated, hierarchy order, deduplicated", scope.Set{"write", scope.Read, "READ", scope.ActAsUser}, "READ WRITE ACT_AS_USER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := func() time.Time { return fixedNow }
			tenant := testTenant("https://acme.atlassian.net")
			fs := newFakeAuthServer(t, tenant.SharedSecret, tenant.OAuthClientID, tenant.BaseURL, now)
			fs.wantScope = tt.wantScope
			ex := &Exchanger{TokenURL: fs.srv.URL, Now: now}
			tok, err := ex.Exchange(t.Context(), tenant, "5b10ac8d82e05b22cc7d4ef5", tt.scopes)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != "tok-5b10ac8d82e05b22cc7d4ef5-1" || tok.TokenType != "Bearer" {
				t.Errorf("token %q type %q", tok.AccessToken, tok.TokenType)
			}
			if !tok.Expiry.Equal(fixedNow.Add(900 * time.Second)) {
				t.Errorf("expiry %v", tok.Expiry)
			}
			if got := tok.Scopes.String(); got != strings.ReplaceAll(tt.wantScope, " ", ",") {
				t.Errorf("token scopes %q", got)
			}
			if fs.calls.Load() != 1 {
				t.Errorf("%d calls", fs.calls.Load())
			}
		})
	}
}

func TestExchangeTokenURLForms(t *testing.T) {
	now := func() time.Time { return fixedNow }
	tenant := testTenant("https://acme.atlassian.net/wiki")
	fs := newFakeAuthServer(t, tenant.SharedSecret, tenant.OAuthClientID, tenant.BaseURL, now)
	for _, u := range []string{fs.srv.URL, fs.srv.URL + "/", fs.srv.URL + "/oauth2/token"} {
		ex := &Exchanger{TokenURL: u, Now: now}
		if _, err := ex.Exchange(t.Context(), tenant, "acc-1", nil); err != nil {
			t.Errorf("TokenURL %q: %v", u, err)
		}
	}
	server, tokenURL := (&Exchanger{}).Endpoint("https://x.jira-dev.com")
	if server != ServerStaging || tokenURL != ServerStaging+"/oauth2/token" {
		t.Errorf("Endpoint = %q %q", server, tokenURL)
	}
}

func TestExchangeErrors(t *testing.T) {
	jsonErr := func(status int, code, desc string) func(http.ResponseWriter, *http.Request, *assertionCheck) {
		return func(w http.ResponseWriter, _ *http.Request, _ *assertionCheck) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		}
	}
	tests := []struct {
		name       string
		respond    func(http.ResponseWriter, *http.Request, *assertionCheck)
		closed     bool // server down
		maxBody    int64
		sentinel   error
		status     int
		code       string
		descSubstr string
		hintSubstr string
	}{
		{name: "invalid_grant lifetime",
			respond:  jsonErr(400, "invalid_grant", "Expiration timestamp too far in the future [was 135 seconds from now; please set `exp` to no more than 60 seconds after issue time]"),
			sentinel: ErrInvalidGrant, status: 400, code: "invalid_grant", descSubstr: "too far in the future", hintSubstr: "clock"},
		{name: "invalid_grant unknown user",
			respond:  jsonErr(400, "invalid_grant", "Unknown user"),
			sentinel: ErrInvalidGrant, status: 400, code: "invalid_grant", descSubstr: "Unknown user", hintSubstr: "accountId"},
		{name: "invalid_grant missing ACT_AS_USER",
			respond:  jsonErr(400, "invalid_grant", "The app does not have the ACT_AS_USER scope"),
			sentinel: ErrInvalidGrant, status: 400, code: "invalid_grant", descSubstr: "ACT_AS_USER", hintSubstr: "ACT_AS_USER"},
		{name: "unauthorized_client from the wrong server",
			respond:  jsonErr(401, "unauthorized_client", "The authenticated client is not authorized to use this authorization grant type"),
			sentinel: ErrUnauthorizedClient, status: 401, code: "unauthorized_client", descSubstr: "not authorized", hintSubstr: "auth.atlassian.io"},
		{name: "HTML 502 from a proxy",
			respond: func(w http.ResponseWriter, _ *http.Request, _ *assertionCheck) {
				w.WriteHeader(502)
				w.Write([]byte("<html>\n<body>Bad gateway</body></html>"))
			},
			sentinel: ErrTokenEndpoint, status: 502, descSubstr: "Bad gateway"},
		{name: "redirect is not followed",
			respond: func(w http.ResponseWriter, r *http.Request, _ *assertionCheck) {
				http.Redirect(w, r, "https://elsewhere.example/oauth2/token", http.StatusTemporaryRedirect)
			},
			sentinel: ErrTokenEndpoint, status: 307, descSubstr: "redirect to https://elsewhere.example"},
		{name: "200 without a token",
			respond: func(w http.ResponseWriter, _ *http.Request, _ *assertionCheck) {
				w.Write([]byte(`{"token_type":"Bearer"}`))
			},
			sentinel: ErrBadResponse, status: 200},
		{name: "200 that is not JSON",
			respond:  func(w http.ResponseWriter, _ *http.Request, _ *assertionCheck) { w.Write([]byte(`<html>`)) },
			sentinel: ErrBadResponse, status: 200},
		{name: "wrong token type",
			respond: func(w http.ResponseWriter, _ *http.Request, _ *assertionCheck) {
				w.Write([]byte(`{"access_token":"x","token_type":"mac","expires_in":900}`))
			},
			sentinel: ErrBadResponse, status: 200},
		{name: "oversized answer",
			respond: func(w http.ResponseWriter, _ *http.Request, _ *assertionCheck) {
				w.Write([]byte(`{"access_token":"` + strings.Repeat("x", 4096) + `"}`))
			},
			maxBody: 1024, sentinel: ErrBadResponse, status: 200},
		{name: "network failure", closed: true, sentinel: ErrNetwork},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := func() time.Time { return fixedNow }
			tenant := testTenant("https://acme.atlassian.net")
			fs := newFakeAuthServer(t, tenant.SharedSecret, tenant.OAuthClientID, tenant.BaseURL, now)
			fs.respond = tt.respond
			if tt.closed {
				fs.srv.Close()
			}
			ex := &Exchanger{TokenURL: fs.srv.URL, Now: now, MaxBody: tt.maxBody}
			tok, err := ex.Exchange(t.Context(), tenant, "acc-1", nil)
			if err == nil {
				t.Fatalf("no error, token %v", tok)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("err %v does not wrap %v", err, tt.sentinel)
			}
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("err %T is not *oauth.Error", err)
			}
			if oe.StatusCode != tt.status || oe.Code != tt.code || oe.Server != fs.srv.URL {
				t.Errorf("Error{Status %d, Code %q, Server %q}, want %d %q %q", oe.StatusCode, oe.Code, oe.Server, tt.status, tt.code, fs.srv.URL)
			}
			if !strings.Contains(oe.Description, tt.descSubstr) || !strings.Contains(err.Error(), tt.descSubstr) {
				t.Errorf("description %q / message %q lacks %q", oe.Description, err.Error(), tt.descSubstr)
			}
			if !strings.Contains(oe.Hint(), tt.hintSubstr) {
				t.Errorf("hint %q lacks %q", oe.Hint(), tt.hintSubstr)
			}
			if strings.Contains(err.Error(), tenant.SharedSecret) {
				t.Error("error message leaks the shared secret")
			}
		})
	}
}

func TestExchangeRefusesLocally(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent: %s", r.URL)
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		mutate   func(*Exchanger, *tenant.Tenant)
		account  string
		scopes   scope.Set
		sentinel error
	}{
		{"uninstalled tenant", func(_ *Exchanger, t *tenant.Tenant) { t.State = "uninstalled" }, "acc", nil, ErrTenantInactive},
		{"disabled tenant", func(_ *Exchanger, t *tenant.Tenant) { t.State = "disabled" }, "acc", nil, ErrTenantInactive},
		{"no oauthClientId", func(_ *Exchanger, t *tenant.Tenant) { t.OAuthClientID = "" }, "acc", nil, ErrAssertion},
		{"no secret", func(_ *Exchanger, t *tenant.Tenant) { t.SharedSecret = "" }, "acc", nil, ErrAssertion},
		{"no account", func(*Exchanger, *tenant.Tenant) {}, "", nil, ErrAssertion},
		{"INACCESSIBLE scope", func(*Exchanger, *tenant.Tenant) {}, "acc", scope.Set{scope.Inaccessible}, ErrScope},
		{"unknown scope", func(*Exchanger, *tenant.Tenant) {}, "acc", scope.Set{"FLY"}, ErrScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &Exchanger{TokenURL: srv.URL}
			tenant := testTenant("https://acme.atlassian.net")
			tt.mutate(ex, tenant)
			if _, err := ex.Exchange(t.Context(), tenant, tt.account, tt.scopes); !errors.Is(err, tt.sentinel) {
				t.Errorf("err = %v, want %v", err, tt.sentinel)
			}
		})
	}
}

func TestExchangeTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ex := &Exchanger{TokenURL: srv.URL, Timeout: 50 * time.Millisecond}
	_, err := ex.Exchange(context.Background(), testTenant("https://acme.atlassian.net"), "acc", nil)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrNetwork wrapping DeadlineExceeded", err)
	}
}

func TestTokenNeverPrintsSecret(t *testing.T) {
	tok := &Token{AccessToken: "very-secret-token", TokenType: "Bearer", Expiry: fixedNow, Scopes: scope.Set{scope.Read}}
	for _, s := range []string{tok.String(), tok.GoString(), tok.LogValue().String()} {
		if strings.Contains(s, "very-secret-token") {
			t.Errorf("%q reveals the token", s)
		}
	}
}
