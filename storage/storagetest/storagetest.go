// Package storagetest gives tests a fresh, migrated database: an SQLite file
// in a temporary directory, or a throwaway PostgreSQL database created on
// the server named by TEST_DATABASE_URL (default: the local server on
// 127.0.0.1:5432). When CI is set, an unreachable PostgreSQL fails the test
// instead of skipping it.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for admin statements

	"github.com/connect-doctor/connect-doctor/storage"
)

// DefaultAdminURL is used when TEST_DATABASE_URL is unset.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// SQLite opens a migrated SQLite database in t.TempDir().
func SQLite(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), storage.OpenOptions{SQLitePath: filepath.Join(t.TempDir(), "test.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// PostgresURL creates an empty database and returns its URL; the database
// is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultAdminURL
	}
	adb, err := sql.Open("pgx", admin)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = adb.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI but unreachable at %s: %v", redact(admin), err)
		}
		t.Skipf("PostgreSQL unreachable at %s (set TEST_DATABASE_URL): %v", redact(admin), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cdtest_" + hex.EncodeToString(b[:])
	if _, err := adb.Exec("CREATE DATABASE " + name); err != nil {
		adb.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		adb.Close()
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	return u.String()
}

// Postgres opens a fresh migrated PostgreSQL database.
func Postgres(t testing.TB) *storage.DB {
	t.Helper()
	dsn := PostgresURL(t)
	db, err := storage.Open(context.Background(), storage.OpenOptions{DatabaseURL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// Each runs f once per dialect as a subtest.
func Each(t *testing.T, f func(t *testing.T, db *storage.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, Postgres(t)) })
}

// Key returns a fixed 32-byte test key derived from a label.
func Key(label string) []byte {
	k := make([]byte, 32)
	copy(k, strings.Repeat(label, 32/max(1, len(label))+1))
	return k
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return fmt.Sprint(u)
}
