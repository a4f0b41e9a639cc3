package panel_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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

// volatile matches what changes from one run to the next in the panel's
// text (ports, times, durations, trace ids), so that the sidecar compares
// what the panel says, not when it said it.
var volatile = []struct {
	re *regexp.Regexp
	to string
}{
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "http://127.0.0.1:PORT"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)`), "TIME"},
	{regexp.MustCompile(`[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT`), "DATE"},
	{regexp.MustCompile(`\b\d+ ms\b`), "N ms"},
	{regexp.MustCompile(`\b[0-9a-f]{16,}\b`), "HEX"},
	// The rate-limit section's lease, pauses and busiest endpoints depend on
	// when its fetch ran against the page's other calls; its own browser test
	// (TestQuotaSectionInHeadlessChromium) checks what it shows.
	{regexp.MustCompile(`(?s)(This instance's lease\n).*?(\nRefresh)`), "${1}(measured live)${2}"},
}

func normalizeShown(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.to)
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

// screenshot saves a PNG of the page into dir and takes the panel's
// rendered text (innerText of #cd-panel in frame f, normalized). With
// UPDATE_SCREENSHOTS set, the PNG and the text are written to
// docs/screenshots/<name>.png and .txt, the files the README shows;
// otherwise the text is compared with the committed .txt, so that the
// screenshots cannot drift from what the panel shows: a change to the
// panel fails here until the screenshots are regenerated with
//
//	UPDATE_SCREENSHOTS=1 CHROME_PATH=/usr/bin/chromium go test ./api/panel -run InHeadlessChromium
func (d panelDriver) screenshot(f *chromedp.Node, dir, name string) {
	d.t.Helper()
	png, err := chromedp.Run(d.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		d.t.Fatal(err)
	}
	shown := normalizeShown(d.text(f, "#cd-panel"))
	docs := filepath.Join("..", "..", "docs", "screenshots", name)
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		if err := os.WriteFile(docs+".png", png, 0o644); err != nil {
			d.t.Fatal(err)
		}
		if err := os.WriteFile(docs+".txt", []byte(shown), 0o644); err != nil {
			d.t.Fatal(err)
		}
		d.t.Logf("updated %s.png and .txt", docs)
		return
	}
	want, err := os.ReadFile(docs + ".txt")
	if err != nil {
		d.t.Fatalf("%v: regenerate the screenshots (UPDATE_SCREENSHOTS=1)", err)
	}
	if string(want) != shown {
		d.t.Errorf("docs/screenshots/%s.png no longer shows the panel: its text differs from %s.txt at\n%s\n"+
			"Regenerate: UPDATE_SCREENSHOTS=1 CHROME_PATH=/usr/bin/chromium go test ./api/panel -run InHeadlessChromium", name, name, firstDiff(string(want), shown))
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + wl + "\n  shown now: " + gl
		}
	}
	return "(same lines)"
}
