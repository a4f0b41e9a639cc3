// Package storage persists Connect Doctor's data with gorm: the tenants
// (installations, with their shared secrets encrypted at rest), the
// lifecycle event log, and later issues' tables. PostgreSQL is the
// production database; an embedded SQLite file is the default for local
// runs. The schema is managed by versioned, embedded goose migrations that
// run unchanged on both.
package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Dialect names the database in use.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is an open database and its dialect.
type DB struct {
	Gorm    *gorm.DB
	Dialect Dialect
}

// OpenOptions selects the database.
type OpenOptions struct {
	DatabaseURL string // postgres://…; empty selects SQLite
	SQLitePath  string // file for SQLite (":memory:" is not supported: use a temp dir)
	Logger      *slog.Logger
}

// Open connects to the database. It does not migrate.
func Open(ctx context.Context, o OpenOptions) (*DB, error) {
	cfg := &gorm.Config{Logger: logger.Discard, TranslateError: true}
	var (
		g   *gorm.DB
		err error
		d   Dialect
	)
	if o.DatabaseURL != "" {
		d = Postgres
		g, err = gorm.Open(postgres.Open(o.DatabaseURL), cfg)
	} else {
		d = SQLite
		if o.SQLitePath == "" {
			return nil, errors.New("storage: no DATABASE_URL and no SQLite path")
		}
		if err := os.MkdirAll(filepath.Dir(o.SQLitePath), 0o700); err != nil {
			return nil, fmt.Errorf("storage: creating data dir: %w", err)
		}
		dsn := o.SQLitePath + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"
		g, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", d, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	if d == SQLite {
		// One writer at a time: SQLite serialises writes anyway, and a
		// single connection avoids SQLITE_BUSY under concurrent installs.
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(16)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("storage: connect %s: %w", d, err)
	}
	return &DB{Gorm: g, Dialect: d}, nil
}

// SQL returns the underlying *sql.DB.
func (db *DB) SQL() *sql.DB {
	s, _ := db.Gorm.DB()
	return s
}

// Close closes the connection pool.
func (db *DB) Close() error { return db.SQL().Close() }

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return db.SQL().PingContext(ctx)
}

// Migrations returns the embedded migration files.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

func (db *DB) provider() (*goose.Provider, error) {
	d := goose.DialectPostgres
	if db.Dialect == SQLite {
		d = goose.DialectSQLite3
	}
	return goose.NewProvider(d, db.SQL(), Migrations())
}

// Migrate applies every pending migration and returns the versions applied.
func (db *DB) Migrate(ctx context.Context) ([]int64, error) {
	p, err := db.provider()
	if err != nil {
		return nil, fmt.Errorf("storage: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: migrate: %w", err)
	}
	var applied []int64
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// SchemaVersion returns the current migration version and whether
// migrations are pending.
func (db *DB) SchemaVersion(ctx context.Context) (current int64, pending bool, err error) {
	p, err := db.provider()
	if err != nil {
		return 0, false, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, false, err
	}
	pending, err = p.HasPending(ctx)
	return current, pending, err
}

// DevEncryptionKey loads the SQLite dev-mode key from dir, generating it on
// first use (0600). It reports whether it created the key.
func DevEncryptionKey(dir string) (key []byte, created bool, err error) {
	path := filepath.Join(dir, "encryption.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, false, fmt.Errorf("storage: %s does not hold a 32-byte hex key", path)
		}
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		return nil, false, err
	}
	return k, true, nil
}
