package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TenantStore reads and writes tenants and the lifecycle log. Database
// failures are wrapped with connect.ErrStore; a missing tenant with
// connect.ErrUnknownTenant.
type TenantStore struct {
	db      *gorm.DB
	dialect Dialect
	sealer  *Sealer
	now     func() time.Time
}

// NewTenantStore builds the store.
func NewTenantStore(db *DB, sealer *Sealer, now func() time.Time) *TenantStore {
	if now == nil {
		now = time.Now
	}
	return &TenantStore{db: db.Gorm, dialect: db.Dialect, sealer: sealer, now: now}
}

// write runs f in a transaction and, on PostgreSQL, announces the changed
// tenant on TenantChannel; the notification is delivered on commit.
func (s *TenantStore) write(ctx context.Context, clientKey string, f func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := f(tx); err != nil {
			return err
		}
		if s.dialect == Postgres {
			return tx.Exec("SELECT pg_notify(?, ?)", TenantChannel, clientKey).Error
		}
		return nil
	})
}

func storeErr(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", connect.ErrStore, op, err)
}

// Get returns the tenant with the given clientKey.
func (s *TenantStore) Get(ctx context.Context, clientKey string) (*tenant.Tenant, error) {
	var row TenantRow
	err := s.db.WithContext(ctx).Where("client_key = ?", clientKey).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: %.64q", connect.ErrUnknownTenant, clientKey)
	}
	if err != nil {
		return nil, storeErr("get tenant", err)
	}
	return s.toTenant(&row)
}

// LookupTenant implements connect.TenantLookup directly on the database.
func (s *TenantStore) LookupTenant(ctx context.Context, clientKey string, _ bool) (*tenant.Tenant, error) {
	return s.Get(ctx, clientKey)
}

func (s *TenantStore) toTenant(row *TenantRow) (*tenant.Tenant, error) {
	secret, err := s.sealer.Open(row.SharedSecretEnc, row.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("%w: tenant %s: %v", connect.ErrStore, row.ClientKey, err)
	}
	scopes, _ := scope.ParseSet(row.Scopes)
	return &tenant.Tenant{
		ClientKey: row.ClientKey, AppKey: row.AppKey, BaseURL: row.BaseURL, DisplayURL: row.DisplayURL,
		ProductType: row.ProductType, Description: row.Description, ServiceEntitlementNumber: row.ServiceEntitlementNumber,
		OAuthClientID: row.OAuthClientID, CloudID: row.CloudID, InstallationID: row.InstallationID,
		ServerVersion: row.ServerVersion, PluginsVersion: row.PluginsVersion, SharedSecret: secret,
		State: tenant.State(row.State), Scopes: scopes,
		InstalledAt: row.InstalledAt, UpdatedAt: row.UpdatedAt,
	}, nil
}

// SaveInstall stores an installation atomically: a new row, or, on a
// reinstall, every field including the rotated shared secret in one UPSERT.
// The original installed_at is kept. The state becomes installed.
func (s *TenantStore) SaveInstall(ctx context.Context, t *tenant.Tenant) error {
	enc, err := s.sealer.Seal(t.SharedSecret, t.ClientKey)
	if err != nil {
		return storeErr("encrypt secret", err)
	}
	now := s.now().UTC()
	row := TenantRow{
		ClientKey: t.ClientKey, AppKey: t.AppKey, BaseURL: t.BaseURL, DisplayURL: t.DisplayURL,
		ProductType: t.ProductType, Description: t.Description, ServiceEntitlementNumber: t.ServiceEntitlementNumber,
		OAuthClientID: t.OAuthClientID, CloudID: t.CloudID, InstallationID: t.InstallationID,
		ServerVersion: t.ServerVersion, PluginsVersion: t.PluginsVersion, SharedSecretEnc: enc,
		Scopes: t.Scopes.String(), State: string(tenant.StateInstalled),
		InstalledAt: now, UpdatedAt: now, SecretRotatedAt: now,
	}
	err = s.write(ctx, t.ClientKey, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "client_key"}},
			DoUpdates: clause.AssignmentColumns([]string{"app_key", "base_url", "display_url", "product_type", "description",
				"service_entitlement_number", "oauth_client_id", "cloud_id", "installation_id", "server_version",
				"plugins_version", "shared_secret_enc", "scopes", "state", "updated_at", "secret_rotated_at"}),
		}).Create(&row).Error
	})
	if err != nil {
		return storeErr("save install", err)
	}
	return nil
}

// SetState changes a tenant's lifecycle state. It reports
// connect.ErrUnknownTenant when there is no such tenant.
func (s *TenantStore) SetState(ctx context.Context, clientKey string, state tenant.State) error {
	var affected int64
	err := s.write(ctx, clientKey, func(tx *gorm.DB) error {
		res := tx.Model(&TenantRow{}).Where("client_key = ?", clientKey).
			Updates(map[string]any{"state": string(state), "updated_at": s.now().UTC()})
		affected = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return storeErr("set state", err)
	}
	if affected == 0 {
		return fmt.Errorf("%w: %.64q", connect.ErrUnknownTenant, clientKey)
	}
	return nil
}

// Count returns the number of tenants in each state.
func (s *TenantStore) Count(ctx context.Context) (map[tenant.State]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	if err := s.db.WithContext(ctx).Model(&TenantRow{}).Select("state, count(*) as n").Group("state").Scan(&rows).Error; err != nil {
		return nil, storeErr("count tenants", err)
	}
	out := map[tenant.State]int64{}
	for _, r := range rows {
		out[tenant.State(r.State)] = r.N
	}
	return out, nil
}

// LogEvent appends to the lifecycle log.
func (s *TenantStore) LogEvent(ctx context.Context, ev LifecycleEvent) error {
	if ev.ID == "" {
		ev.ID = NewID(s.now())
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = s.now().UTC()
	}
	if len(ev.Detail) > 1024 {
		ev.Detail = ev.Detail[:1024]
	}
	if len(ev.ClientKey) > 255 {
		ev.ClientKey = ev.ClientKey[:255]
	}
	if err := s.db.WithContext(ctx).Create(&ev).Error; err != nil {
		return storeErr("log lifecycle event", err)
	}
	return nil
}

// Events returns a tenant's lifecycle log, newest first.
func (s *TenantStore) Events(ctx context.Context, clientKey string, limit int) ([]LifecycleEvent, error) {
	var evs []LifecycleEvent
	q := s.db.WithContext(ctx).Order("created_at DESC, id DESC").Limit(limit)
	if clientKey != "" {
		q = q.Where("client_key = ?", clientKey)
	}
	if err := q.Find(&evs).Error; err != nil {
		return nil, storeErr("list lifecycle events", err)
	}
	return evs, nil
}

// NewID returns a 32-character id that sorts by creation time: 13 hex
// digits of Unix microseconds followed by 19 random hex digits.
func NewID(now time.Time) string {
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	ts := strconv.FormatInt(now.UnixMicro(), 16)
	for len(ts) < 13 {
		ts = "0" + ts
	}
	return (ts + hex.EncodeToString(rnd[:]))[:32]
}
