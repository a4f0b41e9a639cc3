package jirasim

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

var iframeSrc = regexp.MustCompile(`<iframe[^>]* src="([^"]+)"`)
var nonceRE = regexp.MustCompile(`"nonce":"([^"]+)"`)

func TestAdminPageEmbedsSignedModule(t *testing.T) {
	s, clk, a, in := installed(t, nil, "READ")
	user := s.User("user")
	page := do(t, "GET", s.AdminPageURL("test-app", "doctor-admin", user.AccountID), nil, nil)
	if page.status != 200 {
		t.Fatalf("admin page: %d %s", page.status, page.body)
	}
	m := iframeSrc.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no iframe in %s", page.body)
	}
	src, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if src.Path != "/app/admin" || !strings.HasPrefix(src.String(), a.baseURL()) {
		t.Errorf("iframe src = %s", src)
	}
	q := src.Query()
	for k, want := range map[string]string{"tab": "overview", "xdm_e": s.URL(), "cp": "", "lic": "none", "tz": user.TimeZone, "loc": "en-US", "user_id": ""} {
		if got, ok := q[k]; !ok || got[0] != want {
			t.Errorf("param %s = %v, want %q", k, got, want)
		}
	}
	if q.Get("xdm_c") == "" {
		t.Error("no xdm_c")
	}
	var c connect.Claims
	_, err = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(clk.Now)).
		ParseWithClaims(q.Get("jwt"), &c, func(*jwt.Token) (any, error) { return []byte(in.SharedSecret), nil })
	if err != nil {
		t.Fatalf("page JWT: %v", err)
	}
	// The app verifies the qsh over its own path, minus its base path.
	if want := connect.RequestQSH("GET", src.RequestURI(), "/app"); c.QSH != want {
		t.Errorf("page qsh = %s, want %s", c.QSH, want)
	}
	if c.Subject != user.AccountID || c.Issuer != in.ClientKey || c.ExpiresAt.Sub(clk.Now()) != PageTokenLifetime {
		t.Errorf("page claims = %+v", c)
	}
	// The module itself answers.
	if r := do(t, "GET", src.String(), nil, nil); r.status != 200 {
		t.Errorf("module: %d", r.status)
	}

	// The host page's nonce buys a context token for the viewer.
	nm := nonceRE.FindStringSubmatch(page.body)
	if nm == nil {
		t.Fatal("no nonce on the page")
	}
	r := do(t, "POST", s.URL()+contextTokenPath, strings.NewReader(`{"nonce":"`+nm[1]+`"}`), map[string]string{"Content-Type": "application/json", "Origin": s.URL()})
	if r.status != 200 {
		t.Fatalf("context token: %d %s", r.status, r.body)
	}
	var cc connect.Claims
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clk.Now)).
		ParseWithClaims(r.json(t)["token"].(string), &cc, func(*jwt.Token) (any, error) { return []byte(in.SharedSecret), nil }); err != nil {
		t.Fatal(err)
	}
	if cc.QSH != connect.ContextQSH || cc.Subject != user.AccountID || cc.Issuer != in.ClientKey || cc.ExpiresAt.Sub(clk.Now()) != ContextTokenLifetime {
		t.Errorf("context claims = %+v", cc)
	}
	for name, req := range map[string]struct{ body, origin string }{
		"bad nonce":    {`{"nonce":"guess"}`, s.URL()},
		"cross origin": {`{"nonce":"` + nm[1] + `"}`, "http://evil.example"},
	} {
		if r := do(t, "POST", s.URL()+contextTokenPath, strings.NewReader(req.body), map[string]string{"Origin": req.origin}); r.status < 400 {
			t.Errorf("%s: %d", name, r.status)
		}
	}
}

func TestAdminPageLogin(t *testing.T) {
	s, _, _, _ := installed(t, nil, "READ")
	admin := s.User("admin").AccountID
	good := s.AdminPageURL("test-app", "doctor-admin", admin)
	forged := strings.Replace(good, admin, s.User("user").AccountID, 1)
	if r := do(t, "GET", forged, nil, nil); r.status != 401 {
		t.Errorf("forged ticket: %d", r.status)
	}
	if r := do(t, "GET", s.AdminPageURL("test-app", "nope", admin), nil, nil); r.status != 404 {
		t.Errorf("unknown module: %d", r.status)
	}
	// The ticket sets a session cookie; later visits need no ticket.
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	if resp, err := cl.Get(good); err != nil || resp.StatusCode != 200 {
		t.Fatalf("with ticket: %v %v", resp, err)
	}
	resp, err := cl.Get(s.URL() + "/plugins/servlet/ac/test-app/doctor-admin")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("with cookie: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestAllJSServed(t *testing.T) {
	s, _ := newSim(t, nil)
	r := do(t, "GET", s.URL()+"/atlassian-connect/all.js", nil, nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "javascript") || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("%d %v", r.status, r.header)
	}
	for _, api := range []string{"getToken", "getContext", "resize", "sizeToParent", "getLocation", "getCurrentUser"} {
		if !strings.Contains(r.body, api) {
			t.Errorf("all.js lacks %s", api)
		}
	}
}
