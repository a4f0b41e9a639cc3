package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

func TestRotateKeyAndDeleteTenantCommands(t *testing.T) {
	dsn := storagetest.PostgresURL(t)
	oldKey, newKey := strings.Repeat("11", 32), strings.Repeat("22", 32)
	env := map[string]string{"DATABASE_URL": dsn, "ENCRYPTION_KEY": oldKey}
	runCmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, stdio{out: &out, err: &errb, getenv: func(k string) string { return env[k] }})
		return code, out.String(), errb.String()
	}
	if code, _, e := runCmd("migrate"); code != 0 {
		t.Fatalf("migrate: %s", e)
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, storage.OpenOptions{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, _ := parseKey(oldKey)
	sealer, _ := storage.NewSealer(k)
	store := storage.NewTenantStore(db, sealer, nil)
	for _, ck := range []string{"ck-a", "ck-b"} {
		if err := store.SaveInstall(ctx, &tenant.Tenant{ClientKey: ck, AppKey: "connect-doctor", BaseURL: "https://a.atlassian.net",
			SharedSecret: "rotate-cmd-secret-0123456789", Scopes: scope.Set{scope.Read}}); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, _ := runCmd("rotate-key"); code != 2 {
		t.Fatalf("rotate-key without ENCRYPTION_KEY_PREVIOUS must refuse, got %d", code)
	}
	env["ENCRYPTION_KEY"], env["ENCRYPTION_KEY_PREVIOUS"] = newKey, oldKey
	code, out, e := runCmd("rotate-key")
	if code != 0 || !strings.Contains(out, "2 re-encrypted") {
		t.Fatalf("rotate-key: %d %s %s", code, out, e)
	}
	nk, _ := parseKey(newKey)
	newOnly, _ := storage.NewSealer(nk)
	if got, err := storage.NewTenantStore(db, newOnly, nil).Get(ctx, "ck-b"); err != nil || got.SharedSecret != "rotate-cmd-secret-0123456789" {
		t.Fatalf("after rotation: %v", err)
	}
	if code, _, _ := runCmd("delete-tenant", "ck-a"); code != 2 {
		t.Fatal("delete-tenant without --yes must refuse")
	}
	code, out, _ = runCmd("delete-tenant", "--yes", "ck-a")
	if code != 0 || !strings.Contains(out, "1 tenant row") {
		t.Fatalf("delete-tenant: %d %s", code, out)
	}
	if _, err := store.Get(ctx, "ck-a"); err == nil {
		t.Fatal("tenant still stored")
	}
}

func parseKey(s string) ([]byte, error) { return config.ParseEncryptionKey(s) }
