package forgeapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
)

// TestConnectAndForgeLinkedIntoOneTenant installs the app in one site
// twice — as a Connect app (the simulated Jira's signed install, whose
// payload carries installationId) and as a Forge app (the Forge installed
// event for that installation) — and expects one tenant: the Forge panel
// API shows the Connect clientKey, and checks made through Forge appear in
// the Connect panel's history. A Forge reinstall (new installation id, same
// cloudId) seen only through a user's UI call is a link candidate until a
// Jira administrator confirms it; one announced by Forge's verified
// installed event takes over the earlier installation's record.
func TestConnectAndForgeLinkedIntoOneTenant(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		sim, err := jirasim.New(jirasim.Options{Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sim.Close)
		admin, user := sim.User("admin"), sim.User("user")

		// The Forge side of the same site; the Connect installation's
		// installationId is the Forge installation's.
		site := newSite(t, forgesim.SiteOptions{CloudID: sim.CloudID(), SiteURL: sim.URL(),
			InstallationID: "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-00000000000a"})
		site.Gateway().SetAdmin(admin.AccountID, true)
		f := startForge(t, dbURL, site, map[string]string{
			"CONNECT_INSTALL_KEYS_URL": sim.KeyServerURL(), "OAUTH_TOKEN_URL": sim.AuthServerURL(),
			"ALLOWED_HOSTS": strings.TrimPrefix(sim.URL(), "http://"),
		})
		inst, err := sim.InstallApp(ctx, f.base+"/atlassian-connect.json")
		if err != nil {
			t.Fatal(err)
		}
		if inst.InstallationID == "" || inst.CloudID != site.CloudID() {
			t.Fatalf("Connect install %+v", inst)
		}
		// Forge installs the same installation id: re-register it.
		gw := site.Gateway()
		gw.Install(forgesim.InstallationSpec{InstallationID: inst.InstallationID, AppID: site.AppID(), CloudID: site.CloudID(), Scopes: forgesim.DefaultScopes()})
		m := *site.Minter()
		m.InstallationID = inst.InstallationID
		iv := forgesim.NewInvoker(forgesim.InvokerOptions{Minter: &m, Gateway: gw, Sleep: func(context.Context, time.Duration) error { return nil }})
		resp, err := iv.Invoke(ctx, f.base, forgesim.LifecyclePath, forgesim.InvocationSpec{InstallationID: inst.InstallationID,
			Event: forgesim.InstalledEvent(inst.InstallationID, site.AppID(), site.CloudID(), sim.URL()), WithSystemToken: true})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("Forge install: %v %v", resp, err)
		}
		if ans := decode[forgeapi.EventAnswer](t, resp); !ans.Linked || ans.LinkCandidate != "" {
			t.Fatalf("not linked automatically: %+v", ans)
		}

		ui := func(iv *forgesim.Invoker, id, acc, method, path string, body any) *http.Response {
			r, err := iv.Invoke(ctx, f.base, path, forgesim.InvocationSpec{InstallationID: id, AccountID: acc, Kind: forgesim.KindUI,
				Method: method, Event: body, WithSystemToken: true, WithUserToken: true})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		view := decode[panel.InstallationView](t, ui(iv, inst.InstallationID, admin.AccountID, "GET", "/forge/api/installation", nil))
		if view.ClientKey != inst.ClientKey || view.Details == nil || view.Details.InstallationID != inst.InstallationID ||
			!slicesEqual(view.Scopes, []string{"READ", "ACT_AS_USER", "NONE"}) {
			t.Fatalf("one tenant through Forge: %+v", view)
		}
		res := decode[panel.CheckResult](t, ui(iv, inst.InstallationID, admin.AccountID, "POST", "/forge/api/checks",
			map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"}))
		if res.Response.Status != 200 || !res.Stored {
			t.Fatalf("Forge check: %+v", res)
		}
		// The Connect panel (context token from Jira) sees the same history.
		ctxTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": inst.ClientKey, "sub": admin.AccountID,
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "qsh": connect.ContextQSH}).SignedString([]byte(inst.SharedSecret))
		hr := f.do(t, "GET", "/api/checks", http.Header{"Authorization": {"JWT " + ctxTok}}, nil)
		if hr.StatusCode != 200 {
			t.Fatalf("Connect history: %d %s", hr.StatusCode, readAll(hr))
		}
		if h := decode[panel.HistoryPage](t, hr); len(h.Items) != 1 || h.Items[0].ID != res.ID {
			t.Fatalf("Connect history does not show the Forge check: %+v", h)
		}

		// A Forge reinstall gets a new installation id. Seen first through
		// a user's UI call (no verified lifecycle event yet), the Connect
		// tenant of the same cloudId is only a candidate: a user's call
		// never relinks.
		newID := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-00000000000b"
		gw.Install(forgesim.InstallationSpec{InstallationID: newID, AppID: site.AppID(), CloudID: site.CloudID(), Scopes: forgesim.DefaultScopes()})
		m2 := m
		m2.InstallationID = newID
		iv2 := forgesim.NewInvoker(forgesim.InvokerOptions{Minter: &m2, Gateway: gw, Sleep: func(context.Context, time.Duration) error { return nil }})
		if v := decode[panel.InstallationView](t, ui(iv2, newID, admin.AccountID, "GET", "/forge/api/installation", nil)); v.ClientKey != newID {
			t.Fatalf("a UI call merged the candidate: %+v", v)
		}
		lv := decode[forgeapi.LinkView](t, ui(iv2, newID, admin.AccountID, "GET", "/forge/api/link", nil))
		if lv.LinkCandidate != inst.ClientKey || lv.ClientKey != "" || lv.CloudID != site.CloudID() {
			t.Fatalf("link view %+v", lv)
		}
		steps := []struct {
			name, acc, clientKey string
			status               int
			code                 string
		}{
			{"a regular user may not link", user.AccountID, inst.ClientKey, 403, panel.CodeNotJiraAdmin},
			{"only the candidate can be linked", admin.AccountID, "some-other-client-key", 409, "not_link_candidate"},
			{"the administrator confirms", admin.AccountID, inst.ClientKey, 200, ""},
		}
		for _, st := range steps {
			r := ui(iv2, newID, st.acc, "POST", "/forge/api/link", map[string]string{"clientKey": st.clientKey})
			if r.StatusCode != st.status {
				t.Fatalf("%s: %d %s", st.name, r.StatusCode, readAll(r))
			}
			if st.code != "" {
				if c := errCode(t, r); c != st.code {
					t.Fatalf("%s: code %s", st.name, c)
				}
				continue
			}
			if lv := decode[forgeapi.LinkView](t, r); lv.ClientKey != inst.ClientKey || lv.LinkCandidate != "" {
				t.Fatalf("%s: %+v", st.name, lv)
			}
		}
		if v := decode[panel.InstallationView](t, ui(iv2, newID, admin.AccountID, "GET", "/forge/api/installation", nil)); v.ClientKey != inst.ClientKey {
			t.Fatalf("after confirmation: %+v", v)
		}
		// One Connect tenant, one linked Forge installation: the old one
		// was unlinked.
		if old, _ := f.app.ForgeStore.Get(ctx, inst.InstallationID); old.ClientKey != "" {
			t.Fatalf("old installation still linked: %+v", old)
		}

		// Another reinstall, announced by Forge's verified installed event:
		// same app, environment and cloudId, so the new installation takes
		// over the record of the earlier ones (issue 15 part 5): linked to
		// the Connect tenant, its history visible, the old rows replaced.
		thirdID := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-00000000000c"
		gw.Install(forgesim.InstallationSpec{InstallationID: thirdID, AppID: site.AppID(), CloudID: site.CloudID(), Scopes: forgesim.DefaultScopes()})
		m3 := m
		m3.InstallationID = thirdID
		iv3 := forgesim.NewInvoker(forgesim.InvokerOptions{Minter: &m3, Gateway: gw, Sleep: func(context.Context, time.Duration) error { return nil }})
		resp, err = iv3.Invoke(ctx, f.base, forgesim.LifecyclePath, forgesim.InvocationSpec{InstallationID: thirdID,
			Event: forgesim.InstalledEvent(thirdID, site.AppID(), site.CloudID(), sim.URL()), WithSystemToken: true})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("Forge reinstall: %v %v", resp, err)
		}
		if ans := decode[forgeapi.EventAnswer](t, resp); !ans.Linked || len(ans.RelinkedFrom) != 2 {
			t.Fatalf("reinstall did not take over: %+v", ans)
		}
		if v := decode[panel.InstallationView](t, ui(iv3, thirdID, admin.AccountID, "GET", "/forge/api/installation", nil)); v.ClientKey != inst.ClientKey {
			t.Fatalf("after the reinstall: %+v", v)
		}
		if h := decode[panel.HistoryPage](t, ui(iv3, thirdID, admin.AccountID, "GET", "/forge/api/checks", nil)); len(h.Items) != 1 || h.Items[0].ID != res.ID {
			t.Fatalf("history lost on reinstall: %+v", h)
		}
		for _, id := range []string{inst.InstallationID, newID} {
			if old, _ := f.app.ForgeStore.Get(ctx, id); old.ReplacedBy != thirdID || old.ClientKey != "" || old.HasSystemToken {
				t.Fatalf("earlier installation %s: %+v", id, old)
			}
		}
	})
}

func slicesEqual(got []panel.ScopeCount, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Scope != want[i] {
			return false
		}
	}
	return true
}
