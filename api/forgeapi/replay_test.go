package forgeapi_test

import (
	"testing"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// TestEventFITSingleUseAcrossInstances: two app instances on one database
// (PostgreSQL, and one SQLite file) as behind a load balancer. An event
// FIT accepted by one is refused by the other (fit_replayed) on every
// event route: the jti is recorded in the shared used_tokens table, not
// only in the process's replay cache. A fresh FIT is still accepted by
// either.
func TestEventFITSingleUseAcrossInstances(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL string) {
		site := newSite(t, forgesim.SiteOptions{})
		extra := map[string]string{}
		if dbURL == "" {
			extra["DATA_DIR"] = t.TempDir() // the same SQLite file for both
		}
		a, b := startForge(t, dbURL, site, extra), startForge(t, dbURL, site, extra)
		body := mustJSON(forgesim.InstalledEvent(site.InstallationID(), site.AppID(), site.CloudID(), ""))
		for _, path := range []string{"/forge/lifecycle", "/forge/scheduled"} {
			fit := site.Minter().MustMint()
			if resp := a.do(t, "POST", path, bearerHeader(fit), body); resp.StatusCode != 200 {
				t.Fatalf("%s: first delivery to instance A: %d %s", path, resp.StatusCode, readAll(resp))
			}
			assertRefused(t, b.do(t, "POST", path, bearerHeader(fit), body), 401, "fit_replayed")
			assertRefused(t, a.do(t, "POST", path, bearerHeader(fit), body), 401, "fit_replayed")
			if resp := b.do(t, "POST", path, bearerHeader(site.Minter().MustMint()), body); resp.StatusCode != 200 {
				t.Fatalf("%s: a fresh FIT to instance B: %d %s", path, resp.StatusCode, readAll(resp))
			}
		}
		// The FIT of one route, replayed to another route on the other
		// instance, is the same jti.
		fit := site.Minter().MustMint()
		if resp := a.do(t, "POST", "/forge/scheduled", bearerHeader(fit), nil); resp.StatusCode != 200 {
			t.Fatalf("scheduled: %d %s", resp.StatusCode, readAll(resp))
		}
		assertRefused(t, b.do(t, "POST", "/forge/lifecycle", bearerHeader(fit), body), 401, "fit_replayed")
	})
}
