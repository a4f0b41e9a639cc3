package forgeapi_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// TestLifecycleEventShapes: the documented nested {"payload": …} shape and
// the top-level shape, with and without eventType, installed and upgraded
// (whose scopes are stored), and events that name another installation or
// app.
func TestLifecycleEventShapes(t *testing.T) {
	ctx := context.Background()
	upgraded := []string{"read:jira-work", "read:jira-user", "write:jira-work"}
	tests := []struct {
		name   string
		nest   bool
		event  func(s *forgesim.Site) forgesim.Event
		status int
		answer string // EventAnswer.Status, or the error code
		scopes []string
	}{
		{"installed, top level", false, func(s *forgesim.Site) forgesim.Event {
			return forgesim.InstalledEvent(s.InstallationID(), s.AppID(), s.CloudID(), "")
		}, 200, "installed", nil},
		{"installed, nested payload as documented", true, func(s *forgesim.Site) forgesim.Event {
			return forgesim.InstalledEvent(s.InstallationID(), s.AppID(), s.CloudID(), "")
		}, 200, "installed", nil},
		{"installed without eventType, bare app UUID", false, func(s *forgesim.Site) forgesim.Event {
			return forgesim.InstalledEvent(s.InstallationID(), s.AppID(), s.CloudID(), "", forgesim.WithoutEventType(), forgesim.WithBareAppID())
		}, 200, "installed", nil},
		{"upgraded stores the granted scopes", false, func(s *forgesim.Site) forgesim.Event {
			return forgesim.UpgradedEvent(s.InstallationID(), s.AppID(), s.CloudID(), "", upgraded)
		}, 200, "upgraded", upgraded},
		{"upgraded without eventType, nested", true, func(s *forgesim.Site) forgesim.Event {
			return forgesim.UpgradedEvent(s.InstallationID(), s.AppID(), s.CloudID(), "", upgraded, forgesim.WithoutEventType())
		}, 200, "upgraded", upgraded},
		{"another product event is acknowledged and ignored", false, func(s *forgesim.Site) forgesim.Event {
			return forgesim.Event{"eventType": "avi:jira:created:issue", "issue": map[string]any{"id": "1"}}
		}, 200, "ignored", nil},
		{"event for another installation", false, func(s *forgesim.Site) forgesim.Event {
			return forgesim.InstalledEvent("ari:cloud:ecosystem::installation/other", s.AppID(), s.CloudID(), "")
		}, 400, "installation_mismatch", nil},
		{"event for another app", false, func(s *forgesim.Site) forgesim.Event {
			return forgesim.InstalledEvent(s.InstallationID(), "ari:cloud:ecosystem::app/99999999-2222-3333-4444-555555555555", s.CloudID(), "")
		}, 400, "app_mismatch", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			site := newSite(t, forgesim.SiteOptions{Invoker: forgesim.InvokerOptions{NestPayload: tc.nest, Retries: -1}})
			f := startForge(t, "", site, nil)
			resp, err := site.Invoker().Invoke(ctx, f.base, forgesim.LifecyclePath, forgesim.InvocationSpec{
				InstallationID: site.InstallationID(), Event: tc.event(site), WithSystemToken: true})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, readAll(resp))
			}
			if tc.status != 200 {
				if code := errCode(t, resp); code != tc.answer {
					t.Fatalf("code %s", code)
				}
				return
			}
			if ans := decode[forgeapi.EventAnswer](t, resp); ans.Status != tc.answer {
				t.Fatalf("answer %+v", ans)
			}
			if tc.answer == "ignored" {
				return
			}
			inst, err := f.app.ForgeStore.Get(ctx, site.InstallationID())
			if err != nil || !slices.Equal(inst.Scopes, tc.scopes) || !inst.HasSystemToken {
				t.Fatalf("stored %+v %v", inst, err)
			}
		})
	}
}

// TestLifecycleRedeliveredAfterStoreFailure: when the event cannot be
// stored the remote answers 503, Forge redelivers with retryContext, and
// the redelivery succeeds once the database is back.
func TestLifecycleRedeliveredAfterStoreFailure(t *testing.T) {
	ctx := context.Background()
	var slept []time.Duration
	var f *forgeApp
	site := newSite(t, forgesim.SiteOptions{Invoker: forgesim.InvokerOptions{Sleep: func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		// The database comes back before the first redelivery.
		if err := f.app.DB.Gorm.Exec("ALTER TABLE forge_installations_down RENAME TO forge_installations").Error; err != nil {
			t.Errorf("restore: %v", err)
		}
		return nil
	}}})
	f = startForge(t, "", site, nil)
	if err := f.app.DB.Gorm.Exec("ALTER TABLE forge_installations RENAME TO forge_installations_down").Error; err != nil {
		t.Fatal(err)
	}
	resp, err := site.Install(ctx, f.base)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("install: %v %v", resp, err)
	}
	ans := decode[forgeapi.EventAnswer](t, resp)
	d := site.Invoker().Deliveries()
	if len(d) != 2 || d[0].Status != 503 || d[1].Status != 200 || ans.Retry != 1 || len(slept) != 1 {
		t.Fatalf("deliveries %+v, answer %+v, slept %v", d, ans, slept)
	}
	evs, _ := f.app.Store.Events(ctx, site.InstallationID(), 10)
	if len(evs) != 2 || evs[1].Outcome != "failed" || evs[0].Outcome != "accepted" || evs[0].Detail == "" {
		t.Fatalf("lifecycle log %+v", evs)
	}
}
