package jirasim

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

// findBrowser returns a Chromium-family browser on PATH, or "".
func findBrowser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// modulePage is an app page that uses the AP bridge like the admin panel:
// it asks for a context token (promise form), the current user (callback
// form) and the location, then reports them to the app, and grows so that
// the host has to resize the iframe.
const modulePage = `<!DOCTYPE html><html><head><script src="SITE/atlassian-connect/all.js"></script></head>
<body><div style="height:640px">panel</div><script>
function report(v) { fetch("/app/seen", { method: "POST", body: JSON.stringify(v) }); }
AP.context.getToken().then(function (tok) {
  AP.user.getCurrentUser(function (u) {
    AP.getLocation(function (loc) { report({ token: tok, user: u.atlassianAccountId, loc: loc }); });
  });
}).catch(function (e) { report({ error: String(e) }); });
</script></body></html>`

func TestAdminPageInHeadlessChromium(t *testing.T) {
	browser := findBrowser()
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Chromium is required in CI (install Debian's chromium package)")
		}
		t.Skip("no Chromium on PATH; the bridge protocol is covered by TestAdminPageEmbedsSignedModule")
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	s, clk, a, in := installed(t, nil, "READ")
	a.mu.Lock()
	a.adminHTML = strings.ReplaceAll(modulePage, "SITE", s.URL())
	a.mu.Unlock()

	actx, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Flag("headless", true), chromedp.DisableGPU)...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	user := s.User("user")
	if _, err := chromedp.Run(ctx, chromedp.Navigate(s.AdminPageURL("test-app", "doctor-admin", user.AccountID))); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	// AP's automatic resize reaches the host: the iframe grows to fit the
	// module's 640 px content.
	height, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(function(){ var f = document.querySelector("iframe.ap-iframe"); return f && parseInt(f.style.height, 10) >= 640 ? f.style.height : false; })()`))
	if err != nil {
		t.Fatalf("iframe never resized: %v", err)
	}
	t.Logf("iframe height %s", height)
	var got struct{ Token, User, Loc, Error string }
	select {
	case body := <-a.seen:
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the module page never reported")
	}
	if got.Error != "" {
		t.Fatalf("AP bridge error: %s", got.Error)
	}
	if got.User != user.AccountID || !strings.HasPrefix(got.Loc, s.URL()+"/plugins/servlet/ac/test-app/doctor-admin") {
		t.Errorf("user %q loc %q", got.User, got.Loc)
	}
	var c connect.Claims
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clk.Now)).
		ParseWithClaims(got.Token, &c, func(*jwt.Token) (any, error) { return []byte(in.SharedSecret), nil }); err != nil {
		t.Fatalf("context token: %v", err)
	}
	if c.QSH != connect.ContextQSH || c.Subject != user.AccountID || c.Issuer != in.ClientKey {
		t.Errorf("context claims = %+v", c)
	}
}
