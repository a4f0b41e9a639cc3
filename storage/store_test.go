package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

func newStore(t *testing.T, db *storage.DB) *storage.TenantStore {
	t.Helper()
	s, err := storage.NewSealer(storagetest.Key("k1"))
	if err != nil {
		t.Fatal(err)
	}
	return storage.NewTenantStore(db, s, nil)
}

func newTenant(clientKey, secret string) *tenant.Tenant {
	return &tenant.Tenant{
		ClientKey: clientKey, AppKey: "connect-doctor", BaseURL: "https://acme.atlassian.net",
		DisplayURL: "https://jira.acme.com", ProductType: "jira", Description: "Acme",
		ServiceEntitlementNumber: "SEN-1", OAuthClientID: "oauth-1", CloudID: "cloud-1",
		InstallationID: "ari:cloud:ecosystem::installation/1", ServerVersion: "100", PluginsVersion: "1.0",
		SharedSecret: secret, Scopes: scope.Set{scope.Read, scope.ActAsUser},
	}
}

func TestMigrationsMatchModels(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		m := db.Gorm.Migrator()
		for _, model := range []any{&storage.TenantRow{}, &storage.LifecycleEvent{}} {
			stmt := db.Gorm.Model(model).Statement
			if err := stmt.Parse(model); err != nil {
				t.Fatal(err)
			}
			if !m.HasTable(model) {
				t.Fatalf("table %s missing", stmt.Schema.Table)
			}
			for _, f := range stmt.Schema.Fields {
				if f.DBName == "" {
					continue
				}
				if !m.HasColumn(model, f.DBName) {
					t.Errorf("%s.%s: model field has no column in the migrations", stmt.Schema.Table, f.DBName)
				}
			}
			cols, err := m.ColumnTypes(model)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cols {
				if stmt.Schema.LookUpField(c.Name()) == nil {
					t.Errorf("%s.%s: column has no model field", stmt.Schema.Table, c.Name())
				}
			}
		}
		if v, pending, err := db.SchemaVersion(context.Background()); err != nil || pending || v < 1 {
			t.Fatalf("schema version %d pending=%v err=%v", v, pending, err)
		}
	})
}

func TestTenantLifecycle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, connect.ErrUnknownTenant) {
			t.Fatalf("missing tenant: %v", err)
		}
		if err := s.SaveInstall(ctx, newTenant("ck-1", "first-secret-0123456789")); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "ck-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.SharedSecret != "first-secret-0123456789" || got.State != tenant.StateInstalled ||
			got.DisplayURL != "https://jira.acme.com" || got.CloudID != "cloud-1" || !got.Scopes.Has(scope.ActAsUser) {
			t.Fatalf("round trip lost data: %+v", got)
		}
		first := got.InstalledAt
		// Reinstall rotates the secret and keeps installed_at.
		re := newTenant("ck-1", "second-secret-0123456789")
		re.BaseURL = "https://acme2.atlassian.net"
		if err := s.SaveInstall(ctx, re); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx, "ck-1")
		if got.SharedSecret != "second-secret-0123456789" || got.BaseURL != "https://acme2.atlassian.net" {
			t.Fatalf("reinstall not applied: %+v", got)
		}
		if !got.InstalledAt.Equal(first) {
			t.Fatalf("installed_at changed: %v -> %v", first, got.InstalledAt)
		}
		for _, st := range []tenant.State{tenant.StateDisabled, tenant.StateInstalled, tenant.StateUninstalled} {
			if err := s.SetState(ctx, "ck-1", st); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get(ctx, "ck-1"); got.State != st {
				t.Fatalf("state %s not stored: %s", st, got.State)
			}
		}
		if err := s.SetState(ctx, "nope", tenant.StateDisabled); !errors.Is(err, connect.ErrUnknownTenant) {
			t.Fatalf("SetState on missing tenant: %v", err)
		}
		// A reinstall after uninstall makes the tenant installed again.
		if err := s.SaveInstall(ctx, newTenant("ck-1", "third-secret-0123456789")); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "ck-1"); got.State != tenant.StateInstalled {
			t.Fatalf("reinstall after uninstall: %s", got.State)
		}
	})
}

func TestConcurrentInstallsLeaveOneConsistentRow(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		var wg sync.WaitGroup
		secrets := map[string]bool{}
		for i := range 16 {
			sec := fmt.Sprintf("concurrent-secret-%02d-abcdefgh", i)
			secrets[sec] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.SaveInstall(ctx, newTenant("ck-race", sec)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var n int64
		db.Gorm.Model(&storage.TenantRow{}).Where("client_key = ?", "ck-race").Count(&n)
		if n != 1 {
			t.Fatalf("%d rows for one clientKey", n)
		}
		got, err := s.Get(ctx, "ck-race")
		if err != nil {
			t.Fatal(err)
		}
		if !secrets[got.SharedSecret] {
			t.Fatalf("stored secret %q is none of the installs'", got.SharedSecret)
		}
	})
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		const secret = "very-secret-value-that-must-not-leak"
		if err := s.SaveInstall(ctx, newTenant("ck-enc", secret)); err != nil {
			t.Fatal(err)
		}
		var row storage.TenantRow
		if err := db.Gorm.Where("client_key = ?", "ck-enc").Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row.SharedSecretEnc, secret) || !strings.HasPrefix(row.SharedSecretEnc, "v1.") {
			t.Fatalf("secret stored in plain text or unknown format: %q", row.SharedSecretEnc)
		}
		// A dump of every text column must not contain the secret.
		var dump []map[string]any
		db.Gorm.Raw("SELECT * FROM tenants").Scan(&dump)
		if strings.Contains(fmt.Sprint(dump), secret) {
			t.Fatal("secret visible in a table dump")
		}
		// Another key cannot read it.
		other, _ := storage.NewSealer(storagetest.Key("k2"))
		if _, err := storage.NewTenantStore(db, other, nil).Get(ctx, "ck-enc"); !errors.Is(err, connect.ErrStore) {
			t.Fatalf("wrong key should fail: %v", err)
		}
	})
}

func TestLifecycleLog(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		sealer, _ := storage.NewSealer(storagetest.Key("k1"))
		s := storage.NewTenantStore(db, sealer, func() time.Time { now = now.Add(time.Second); return now })
		for i, ev := range []storage.LifecycleEvent{
			{ClientKey: "ck-log", Event: connect.EventInstalled, Outcome: storage.OutcomeRejected, Reason: "bad_signature"},
			{ClientKey: "ck-log", Event: connect.EventInstalled, Outcome: storage.OutcomeAccepted},
			{ClientKey: "ck-log", Event: connect.EventUninstalled, Outcome: storage.OutcomeAccepted, Detail: strings.Repeat("x", 5000)},
		} {
			if err := s.LogEvent(ctx, ev); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
		evs, err := s.Events(ctx, "ck-log", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3 || evs[0].Event != connect.EventUninstalled || evs[2].Reason != "bad_signature" {
			t.Fatalf("events newest first: %+v", evs)
		}
	})
}

func TestTenantCacheFreshRead(t *testing.T) {
	db := storagetest.SQLite(t)
	ctx := context.Background()
	s := newStore(t, db)
	if err := s.SaveInstall(ctx, newTenant("ck-c", "cached-secret-0123456789")); err != nil {
		t.Fatal(err)
	}
	c := storage.NewTenantCache(s, 10, time.Minute)
	if got, _ := c.LookupTenant(ctx, "ck-c", false); got.SharedSecret != "cached-secret-0123456789" {
		t.Fatal("first lookup")
	}
	// Another instance rotates the secret behind the cache's back.
	if err := s.SaveInstall(ctx, newTenant("ck-c", "rotated-secret-0123456789")); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.LookupTenant(ctx, "ck-c", false); got.SharedSecret != "cached-secret-0123456789" {
		t.Fatal("expected the cached copy")
	}
	if got, _ := c.LookupTenant(ctx, "ck-c", true); got.SharedSecret != "rotated-secret-0123456789" {
		t.Fatal("fresh lookup must bypass the cache")
	}
	if got, _ := c.LookupTenant(ctx, "ck-c", false); got.SharedSecret != "rotated-secret-0123456789" {
		t.Fatal("fresh lookup must refresh the cache")
	}
}
