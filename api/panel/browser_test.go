package panel_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromium finds the installed Chromium: CHROME_PATH, else the Debian
// package's binary. Missing, the test skips locally and fails in CI.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROME_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is required in CI (apt-get install chromium; or set CHROME_PATH)")
	}
	t.Skip("Chromium not installed (apt-get install chromium, or set CHROME_PATH)")
	return ""
}

// screenshotDir is where the steps' screenshots go: $SCREENSHOT_DIR, or a
// new directory under the system temp dir that outlives the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		d, err := os.MkdirTemp("", "connect-doctor-panel-screenshots-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAdminPanelInHeadlessChromium opens the panel the way a Jira
// administrator does: the simulator's admin host page embeds it in an
// iframe, the panel gets context tokens through the simulator's all.js,
// and the checks go through the app to the simulated Jira.
func TestAdminPanelInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	e := newEnv(t, envOptions{realTime: true})
	shots := screenshotDir(t)
	t.Logf("screenshots: %s", shots)
	fmt.Printf("admin panel screenshots: %s\n", shots)

	ctx := startBrowser(t, browser)

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
		fmt.Printf("screenshot: %s\n", path)
	}
	// frame opens the host page for a viewer and returns the panel's
	// iframe once the panel has loaded its data.
	frame := func(role string) *chromedp.Node {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(e.sim.AdminPageURL(appKey, "connect-doctor-admin", e.sim.User(role).AccountID))); err != nil {
			t.Fatalf("host page for %s: %v", role, err)
		}
		frames, err := chromedp.Run(ctx, chromedp.Nodes(css("iframe.ap-iframe")))
		if err != nil || len(frames) == 0 {
			t.Fatalf("no iframe on the host page for %s: %v", role, err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#cd-panel[data-ready="true"]`), chromedp.FromNode(frames[0]))); err != nil {
			t.Fatalf("the panel did not load in the iframe for %s: %v", role, err)
		}
		return frames[0]
	}
	in := chromedp.FromNode
	d := panelDriver{t, ctx}
	text, attr, runCheck := d.text, d.attr, d.runCheck

	// 1. The site admin opens the panel.
	admin := frame("admin")
	if got := text(admin, "#installation-facts"); !strings.Contains(got, e.sim.ClientKey()) || !strings.Contains(got, "Jira administrator") {
		t.Fatalf("installation section: %q", got)
	}
	if got := text(admin, "#installation-scopes"); !strings.Contains(got, "READ") || !strings.Contains(got, "ACT_AS_USER") {
		t.Fatalf("scopes: %q", got)
	}
	if got := text(admin, "#explorer-table"); !strings.Contains(got, "/rest/api/") {
		t.Fatalf("explorer is empty: %q", got)
	}
	shot("1-admin-panel")

	// 2. GET /rest/api/2/permissions as the app: 403, explained as the
	// missing ADMIN scope.
	got := runCheck(admin, "GET", "/rest/api/2/permissions", "app")
	for _, want := range []string{"403", "scope_missing", "ADMIN", "Request not in an authorized API scope"} {
		if !strings.Contains(got, want) {
			t.Fatalf("permissions check lacks %q:\n%s", want, got)
		}
	}
	if status := attr(admin, "#check-result .cd-check", "data-status"); status != "403" {
		t.Fatalf("status shown %q", status)
	}
	shot("2-check-permissions-as-app")

	// 3. GET /rest/api/3/myself as the admin, through the JWT-bearer grant.
	got = runCheck(admin, "GET", "/rest/api/3/myself", "user")
	if status := attr(admin, "#check-result .cd-check", "data-status"); status != "200" {
		t.Fatalf("myself as user: status %q\n%s", status, got)
	}
	body, err := chromedp.Run(ctx, chromedp.TextContent(css("#check-result pre.cd-body"), in(admin)))
	if err != nil || !strings.Contains(body, e.sim.User("admin").AccountID) {
		t.Fatalf("myself body not shown:\n%s", got)
	}
	shot("3-check-myself-as-user")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#history-table tr[data-id]`), in(admin))); err != nil {
		t.Fatalf("history not shown: %v", err)
	}
	if got := text(admin, "#history-table"); !strings.Contains(got, "/rest/api/2/permissions") || !strings.Contains(got, "/rest/api/3/myself") {
		t.Fatalf("history: %q", got)
	}

	// 4. A regular user opens the page: the admin-only parts are refused.
	user := frame("user")
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(css(`#installation-refusal[data-code="not_jira_admin"]`), in(user)),
		chromedp.WaitVisible(css(`#history-message[data-code="not_jira_admin"]`), in(user)))
	if err != nil {
		t.Fatalf("refusal not shown to the regular user: %v", err)
	}
	if got := text(user, "#installation-refusal"); !strings.Contains(got, "Administer Jira") || !strings.Contains(got, "not_jira_admin") {
		t.Fatalf("refusal text: %q", got)
	}
	disabled, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](css(`#check-form input[name=as][value=app]`), "disabled", in(user)))
	if err != nil || !disabled {
		t.Fatalf("'as the app' must be disabled for a non-admin: %v %v", disabled, err)
	}
	shot("4-regular-user-refused")

	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		for _, n := range []string{"1-admin-panel", "2-check-permissions-as-app", "3-check-myself-as-user", "4-regular-user-refused"} {
			b, err := os.ReadFile(filepath.Join(shots, n+".png"))
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join("..", "..", "docs", "screenshots", "panel-"+n+".png")
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
