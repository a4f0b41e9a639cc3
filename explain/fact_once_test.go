package explain_test

import (
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// TestEachFactOnce (issue 18, item 12): no bullet repeats itself, no
// bullet is contained in another bullet of its cause, and no fix text
// appears under two causes.
func TestEachFactOnce(t *testing.T) {
	permissions := func(t *testing.T) explain.Input {
		ctx := appCtx()
		ctx.DeclaredScopes = scopes("READ")
		pf := preflight.Predict(catalog.Default(), preflight.Input{Method: "GET", Path: "/rest/api/2/permissions", Identity: preflight.App, DeclaredScopes: scopes("READ")})
		ctx.Preflight = &pf
		uri := "/rest/api/2/permissions"
		return explain.Input{Request: appReq(t, "GET", uri, appClaims("GET", uri), testSecret), Response: jiraResp(403, ""), Context: ctx}
	}
	tests := []struct {
		name string
		in   func(t *testing.T) explain.Input
	}{
		{"preflight restating the scope", permissions},
		{"preflight with no declared scopes", func(t *testing.T) explain.Input {
			in := permissions(t)
			in.Context.DeclaredScopes = nil
			return in
		}},
		{"impersonation 401 with a preflight", func(t *testing.T) explain.Input {
			ctx := appCtx()
			ctx.Identity = explain.IdentityUser
			ctx.DeclaredScopes = scopes("READ ACT_AS_USER")
			pf := preflight.Predict(catalog.Default(), preflight.Input{Method: "GET", Path: "/rest/api/2/permissions", Identity: preflight.User, DeclaredScopes: scopes("READ ACT_AS_USER")})
			ctx.Preflight = &pf
			return explain.Input{Request: explain.Request{Method: "GET", URL: testBase + "/rest/api/2/permissions", Header: hdr("Authorization", "Bearer opaque-user-token-0123456789")}, Response: jiraResp(401, ""), Context: ctx}
		}},
	}
	for _, c := range loadCorpus(t) {
		tests = append(tests, struct {
			name string
			in   func(t *testing.T) explain.Input
		}{"corpus " + c.file, func(t *testing.T) explain.Input {
			in, err := caseInput(c)
			if err != nil {
				t.Fatal(err)
			}
			return in
		}})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := engine.Diagnose(tc.in(t))
			fixes := map[string]string{}
			for _, c := range d.Causes {
				for _, e := range c.Evidence {
					if n := strings.Count(e, "needs Connect scope"); n > 1 {
						t.Errorf("%s: bullet says it %d times: %q", c.Code, n, e)
					}
					for _, f := range c.Evidence {
						if e != f && strings.Contains(f, e) {
							t.Errorf("%s: bullet %q repeats inside %q", c.Code, e, f)
						}
					}
				}
				if c.Fix == "" {
					continue
				}
				if prev, dup := fixes[c.Fix]; dup {
					t.Errorf("fix of %s repeats the fix of %s: %q", c.Code, prev, c.Fix)
				}
				fixes[c.Fix] = c.Code
			}
		})
	}
}
