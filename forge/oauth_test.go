package forge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

func TestParseOAuthHeaders(t *testing.T) {
	exp := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	sys := forgesim.OAuthToken("system", exp)
	usr := forgesim.OAuthToken("user", exp.Add(time.Hour))
	tests := []struct {
		name     string
		h        http.Header
		sys, usr string
		sysExp   time.Time
		err      error
	}{
		// The JWT payload's exp is never read (issue 16 item 1): the header
		// may come from a browser.
		{"both", forgesim.Invocation{FIT: "x", SystemToken: sys, UserToken: usr}.Header(), sys, usr, time.Time{}, nil},
		{"system only (trigger)", forgesim.Invocation{FIT: "x", SystemToken: sys}.Header(), sys, "", time.Time{}, nil},
		{"none (requestRemote)", forgesim.RequestRemote("x").Header(), "", "", time.Time{}, nil},
		{"opaque token has no expiry", http.Header{"X-Forge-Oauth-System": {"opaque-token"}}, "opaque-token", "", time.Time{}, nil},
		{"empty header", http.Header{"X-Forge-Oauth-User": {" "}}, "", "", time.Time{}, forge.ErrForgeTokenMalformed},
		{"scheme included", http.Header{"X-Forge-Oauth-System": {"Bearer " + sys}}, "", "", time.Time{}, forge.ErrForgeTokenMalformed},
		{"repeated", http.Header{"X-Forge-Oauth-System": {sys, sys}}, "", "", time.Time{}, forge.ErrForgeTokenMalformed},
		{"too long", http.Header{"X-Forge-Oauth-System": {strings.Repeat("a", 17<<10)}}, "", "", time.Time{}, forge.ErrForgeTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := forge.ParseOAuthHeaders(tt.h)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				if strings.Contains(err.Error(), sys) || forge.Code(err) != "forge_token_malformed" {
					t.Errorf("error %q leaks the token or has the wrong code", err)
				}
				return
			}
			if got.System.Value() != tt.sys || got.User.Value() != tt.usr || got.System.Present() != (tt.sys != "") {
				t.Errorf("tokens = %q %q", got.System.Value(), got.User.Value())
			}
			if !got.System.Expiry.Equal(tt.sysExp) {
				t.Errorf("system expiry = %v, want %v", got.System.Expiry, tt.sysExp)
			}
		})
	}
}

func TestTokenExpired(t *testing.T) {
	exp := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	received := exp.Add(-forge.MinDeliveredValidity)
	tok := forge.DeliveredToken(forgesim.OAuthToken("system", exp.Add(1000*time.Hour)), received)
	if !tok.Expiry.Equal(exp) {
		t.Errorf("delivered token expiry %v, want receipt + %v = %v (never the payload's exp)", tok.Expiry, forge.MinDeliveredValidity, exp)
	}
	if tok.Expired(exp.Add(-time.Second)) || !tok.Expired(exp) {
		t.Error("Expired is wrong around exp")
	}
	if forge.NewToken("opaque").Expired(exp) {
		t.Error("a token without an expiry hint reported expired")
	}
}

func TestTokensNeverPrint(t *testing.T) {
	sys := forgesim.OAuthToken("system", time.Now().Add(time.Hour))
	usr := forgesim.OAuthToken("user", time.Now().Add(time.Hour))
	toks, err := forge.ParseOAuthHeaders(forgesim.Invocation{FIT: "x", SystemToken: sys, UserToken: usr}.Header())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("tokens", "all", toks, "sys", toks.System)
	logger.Info("text", "v", fmt.Sprint(toks))
	js, _ := json.Marshal(struct {
		T forge.OAuthTokens
		S forge.Token
	}{toks, toks.User})
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", toks), "%+v": fmt.Sprintf("%+v", toks), "%#v": fmt.Sprintf("%#v", toks),
		"%s token": fmt.Sprintf("%s", toks.System), "%q token": fmt.Sprintf("%q", toks.System),
		"%+v token": fmt.Sprintf("%+v", toks.User), "%#v token": fmt.Sprintf("%#v", toks.User),
		"slog": logs.String(), "json": string(js),
	}
	for name, out := range outputs {
		if strings.Contains(out, sys) || strings.Contains(out, usr) || strings.Contains(out, strings.Split(sys, ".")[2]) {
			t.Errorf("%s leaks a token: %s", name, out)
		}
		if !strings.Contains(out, "redacted") && !strings.Contains(out, `"present":true`) {
			t.Errorf("%s shows no redaction marker: %s", name, out)
		}
	}
}
