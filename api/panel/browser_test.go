package panel_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
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
	d := panelDriver{t, ctx}
	var current *chromedp.Node // the frame being shown
	shot := func(name string) {
		t.Helper()
		d.screenshot(current, shots, "panel-"+name)
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
	text, attr, runCheck := d.text, d.attr, d.runCheck

	// 1. The site admin opens the panel.
	admin := frame("admin")
	current = admin
	if got := text(admin, "#installation-facts"); !strings.Contains(got, e.sim.ClientKey()) || !strings.Contains(got, "Jira administrator") {
		t.Fatalf("installation section: %q", got)
	}
	// Item 9: the viewer's display name, the accountId on hover.
	adminUser := e.sim.User("admin")
	if got, title := text(admin, "#viewer-name"), attr(admin, "#viewer-name", "title"); got != adminUser.DisplayName || title != adminUser.AccountID {
		t.Fatalf("viewing as %q (title %q), want %q (title %q)", got, title, adminUser.DisplayName, adminUser.AccountID)
	}
	if got := text(admin, "#installation-scopes"); !strings.Contains(got, "READ") || !strings.Contains(got, "ACT_AS_USER") || !strings.Contains(got, "NONE") {
		t.Fatalf("scopes: %q", got)
	}
	// Item 10: the rows add up to the total, which is the reachable count.
	var counts []string
	sum := 0
	for _, sc := range []string{"READ", "ACT_AS_USER", "NONE"} {
		n, err := strconv.Atoi(text(admin, `#installation-scopes tr[data-scope="`+sc+`"] .cd-count`))
		if err != nil {
			t.Fatalf("row %s: %v", sc, err)
		}
		sum += n
		counts = append(counts, strconv.Itoa(n))
	}
	total := text(admin, "#installation-scopes tr.cd-total")
	if !strings.Contains(total, strconv.Itoa(sum)+" of ") || !strings.Contains(text(admin, "#installation-facts"), strconv.Itoa(sum)+" of ") {
		t.Fatalf("rows %v add up to %d; total row %q, facts %q", counts, sum, total, text(admin, "#installation-facts"))
	}
	if got := text(admin, "#explorer-table"); !strings.Contains(got, "/rest/api/") {
		t.Fatalf("explorer is empty: %q", got)
	}
	shot("1-admin-panel")
	// A row opens the explorer on the operations it counts.
	err := chromedp.Do(ctx, chromedp.Click(css(`#installation-scopes tr[data-scope="NONE"]`), in(admin)),
		chromedp.WaitVisible(css(`#explorer-table[data-scope="NONE"] tbody tr[data-operation]`), in(admin)))
	if err != nil {
		t.Fatalf("clicking the NONE row: %v", err)
	}
	if got, want := text(admin, "#explorer-count"), counts[2]+" operations"; !strings.HasPrefix(got, want) {
		t.Fatalf("explorer after clicking NONE: %q, want %q", got, want)
	}
	if sel, _ := chromedp.Run(ctx, chromedp.Value(css(`#explorer-form select[name=scope]`), in(admin))); sel != "NONE" {
		t.Fatalf("explorer scope filter %q", sel)
	}

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
	// Each fact once: the prediction does not repeat the reason the
	// diagnosis states.
	if got := text(admin, "#check-result .cd-preflight"); strings.Contains(got, "needs Connect scope") || attr(admin, "#check-result .cd-preflight", "data-stated") != "diagnosis" {
		t.Fatalf("the prediction repeats the diagnosis: %q", got)
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
	current = user
	err = chromedp.Do(ctx,
		chromedp.WaitVisible(css(`#installation-refusal[data-code="not_jira_admin"]`), in(user)),
		chromedp.WaitVisible(css(`#history-message[data-code="not_jira_admin"]`), in(user)))
	if err != nil {
		t.Fatalf("refusal not shown to the regular user: %v", err)
	}
	if got := text(user, "#installation-refusal"); !strings.Contains(got, "Administer Jira") || !strings.Contains(got, "not_jira_admin") {
		t.Fatalf("refusal text: %q", got)
	}
	// Item 11: exactly what is hidden and what is still there.
	if got := text(user, "#viewer-hidden"); !strings.Contains(got, "Hidden from you") || !strings.Contains(got, "checks run as the app") || !strings.Contains(got, "History") {
		t.Fatalf("hidden parts: %q", got)
	}
	if got := text(user, "#viewer-available"); !strings.Contains(got, "Endpoint explorer") || !strings.Contains(got, "checks run as yourself") || !strings.Contains(got, "Scope advisor") {
		t.Fatalf("available parts: %q", got)
	}
	disabled, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](css(`#check-form input[name=as][value=app]`), "disabled", in(user)))
	if err != nil || !disabled {
		t.Fatalf("'as the app' must be disabled for a non-admin: %v %v", disabled, err)
	}
	shot("4-regular-user-refused")
}
