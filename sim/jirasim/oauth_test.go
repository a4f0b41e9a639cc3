package jirasim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// assertion builds a JWT-bearer assertion as an app would (§1.e).
func assertion(s *Sim, in *Installation, now time.Time, accountID string, mod func(*assertionClaims)) string {
	c := assertionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    clientIDPrefix + in.OAuthClientID,
			Subject:   accountIDPrefix + accountID,
			Audience:  jwt.ClaimStrings{s.AuthServerURL()},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(60 * time.Second)),
		},
		Tnt: s.URL(),
	}
	secret := in.SharedSecret
	if mod != nil {
		mod(&c)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		panic(err)
	}
	return tok
}

func tokenRequest(t *testing.T, s *Sim, form url.Values) result {
	t.Helper()
	return do(t, "POST", s.AuthServerURL()+"/oauth2/token", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
}

func grant(a string) url.Values {
	return url.Values{"grant_type": {grantTypeJWTBearer}, "assertion": {a}}
}

func TestTokenServerRules(t *testing.T) {
	s, clk, _, in := installed(t, nil, "WRITE", "ACT_AS_USER")
	user := s.User("user").AccountID
	other := *in
	other.SharedSecret = strings.Repeat("z", 64)
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   string
		desc   string // exact, or prefix when it ends in "…"
	}{
		{"ok", grant(assertion(s, in, clk.Now(), user, nil)), 200, "", ""},
		{"exp 120 s ahead", grant(assertion(s, in, clk.Now(), user, func(c *assertionClaims) {
			c.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(120 * time.Second))
		})), 400, "invalid_grant", "Expiration timestamp too far in the future [was 120 seconds from now; please set `exp` to no more than 60 seconds after issue time]"},
		{"unknown user", grant(assertion(s, in, clk.Now(), "5fffffffffffffffffffffff", nil)), 400, "invalid_grant", "Unknown user: 5fffffffffffffffffffffff"},
		{"inactive user", grant(assertion(s, in, clk.Now(), s.User("inactive").AccountID, nil)), 400, "invalid_grant", "The user " + s.User("inactive").AccountID + " is not active"},
		{"wrong aud", grant(assertion(s, in, clk.Now(), user, func(c *assertionClaims) {
			c.Audience = jwt.ClaimStrings{"https://oauth-2-authorization-server.services.atlassian.com"}
		})), 400, "invalid_grant", "Invalid audience…"},
		{"wrong tnt", grant(assertion(s, in, clk.Now(), user, func(c *assertionClaims) { c.Tnt = "https://other.atlassian.net" })), 400, "invalid_grant", "Invalid tenant…"},
		{"bad signature", grant(assertion(s, &other, clk.Now(), user, nil)), 400, "invalid_grant", "Invalid assertion signature"},
		{"expired", grant(assertion(s, in, clk.Now().Add(-2*time.Minute), user, nil)), 400, "invalid_grant", "Assertion has expired"},
		{"user key subject", grant(assertion(s, in, clk.Now(), user, func(c *assertionClaims) { c.Subject = userKeyPrefix + "admin" })), 400, "invalid_grant", "User keys are no longer supported…"},
		{"unknown client", grant(assertion(s, in, clk.Now(), user, func(c *assertionClaims) { c.Issuer = clientIDPrefix + "nope" })), 401, "invalid_client", "Unknown client…"},
		{"wrong grant type", url.Values{"grant_type": {"client_credentials"}, "assertion": {assertion(s, in, clk.Now(), user, nil)}}, 400, "unsupported_grant_type", "Unsupported grant type: client_credentials"},
		{"no assertion", url.Values{"grant_type": {grantTypeJWTBearer}}, 400, "invalid_request", "Missing assertion parameter"},
		{"plus-joined scope", func() url.Values {
			f := grant(assertion(s, in, clk.Now(), user, nil))
			f.Set("scope", "READ+WRITE")
			return f
		}(), 400, "invalid_scope", "Unknown scope…"},
		{"scope beyond the app", func() url.Values {
			f := grant(assertion(s, in, clk.Now(), user, nil))
			f.Set("scope", "READ ADMIN")
			return f
		}(), 400, "invalid_scope", "The scope ADMIN was not granted to the app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tokenRequest(t, s, tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			m := r.json(t)
			if tc.status == 200 {
				if m["token_type"] != "Bearer" || m["expires_in"] != 900.0 || m["access_token"] == "" || len(m) != 3 {
					t.Errorf("token response = %s", r.body)
				}
				return
			}
			if m["error"] != tc.code {
				t.Errorf("error = %v, want %s", m["error"], tc.code)
			}
			desc, _ := m["error_description"].(string)
			if p, ok := strings.CutSuffix(tc.desc, "…"); ok && !strings.HasPrefix(desc, p) || !ok && desc != tc.desc {
				t.Errorf("error_description = %q, want %q", desc, tc.desc)
			}
		})
	}
}

func TestTokenServerNeedsActAsUser(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ")
	r := tokenRequest(t, s, grant(assertion(s, in, clk.Now(), s.User("user").AccountID, nil)))
	m := r.json(t)
	if r.status != 400 || m["error"] != "unauthorized_client" || m["error_description"] != "The authenticated client is not authorized to use this authorization grant type" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// userToken gets an impersonation token for role with an optional scope.
func userToken(t *testing.T, s *Sim, in *Installation, now time.Time, role, scope string) string {
	t.Helper()
	f := grant(assertion(s, in, now, s.User(role).AccountID, nil))
	if scope != "" {
		f.Set("scope", scope)
	}
	r := tokenRequest(t, s, f)
	if r.status != 200 {
		t.Fatalf("token for %s: %d %s", role, r.status, r.body)
	}
	return r.json(t)["access_token"].(string)
}

func TestUserTokensActAsTheUser(t *testing.T) {
	s, clk, _, in := installed(t, nil, "ADMIN", "ACT_AS_USER")
	asUser := func(tok, method, uri string) result {
		return do(t, method, s.URL()+uri, nil, map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json"})
	}
	userTok := userToken(t, s, in, clk.Now(), "user", "")
	adminTok := userToken(t, s, in, clk.Now(), "admin", "")
	readTok := userToken(t, s, in, clk.Now(), "admin", "READ")

	tests := []struct {
		name   string
		tok    string
		method string
		uri    string
		status int
	}{
		{"myself is the user", userTok, "GET", "/rest/api/3/myself", 200},
		{"user may not administer", userTok, "GET", "/rest/api/3/application-properties", 403},
		{"admin may administer", adminTok, "GET", "/rest/api/2/application-properties", 200},
		{"user browses DOC", userTok, "GET", "/rest/api/3/issue/DOC-1", 200},
		{"user may not browse OPS", userTok, "GET", "/rest/api/3/issue/OPS-1", 403},
		{"user may not delete", userTok, "DELETE", "/rest/api/3/issue/DOC-1", 403},
		{"narrowed token reads", readTok, "GET", "/rest/api/3/issue/OPS-1", 200},
		{"narrowed token lacks ADMIN (documented 401)", readTok, "GET", "/rest/api/2/permissions", 401},
		{"INACCESSIBLE for user tokens too", adminTok, "GET", "/rest/api/3/settings/columns", 401},
		{"unknown bearer is anonymous", "opaque-garbage", "GET", "/rest/api/3/myself", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := asUser(tc.tok, tc.method, tc.uri)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
	if me := asUser(userTok, "GET", "/rest/api/3/myself").json(t); me["accountId"] != s.User("user").AccountID {
		t.Errorf("myself = %v", me["accountId"])
	}
	// project/search filters rather than refusing.
	ps := asUser(userTok, "GET", "/rest/api/3/project/search").json(t)
	if ps["total"] != 1.0 {
		t.Errorf("user sees %v projects, want 1", ps["total"])
	}
	// Tokens expire after 900 s on the site's clock.
	clk.Add(AccessTokenLifetime)
	if r := asUser(userTok, "GET", "/rest/api/3/myself"); r.status != 401 {
		t.Errorf("expired token: %d", r.status)
	}
}

func TestUserTokenScopeDenialStatusOption(t *testing.T) {
	s, clk, _, in := installed(t, func(o *Options) { o.UserTokenScopeDenialStatus = 403 }, "READ", "ACT_AS_USER")
	tok := userToken(t, s, in, clk.Now(), "admin", "")
	r := do(t, "GET", s.URL()+"/rest/api/2/permissions", nil, map[string]string{"Authorization": "Bearer " + tok})
	if r.status != 403 || r.json(t)["message"] != "Request not in an authorized API scope" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestPermissionChecks(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ", "ACT_AS_USER")
	admin, user := s.User("admin").AccountID, s.User("user").AccountID
	check := func(accountID string) map[string]any {
		body := fmt.Sprintf(`{"accountId":%q,"globalPermissions":["ADMINISTER","USER_PICKER"],"projectPermissions":[{"permissions":["BROWSE_PROJECTS"],"projects":[10000,10001]}]}`, accountID)
		r := asApp(t, s, in, clk.Now(), "POST", "/rest/api/3/permissions/check", strings.NewReader(body))
		if r.status != 200 {
			t.Fatalf("permissions/check: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	if g := fmt.Sprint(check(admin)["globalPermissions"]); g != "[ADMINISTER USER_PICKER]" {
		t.Errorf("admin global = %s", g)
	}
	m := check(user)
	if g := fmt.Sprint(m["globalPermissions"]); g != "[USER_PICKER]" {
		t.Errorf("user global = %s", g)
	}
	if p := fmt.Sprint(m["projectPermissions"]); p != "[map[issues:[] permission:BROWSE_PROJECTS projects:[10000]]]" {
		t.Errorf("user project permissions = %s", p)
	}

	mine := func(role string) map[string]any {
		tok := userToken(t, s, in, clk.Now(), role, "")
		r := do(t, "GET", s.URL()+"/rest/api/3/mypermissions?permissions=ADMINISTER,BROWSE_PROJECTS", nil, map[string]string{"Authorization": "Bearer " + tok})
		if r.status != 200 {
			t.Fatalf("mypermissions: %d %s", r.status, r.body)
		}
		return r.json(t)["permissions"].(map[string]any)
	}
	if p := mine("admin"); p["ADMINISTER"].(map[string]any)["havePermission"] != true {
		t.Errorf("admin mypermissions = %v", p)
	}
	p := mine("user")
	if p["ADMINISTER"].(map[string]any)["havePermission"] != false || p["BROWSE_PROJECTS"].(map[string]any)["havePermission"] != true {
		t.Errorf("user mypermissions = %v", p)
	}
	if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/mypermissions", nil); r.status != 400 {
		t.Errorf("mypermissions without permissions: %d", r.status)
	}
	// A non-admin bot may not check someone else's permissions.
	bot := s.User("bot:test-app")
	bot.SiteAdmin = false
	_ = s.UpdateUser(bot)
	r := asApp(t, s, in, clk.Now(), "POST", "/rest/api/3/permissions/check", strings.NewReader(fmt.Sprintf(`{"accountId":%q,"globalPermissions":["ADMINISTER"]}`, admin)))
	if r.status != 403 {
		t.Errorf("non-admin checking another user: %d", r.status)
	}
}
