package panel_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, url, auth string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAdminPageHeadersAndAssets(t *testing.T) {
	e := newEnv(t, envOptions{})
	page, err := e.sim.ModuleURL(appKey, "connect-doctor-admin", e.sim.User("admin").AccountID)
	if err != nil {
		t.Fatal(err)
	}
	resp, html := get(t, page, "")
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d %s", resp.StatusCode, html)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	apjs := e.sim.URL() + "/atlassian-connect/all.js"
	for _, want := range []string{
		"default-src 'none'", "script-src 'self' " + apjs + ";", "style-src 'self';", "connect-src 'self';",
		"frame-ancestors " + e.sim.URL(), "base-uri 'none'", "form-action 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
		t.Errorf("CSP too broad: %s", csp)
	}
	if !resp.Uncompressed || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("the page is not served gzip to a client that accepts it (Vary %q)", resp.Header.Get("Vary"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control %q", cc)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("X-Frame-Options %q would stop Jira from framing the page", xfo)
	}
	if strings.Contains(html, e.secret) || strings.Contains(html, "<script>") || strings.Contains(html, " style=") {
		t.Fatal("the page carries the secret, an inline script or an inline style")
	}
	for _, id := range []string{"installation", "explorer", "check", "explain", "history", "advisor"} {
		if !strings.Contains(html, `<section id="`+id+`"`) {
			t.Errorf("section %s missing", id)
		}
	}
	if !strings.Contains(html, `src="`+apjs+`"`) {
		t.Error("all.js is not loaded from AP_JS_URL")
	}
	assets := regexp.MustCompile(`/static/panel\.[0-9a-f]{12}\.(js|css)`).FindAllString(html, -1)
	if len(assets) != 2 {
		t.Fatalf("hashed assets: %v", assets)
	}
	for _, a := range assets {
		resp, body := get(t, e.base+a, "")
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || len(body) < 1000 {
			t.Errorf("%s: %d %q", a, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		if strings.HasSuffix(a, ".js") {
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(body, "AP.context.getToken") {
				t.Errorf("js asset: %q", resp.Header.Get("Content-Type"))
			}
			if strings.Contains(body, "innerHTML") || strings.Contains(body, "eval(") {
				t.Error("the panel script uses innerHTML or eval")
			}
		}
	}
	if resp, _ := get(t, e.base+"/static/panel.000000000000.js", ""); resp.StatusCode != 404 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("unknown asset: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	// The view parameter of configurePage (and postInstallPage) is kept.
	for _, tc := range []struct{ module, want string }{
		{"connect-doctor-configure", `data-view="installation"`},
	} {
		u, err := e.sim.ModuleURL(appKey, tc.module, e.sim.User("admin").AccountID)
		if err != nil {
			t.Fatal(err)
		}
		if resp, html := get(t, u, ""); resp.StatusCode != 200 || !strings.Contains(html, tc.want) {
			t.Errorf("%s: %d, no %s", tc.module, resp.StatusCode, tc.want)
		}
	}
}

func TestAdminPageRefusesWrongTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	if resp, _ := get(t, e.base+"/admin", ""); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if resp, _ := get(t, e.base+"/admin", "JWT "+e.token("admin")); resp.StatusCode != 401 {
		t.Fatalf("a context token on the page: %d", resp.StatusCode)
	}
	page, _ := e.sim.ModuleURL(appKey, "connect-doctor-admin", e.sim.User("admin").AccountID)
	if resp, _ := get(t, strings.Replace(page, "lic=none", "lic=active", 1), ""); resp.StatusCode != 401 {
		t.Fatalf("a tampered query (qsh mismatch): %d", resp.StatusCode)
	}
}
