package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestLinkConnectClientKey: the clientKey Forge reports links only a
// Connect tenant that is installed and on the same site (cloudId, or site
// URL when its cloudId is unknown); an existing link is kept.
func TestLinkConnectClientKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		fs, ts := newForgeStore(t, db, func() time.Time { return now })
		for _, ct := range []tenant.Tenant{
			{ClientKey: "ck-same", BaseURL: "https://connect.example.net", CloudID: "c-1"},
			{ClientKey: "ck-other", BaseURL: "https://acme.atlassian.net", CloudID: "c-2"},
			{ClientKey: "ck-url", BaseURL: "https://acme.atlassian.net/"},
			{ClientKey: "ck-url-other", BaseURL: "https://elsewhere.atlassian.net"},
			{ClientKey: "ck-gone", BaseURL: "https://acme.atlassian.net", CloudID: "c-1"},
		} {
			ct.AppKey, ct.SharedSecret = "app", "shared-secret-0123456789-0123456789"
			if err := ts.SaveInstall(ctx, &ct); err != nil {
				t.Fatal(err)
			}
		}
		if err := ts.SetState(ctx, "ck-gone", tenant.StateUninstalled); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, clientKey, cloud string
			want                   error
		}{
			{"same cloudId", "ck-same", "c-1", nil},
			{"another cloudId, same URL", "ck-other", "c-1", storage.ErrOtherSite},
			{"unknown tenant cloudId, same URL", "ck-url", "c-1", nil},
			{"unknown tenant cloudId, other URL", "ck-url-other", "c-1", storage.ErrOtherSite},
			{"uninstalled tenant", "ck-gone", "c-1", storage.ErrNoConnectTenant},
			{"unknown clientKey", "ck-none", "c-1", storage.ErrNoConnectTenant},
			{"empty clientKey", "", "c-1", storage.ErrNoConnectTenant},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000001" + string(rune('a'+i)) + "0"
				if _, err := fs.SaveInstallation(ctx, forgeInstallation(id, tc.cloud, "https://acme.atlassian.net")); err != nil {
					t.Fatal(err)
				}
				in, err := fs.LinkConnectClientKey(ctx, id, tc.clientKey)
				if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				got, _ := fs.Get(ctx, id)
				if want := map[bool]string{true: tc.clientKey, false: ""}[tc.want == nil]; got.ClientKey != want {
					t.Fatalf("link %q, want %q (%+v)", got.ClientKey, want, in)
				}
			})
		}
		// Already linked: kept, whatever the property says later.
		id := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000001a0"
		if in, err := fs.LinkConnectClientKey(ctx, id, "ck-url"); err != nil || in.ClientKey != "ck-same" {
			t.Fatalf("relinked: %+v %v", in, err)
		}
		if _, err := fs.LinkConnectClientKey(ctx, "ari:cloud:ecosystem::installation/none", "ck-same"); !errors.Is(err, storage.ErrUnknownInstallation) {
			t.Fatalf("unknown installation: %v", err)
		}
	})
}
