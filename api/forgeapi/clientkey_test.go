package forgeapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestInstalledLinksByClientKeyProperty covers forge.md §1.7 option 2: on
// the installed event the remote reads the reserved clientKey app property
// through the Forge gateway as the app and links the installation to that
// Connect tenant only when it exists on the same site. An absent,
// malformed or unavailable property never fails the event.
func TestInstalledLinksByClientKeyProperty(t *testing.T) {
	const otherCloud = "99999999-other-cloud"
	cases := []struct {
		name    string
		tenants []tenant.Tenant // Connect tenants stored first ("" cloudId: the site's)
		prop    func(s *forgesim.Site) forgesim.ClientKeyProperty
		lookup  string
		linked  string
		asked   int // property requests expected on the gateway
	}{
		{"linked, string value", []tenant.Tenant{{ClientKey: "ck-site"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyValue("ck-site") }, "linked", "ck-site", 1},
		{"linked, object value", []tenant.Tenant{{ClientKey: "ck-site"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyObject("ck-site") }, "linked", "ck-site", 1},
		{"absent (404, also after Connect's end of support)", []tenant.Tenant{{ClientKey: "ck-site"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyProperty{} }, "absent", "", 1},
		{"other site's clientKey links nothing", []tenant.Tenant{{ClientKey: "ck-other", CloudID: otherCloud}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyValue("ck-other") }, "other_site", "", 1},
		{"other site by URL when the tenant's cloudId is unknown", []tenant.Tenant{{ClientKey: "ck-url", CloudID: "-", BaseURL: "https://elsewhere.atlassian.net"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyValue("ck-url") }, "other_site", "", 1},
		{"malformed value", []tenant.Tenant{{ClientKey: "ck-site"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyMalformed() }, "malformed", "", 1},
		{"not JSON", []tenant.Tenant{{ClientKey: "ck-site"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty {
				return forgesim.ClientKeyProperty{Status: 200, Body: "<html>"}
			}, "malformed", "", 1},
		{"Connect tenant not installed yet", nil,
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyValue("ck-later") }, "no_connect_tenant", "", 1},
		{"gateway 5xx", []tenant.Tenant{{ClientKey: "ck-site"}},
			func(*forgesim.Site) forgesim.ClientKeyProperty { return forgesim.ClientKeyOutage() }, "unavailable", "", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			site := newSite(t, forgesim.SiteOptions{})
			f := startForge(t, "", site, nil)
			for _, ct := range tc.tenants {
				ct.AppKey, ct.SharedSecret = "connect-doctor", "shared-secret-0123456789abcdef0123"
				switch ct.CloudID {
				case "":
					ct.CloudID = site.CloudID()
				case "-":
					ct.CloudID = ""
				}
				if ct.BaseURL == "" {
					ct.BaseURL = "https://connect-side.example.net"
				}
				if err := f.app.Store.SaveInstall(ctx, &ct); err != nil {
					t.Fatal(err)
				}
			}
			site.Gateway().SetClientKeyProperty(site.InstallationID(), tc.prop(site))
			resp, err := site.Install(ctx, f.base)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("installed event failed: %v %v", resp, err)
			}
			ans := decode[forgeapi.EventAnswer](t, resp)
			if ans.ClientKeyLookup != tc.lookup || ans.Linked != (tc.linked != "") {
				t.Fatalf("answer %+v, want lookup %q linked %q", ans, tc.lookup, tc.linked)
			}
			in, err := f.app.ForgeStore.Get(ctx, site.InstallationID())
			if err != nil || in.ClientKey != tc.linked {
				t.Fatalf("stored link %q (%v), want %q", in.ClientKey, err, tc.linked)
			}
			asked := 0
			for _, r := range site.Gateway().Requests() {
				if strings.Contains(r.Path, "/rest/atlassian-connect/1/addons/connect-doctor/properties/"+forgeapi.ConnectClientKeyProperty) {
					asked++
					if r.TokenKind != forgesim.TokenSystem {
						t.Errorf("property read with a %s token, want the app system token", r.TokenKind)
					}
				}
			}
			if (tc.asked >= 0 && asked != tc.asked) || asked == 0 {
				t.Fatalf("property asked %d times, want %d", asked, tc.asked)
			}
		})
	}
}

// TestClientKeyLinkLaterAndOnlyOnce: a property answered while the Connect
// tenant is missing links on a later event once the tenant exists, and an
// installation already linked is not looked up again.
func TestClientKeyLinkLaterAndOnlyOnce(t *testing.T) {
	ctx := context.Background()
	site := newSite(t, forgesim.SiteOptions{})
	f := startForge(t, "", site, nil)
	gw := site.Gateway()
	gw.SetClientKeyProperty(site.InstallationID(), forgesim.ClientKeyValue("ck-late"))
	if ans := decode[forgeapi.EventAnswer](t, mustOK(t)(site.Install(ctx, f.base))); ans.ClientKeyLookup != "no_connect_tenant" || ans.Linked {
		t.Fatalf("first event %+v", ans)
	}
	if err := f.app.Store.SaveInstall(ctx, &tenant.Tenant{ClientKey: "ck-late", AppKey: "connect-doctor", BaseURL: "https://connect-side.example.net",
		CloudID: site.CloudID(), SharedSecret: "shared-secret-0123456789abcdef0123"}); err != nil {
		t.Fatal(err)
	}
	if ans := decode[forgeapi.EventAnswer](t, mustOK(t)(site.Scheduled(ctx, f.base))); ans.ClientKeyLookup != "linked" || !ans.Linked {
		t.Fatalf("scheduled event %+v", ans)
	}
	gw.ResetRequests()
	if ans := decode[forgeapi.EventAnswer](t, mustOK(t)(site.Install(ctx, f.base))); ans.ClientKeyLookup != "" || !ans.Linked {
		t.Fatalf("already linked: %+v", ans)
	}
	for _, r := range gw.Requests() {
		if strings.Contains(r.Path, "/atlassian-connect/") {
			t.Fatalf("an already linked installation asked again: %+v", r)
		}
	}
}

func mustOK(t *testing.T) func(*http.Response, error) *http.Response {
	return func(resp *http.Response, err error) *http.Response {
		t.Helper()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("event failed: %v %v", resp, err)
		}
		return resp
	}
}
