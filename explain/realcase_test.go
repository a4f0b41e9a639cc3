package explain_test

import (
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
)

// The reported case: a Connect app acting as a user (JWT-bearer grant)
// gets 200 on GET /rest/api/2/search, 401 on GET /rest/api/2/permissions
// (needs ADMIN) and 403 on GET /rest/api/2/settings/columns (INACCESSIBLE to
// Connect), although the same URLs work for an admin in the browser.
func realCaseInput(path string, status int, body string) explain.Input {
	ctx := appCtx()
	ctx.Identity = explain.IdentityUser
	ctx.DeclaredScopes = scopes("READ WRITE ACT_AS_USER")
	return explain.Input{
		Request: explain.Request{Method: "GET", URL: testBase + path,
			Header: hdr("Authorization", "Bearer 0a1b2c3d4e5f60718293a4b5c6d7e8f9.impersonation-token-opaque", "Accept", "application/json")},
		Response: jiraResp(status, body),
		Context:  ctx,
	}
}

func TestRealCaseImpersonationToken(t *testing.T) {
	t.Run("200 on search", func(t *testing.T) {
		d := engine.Diagnose(realCaseInput("/rest/api/2/search?jql=project%3DABC", 200, `{"startAt":0,"maxResults":50,"total":3,"issues":[]}`))
		if d.Verdict != explain.VerdictOK {
			t.Fatalf("verdict %s, want ok\n%s", d.Verdict, dump(d))
		}
		for _, c := range d.Causes {
			if c.Confidence > 0.4 {
				t.Errorf("a successful call has a confident cause %s %.2f", c.Code, c.Confidence)
			}
		}
		if d.Endpoint == nil || d.Endpoint.OperationID == "" {
			t.Fatalf("search not matched in the catalog")
		}
	})
	t.Run("401 on permissions names ADMIN", func(t *testing.T) {
		d := engine.Diagnose(realCaseInput("/rest/api/2/permissions", 401, ""))
		top, _ := d.Top()
		if top.Code != explain.TokenScopeMissing {
			t.Fatalf("top %s, want token_scope_missing\n%s", top.Code, dump(d))
		}
		if !evidenceHas(top, "ADMIN") || !strings.Contains(top.Fix, `"admin"`) || !strings.Contains(top.Fix, "update the app") {
			t.Errorf("top cause does not name ADMIN and the update step: %+v", top)
		}
		if top.Confidence < 0.8 {
			t.Errorf("confidence %.2f too low for a catalog-confirmed scope gap", top.Confidence)
		}
		second, i := findCause(d, explain.ScopeMissing)
		if i != 1 || !evidenceHas(second, "ADMIN") {
			t.Errorf("scope_missing naming ADMIN should rank second, got %d\n%s", i, dump(d))
		}
		if d.Verdict != explain.VerdictAuthorization {
			t.Errorf("verdict %s, want authorization", d.Verdict)
		}
	})
	t.Run("403 on settings/columns is inaccessible", func(t *testing.T) {
		d := engine.Diagnose(realCaseInput("/rest/api/2/settings/columns", 403, ""))
		top, _ := d.Top()
		if top.Code != explain.EndpointInaccessibleToConnect {
			t.Fatalf("top %s, want endpoint_inaccessible_to_connect\n%s", top.Code, dump(d))
		}
		if !evidenceHas(top, "INACCESSIBLE") || !strings.Contains(top.Fix, "browser") {
			t.Errorf("evidence/fix incomplete: %+v", top)
		}
		if top.Confidence < 0.9 {
			t.Errorf("confidence %.2f", top.Confidence)
		}
	})
}
