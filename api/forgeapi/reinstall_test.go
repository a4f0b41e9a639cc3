package forgeapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestReinstallKeepsHistory plays what Forge does on a reinstall (issue 15
// part 5): install, a check from the admin page, the pre-uninstall call,
// then an install with a new installation id on the same site. Forge
// Remote essentials: the installationId "will change when reinstalling";
// cloudId "does not change upon app re-installation". The new installation
// takes over the old one's history; an installation of another cloudId
// gets nothing, and neither does a new installation seen only through a
// user's UI call.
func TestReinstallKeepsHistory(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		site := newSite(t, forgesim.SiteOptions{})
		f := startForge(t, dbURL, site, nil)
		const admin = "557058:site-admin"
		site.Gateway().SetAdmin(admin, true)
		oldID := site.InstallationID()

		mustOK := func(resp *http.Response, err error) *http.Response {
			t.Helper()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v %v %s", resp, err, readAll(resp))
			}
			return resp
		}
		mustOK(site.Install(ctx, f.base))
		res := decode[panel.CheckResult](t, mustOK(site.UI(ctx, f.base, "POST", "/forge/api/checks", admin,
			map[string]any{"method": "GET", "path": "/rest/api/3/myself", "as": "app"})))
		if !res.Stored {
			t.Fatalf("check not stored: %+v", res)
		}
		if ans := decode[forgeapi.EventAnswer](t, mustOK(site.PreUninstall(ctx, f.base))); ans.Status != "uninstalled" {
			t.Fatalf("pre-uninstall: %+v", ans)
		}

		// Another site (cloudId) installs the same app: nothing to take over.
		other := *site.Minter()
		other.CloudID, other.InstallationID = "99999999-0000-4000-8000-other0cloud1", "ari:cloud:ecosystem::installation/99999999-0000-4000-8000-000000000001"
		other.APIBaseURL = site.Gateway().APIBaseURL(other.CloudID)
		site.Gateway().AddSite(other.CloudID, "https://other.atlassian.net")
		site.Gateway().Install(forgesim.InstallationSpec{InstallationID: other.InstallationID, AppID: site.AppID(), CloudID: other.CloudID, Scopes: forgesim.DefaultScopes()})
		site.Gateway().SetAdmin(admin, true)
		oiv := forgesim.NewInvoker(forgesim.InvokerOptions{Minter: &other, Gateway: site.Gateway(), Sleep: func(context.Context, time.Duration) error { return nil }})
		ans := decode[forgeapi.EventAnswer](t, mustOK(oiv.Invoke(ctx, f.base, forgesim.LifecyclePath, forgesim.InvocationSpec{
			InstallationID: other.InstallationID, Event: forgesim.InstalledEvent(other.InstallationID, site.AppID(), other.CloudID, ""), WithSystemToken: true})))
		if len(ans.RelinkedFrom) != 0 {
			t.Fatalf("an installation of another cloudId took over %v", ans.RelinkedFrom)
		}
		h := decode[panel.HistoryPage](t, mustOK(oiv.Invoke(ctx, f.base, "/forge/api/checks", forgesim.InvocationSpec{InstallationID: other.InstallationID,
			AccountID: admin, Kind: forgesim.KindUI, Method: "GET", WithSystemToken: true, WithUserToken: true})))
		if len(h.Items) != 0 {
			t.Fatalf("another cloudId sees the history: %+v", h)
		}

		// The reinstall on the same site.
		newID := "ari:cloud:ecosystem::installation/66666666-7777-4888-9999-0000000000bb"
		ans = decode[forgeapi.EventAnswer](t, mustOK(site.Reinstall(ctx, f.base, newID)))
		if ans.InstallationID != newID || len(ans.RelinkedFrom) != 1 || ans.RelinkedFrom[0] != oldID {
			t.Fatalf("reinstall answer %+v", ans)
		}
		h = decode[panel.HistoryPage](t, mustOK(site.UI(ctx, f.base, "GET", "/forge/api/checks", admin, nil)))
		if len(h.Items) != 1 || h.Items[0].ID != res.ID {
			t.Fatalf("history after the reinstall: %+v", h)
		}
		old, err := f.app.ForgeStore.Get(ctx, oldID)
		if err != nil || old.ReplacedBy != newID || old.State != tenant.StateUninstalled || old.HasSystemToken {
			t.Fatalf("old installation %+v %v", old, err)
		}
		// Redelivered installed event: idempotent, nothing more to move.
		ans = decode[forgeapi.EventAnswer](t, mustOK(site.Install(ctx, f.base)))
		if len(ans.RelinkedFrom) != 0 {
			t.Fatalf("second delivery moved %v", ans.RelinkedFrom)
		}
		// A late FIT of the old installation is refused on the panel API
		// and cannot revive it through a redelivered installed event.
		oldM := *site.Minter()
		oldM.InstallationID = oldID
		oldFIT := oldM.MustMint(forgesim.WithClaim("app.module", map[string]any{"type": "jira:adminPage", "key": "doctor-admin"}), forgesim.WithPrincipal(admin))
		if code := errCode(t, f.do(t, "GET", "/forge/api/checks", http.Header{"Authorization": {"Bearer " + oldFIT}}, nil)); code != "forge_installation_replaced" {
			t.Fatalf("old installation on the panel API: %s", code)
		}
		eventFIT := oldM.MustMint(forgesim.WithClaim("app.module", map[string]any{"type": "core:endpoint", "key": "doctor-events"}))
		mustOK(f.do(t, "POST", forgesim.LifecyclePath, http.Header{"Authorization": {"Bearer " + eventFIT}},
			mustJSON(forgesim.InstalledEvent(oldID, site.AppID(), site.CloudID(), ""))), nil)
		if old, _ := f.app.ForgeStore.Get(ctx, oldID); old.State != tenant.StateUninstalled || old.ReplacedBy != newID {
			t.Fatalf("late event revived the old installation: %+v", old)
		}

		// A third installation of the same site first seen through a
		// user's UI call takes nothing over: only Forge's own verified
		// calls relink.
		third := *site.Minter()
		third.InstallationID = "ari:cloud:ecosystem::installation/66666666-7777-4888-9999-0000000000cc"
		site.Gateway().Install(forgesim.InstallationSpec{InstallationID: third.InstallationID, AppID: site.AppID(), CloudID: site.CloudID(), Scopes: forgesim.DefaultScopes()})
		tiv := forgesim.NewInvoker(forgesim.InvokerOptions{Minter: &third, Gateway: site.Gateway(), Sleep: func(context.Context, time.Duration) error { return nil }})
		mustOK(tiv.RequestRemote(ctx, f.base, "/forge/api/link", "GET", nil, third.InstallationID, admin)).Body.Close()
		if cur, _ := f.app.ForgeStore.Get(ctx, newID); cur.ReplacedBy != "" || cur.State != tenant.StateInstalled {
			t.Fatalf("a user's call replaced the current installation: %+v", cur)
		}
		h = decode[panel.HistoryPage](t, mustOK(site.UI(ctx, f.base, "GET", "/forge/api/checks", admin, nil)))
		if len(h.Items) != 1 {
			t.Fatalf("a user's call moved the history: %+v", h)
		}
	})
}
