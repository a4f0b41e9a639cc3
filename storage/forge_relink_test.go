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

// TestTakeOver: a reinstall (new installation id, same app, environment and
// cloudId) takes over the earlier record — history, lifecycle log, Connect
// link — once; nothing crosses cloudIds or environments.
func TestTakeOver(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		fs, ts := newForgeStore(t, db, clock)
		checks := storage.NewCheckStore(db, 0, clock)
		const (
			cloud   = "c-same"
			old     = "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000a1"
			fresh   = "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000a2"
			other   = "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000b1"
			devInst = "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000d1"
		)
		save := func(in storage.ForgeInstallation) {
			t.Helper()
			if _, err := fs.SaveInstallation(ctx, in); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Minute)
		}
		// The old installation, linked to a Connect tenant of the same
		// cloud, with a Forge-only check and a token.
		if err := ts.SaveInstall(ctx, &tenant.Tenant{ClientKey: "ck-1", AppKey: "app", BaseURL: "https://acme.atlassian.net", CloudID: cloud,
			InstallationID: old, SharedSecret: "shared-secret-0123456789-0123456789"}); err != nil {
			t.Fatal(err)
		}
		save(forgeInstallation(old, cloud, "https://acme.atlassian.net"))
		if in, _ := fs.Get(ctx, old); in.ClientKey != "ck-1" {
			t.Fatalf("control: old not linked: %+v", in)
		}
		if _, err := fs.StoreSystemToken(ctx, old, "sys-token", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := checks.Add(ctx, &storage.CheckRow{ClientKey: old, Identity: "app", Method: "GET", Path: "/rest/api/3/myself", Result: "{}"}); err != nil {
			t.Fatal(err)
		}
		if err := ts.LogEvent(ctx, storage.LifecycleEvent{ClientKey: old, Event: "forge:installed", Outcome: storage.OutcomeAccepted}); err != nil {
			t.Fatal(err)
		}
		// Another site, and a development install on the same site.
		save(forgeInstallation(other, "c-other", "https://other.atlassian.net"))
		dev := forgeInstallation(devInst, cloud, "")
		dev.EnvironmentType, dev.EnvironmentID = "DEVELOPMENT", "ari:cloud:ecosystem::environment/dev"
		save(dev)

		save(forgeInstallation(fresh, cloud, ""))
		if _, _, err := fs.TakeOver(ctx, fresh, "c-other"); !errors.Is(err, storage.ErrRelinkRefused) {
			t.Fatalf("relink on another cloudId: %v", err)
		}
		if _, _, err := fs.TakeOver(ctx, fresh, ""); !errors.Is(err, storage.ErrRelinkRefused) {
			t.Fatalf("relink without a cloudId: %v", err)
		}
		in, rl, err := fs.TakeOver(ctx, fresh, cloud)
		if err != nil {
			t.Fatal(err)
		}
		if len(rl.From) != 1 || rl.From[0] != old || rl.ClientKey != "ck-1" || rl.Checks != 1 || rl.Events != 1 {
			t.Fatalf("relink %+v", rl)
		}
		if in.ClientKey != "ck-1" || in.State != tenant.StateInstalled {
			t.Fatalf("new installation %+v", in)
		}
		if page, _, err := checks.List(ctx, fresh, 10, ""); err != nil || len(page) != 1 {
			t.Fatalf("history under the new id: %v %v", page, err)
		}
		o, _ := fs.Get(ctx, old)
		if o.ReplacedBy != fresh || o.State != tenant.StateUninstalled || o.ClientKey != "" || o.HasSystemToken {
			t.Fatalf("old row %+v", o)
		}
		for _, id := range []string{other, devInst} {
			if x, _ := fs.Get(ctx, id); x.ReplacedBy != "" {
				t.Errorf("%s was taken over: %+v", id, x)
			}
		}
		// Idempotent.
		if _, rl, err := fs.TakeOver(ctx, fresh, cloud); err != nil || len(rl.From) != 0 {
			t.Fatalf("second take-over %+v %v", rl, err)
		}
		// A late installed event of the old installation revives nothing.
		save(forgeInstallation(old, cloud, ""))
		if o, _ := fs.Get(ctx, old); o.State != tenant.StateUninstalled || o.ClientKey != "" {
			t.Fatalf("late event revived %+v", o)
		}
		// A chain: the next reinstall holds the whole record.
		third := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000a3"
		save(forgeInstallation(third, cloud, ""))
		if _, rl, err := fs.TakeOver(ctx, third, cloud); err != nil || len(rl.From) != 1 || rl.From[0] != fresh {
			t.Fatalf("third take-over %+v %v", rl, err)
		}
		if o, _ := fs.Get(ctx, old); o.ReplacedBy != third {
			t.Fatalf("chain not re-pointed: %+v", o)
		}
		// Deleting the tenant's data takes the whole chain.
		n, err := storage.DeleteTenantData(ctx, db, "ck-1")
		if err != nil || n.ForgeInstallations != 3 {
			t.Fatalf("delete: %+v %v", n, err)
		}
	})
}

// TestTakeOverNeverLinksAcrossClouds: the earlier installation's Connect
// link is not carried to the new one when the Connect tenant is of another
// cloudId.
func TestTakeOverNeverLinksAcrossClouds(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		fs, ts := newForgeStore(t, db, func() time.Time { return now })
		a := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000e1"
		b := "ari:cloud:ecosystem::installation/00000000-0000-0000-0000-0000000000e2"
		if _, err := fs.SaveInstallation(ctx, forgeInstallation(a, "c-1", "")); err != nil {
			t.Fatal(err)
		}
		// A Connect tenant (cloudId unknown at first) confirmed as a's link…
		if err := ts.SaveInstall(ctx, &tenant.Tenant{ClientKey: "ck-x", AppKey: "app", BaseURL: "https://x.atlassian.net",
			InstallationID: a, SharedSecret: "shared-secret-0123456789-0123456789"}); err != nil {
			t.Fatal(err)
		}
		if in, _ := fs.Get(ctx, a); in.ClientKey != "ck-x" {
			t.Fatalf("control: %+v", in)
		}
		// …later reports another cloudId.
		if err := ts.SaveInstall(ctx, &tenant.Tenant{ClientKey: "ck-x", AppKey: "app", BaseURL: "https://x.atlassian.net", CloudID: "c-2",
			InstallationID: a, SharedSecret: "shared-secret-0123456789-0123456789"}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute) // b is installed after a
		if _, err := fs.SaveInstallation(ctx, forgeInstallation(b, "c-1", "")); err != nil {
			t.Fatal(err)
		}
		in, rl, err := fs.TakeOver(ctx, b, "c-1")
		if err != nil || len(rl.From) != 1 {
			t.Fatalf("%+v %v", rl, err)
		}
		if in.ClientKey != "" || rl.ClientKey != "" {
			t.Fatalf("linked across cloudIds: %+v", in)
		}
	})
}

// TestMarkUninstalledIsIdempotent: the pre-uninstall call may come twice;
// the second changes nothing (not even updated_at, which the retention of
// uninstalled tenants' history counts from).
func TestMarkUninstalledIsIdempotent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		fs, _ := newForgeStore(t, db, func() time.Time { return now })
		if _, err := fs.SaveInstallation(ctx, forgeInstallation(forgeInst, "c-1", "")); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.StoreSystemToken(ctx, forgeInst, "sys-token", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		changed, err := fs.MarkUninstalled(ctx, forgeInst)
		if err != nil || !changed {
			t.Fatalf("first: %v %v", changed, err)
		}
		first, _ := fs.Get(ctx, forgeInst)
		if first.State != tenant.StateUninstalled || first.HasSystemToken {
			t.Fatalf("after first: %+v", first)
		}
		now = now.Add(time.Hour)
		if changed, err := fs.MarkUninstalled(ctx, forgeInst); err != nil || changed {
			t.Fatalf("second: %v %v", changed, err)
		}
		if again, _ := fs.Get(ctx, forgeInst); !again.UpdatedAt.Equal(first.UpdatedAt) {
			t.Fatalf("second call wrote: %v → %v", first.UpdatedAt, again.UpdatedAt)
		}
		if _, err := fs.MarkUninstalled(ctx, "ari:cloud:ecosystem::installation/nope"); !errors.Is(err, storage.ErrUnknownInstallation) {
			t.Fatalf("unknown: %v", err)
		}
	})
}
