package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/storage"
)

func openDB(ctx context.Context, cfg *config.Config) (*storage.DB, error) {
	db, err := storage.Open(ctx, storage.OpenOptions{DatabaseURL: cfg.DatabaseURL, SQLitePath: filepath.Join(cfg.DataDir, "connect-doctor.db")})
	if err != nil {
		return nil, err
	}
	if _, pending, err := db.SchemaVersion(ctx); err != nil || pending {
		db.Close()
		if err == nil {
			err = errors.New("the schema has pending migrations: run `connect-doctor migrate` first")
		}
		return nil, err
	}
	return db, nil
}

// runRotateKey re-encrypts every stored secret under ENCRYPTION_KEY, the new
// key; ENCRYPTION_KEY_PREVIOUS names the key(s) being retired. Running
// instances configured with both keys keep working throughout, and the
// command can be interrupted and rerun.
func runRotateKey(args []string, io stdio) int {
	fs := cmdFlags("rotate-key")
	if err := parseNoArgs(fs, args); err != nil {
		return usageError(io, fs, err)
	}
	cfg, ok := loadConfig(io)
	if !ok {
		return 2
	}
	if cfg.EncryptionKey == nil || len(cfg.PreviousKeys) == 0 {
		fmt.Fprintln(io.err, "connect-doctor rotate-key: set ENCRYPTION_KEY to the new key and ENCRYPTION_KEY_PREVIOUS to the old one")
		return 2
	}
	ctx := io.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor rotate-key:", err)
		return 1
	}
	defer db.Close()
	sealer, err := storage.NewSealer(cfg.EncryptionKey, cfg.PreviousKeys...)
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor rotate-key:", err)
		return 2
	}
	code := 0
	for _, part := range []struct {
		what string
		run  func(context.Context) (storage.ReencryptStats, error)
	}{
		{"Connect shared secrets", storage.NewTenantStore(db, sealer, nil).Reencrypt},
		{"Forge system tokens", storage.NewForgeStore(db, sealer, nil).Reencrypt},
	} {
		st, err := part.run(ctx)
		fmt.Fprintf(io.out, "key %s, %s: %d checked, %d re-encrypted, %d already current, %d changed concurrently, %d undecryptable\n",
			sealer.CurrentKeyID(), part.what, st.Checked, st.Reencrypted, st.Current, st.Skipped, len(st.Failed))
		if err != nil {
			fmt.Fprintln(io.err, "connect-doctor rotate-key:", part.what+":", err)
			code = 1
		}
	}
	return code
}

// runDeleteTenant erases everything stored for one tenant.
func runDeleteTenant(args []string, io stdio) int {
	fs := cmdFlags("delete-tenant")
	yes := fs.Bool("yes", false, "confirm the deletion")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(io, fs, err)
	}
	if len(pos) != 1 {
		return usageError(io, fs, errors.New("takes exactly one CLIENT_KEY"))
	}
	clientKey := pos[0]
	if !*yes {
		fmt.Fprintln(io.err, "connect-doctor delete-tenant: this erases the tenant, its secret, its check history and its lifecycle log; add --yes to confirm")
		return 2
	}
	cfg, ok := loadConfig(io)
	if !ok {
		return 2
	}
	ctx := context.Background()
	db, err := openDB(ctx, cfg)
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor delete-tenant:", err)
		return 1
	}
	defer db.Close()
	n, err := storage.DeleteTenantData(ctx, db, clientKey)
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor delete-tenant:", err)
		return 1
	}
	if n == (storage.DeletedCounts{}) {
		fmt.Fprintf(io.out, "nothing stored for %q\n", clientKey)
		return 1
	}
	fmt.Fprintf(io.out, "deleted tenant %q: %d tenant row, %d Forge installations, %d checks, %d lifecycle events\n",
		clientKey, n.Tenants, n.ForgeInstallations, n.Checks, n.Events)
	return 0
}
