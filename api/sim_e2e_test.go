package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// simApp is the app served on a loopback port and configured against a
// simulated Jira Cloud site.
type simApp struct {
	app  *app.App
	sim  *jirasim.Sim
	base string
}

func startWithSim(t *testing.T, databaseURL string) *simApp {
	t.Helper()
	return startWithSimEnv(t, databaseURL, nil)
}

func (s *simApp) page(t *testing.T, accountID string) int {
	t.Helper()
	u, err := s.sim.ModuleURL("connect-doctor", "connect-doctor-admin", accountID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLifecycleAgainstSimulator drives the whole Connect lifecycle from the
// simulated Jira: install (RS256 by kid), signed iframe pages, reinstall with
// secret rotation, disable/enable (HS256 + qsh) and uninstall.
func TestLifecycleAgainstSimulator(t *testing.T) {
	for _, db := range []struct{ name, url string }{{"sqlite", ""}, {"postgres", "postgres"}} {
		t.Run(db.name, func(t *testing.T) {
			url := db.url
			if url != "" {
				url = storagetest.PostgresURL(t)
			}
			s := startWithSim(t, url)
			ctx := context.Background()
			inst, err := s.sim.InstallApp(ctx, s.base+"/atlassian-connect.json")
			if err != nil {
				t.Fatalf("install: %v", err)
			}
			stored, err := s.app.Store.Get(ctx, inst.ClientKey)
			if err != nil || stored.SharedSecret != inst.SharedSecret || stored.OAuthClientID != inst.OAuthClientID ||
				stored.CloudID != inst.CloudID || stored.InstallationID != inst.InstallationID || stored.BaseURL != s.sim.URL() {
				t.Fatalf("stored tenant does not match the install: %+v %v", stored, err)
			}
			admin := s.sim.User("admin").AccountID
			if got := s.page(t, admin); got != 200 {
				t.Fatalf("signed admin page: %d", got)
			}
			oldURL, _ := s.sim.ModuleURL("connect-doctor", "connect-doctor-admin", admin)

			// Reinstall rotates the secret: the page signed before is refused.
			re, err := s.sim.InstallApp(ctx, s.base+"/atlassian-connect.json")
			if err != nil {
				t.Fatalf("reinstall: %v", err)
			}
			if re.SharedSecret == inst.SharedSecret {
				t.Fatal("the simulator did not rotate the secret")
			}
			if resp, _ := http.Get(oldURL); resp.StatusCode != 401 {
				t.Fatalf("page signed with the old secret: %d", resp.StatusCode)
			}
			if got := s.page(t, admin); got != 200 {
				t.Fatalf("page with the new secret: %d", got)
			}
			// A context token minted by the host bridge works on the API.
			tok, _ := s.sim.ContextToken("connect-doctor", admin)
			req, _ := http.NewRequest("GET", s.base+"/api/installation", nil)
			req.Header.Set("Authorization", "JWT "+tok)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
				t.Fatalf("context API: %v %v", resp, err)
			}

			if err := s.sim.Disable(ctx, "connect-doctor"); err != nil {
				t.Fatalf("disable: %v", err)
			}
			if got := s.page(t, admin); got != 403 {
				t.Fatalf("page while disabled: %d", got)
			}
			if err := s.sim.Enable(ctx, "connect-doctor"); err != nil {
				t.Fatalf("enable: %v", err)
			}
			if got := s.page(t, admin); got != 200 {
				t.Fatalf("page after enable: %d", got)
			}
			if err := s.sim.Uninstall(ctx, "connect-doctor"); err != nil {
				t.Fatalf("uninstall: %v", err)
			}
			if tn, _ := s.app.Store.Get(ctx, inst.ClientKey); tn.State != tenant.StateUninstalled {
				t.Fatalf("state after uninstall: %s", tn.State)
			}
		})
	}
}

// TestSimulatorInstallRefusedWhenAppSaysNo checks the message Jira shows
// when the app refuses the install (here: the site's host is not allowed).
func TestSimulatorInstallRefusedWhenAppSaysNo(t *testing.T) {
	sim, err := jirasim.New(jirasim.Options{Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	h := newHarness(t, "") // ALLOWED_HOSTS does not list the simulator
	_, err = sim.InstallApp(context.Background(), h.addr+"/atlassian-connect.json")
	var ie *jirasim.InstallError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "The app host returned HTTP response code 403") {
		t.Fatalf("install error: %v", err)
	}
}
