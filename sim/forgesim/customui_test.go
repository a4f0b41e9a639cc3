package forgesim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// uiRemote records what the remote received from the Custom UI host.
type uiRemote struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	srv  *httptest.Server
}

func newUIRemote(t *testing.T) *uiRemote {
	t.Helper()
	r := &uiRemote{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.body = append(r.body, b)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		if req.URL.Path == "/forge/api/refused" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":"not_jira_admin","message":"no"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true,"path":"`+req.URL.Path+`"}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *uiRemote) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the remote received nothing")
	}
	return r.reqs[len(r.reqs)-1], r.body[len(r.body)-1]
}

var uiResource = fstest.MapFS{
	"index.html": {Data: []byte("<!doctype html>\n<html><head><meta charset=\"utf-8\"><script src=\"app.js\"></script></head><body>hi</body></html>\n")},
	"app.js":     {Data: []byte("console.log('app')\n")},
}

type uiFixture struct {
	site   *forgesim.Site
	remote *uiRemote
	host   *forgesim.CustomUIHost
}

func newUIFixture(t *testing.T, systemToken, userToken bool) uiFixture {
	t.Helper()
	site := forgesim.NewSite(forgesim.SiteOptions{Key: key(t), Seed: 9})
	t.Cleanup(site.Close)
	remote := newUIRemote(t)
	host := forgesim.NewCustomUIHost(forgesim.CustomUIOptions{Site: site, Resource: uiResource, RemoteURL: remote.srv.URL + "/",
		SystemToken: systemToken, UserToken: userToken})
	t.Cleanup(host.Close)
	return uiFixture{site: site, remote: remote, host: host}
}

func uiGet(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func uiPost(t *testing.T, u string, v any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(v)
	resp, err := http.Post(u, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%d: not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

var iframeSrc = regexp.MustCompile(`<iframe class="forge-iframe"[^>]* src="(/cdn/[0-9a-f]+/index\.html)"`)

// open loads the admin page as accountID and returns the iframe's URL.
func (f uiFixture) open(t *testing.T, accountID string) string {
	t.Helper()
	resp, page := uiGet(t, f.host.AdminPageURL(accountID))
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("admin page: %d %v", resp.StatusCode, resp.Header)
	}
	m := iframeSrc.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, accountID) {
		t.Fatalf("admin page has no Custom UI iframe for %s:\n%s", accountID, page)
	}
	return f.host.URL() + m[1]
}

func (f uiFixture) fitClaims(t *testing.T, authz string) jwt.MapClaims {
	t.Helper()
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok {
		t.Fatalf("authorization %q is not a bearer FIT", authz)
	}
	var c jwt.MapClaims
	if _, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return &f.site.Minter().Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(forgesim.Issuer), jwt.WithAudience(f.site.AppID())); err != nil {
		t.Fatalf("FIT: %v", err)
	}
	return c
}

func TestCustomUIHostServesTheResourceWithTheBridge(t *testing.T) {
	f := newUIFixture(t, true, true)
	frame := f.open(t, "acc-admin")
	resp, index := uiGet(t, frame)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index.html: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	bridge, app := strings.Index(index, `<script src="/forgesim/bridge.js"></script>`), strings.Index(index, `<script src="app.js">`)
	if bridge < 0 || app < 0 || bridge > app {
		t.Fatalf("the bridge runtime must come before the app's scripts:\n%s", index)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "connect-src 'self' " + f.remote.srv.URL, "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	base := strings.TrimSuffix(frame, "index.html")
	if resp, body := uiGet(t, base+"app.js"); resp.StatusCode != 200 || body != "console.log('app')\n" {
		t.Errorf("app.js: %d %q", resp.StatusCode, body)
	}
	if resp, rt := uiGet(t, f.host.URL()+"/forgesim/bridge.js"); resp.StatusCode != 200 || !strings.Contains(rt, "__bridge") || !strings.Contains(rt, "callBridge") {
		t.Errorf("bridge runtime: %d", resp.StatusCode)
	}
	for name, u := range map[string]string{
		"missing file":    base + "nope.js",
		"traversal":       base + "..%2findex.html",
		"unknown session": f.host.URL() + "/cdn/0123abcd/index.html",
		"other path":      f.host.URL() + "/secure/admin",
	} {
		if resp, _ := uiGet(t, u); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", name, resp.StatusCode)
		}
	}
	if resp, _ := uiGet(t, f.host.URL()+"/jira/settings/apps/x/y"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("admin page without a user: %d", resp.StatusCode)
	}
}

func TestCustomUIHostInvokeRemote(t *testing.T) {
	cases := []struct {
		name                   string
		systemToken, userToken bool
	}{
		{"endpoint with both tokens", true, true},
		{"endpoint with the system token only", true, false},
		{"endpoint without OAuth tokens", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newUIFixture(t, tc.systemToken, tc.userToken)
			bridge := strings.TrimSuffix(f.open(t, "acc-1"), "index.html") + "__forgesim/bridge"
			status, out := uiPost(t, bridge, map[string]any{"name": "invoke", "payload": map[string]any{
				"path": "/forge/api/checks", "method": "POST", "invokeType": "ui-remote-fetch",
				"headers": map[string]string{"Accept": "application/json", "Authorization": "Bearer forged", "X-Forge-OAuth-User": "forged", "X-Custom": "1"},
				"body":    map[string]any{"method": "GET", "path": "/rest/api/3/myself"},
			}})
			res, _ := out["result"].(map[string]any)
			if status != 200 || res["success"] != true {
				t.Fatalf("invoke: %d %v", status, out)
			}
			payload := res["payload"].(map[string]any)
			if payload["status"] != float64(200) || payload["body"].(map[string]any)["path"] != "/forge/api/checks" {
				t.Fatalf("payload %v", payload)
			}
			if ra := payload["headers"].(map[string]any)["retry-after"]; ra == nil || ra.([]any)[0] != "7" {
				t.Errorf("response headers %v", payload["headers"])
			}
			req, body := f.remote.last(t)
			if req.Method != "POST" || req.URL.Path != "/forge/api/checks" || req.Header.Get("X-Custom") != "1" || string(body) != `{"method":"GET","path":"/rest/api/3/myself"}` {
				t.Fatalf("remote got %s %s %v %s", req.Method, req.URL.Path, req.Header, body)
			}
			c := f.fitClaims(t, req.Header.Get("Authorization"))
			app := c["app"].(map[string]any)
			if c["principal"] != "acc-1" || app["module"].(map[string]any)["type"] != "jira:adminPage" || c["context"].(map[string]any)["siteUrl"] != f.site.SiteURL() {
				t.Errorf("FIT claims %v", c)
			}
			if got := req.Header.Get(forgesim.HeaderSystemToken) != ""; got != tc.systemToken {
				t.Errorf("system token sent: %v, want %v", got, tc.systemToken)
			}
			if got := req.Header.Get(forgesim.HeaderUserToken); (got != "") != tc.userToken || got == "forged" {
				t.Errorf("user token %q, want one: %v (never the page's)", got, tc.userToken)
			}
			calls := f.host.Calls()
			if len(calls) != 1 || calls[0].Name != "invoke" || calls[0].Status != 200 || calls[0].AccountID != "acc-1" || calls[0].Path != "/forge/api/checks" {
				t.Errorf("calls %+v", calls)
			}
		})
	}
}

func TestCustomUIHostBridgeAnswers(t *testing.T) {
	f := newUIFixture(t, true, true)
	base := strings.TrimSuffix(f.open(t, "acc-2"), "index.html") + "__forgesim/"

	// A refusal by the remote is an answer: success, with its status.
	_, out := uiPost(t, base+"bridge", map[string]any{"name": "invoke", "payload": map[string]any{"path": "/forge/api/refused", "method": "GET", "invokeType": "ui-remote-fetch"}})
	if p := out["result"].(map[string]any)["payload"].(map[string]any); p["status"] != float64(403) || p["body"].(map[string]any)["error"].(map[string]any)["code"] != "not_jira_admin" {
		t.Errorf("403 answer %v", out)
	}
	if req, body := f.remote.last(t); req.Method != "GET" || len(body) != 0 {
		t.Errorf("GET with a body: %s %q", req.Method, body)
	}

	refused := []struct {
		name    string
		payload map[string]any
		want    string
	}{
		{"container invoke", map[string]any{"path": "/x", "method": "GET", "invokeType": "ui-container-fetch"}, "invokeType"},
		{"bad method", map[string]any{"path": "/x", "method": "TRACE", "invokeType": "ui-remote-fetch"}, "method"},
		{"absolute URL", map[string]any{"path": "https://evil.example/x", "method": "GET", "invokeType": "ui-remote-fetch"}, "path"},
		{"scheme-relative", map[string]any{"path": "//evil.example/x", "method": "GET", "invokeType": "ui-remote-fetch"}, "path"},
	}
	for _, tc := range refused {
		_, out := uiPost(t, base+"bridge", map[string]any{"name": "invoke", "payload": tc.payload})
		res := out["result"].(map[string]any)
		if res["success"] != false || !strings.Contains(res["error"].(map[string]any)["message"].(string), tc.want) {
			t.Errorf("%s: %v", tc.name, out)
		}
	}

	status, out := uiPost(t, base+"bridge", map[string]any{"name": "getContext"})
	ctx := out["result"].(map[string]any)
	if status != 200 || ctx["accountId"] != "acc-2" || ctx["cloudId"] != f.site.CloudID() || ctx["siteUrl"] != f.site.SiteURL() ||
		ctx["extension"].(map[string]any)["type"] != "jira:adminPage" || ctx["moduleKey"] != "doctor-admin" {
		t.Errorf("getContext %d %v", status, out)
	}

	if status, out := uiPost(t, base+"bridge", map[string]any{"name": "openModal"}); status != http.StatusNotImplemented || !strings.Contains(out["error"].(map[string]any)["message"].(string), "not simulated") {
		t.Errorf("unsimulated call: %d %v", status, out)
	}

	// requestRemote: the browser gets a FIT (and the remote's URL), never
	// an OAuth token, and only for the manifest's remote key.
	if status, _ := uiPost(t, base+"fit", map[string]any{"remoteKey": "other", "path": "/x"}); status != http.StatusBadRequest {
		t.Errorf("unknown remote key: %d", status)
	}
	status, out = uiPost(t, base+"fit", map[string]any{"remoteKey": "doctor", "method": "get", "path": "/forge/api/installation"})
	if status != 200 || out["url"] != f.remote.srv.URL {
		t.Fatalf("fit: %d %v", status, out)
	}
	if c := f.fitClaims(t, "Bearer "+out["fit"].(string)); c["principal"] != "acc-2" {
		t.Errorf("requestRemote FIT %v", c)
	}
	for k := range out {
		if k != "url" && k != "fit" {
			t.Errorf("fit answer carries %q", k)
		}
	}
	names := []string{}
	for _, c := range f.host.Calls() {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "invoke,invoke,invoke,invoke,invoke,getContext,openModal,fetchRemote,fetchRemote" {
		t.Errorf("recorded calls %s", got)
	}
}
