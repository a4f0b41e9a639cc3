package jira

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/oauth"
)

func TestFailuresAreLoggedWithoutSecrets(t *testing.T) {
	f := newFakeJira(t, "/wiki")
	f.allowFail = true
	f.tenant.SharedSecret = "the-real-secret-0123456789abcdef-xyz"
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	wrongSecret := *f.tenant
	wrongSecret.SharedSecret = "a-stale-secret-0123456789abcdef-xyz" // Jira will answer 401
	ex := &numberedExchanger{}
	c := New(Options{HTTP: f.srv.Client(), AppKey: testAppKey, Now: f.now, Logger: log,
		Tokens: oauth.NewCache(ex, oauth.CacheOptions{Now: func() time.Time { return fixedNow }}),
		Retry:  RetryPolicy{Sleep: (&sleepRecorder{}).Sleep}})
	if _, err := c.AsApp(&wrongSecret).Call(t.Context(), "GET", "/rest/api/space?b=2&jql=reporter%3D%22ann.lee%40example.com%22", nil); err == nil {
		t.Fatal("no error")
	}
	if _, err := c.AsUser(f.tenant, "acc").Call(t.Context(), "GET", "/rest/api/3/myself", nil); err == nil {
		t.Fatal("no error")
	}
	out := buf.String()
	for _, want := range []string{`canonicalRequest="GET&/rest/api/space&(query omitted)"`, "qsh=", "status=401", "identity=app", "identity=user"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	// Logs never carry a query string (issue 16 item 12): a JQL query
	// names people.
	for _, secret := range []string{"ann.lee", "example.com", "jql", f.tenant.SharedSecret, wrongSecret.SharedSecret, "tok-1", "tok-2", "JWT ey", "Bearer "} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
