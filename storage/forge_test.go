package storage_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

const (
	forgeApp  = "ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555"
	forgeInst = "ari:cloud:ecosystem::installation/66666666-7777-8888-9999-000000000000"
)

func newForgeStore(t *testing.T, db *storage.DB, now func() time.Time) (*storage.ForgeStore, *storage.TenantStore) {
	t.Helper()
	s, err := storage.NewSealer(storagetest.Key("k1"))
	if err != nil {
		t.Fatal(err)
	}
	return storage.NewForgeStore(db, s, now), storage.NewTenantStore(db, s, now)
}

func forgeInstallation(id, cloudID, site string) storage.ForgeInstallation {
	return storage.ForgeInstallation{InstallationID: id, AppID: forgeApp, EnvironmentType: "PRODUCTION",
		EnvironmentID: "ari:cloud:ecosystem::environment/e", CloudID: cloudID, SiteURL: site,
		APIBaseURL: "https://api.atlassian.com/ex/jira/" + cloudID}
}

func TestForgeMigrationMatchesModel(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		m := db.Gorm.Migrator()
		model := &storage.ForgeInstallationRow{}
		stmt := db.Gorm.Model(model).Statement
		if err := stmt.Parse(model); err != nil {
			t.Fatal(err)
		}
		if !m.HasTable(model) {
			t.Fatalf("table %s missing", stmt.Schema.Table)
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" && !m.HasColumn(model, f.DBName) {
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
		if len(cols) != len(stmt.Schema.DBNames) {
			t.Errorf("%d columns, %d model fields", len(cols), len(stmt.Schema.DBNames))
		}
	})
}

// TestForgeMigrationKeepsConnectTenants applies 00001–00002, stores a
// Connect tenant, then applies 00003 (and the later ones) and reads the
// tenant back unchanged.
func TestForgeMigrationKeepsConnectTenants(t *testing.T) {
	ctx := context.Background()
	db := storagetest.SQLite(t) // fully migrated: roll 00003 back, store, migrate again
	if err := db.Gorm.Exec("DROP TABLE forge_installations").Error; err != nil {
		t.Fatal(err)
	}
	// Later migrations go too, so that goose applies them in order again.
	for _, stmt := range []string{"DROP TABLE used_tokens", "DROP TABLE rate_pauses", "DROP TABLE rate_seq", "DROP TABLE rate_spend", "DROP TABLE rate_windows",
		"DELETE FROM goose_db_version WHERE version_id >= 3"} {
		if err := db.Gorm.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	_, ts := newForgeStore(t, db, nil)
	if err := ts.SaveInstall(ctx, newTenant("ck-old", "old-secret-0123456789")); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) < 1 || applied[0] != 3 {
		t.Fatalf("migrate: %v %v", applied, err)
	}
	got, err := ts.Get(ctx, "ck-old")
	if err != nil || got.SharedSecret != "old-secret-0123456789" || got.State != tenant.StateInstalled || got.CloudID != "cloud-1" {
		t.Fatalf("tenant after 00003: %+v %v", got, err)
	}
}

func TestForgeAndConnectLinkedIntoOneTenant(t *testing.T) {
	tests := []struct {
		name         string
		connectIID   string // installationId in the Connect install payload
		connectFirst bool
		wantLinked   bool // automatic link
		wantCand     bool
	}{
		{"connect payload names the installation, Connect first", forgeInst, true, true, false},
		{"connect payload names the installation, Forge first", forgeInst, false, true, false},
		{"same cloudId only: candidate until confirmed", "", true, false, true},
		{"another installation id: candidate by cloudId", "ari:cloud:ecosystem::installation/old", true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := context.Background()
				fs, ts := newForgeStore(t, db, nil)
				ct := newTenant("ck-1", "connect-secret-0123456789")
				ct.CloudID, ct.InstallationID = "cloud-1", tc.connectIID
				if tc.connectFirst {
					if err := ts.SaveInstall(ctx, ct); err != nil {
						t.Fatal(err)
					}
				}
				inst, err := fs.SaveInstallation(ctx, forgeInstallation(forgeInst, "cloud-1", "https://acme.atlassian.net"))
				if err != nil {
					t.Fatal(err)
				}
				if !tc.connectFirst {
					if inst.ClientKey != "" || inst.LinkCandidate != "" {
						t.Fatalf("linked before the Connect install: %+v", inst)
					}
					if err := ts.SaveInstall(ctx, ct); err != nil {
						t.Fatal(err)
					}
				}
				if inst, err = fs.Get(ctx, forgeInst); err != nil {
					t.Fatal(err)
				}
				if got := inst.ClientKey != ""; got != tc.wantLinked {
					t.Fatalf("linked=%v, want %v (%+v)", got, tc.wantLinked, inst)
				}
				if got := inst.LinkCandidate == "ck-1"; got != tc.wantCand {
					t.Fatalf("candidate=%q, want candidate %v", inst.LinkCandidate, tc.wantCand)
				}
				if tc.wantCand {
					if _, err := fs.ConfirmLink(ctx, forgeInst, "ck-other"); !errors.Is(err, storage.ErrNotLinkCandidate) {
						t.Fatalf("confirming a non-candidate: %v", err)
					}
					if inst, err = fs.ConfirmLink(ctx, forgeInst, "ck-1"); err != nil || inst.ClientKey != "ck-1" || inst.LinkCandidate != "" {
						t.Fatalf("confirm: %+v %v", inst, err)
					}
				}
				one, _, err := fs.Tenant(ctx, forgeInst)
				if err != nil {
					t.Fatal(err)
				}
				if one.ClientKey != "ck-1" || one.SharedSecret != "connect-secret-0123456789" || one.InstallationID != forgeInst ||
					one.APIBaseURL != "https://api.atlassian.com/ex/jira/cloud-1" || one.ForgeAppID != forgeApp || !one.Forge() ||
					one.State != tenant.StateInstalled || len(one.Scopes) == 0 {
					t.Fatalf("one tenant: %+v", one)
				}
				if byCK, err := fs.ByClientKey(ctx, "ck-1"); err != nil || byCK.InstallationID != forgeInst {
					t.Fatalf("by clientKey: %+v %v", byCK, err)
				}
			})
		})
	}
}

func TestForgeOnlyTenantAndNoCandidateAcrossSites(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		fs, ts := newForgeStore(t, db, nil)
		if err := ts.SaveInstall(ctx, newTenant("ck-other-site", "connect-secret-0123456789")); err != nil {
			t.Fatal(err)
		}
		inst, err := fs.SaveInstallation(ctx, forgeInstallation(forgeInst, "cloud-9", "https://other.atlassian.net"))
		if err != nil || inst.ClientKey != "" || inst.LinkCandidate != "" {
			t.Fatalf("%+v %v", inst, err)
		}
		one, _, err := fs.Tenant(ctx, forgeInst)
		if err != nil || one.ClientKey != forgeInst || one.BaseURL != "https://other.atlassian.net" || one.SharedSecret != "" || one.CloudID != "cloud-9" {
			t.Fatalf("forge-only tenant: %+v %v", one, err)
		}
		if _, err := fs.ConfirmLink(ctx, forgeInst, "ck-other-site"); !errors.Is(err, storage.ErrNotLinkCandidate) {
			t.Fatalf("linking across sites: %v", err)
		}
		if _, err := fs.Get(ctx, "nope"); !errors.Is(err, storage.ErrUnknownInstallation) {
			t.Fatalf("unknown: %v", err)
		}
		if err := fs.SetState(ctx, forgeInst, tenant.StateUninstalled); err != nil {
			t.Fatal(err)
		}
		if inst, _ := fs.Get(ctx, forgeInst); inst.State != tenant.StateUninstalled {
			t.Fatalf("state %s", inst.State)
		}
		// An installed event again (retry) reinstates it, keeping installed_at.
		again, err := fs.SaveInstallation(ctx, storage.ForgeInstallation{InstallationID: forgeInst, AppID: forgeApp})
		if err != nil || again.State != tenant.StateInstalled || again.SiteURL != "https://other.atlassian.net" || !again.InstalledAt.Equal(inst.InstalledAt) {
			t.Fatalf("idempotent save: %+v %v", again, err)
		}
	})
}

func TestForgeSystemTokenReplacedOnlyByNewer(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		fs, _ := newForgeStore(t, db, clock)
		if _, err := fs.SaveInstallation(ctx, forgeInstallation(forgeInst, "cloud-1", "")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := fs.SystemToken(ctx, forgeInst); !errors.Is(err, storage.ErrNoSystemToken) {
			t.Fatalf("no token yet: %v", err)
		}
		steps := []struct {
			name   string
			token  string
			exp    time.Time
			stored bool
			want   string
		}{
			{"first token", "tok-a", now.Add(3 * time.Hour), true, "tok-a"},
			{"older token refused", "tok-old", now.Add(2 * time.Hour), false, "tok-a"},
			{"same expiry refused", "tok-same", now.Add(3 * time.Hour), false, "tok-a"},
			{"token without exp refused while the stored one is valid", "tok-noexp", time.Time{}, false, "tok-a"},
			{"newer token replaces", "tok-b", now.Add(4 * time.Hour), true, "tok-b"},
			{"empty header ignored", "", now.Add(9 * time.Hour), false, "tok-b"},
		}
		for _, st := range steps {
			stored, err := fs.StoreSystemToken(ctx, forgeInst, st.token, st.exp)
			if err != nil || stored != st.stored {
				t.Fatalf("%s: stored=%v err=%v", st.name, stored, err)
			}
			got, _, err := fs.SystemToken(ctx, forgeInst)
			if err != nil || got != st.want {
				t.Fatalf("%s: token %q err %v, want %q", st.name, got, err, st.want)
			}
		}
		now = now.Add(5 * time.Hour) // tok-b has expired: an exp-less token may replace it
		if stored, err := fs.StoreSystemToken(ctx, forgeInst, "tok-noexp", time.Time{}); err != nil || !stored {
			t.Fatalf("replacing an expired token: %v %v", stored, err)
		}
		var enc string
		if err := db.Gorm.Raw("SELECT system_token_enc FROM forge_installations WHERE installation_id = ?", forgeInst).Scan(&enc).Error; err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(enc, "v1.") || strings.Contains(enc, "tok-") {
			t.Fatalf("token not encrypted at rest: %q", enc)
		}
		// A ciphertext copied to another installation does not open (AAD).
		other := forgeInstallation("ari:cloud:ecosystem::installation/other", "cloud-2", "")
		if _, err := fs.SaveInstallation(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Exec("UPDATE forge_installations SET system_token_enc = ? WHERE installation_id = ?", enc, other.InstallationID).Error; err != nil {
			t.Fatal(err)
		}
		if _, _, err := fs.SystemToken(ctx, other.InstallationID); !errors.Is(err, connect.ErrStore) {
			t.Fatalf("copied ciphertext opened: %v", err)
		}
		if _, err := fs.StoreSystemToken(ctx, "ari:cloud:ecosystem::installation/none", "tok", now.Add(time.Hour)); !errors.Is(err, storage.ErrUnknownInstallation) {
			t.Fatalf("unknown installation: %v", err)
		}
	})
}

func TestForgeTokensReencrypted(t *testing.T) {
	ctx := context.Background()
	db := storagetest.SQLite(t)
	old, _ := storage.NewSealer(storagetest.Key("old"))
	fs := storage.NewForgeStore(db, old, nil)
	if _, err := fs.SaveInstallation(ctx, forgeInstallation(forgeInst, "c", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.StoreSystemToken(ctx, forgeInst, "tok", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	both, _ := storage.NewSealer(storagetest.Key("new"), storagetest.Key("old"))
	st, err := storage.NewForgeStore(db, both, nil).Reencrypt(ctx)
	if err != nil || st.Reencrypted != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	onlyNew, _ := storage.NewSealer(storagetest.Key("new"))
	if tok, _, err := storage.NewForgeStore(db, onlyNew, nil).SystemToken(ctx, forgeInst); err != nil || tok != "tok" {
		t.Fatalf("after rotation: %q %v", tok, err)
	}
}

// TestTokenLedger: a token is used once until it expires; Release lets a
// failed callback's retry through; Prune drops expired tokens (issue 16
// item 6), and PruneLifecycleEvents applies the log's retention (item 8).
func TestTokenLedger(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	db := storagetest.SQLite(t)
	l := storage.NewTokenLedger(db, func() time.Time { return now })
	h, body, other := strings.Repeat("ab", 32), strings.Repeat("01", 32), strings.Repeat("02", 32)
	if first, err := l.Use(ctx, "install", h, body, now.Add(3*time.Minute)); err != nil || !first {
		t.Fatalf("first use: %v %v", first, err)
	}
	if first, err := l.Use(ctx, "install", h, body, now.Add(3*time.Minute)); err != nil || first {
		t.Fatalf("the same token with the same body (a redelivery) must be reported as not first: %v %v", first, err)
	}
	if _, err := l.Use(ctx, "install", h, other, now.Add(3*time.Minute)); !errors.Is(err, storage.ErrTokenUsed) {
		t.Fatalf("second use with another body: %v", err)
	}
	if err := l.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
	if first, err := l.Use(ctx, "install", h, other, now.Add(3*time.Minute)); err != nil || !first {
		t.Fatalf("use after release: %v %v", first, err)
	}
	if n, err := l.Prune(ctx, now.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if _, err := l.Use(ctx, "install", "short", body, now); err == nil {
		t.Fatal("a malformed hash was accepted")
	}
	old := storage.LifecycleEvent{ID: "old", Event: "installed", Outcome: storage.OutcomeAccepted, CreatedAt: now.Add(-100 * 24 * time.Hour)}
	recent := storage.LifecycleEvent{ID: "recent", Event: "installed", Outcome: storage.OutcomeAccepted, CreatedAt: now.Add(-time.Hour)}
	if err := db.Gorm.Create([]storage.LifecycleEvent{old, recent}).Error; err != nil {
		t.Fatal(err)
	}
	if n, err := storage.PruneLifecycleEvents(ctx, db, now.Add(-90*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune lifecycle log: %d %v", n, err)
	}
}

// TestTokenLedgerUseOnce: a token used once is refused the second time,
// whatever came with it, by this ledger and by another one on the same
// database (another instance); of 16 concurrent uses of one token on two
// ledgers exactly one succeeds. Release lets it through again.
func TestTokenLedgerUseOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Now()
		a, b := storage.NewTokenLedger(db, nil), storage.NewTokenLedger(db, nil)
		h := strings.Repeat("cd", 32)
		if err := a.UseOnce(ctx, "forge-event", h, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for name, l := range map[string]*storage.TokenLedger{"same": a, "other instance": b} {
			if err := l.UseOnce(ctx, "forge-event", h, now.Add(time.Minute)); !errors.Is(err, storage.ErrTokenUsed) {
				t.Fatalf("%s ledger: second use: %v", name, err)
			}
		}
		if err := b.Release(ctx, h); err != nil {
			t.Fatal(err)
		}
		if err := a.UseOnce(ctx, "forge-event", h, now.Add(time.Minute)); err != nil {
			t.Fatalf("after release: %v", err)
		}
		if err := a.UseOnce(ctx, "forge-event", "short", now); err == nil {
			t.Fatal("a malformed hash was accepted")
		}
		race := strings.Repeat("ef", 32)
		var wg sync.WaitGroup
		var ok, used atomic.Int64
		for i := range 16 {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() {
				switch err := l.UseOnce(ctx, "forge-event", race, now.Add(time.Minute)); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, storage.ErrTokenUsed):
					used.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || used.Load() != 15 {
			t.Fatalf("16 racing uses: %d accepted, %d refused as used; want 1 and 15", ok.Load(), used.Load())
		}
	})
}
