package forgeapi_test

import (
	"crypto/rsa"
	"net/http"
	"testing"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// TestIsolatedCloudKeySet: the app configured with FORGE_IC_JWKS_URL and
// FORGE_IC_LABELS accepts a FIT of a listed Isolated Cloud, signed by that
// cloud's key, and refuses the same token under a label it does not list.
func TestIsolatedCloudKeySet(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	icKey, err := forgesim.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ic := forgesim.NewKeyHost(map[string]*rsa.PrivateKey{"ic-key": icKey})
	t.Cleanup(ic.Close)
	f := startForge(t, "", site, map[string]string{"FORGE_IC_JWKS_URL": ic.URL() + "?ic={IC_LABEL}", "FORGE_IC_LABELS": "gov-ic1"})
	m := *site.Minter()
	m.Key, m.KID = icKey, "ic-key"
	ui := func(label string) http.Header {
		return http.Header{"Authorization": {"Bearer " + m.MustMint(forgesim.WithClaim("icLabel", label),
			forgesim.WithClaim("app.module", map[string]any{"type": "jira:adminPage", "key": "doctor-admin"}), forgesim.WithPrincipal("557058:u"))}}
	}
	if resp := f.do(t, "GET", "/forge/api/link", ui("gov-ic1"), nil); resp.StatusCode != 200 {
		t.Fatalf("listed Isolated Cloud: %d %s", resp.StatusCode, readAll(resp))
	}
	if ic.Fetches() == 0 {
		t.Fatal("the IC key set was never fetched")
	}
	for _, label := range []string{"gov-ic2", "../gov-ic1", "GOV-IC1"} {
		resp := f.do(t, "GET", "/forge/api/link", ui(label), nil)
		if resp.StatusCode != 401 {
			t.Fatalf("%q: %d", label, resp.StatusCode)
		}
		if c := errCode(t, resp); c != "fit_ic_label_refused" {
			t.Fatalf("%q: %s", label, c)
		}
	}
}
