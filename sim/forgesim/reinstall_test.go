package forgesim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// TestSiteReinstall: a reinstall keeps the site (cloudId) and gives the
// installation a new id, which every later FIT and event names; the old
// installation is uninstalled at the gateway.
func TestSiteReinstall(t *testing.T) {
	var got struct {
		fitInstallation, eventID string
	}
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err == nil {
			got.fitInstallation, _ = claims["app"].(map[string]any)["installationId"].(string)
		}
		var ev map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		got.eventID, _ = ev["id"].(string)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	defer remote.Close()
	site := forgesim.NewSite(forgesim.SiteOptions{Key: key(t), KID: "k0", Invoker: forgesim.InvokerOptions{Retries: -1}})
	defer site.Close()
	old, cloud := site.InstallationID(), site.CloudID()
	const newID = "ari:cloud:ecosystem::installation/12345678-0000-4000-8000-000000000abc"
	resp, err := site.Reinstall(context.Background(), remote.URL, newID)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if site.InstallationID() != newID || site.CloudID() != cloud || got.fitInstallation != newID || got.eventID != newID {
		t.Fatalf("after reinstall: site %s cloud %s, FIT %s, event %s", site.InstallationID(), site.CloudID(), got.fitInstallation, got.eventID)
	}
	if in, ok := site.Gateway().Installation(old); !ok || !in.Uninstalled {
		t.Fatalf("old installation at the gateway: %+v %v", in, ok)
	}
	if in, ok := site.Gateway().Installation(newID); !ok || in.Uninstalled || in.CloudID != cloud {
		t.Fatalf("new installation at the gateway: %+v %v", in, ok)
	}
}
