package forgeapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// TestRequireActiveLicense: with FORGE_REQUIRE_LICENSE the panel API admits
// only invocations whose verified FIT carries an active app.license
// ("active", or the deprecated "isActive"), with a 402 envelope otherwise;
// the event routes are not gated (Forge calls them for any installation).
func TestRequireActiveLicense(t *testing.T) {
	ctx := context.Background()
	site := newSite(t, forgesim.SiteOptions{})
	f := startForge(t, "", site, map[string]string{"FORGE_REQUIRE_LICENSE": "true"})
	if resp, err := site.Install(ctx, f.base); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the installed event is not gated: %v %v", resp, err)
	}
	ui := func(license map[string]any) http.Header {
		opts := []forgesim.Option{forgesim.WithClaim("app.module", map[string]any{"type": "jira:adminPage", "key": "doctor-admin"}),
			forgesim.WithPrincipal("557058:someone")}
		if license != nil {
			opts = append(opts, forgesim.WithClaim("app.license", license))
		}
		return http.Header{"Authorization": {"Bearer " + site.Minter().MustMint(opts...)}}
	}
	for _, tc := range []struct {
		name    string
		license map[string]any
		status  int
		code    string
	}{
		{"active", map[string]any{"active": true, "type": "commercial"}, 200, ""},
		{"deprecated isActive", map[string]any{"isActive": true, "type": "commercial"}, 200, ""},
		{"inactive", map[string]any{"active": false, "type": "commercial"}, 402, "forge_license_inactive"},
		{"absent in production", nil, 402, "forge_license_absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.do(t, "GET", "/forge/api/link", ui(tc.license), nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s", resp.StatusCode, readAll(resp))
			}
			if tc.code != "" {
				if c := errCode(t, resp); c != tc.code {
					t.Fatalf("code %s", c)
				}
			} else {
				resp.Body.Close()
			}
		})
	}
}
