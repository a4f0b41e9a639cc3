package jirasim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestInstallSendsSignedInstallAndReinstallRotatesSecret(t *testing.T) {
	s, _, a, in := installed(t, nil, "read", "ACT_AS_USER")
	ev := a.eventsOf("installed")
	if len(ev) != 1 || ev[0].Err != nil {
		t.Fatalf("installed events = %+v", ev)
	}
	e := ev[0]
	if e.Alg != "RS256" || e.Kid != s.InstallKeyID() {
		t.Errorf("alg/kid = %s/%s, want RS256/%s", e.Alg, e.Kid, s.InstallKeyID())
	}
	if e.Claims.Issuer != s.ClientKey() || e.Claims.Subject != s.User("admin").AccountID {
		t.Errorf("iss/sub = %q/%q", e.Claims.Issuer, e.Claims.Subject)
	}
	p := e.Payload
	if p.Key != "test-app" || p.BaseURL != s.URL() || p.EventType != "installed" || p.OAuthClientID != in.OAuthClientID ||
		p.CloudID != s.CloudID() || !strings.HasPrefix(p.InstallationID, "ari:cloud:ecosystem::installation/") || p.ProductType != "jira" {
		t.Errorf("payload = %+v", p)
	}
	if len(p.SharedSecret) < 32 || p.SharedSecret != in.SharedSecret {
		t.Errorf("secret %q (len %d) vs installation %q", p.SharedSecret, len(p.SharedSecret), in.SharedSecret)
	}
	if got := in.Scopes.String(); got != "READ,ACT_AS_USER" {
		t.Errorf("scopes = %s", got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(in.ClientKey) {
		t.Errorf("clientKey %q is not UUID-like", in.ClientKey)
	}
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(in.BotAccountID) {
		t.Errorf("bot accountId %q", in.BotAccountID)
	}
	// The enabled callback follows, HS256 with the new secret.
	if en := a.eventsOf("enabled"); len(en) != 1 || en[0].Err != nil || en[0].Alg != "HS256" {
		t.Fatalf("enabled events = %+v", en)
	}

	// Reinstall after a key rotation: new kid, new secret, same clientKey.
	kid := s.RotateInstallKey()
	in2, err := s.InstallApp(t.Context(), a.descriptorURL())
	if err != nil {
		t.Fatal(err)
	}
	ev = a.eventsOf("installed")
	if len(ev) != 2 || ev[1].Err != nil || ev[1].Kid != kid {
		t.Fatalf("reinstall events = %+v", ev)
	}
	if in2.SharedSecret == in.SharedSecret || ev[1].Payload.SharedSecret != in2.SharedSecret {
		t.Error("reinstall did not send a new secret")
	}
	if in2.ClientKey != in.ClientKey || in2.OAuthClientID != in.OAuthClientID || in2.BotAccountID != in.BotAccountID {
		t.Error("reinstall changed the clientKey, oauthClientId or bot")
	}
}

func TestInstallRefusedKeepsPreviousInstallation(t *testing.T) {
	s, _, a, in := installed(t, nil, "READ")
	a.mu.Lock()
	a.installFail = http.StatusUnauthorized
	a.mu.Unlock()
	_, err := s.InstallApp(t.Context(), a.descriptorURL())
	want := "The app host returned HTTP response code 401 when we tried to contact it during installation. Please try again later or contact the app vendor."
	var ie *InstallError
	if !errors.As(err, &ie) || err.Error() != want || ie.Status != 401 || !errors.Is(err, ErrCallback) {
		t.Fatalf("err = %v", err)
	}
	cur, ok := s.Installation("test-app")
	if !ok || cur.SharedSecret != in.SharedSecret {
		t.Error("a refused reinstall replaced the installation")
	}
}

func TestInstallRejectsBadDescriptors(t *testing.T) {
	s, _ := newSim(t, nil)
	good := func() map[string]any {
		return map[string]any{"key": "k", "baseUrl": "http://127.0.0.1:1/app", "authentication": map[string]string{"type": "jwt"},
			"lifecycle": map[string]string{"installed": "/installed"}, "apiMigrations": map[string]bool{"signed-install": true}, "scopes": []string{"READ"}}
	}
	tests := []struct {
		name   string
		mod    func(map[string]any)
		status int
		want   string
	}{
		{"missing key", func(d map[string]any) { delete(d, "key") }, 200, `"key" is missing`},
		{"bad key", func(d map[string]any) { d["key"] = "a/b" }, 200, `"key" must be`},
		{"missing baseUrl", func(d map[string]any) { delete(d, "baseUrl") }, 200, `"baseUrl" is missing`},
		{"relative baseUrl", func(d map[string]any) { d["baseUrl"] = "/app" }, 200, "absolute http(s) URL"},
		{"no jwt authentication", func(d map[string]any) { delete(d, "authentication") }, 200, `"authentication"`},
		{"no installed callback", func(d map[string]any) { d["lifecycle"] = map[string]string{} }, 200, "lifecycle.installed"},
		{"unsigned install", func(d map[string]any) { d["apiMigrations"] = map[string]bool{} }, 200, "signed-install"},
		{"unknown scope", func(d map[string]any) { d["scopes"] = []string{"READ", "SUPERUSER"} }, 200, `unknown scope "SUPERUSER"`},
		{"undeclarable scope", func(d map[string]any) { d["scopes"] = []string{"INACCESSIBLE"} }, 200, "unknown scope"},
		{"descriptor 404", nil, 404, "returned HTTP response code 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status != 200 {
					w.WriteHeader(tc.status)
					return
				}
				d := good()
				tc.mod(d)
				_ = json.NewEncoder(w).Encode(d)
			}))
			defer srv.Close()
			_, err := s.InstallApp(t.Context(), srv.URL+"/d.json")
			var ie *InstallError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestUninstallEnableDisableCallbacks(t *testing.T) {
	s, clk, a, in := installed(t, nil, "READ")
	if err := s.Disable(t.Context(), "test-app"); err != nil {
		t.Fatal(err)
	}
	if ev := a.eventsOf("disabled"); len(ev) != 1 || ev[0].Err != nil || ev[0].Alg != "HS256" {
		t.Fatalf("disabled = %+v", ev)
	}
	if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil); r.status != 401 {
		t.Errorf("disabled app's JWT: status %d, want 401", r.status)
	}
	if err := s.Enable(t.Context(), "test-app"); err != nil {
		t.Fatal(err)
	}
	if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil); r.status != 200 {
		t.Errorf("re-enabled app's JWT: status %d, want 200", r.status)
	}
	if err := s.Uninstall(t.Context(), "test-app"); err != nil {
		t.Fatal(err)
	}
	if ev := a.eventsOf("uninstalled"); len(ev) != 1 || ev[0].Err != nil || ev[0].Alg != "RS256" || ev[0].Payload.EventType != "uninstalled" {
		t.Fatalf("uninstalled = %+v", ev)
	}
	if _, ok := s.Installation("test-app"); ok {
		t.Error("still installed after Uninstall")
	}
	if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil); r.status != 401 {
		t.Errorf("uninstalled app's JWT: status %d, want 401", r.status)
	}
	if err := s.Disable(t.Context(), "test-app"); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Disable after uninstall: %v", err)
	}
}

func TestDeterministicIDs(t *testing.T) {
	a, _ := newSim(t, nil)
	b, _ := newSim(t, nil)
	c, _ := newSim(t, func(o *Options) { o.Seed = 8; o.InstallKeys = a.opts.InstallKeys })
	if a.ClientKey() != b.ClientKey() || a.User("admin").AccountID != b.User("admin").AccountID || a.InstallKeyID() != b.InstallKeyID() {
		t.Error("same seed gave different ids")
	}
	if a.ClientKey() == c.ClientKey() {
		t.Error("different seeds gave the same clientKey")
	}
}

func TestUsersRoles(t *testing.T) {
	s, _ := newSim(t, nil)
	admin, user, inactive := s.User("admin"), s.User("user"), s.User("inactive")
	if !admin.SiteAdmin || !admin.Active || user.SiteAdmin || !user.Active || inactive.Active {
		t.Errorf("roles: %+v %+v %+v", admin, user, inactive)
	}
	if s.User("nobody").AccountID != "" {
		t.Error("unknown role returned a user")
	}
	custom, _ := newSim(t, func(o *Options) {
		o.Users = []User{{AccountID: "5aaaaaaaaaaaaaaaaaaaaaaa", DisplayName: "Solo", Active: true}, {DisplayName: "Boss", Active: true, SiteAdmin: true}}
	})
	if custom.User("user").DisplayName != "Solo" || custom.User("admin").DisplayName != "Boss" {
		t.Error("roles were not inferred from Options.Users")
	}
}
