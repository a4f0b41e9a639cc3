package panel_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/forge/customui"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

const (
	forgeAdmin = "5b10a2844c20165700ede21g"
	forgeUser  = "5b10ac8d82e05b22cc7d4ef5"
)

// startForgeApp builds the whole app (as `connect-doctor serve` does) with
// Forge Remote enabled against the simulated site: its JWKS host is
// FORGE_JWKS_URL, its api.atlassian.com gateway is the one allowed
// FORGE_API_HOSTS entry, FORGE_APP_ID is the app the FITs are for.
func startForgeApp(t *testing.T, site *forgesim.Site) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := map[string]string{
		"BASE_URL": base, "DATA_DIR": t.TempDir(), "ENCRYPTION_KEY": strings.Repeat("cd", 32), "ALLOWED_HOSTS": "127.0.0.1",
		"FORGE_APP_ID": site.AppID(), "FORGE_JWKS_URL": site.JWKSURL(),
		"FORGE_API_HOSTS": strings.TrimPrefix(site.Gateway().URL(), "http://"),
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, app.BuildOptions{Version: "test", Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := app.HTTPServer(ln.Addr().String())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); app.Close() })
	return base
}

// TestForgeAdminPanelInHeadlessChromium opens the same panel as Forge
// Custom UI: the app is installed through avi:forge:installed:app, the
// simulator's Jira admin page embeds the committed bundle
// (forge/customui/static/admin) in an iframe with the bridge runtime, and
// every API call is an @forge/bridge invokeRemote that the simulator's
// Forge proxy forwards to /forge/api/… with a FIT and the endpoint's OAuth
// tokens; the checks reach the api.atlassian.com gateway as the app
// (system token) and as the viewer (user token).
func TestForgeAdminPanelInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	site := forgesim.NewSite(forgesim.SiteOptions{Seed: 9, Invoker: forgesim.InvokerOptions{
		Sleep: func(context.Context, time.Duration) error { return nil }}})
	t.Cleanup(site.Close)
	gw := site.Gateway()
	gw.SetAdmin(forgeAdmin, true)
	gw.AddUser(forgeAdmin, "Ada Admin")
	gw.AddUser(forgeUser, "Rita Regular")
	base := startForgeApp(t, site)

	// Installation: the lifecycle trigger with the system token.
	resp, err := site.Install(context.Background(), base)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("avi:forge:installed:app: %v %v", resp, err)
	}
	resp.Body.Close()

	// The Custom UI host with the resolver endpoint doctor-ui of the
	// generated manifest: both OAuth tokens enabled.
	host := forgesim.NewCustomUIHost(forgesim.CustomUIOptions{Site: site, Resource: customui.Resource(), RemoteURL: base,
		SystemToken: true, UserToken: true})
	t.Cleanup(host.Close)

	shots := screenshotDir(t)
	t.Logf("screenshots: %s", shots)
	fmt.Printf("forge admin panel screenshots: %s\n", shots)

	ctx := startBrowser(t, browser)

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	in := chromedp.FromNode
	d := panelDriver{t, ctx}
	var current *chromedp.Node // the frame being shown
	shot := func(name string) {
		t.Helper()
		d.screenshot(current, shots, name)
	}
	// frame opens Jira's admin page for a viewer and returns the Custom UI
	// iframe once the panel has loaded its data through the bridge.
	frame := func(acc string) *chromedp.Node {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(host.AdminPageURL(acc))); err != nil {
			t.Fatalf("admin page for %s: %v", acc, err)
		}
		frames, err := chromedp.Run(ctx, chromedp.Nodes(css("iframe.forge-iframe")))
		if err != nil || len(frames) == 0 {
			t.Fatalf("no Custom UI iframe on the admin page for %s: %v", acc, err)
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#cd-panel[data-ready="true"][data-host="forge"]`), in(frames[0]))); err != nil {
			t.Fatalf("the panel did not load in the Custom UI iframe for %s: %v", acc, err)
		}
		return frames[0]
	}
	text, attr, runCheck := d.text, d.attr, d.runCheck

	// 1. The site admin opens the app's admin page in Jira.
	admin := frame(forgeAdmin)
	current = admin
	facts := text(admin, "#installation-facts")
	for _, want := range []string{site.InstallationID(), site.CloudID(), "Jira administrator", "Ada Admin"} {
		if !strings.Contains(facts, want) {
			t.Fatalf("installation section lacks %q: %q", want, facts)
		}
	}
	// Item 9: the display name through the gateway, the accountId on hover.
	if title := attr(admin, "#viewer-name", "title"); title != forgeAdmin {
		t.Fatalf("viewer name title %q, want %s", title, forgeAdmin)
	}
	// Item 12: one label per thing: the installation ID once, so named.
	if strings.Contains(facts, "Tenant") || strings.Count(facts, "Installation ID") != 1 || strings.Count(facts, site.InstallationID()) != 1 {
		t.Fatalf("the installation ID must be shown once as \"Installation ID\": %q", facts)
	}
	if got := text(admin, "#installation-scopes"); !strings.Contains(got, "permissions.scopes") {
		t.Fatalf("a Forge installation's scope table must point at the manifest's OAuth scopes: %q", got)
	}
	if got := text(admin, "#explorer-table"); !strings.Contains(got, "/rest/api/") {
		t.Fatalf("explorer is empty: %q", got)
	}
	if h := attr(admin, "#cd-panel", "data-host"); h != "forge" {
		t.Fatalf("panel host %q", h)
	}
	shot("forge-1-admin-panel")

	// 2. GET /rest/api/3/myself as the app: the system token through the
	// gateway answers with the app's bot user.
	gw.ResetRequests()
	got := runCheck(admin, "GET", "/rest/api/3/myself", "app")
	if status := attr(admin, "#check-result .cd-check", "data-status"); status != "200" {
		t.Fatalf("myself as the app: status %s\n%s", status, got)
	}
	bot := site.Installation().AppAccountID
	if body, err := chromedp.Run(ctx, chromedp.TextContent(css("#check-result pre.cd-body"), in(admin))); err != nil || !strings.Contains(body, bot) {
		t.Fatalf("myself as the app does not show the bot user %s: %v\n%s", bot, err, got)
	}
	shot("forge-2-check-myself-as-app")

	// 3. POST /rest/api/3/issue as the admin: the installation was not
	// granted write:jira-work, so the gateway refuses the user token with
	// Atlassian's "missing scope grants" 403, which the panel explains.
	got = runCheck(admin, "POST", "/rest/api/3/issue", "user")
	for _, want := range []string{"403", "missing_scope_grants", "write:jira-work", "missing scope grants"} {
		if !strings.Contains(got, want) {
			t.Fatalf("createIssue as the user lacks %q:\n%s", want, got)
		}
	}
	if top := attr(admin, "#check-result .cd-cause.cd-top", "data-cause"); top != "missing_scope_grants" {
		t.Fatalf("top cause %q", top)
	}
	shot("forge-3-missing-scope-as-user")

	// 4. GET /rest/api/3/myself as the admin: 200 with the user token.
	got = runCheck(admin, "GET", "/rest/api/3/myself", "user")
	if status := attr(admin, "#check-result .cd-check", "data-status"); status != "200" {
		t.Fatalf("myself as the user: status %s\n%s", status, got)
	}
	if body, err := chromedp.Run(ctx, chromedp.TextContent(css("#check-result pre.cd-body"), in(admin))); err != nil || !strings.Contains(body, forgeAdmin) {
		t.Fatalf("myself as the user does not show %s: %v\n%s", forgeAdmin, err, got)
	}
	// The checks went through the gateway with the tokens invokeRemote
	// carried: the system token for the app, x-forge-oauth-user for "me"
	// (no offline token was needed).
	kinds := map[string]int{}
	for _, r := range gw.Requests() {
		if strings.HasPrefix(r.Path, "/ex/jira/"+site.CloudID()+"/rest/api/3/") && (strings.HasSuffix(r.Path, "/myself") || strings.HasSuffix(r.Path, "/issue")) {
			kinds[r.TokenKind+" "+strings.TrimPrefix(r.Path, "/ex/jira/"+site.CloudID())]++
		}
	}
	if kinds["system /rest/api/3/myself"] != 1 || kinds["user /rest/api/3/issue"] != 1 || kinds["user /rest/api/3/myself"] != 1 || kinds["offline /rest/api/3/myself"] != 0 {
		t.Fatalf("gateway requests by token kind: %v", kinds)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#history-table tr[data-id]`), in(admin))); err != nil {
		t.Fatalf("history not shown: %v", err)
	}
	if got := text(admin, "#history-table"); !strings.Contains(got, "/rest/api/3/issue") || !strings.Contains(got, "missing_scope_grants") {
		t.Fatalf("history: %q", got)
	}

	// 5. requestRemote from the same page: the browser calls the remote
	// directly (CORS) with a FIT and no OAuth token.
	type fetched struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	rr, err := chromedp.Run(ctx, chromedp.Evaluate[fetched](`document.querySelector("iframe.forge-iframe").contentWindow.__bridge
		.callBridge("fetchRemote", {remoteKey: "doctor",
			fetchRequestInit: {path: "/forge/api/installation", method: "GET", headers: [["Accept", "application/json"]]}})
		.then(function (r) { return {status: r.status, body: r.body}; })`, chromedp.EvalAwaitPromise))
	if err != nil || rr.Status != 200 || !strings.Contains(rr.Body, site.InstallationID()) {
		t.Fatalf("requestRemote from the page: %v %d %s", err, rr.Status, rr.Body)
	}

	// 6. A regular user opens the page: the admin-only parts are refused.
	user := frame(forgeUser)
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
	disabled, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](css(`#check-form input[name=as][value=app]`), "disabled", in(user)))
	if err != nil || !disabled {
		t.Fatalf("'as the app' must be disabled for a non-admin: %v %v", disabled, err)
	}
	shot("forge-4-regular-user-refused")

	// Every panel call was an invokeRemote under /forge/api, as the viewer.
	n := 0
	for _, c := range host.Calls() {
		if c.Name != "invoke" {
			continue
		}
		n++
		if !strings.HasPrefix(c.Path, "/forge/api/") || c.Err != "" || (c.AccountID != forgeAdmin && c.AccountID != forgeUser) {
			t.Errorf("bridge call %+v", c)
		}
	}
	if n < 8 {
		t.Errorf("only %d invokeRemote calls", n)
	}
}
