package api_test

import (
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// TestCSPStoredDisplayURL: the install callback refuses a hostile
// displayUrl (issue 16 item 10), but a row written before that check
// existed, or edited in the database, still reaches the admin page's
// Content-Security-Policy. The page re-checks the stored baseUrl and
// displayUrl, so none of them widens frame-ancestors or injects a
// directive.
func TestCSPStoredDisplayURL(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dsn := ""
			if db == "postgres" {
				dsn = storagetest.PostgresURL(t)
			}
			h := newHarness(t, dsn)
			if r := h.signedLifecycle("/installed", payload(ckA, secretA, "installed"), nil); r.StatusCode != 204 {
				t.Fatalf("install: %d", r.StatusCode)
			}
			cases := []struct {
				name, base, display string
				want                string // the frame-ancestors value
			}{
				{"genuine", "https://acme.atlassian.net", "https://acme.atlassian.net", "https://acme.atlassian.net"},
				{"wildcard host", "https://acme.atlassian.net", "https://*", "https://acme.atlassian.net"},
				{"wildcard label", "https://acme.atlassian.net", "https://*.com", "https://acme.atlassian.net"},
				{"attacker origin", "https://acme.atlassian.net", "https://evil.example", "https://acme.atlassian.net"},
				{"directive injection", "https://acme.atlassian.net", "https://acme.atlassian.net; script-src *", "https://acme.atlassian.net"},
				{"encoded injection", "https://acme.atlassian.net", "https://x.atlassian.net%3B%20script-src%20*", "https://acme.atlassian.net"},
				{"header splitting", "https://acme.atlassian.net", "https://x.atlassian.net\r\nSet-Cookie: a=b", "https://acme.atlassian.net"},
				{"look-alike dot", "https://acme.atlassian.net", "https://evil\uff0eacme.atlassian.net", "https://acme.atlassian.net"},
				{"http display", "https://acme.atlassian.net", "http://acme.atlassian.net", "https://acme.atlassian.net"},
				{"javascript display", "https://acme.atlassian.net", "javascript:alert(1)", "https://acme.atlassian.net"},
				{"edited baseUrl too", "https://*", "https://evil.example", "'none'"},
				{"other allowed site", "https://acme.atlassian.net", "https://jira.atlassian.net", "https://acme.atlassian.net https://jira.atlassian.net"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					// Edit the stored row directly, as an old version or an
					// operator could have written it.
					err := h.app.DB.Gorm.Exec("UPDATE tenants SET base_url = ?, display_url = ? WHERE client_key = ?", c.base, c.display, ckA).Error
					if err != nil {
						t.Fatal(err)
					}
					h.app.Tenants.Invalidate(ckA)
					r := h.do("GET", pagePath, "JWT "+hsToken(ckA, secretA, "GET", pagePath), nil)
					if r.StatusCode != 200 {
						t.Fatalf("page answered %d", r.StatusCode)
					}
					csp := r.Header.Get("Content-Security-Policy")
					_, fa, ok := strings.Cut(csp, "frame-ancestors ")
					if !ok || fa != c.want {
						t.Fatalf("stored displayUrl %q: frame-ancestors %q, want %q (CSP %s)", c.display, fa, c.want, csp)
					}
					if n := strings.Count(csp, ";"); n != 8 {
						t.Fatalf("the CSP has %d directives separators, want 8: %s", n, csp)
					}
					if len(r.Header.Values("Set-Cookie")) != 0 {
						t.Fatal("a stored URL set a cookie")
					}
				})
			}
		})
	}
}
