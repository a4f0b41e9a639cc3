package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

func TestReencryptRotatesEveryRowAndResumes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		oldKey, newKey := storagetest.Key("old"), storagetest.Key("new")
		oldSealer, _ := storage.NewSealer(oldKey)
		old := storage.NewTenantStore(db, oldSealer, nil)
		for i := range 5 {
			if err := old.SaveInstall(ctx, newTenant(fmt.Sprintf("ck-%d", i), fmt.Sprintf("secret-%d-0123456789abcdef", i))); err != nil {
				t.Fatal(err)
			}
		}
		// During the rotation, instances hold both keys: old rows still open.
		both, _ := storage.NewSealer(newKey, oldKey)
		rot := storage.NewTenantStore(db, both, nil)
		if got, err := rot.Get(ctx, "ck-3"); err != nil || got.SharedSecret != "secret-3-0123456789abcdef" {
			t.Fatalf("old row with both keys: %v", err)
		}
		// A cancelled pass stops and reports it.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := rot.Reencrypt(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled pass: %v", err)
		}
		// An interrupted pass left two rows under the new key already.
		for _, i := range []int{0, 1} {
			if err := rot.SaveInstall(ctx, newTenant(fmt.Sprintf("ck-%d", i), fmt.Sprintf("secret-%d-0123456789abcdef", i))); err != nil {
				t.Fatal(err)
			}
		}
		st, err := rot.Reencrypt(ctx)
		if err != nil || st.Reencrypted != 3 || st.Current != 2 || st.Checked != 5 {
			t.Fatalf("resumed pass: %+v %v", st, err)
		}
		st, err = rot.Reencrypt(ctx)
		if err != nil || st.Reencrypted != 0 || st.Current != 5 {
			t.Fatalf("second pass must be a no-op: %+v %v", st, err)
		}
		// The old key alone no longer opens anything; the new key alone does.
		if _, err := old.Get(ctx, "ck-0"); !errors.Is(err, connect.ErrStore) {
			t.Fatalf("old key after rotation: %v", err)
		}
		newOnly, _ := storage.NewSealer(newKey)
		if got, err := storage.NewTenantStore(db, newOnly, nil).Get(ctx, "ck-4"); err != nil || got.SharedSecret != "secret-4-0123456789abcdef" {
			t.Fatalf("new key after rotation: %v", err)
		}
		// A row no configured key opens is reported, not lost.
		other, _ := storage.NewSealer(storagetest.Key("zzz"))
		if err := storage.NewTenantStore(db, other, nil).SaveInstall(ctx, newTenant("ck-foreign", "foreign-secret-0123456789")); err != nil {
			t.Fatal(err)
		}
		st, err = rot.Reencrypt(ctx)
		if !errors.Is(err, storage.ErrUndecryptable) || len(st.Failed) != 1 || st.Failed[0] != "ck-foreign" {
			t.Fatalf("undecryptable row: %+v %v", st, err)
		}
	})
}

func TestDeleteTenantDataAndPurge(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		s := storage.NewTenantStore(db, mustSealer(t), clock)
		checks := storage.NewCheckStore(db, 100, clock)
		for _, ck := range []string{"ck-keep", "ck-gone", "ck-old"} {
			if err := s.SaveInstall(ctx, newTenant(ck, "purge-secret-0123456789abcdef")); err != nil {
				t.Fatal(err)
			}
			s.LogEvent(ctx, storage.LifecycleEvent{ClientKey: ck, Event: "installed", Outcome: "accepted"})
			for i := range 3 {
				if err := checks.Add(ctx, &storage.CheckRow{ClientKey: ck, AccountID: "acc-" + ck, Identity: "user", Method: "GET",
					Path: fmt.Sprintf("/rest/api/3/myself?i=%d", i), Result: "{}"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		n, err := storage.DeleteTenantData(ctx, db, "ck-gone")
		if err != nil || n.Tenants != 1 || n.Checks != 3 || n.Events != 1 {
			t.Fatalf("delete: %+v %v", n, err)
		}
		if _, err := s.Get(ctx, "ck-gone"); !errors.Is(err, connect.ErrUnknownTenant) {
			t.Fatalf("tenant still there: %v", err)
		}
		// ck-old was uninstalled 40 days ago; ck-keep is installed.
		now = now.Add(-40 * 24 * time.Hour)
		if err := s.SetState(ctx, "ck-old", tenant.StateUninstalled); err != nil {
			t.Fatal(err)
		}
		now = now.Add(40 * 24 * time.Hour)
		purged, err := storage.PurgeUninstalled(ctx, db, now.Add(-30*24*time.Hour))
		if err != nil || purged != 3 {
			t.Fatalf("purge: %d %v", purged, err)
		}
		if c, _ := checks.Count(ctx, "ck-keep"); c != 3 {
			t.Fatalf("installed tenant's history purged: %d", c)
		}
		if c, _ := checks.Count(ctx, "ck-old"); c != 0 {
			t.Fatalf("uninstalled tenant's history kept: %d", c)
		}
		var leftover int64
		db.Gorm.Raw("SELECT count(*) FROM checks WHERE account_id LIKE ?", "%"+strings.TrimPrefix("acc-ck-gone", "")+"%").Scan(&leftover)
		if leftover != 0 {
			t.Fatal("deleted tenant's accountIds remain")
		}
	})
}

func mustSealer(t *testing.T) *storage.Sealer {
	s, err := storage.NewSealer(storagetest.Key("k1"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForgeOnlyTenantDataIsPurgedAndDeleted(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		fs := storage.NewForgeStore(db, mustSealer(t), clock)
		checks := storage.NewCheckStore(db, 100, clock)
		const gone, kept = "ari:cloud:ecosystem::installation/gone", "ari:cloud:ecosystem::installation/kept"
		for _, id := range []string{gone, kept} {
			if _, err := fs.SaveInstallation(ctx, storage.ForgeInstallation{InstallationID: id, AppID: "ari:cloud:ecosystem::app/x",
				CloudID: "cloud-" + id, SiteURL: "https://" + id[len(id)-4:] + ".atlassian.net", State: tenant.StateInstalled}); err != nil {
				t.Fatal(err)
			}
			if _, err := fs.StoreSystemToken(ctx, id, "system-token-of-"+id, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := checks.Add(ctx, &storage.CheckRow{ClientKey: id, AccountID: "acc", Identity: "user", Method: "GET", Path: "/rest/api/3/myself", Result: "{}"}); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(-40 * 24 * time.Hour)
		if err := fs.SetState(ctx, gone, tenant.StateUninstalled); err != nil {
			t.Fatal(err)
		}
		now = now.Add(40 * 24 * time.Hour)
		if n, err := storage.PurgeUninstalled(ctx, db, now.Add(-30*24*time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if c, _ := checks.Count(ctx, kept); c != 1 {
			t.Fatalf("installed Forge tenant's history purged: %d", c)
		}
		n, err := storage.DeleteTenantData(ctx, db, kept)
		if err != nil || n.ForgeInstallations != 1 || n.Checks != 1 {
			t.Fatalf("delete Forge-only tenant: %+v %v", n, err)
		}
		if _, err := fs.Get(ctx, kept); err == nil {
			t.Fatal("Forge installation (and its system token) still stored")
		}
	})
}
