package panel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/connect-doctor/connect-doctor/sim/ratesim"
)

// TestQuotaSectionInHeadlessChromium: after Jira answered a tenant-quota
// 429, the panel's "Rate limits" section (web/panel/src/quota.js, fed by
// GET /api/quota) shows the pause with its reason and advice, this
// instance's lease and the busiest endpoint; Refresh reloads it.
func TestQuotaSectionInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	model := ratesim.New(ratesim.Options{})
	e := newEnv(t, envOptions{realTime: true, rates: model})
	if r := e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"}); r.status != 200 {
		t.Fatalf("first check: %d %s", r.status, r.body)
	}
	ctx := startBrowser(t, browser)
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	if err := chromedp.Do(ctx, chromedp.Navigate(e.sim.AdminPageURL(appKey, "connect-doctor-admin", e.sim.User("admin").AccountID))); err != nil {
		t.Fatal(err)
	}
	frames, err := chromedp.Run(ctx, chromedp.Nodes(css("iframe.ap-iframe")))
	if err != nil || len(frames) == 0 {
		t.Fatalf("no iframe: %v", err)
	}
	f := frames[0]
	in := chromedp.FromNode
	d := panelDriver{t, ctx}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#quota[data-state="done"] #quota-paused [data-paused="0"]`), in(f))); err != nil {
		t.Fatalf("quota section did not load without a pause: %v", err)
	}
	if got := d.text(f, "#quota-busiest"); !strings.Contains(got, "GET /rest/api/3/myself") {
		t.Errorf("busiest endpoints lack the check's call: %q", got)
	}
	if got := d.text(f, "#quota-facts"); !strings.Contains(got, "Window resets at") || !strings.Contains(got, "leased") {
		t.Errorf("quota facts: %q", got)
	}
	if got := d.text(f, ".cd-nav"); !strings.Contains(got, "Rate limits") {
		t.Errorf("nav lacks the section: %q", got)
	}
	// Jira answers the next call with a tenant-quota 429: the section
	// names the pause after Refresh.
	model.Force(ratesim.ReasonTenant, 1)
	e.call("admin", "POST", "/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/serverInfo", "as": "app"})
	if r := e.call("admin", "GET", "/api/quota", nil); !strings.Contains(string(r.body), "jira-quota-tenant-based") {
		t.Fatalf("GET /api/quota after the 429: %d %s", r.status, r.body)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetAttributeValue(css(`#quota`), "data-state", "stale", in(f)),
		chromedp.Click(css(`#quota-refresh`), in(f)),
	); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	err = chromedp.Do(wctx, chromedp.WaitVisible(css(`#quota[data-state="done"] #quota-paused li[data-reason="jira-quota-tenant-based"][data-scope="tenant"]`), in(f)))
	wcancel()
	if err != nil {
		t.Fatalf("the pause is not shown after Refresh: %v; state %q; section: %s", err, d.attr(f, "#quota", "data-state"), d.text(f, "#quota"))
	}
	if got := d.text(f, "#quota-paused"); !strings.Contains(got, "paused until") || !strings.Contains(got, "hourly quota is spent") {
		t.Errorf("pause text: %q", got)
	}
}
