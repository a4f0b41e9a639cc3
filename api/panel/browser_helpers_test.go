package panel_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startBrowser launches the installed headless Chromium for one test and
// returns a context bounded to 90 s; everything is torn down with the test.
func startBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf),
		chromedp.WithBrowserOption(chromedp.WithConsolef(t.Logf)))
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// panelDriver reads and drives the panel inside an iframe node.
type panelDriver struct {
	t   *testing.T
	ctx context.Context
}

func (d panelDriver) text(f *chromedp.Node, sel string) string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.FromNode(f)))
	if err != nil {
		d.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (d panelDriver) attr(f *chromedp.Node, sel, name string) string {
	d.t.Helper()
	a, err := chromedp.Run(d.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name, chromedp.FromNode(f)))
	if err != nil {
		d.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return a.Value
}

// runCheck fills "Run a check", runs it, waits for its own result and
// returns the result's text.
func (d panelDriver) runCheck(f *chromedp.Node, method, path, as string) string {
	d.t.Helper()
	in, css := chromedp.FromNode, func(s string) chromedp.CSS { return chromedp.CSS(s) }
	err := chromedp.Do(d.ctx,
		chromedp.SetValue(css(`#check-form select[name=method]`), method, in(f)),
		chromedp.SetValue(css(`#check-form input[name=path]`), path, in(f)),
		chromedp.Click(css(`#check-form input[name=as][value=`+as+`]`), in(f)),
		chromedp.Click(css(`#check-run`), in(f)),
		chromedp.WaitVisible(css(`#check-result[data-state="done"] .cd-check[data-status]`), in(f)),
		chromedp.ScrollIntoView(css(`#check`), in(f)),
	)
	if err != nil {
		d.t.Fatalf("check %s %s as %s: %v", method, path, as, err)
	}
	got := d.text(f, "#check-result")
	// The next check must wait for its own result, not find this one.
	if err := chromedp.Do(d.ctx, chromedp.SetAttributeValue(css(`#check-result`), "data-state", "seen", in(f))); err != nil {
		d.t.Fatal(err)
	}
	return got
}
