package forgeapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

const (
	adminAcc = "5b10a2844c20165700ede21g"
	userAcc  = "5b10ac8d82e05b22cc7d4ef5"
)

func causes(d panel.CheckResult) []string {
	var out []string
	for _, c := range d.Diagnosis.Causes {
		out = append(out, c.Code)
	}
	return out
}

func check(t *testing.T, f *forgeApp, remote func(path string, body any) *http.Response, method, path, as string) panel.CheckResult {
	t.Helper()
	resp := remote("/forge/api/checks", map[string]any{"method": method, "path": path, "as": as})
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("check %s %s as %s: %d %s", method, path, as, resp.StatusCode, b)
	}
	return decode[panel.CheckResult](t, resp)
}

// TestForgeEndToEnd: a Forge installation of the app, driven by the
// simulated Forge platform — installed event (with the system token, then
// a redelivery with retryContext), admin checks through the api.atlassian.com
// gateway as the app (system token) and as the user (x-forge-oauth-user on
// invokeRemote, an offline token on requestRemote), the diagnoses of a
// missing granular scope and of a token sent to the site URL, the scheduled
// token refresh and the pre-uninstall call.
func TestForgeEndToEnd(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		site := newSite(t, forgesim.SiteOptions{})
		site.Gateway().SetAdmin(adminAcc, true)
		f := startForge(t, dbURL, site, nil)

		// 1. avi:forge:installed:app with x-forge-oauth-system.
		resp, err := site.Install(ctx, f.base)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("install: %v %v", resp, err)
		}
		ans := decode[forgeapi.EventAnswer](t, resp)
		if ans.Status != "installed" || ans.InstallationID != site.InstallationID() || ans.SystemToken != "stored" || ans.Linked {
			t.Fatalf("installed answer %+v", ans)
		}
		inst, err := f.app.ForgeStore.Get(ctx, site.InstallationID())
		if err != nil || inst.CloudID != site.CloudID() || inst.APIBaseURL != site.APIBaseURL() || !inst.HasSystemToken ||
			inst.State != tenant.StateInstalled || inst.AppID != site.AppID() {
			t.Fatalf("stored installation %+v %v", inst, err)
		}
		// A redelivery (Forge retries after a timeout) is idempotent and logged.
		ev := forgesim.InstalledEvent(site.InstallationID(), site.AppID(), site.CloudID(), site.SiteURL())
		ev["retryContext"] = map[string]any{"retryCount": 1, "retryData": nil, "retryReason": "TIMEOUT_ERROR"}
		resp, err = site.Invoker().Invoke(ctx, f.base, forgesim.LifecyclePath, forgesim.InvocationSpec{
			InstallationID: site.InstallationID(), Event: ev, WithSystemToken: true})
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("redelivery: %v %v", resp, err)
		}
		if ans := decode[forgeapi.EventAnswer](t, resp); ans.Retry != 1 || ans.Status != "installed" {
			t.Fatalf("redelivery answer %+v", ans)
		}
		evs, _ := f.app.Store.Events(ctx, site.InstallationID(), 10)
		if len(evs) != 2 || evs[0].Event != "forge:installed" || evs[0].Reason != "TIMEOUT_ERROR" || evs[0].Detail != "retry 1 (TIMEOUT_ERROR)" {
			t.Fatalf("lifecycle log %+v", evs)
		}

		ui := func(acc string) func(string, any) *http.Response {
			return func(path string, body any) *http.Response {
				r, err := site.UI(ctx, f.base, http.MethodPost, path, acc, body)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
		}
		rr := func(acc string) func(string, any) *http.Response {
			return func(path string, body any) *http.Response {
				r, err := site.RequestRemote(ctx, f.base, path, http.MethodPost, body, acc)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
		}

		// 2. The panel API with FIT auth: installation view, admin only details.
		r, err := site.RequestRemote(ctx, f.base, "/forge/api/installation", http.MethodGet, nil, adminAcc)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("installation: %v %v", r, err)
		}
		view := decode[panel.InstallationView](t, r)
		if view.ClientKey != site.InstallationID() || view.Viewer.AccountID != adminAcc || view.Viewer.Admin == nil || !*view.Viewer.Admin ||
			view.Details == nil || view.Details.CloudID != site.CloudID() || view.Details.InstallationID != site.InstallationID() {
			t.Fatalf("installation view %+v %+v", view, view.Viewer.Refusal)
		}

		// 3. Admin check as the app through the gateway (system token).
		site.Gateway().ResetRequests()
		res := check(t, f, ui(adminAcc), "GET", "/rest/api/3/myself", "app")
		if res.Response.Status != 200 || res.Failure != nil || !res.Stored {
			t.Fatalf("as app: %+v", res)
		}
		// No token (FIT or OAuth, all JWTs: "eyJ…") is returned or stored.
		stored, _ := site.RequestRemote(ctx, f.base, "/forge/api/checks/"+res.ID, http.MethodGet, nil, adminAcc)
		if raw := readAll(stored); stored.StatusCode != 200 || strings.Contains(raw, "eyJ") {
			t.Fatalf("stored check %d carries a token: %s", stored.StatusCode, raw)
		}
		// 4. As the user with the invokeRemote user token, then through
		// requestRemote (no OAuth headers): an offline user token.
		if res := check(t, f, ui(userAcc), "GET", "/rest/api/3/myself", "user"); res.Response.Status != 200 || !strings.Contains(res.Response.Body, userAcc) {
			t.Fatalf("as user (x-forge-oauth-user): %+v", res)
		}
		if res := check(t, f, rr(userAcc), "GET", "/rest/api/3/myself", "user"); res.Response.Status != 200 || !strings.Contains(res.Response.Body, userAcc) {
			t.Fatalf("as user (offline token): %+v", res)
		}
		kinds := map[string]int{}
		for _, g := range site.Gateway().Requests() {
			kinds[g.TokenKind+" "+g.Path]++
			if !strings.HasPrefix(g.Path, "/ex/jira/"+site.CloudID()+"/rest/") && g.Path != "/graphql" {
				t.Errorf("gateway got %s", g.Path)
			}
		}
		if kinds["system /graphql"] != 1 || kinds["offline /ex/jira/"+site.CloudID()+"/rest/api/3/myself"] != 1 ||
			kinds["user /ex/jira/"+site.CloudID()+"/rest/api/3/myself"] != 1 || kinds["system /ex/jira/"+site.CloudID()+"/rest/api/3/myself"] != 1 {
			t.Fatalf("gateway requests by token kind: %v", kinds)
		}
		// A non-admin may not check as the app.
		if r := ui(userAcc)("/forge/api/checks", map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"}); r.StatusCode != 403 || errCode(t, r) != panel.CodeNotJiraAdmin {
			t.Fatalf("non-admin app check: %d", r.StatusCode)
		}

		// 5. A missing granular scope: creating an issue needs
		// write:jira-work, which the installation was not granted.
		res = check(t, f, ui(userAcc), "POST", "/rest/api/3/issue", "user")
		if res.Response.Status != 403 || !strings.Contains(res.Response.Body, "missing scope grants") {
			t.Fatalf("createIssue as user: %+v", res.Response)
		}
		if top := causes(res); len(top) == 0 || top[0] != "missing_scope_grants" {
			t.Fatalf("missing scope diagnosis: %v (%s)", top, res.Diagnosis.Summary)
		}
		res = check(t, f, ui(adminAcc), "POST", "/rest/api/3/issue", "app")
		if res.Response.Status != 401 || !strings.Contains(res.Response.Body, "scope does not match") {
			t.Fatalf("createIssue as app: %+v", res.Response)
		}
		if top := causes(res); len(top) == 0 || top[0] != "oauth_scope_mismatch" {
			t.Fatalf("scope mismatch diagnosis: %v (%s)", top, res.Diagnosis.Summary)
		}

		// 6. A token sent to the site URL instead of the gateway: what the
		// site answers, explained through /forge/api/explain.
		siteSrv := httptest.NewServer(site.Gateway().SiteHandler())
		defer siteSrv.Close()
		tok, _ := site.Gateway().UserToken(site.InstallationID(), userAcc)
		req, _ := http.NewRequest("GET", siteSrv.URL+"/rest/api/3/myself", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		sr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(sr.Body)
		sr.Body.Close()
		if sr.StatusCode != 401 {
			t.Fatalf("site answered %d", sr.StatusCode)
		}
		headers := map[string]string{}
		for k := range sr.Header {
			headers[k] = sr.Header.Get(k)
		}
		er := ui(userAcc)("/forge/api/explain", map[string]any{
			"request":  map[string]any{"method": "GET", "url": site.SiteURL() + "/rest/api/3/myself", "headers": map[string]string{"Authorization": "Bearer " + tok}},
			"response": map[string]any{"status": sr.StatusCode, "headers": headers, "body": string(body)},
		})
		if er.StatusCode != 200 {
			t.Fatalf("explain: %d", er.StatusCode)
		}
		d := decode[panel.CheckResult](t, &http.Response{Body: io.NopCloser(strings.NewReader(`{"diagnosis":` + readAll(er) + `}`))})
		if top := causes(d); len(top) == 0 || top[0] != "site_url_instead_of_api_gateway" {
			t.Fatalf("site URL diagnosis: %v (%s)", top, d.Diagnosis.Summary)
		}

		// 7. The history is the tenant's, and the Forge panel shows it.
		hr, _ := site.RequestRemote(ctx, f.base, "/forge/api/checks", http.MethodGet, nil, adminAcc)
		if h := decode[panel.HistoryPage](t, hr); len(h.Items) < 5 {
			t.Fatalf("history %+v", h)
		}

		// 8. The hourly scheduled trigger stores a newer system token.
		resp, err = site.Scheduled(ctx, f.base)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("scheduled: %v %v", resp, err)
		}
		if ans := decode[forgeapi.EventAnswer](t, resp); ans.Status != "refreshed" || !slices.Contains([]string{"stored", "kept"}, ans.SystemToken) {
			t.Fatalf("scheduled answer %+v", ans)
		}

		// 9. Pre-uninstall marks the installation uninstalled; the panel
		// API then refuses it.
		resp, err = site.PreUninstall(ctx, f.base)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("pre-uninstall: %v %v", resp, err)
		}
		resp.Body.Close()
		if inst, _ := f.app.ForgeStore.Get(ctx, site.InstallationID()); inst.State != tenant.StateUninstalled {
			t.Fatalf("state after pre-uninstall: %s", inst.State)
		}
	})
}

func readAll(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return string(b)
}
