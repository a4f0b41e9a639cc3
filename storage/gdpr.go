package storage

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// DeletedCounts reports what a deletion removed.
type DeletedCounts struct {
	Tenants, Checks, Events, ForgeInstallations int64
}

// DeleteTenantData removes everything stored for one tenant — its row and
// secret, its check history (which holds users' accountIds), its lifecycle
// log and the Forge installations linked to it (with their system tokens) —
// in one transaction. key is a Connect clientKey or, for a Forge-only
// tenant, the Forge installation id.
func DeleteTenantData(ctx context.Context, db *DB, clientKey string) (DeletedCounts, error) {
	var n DeletedCounts
	err := db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// With them go the earlier installations they replaced
		// (replaced_by names the installation holding the record).
		held := tx.Model(&ForgeInstallationRow{}).Select("installation_id").Where("client_key = ? OR installation_id = ?", clientKey, clientKey)
		var ids []string
		if err := held.Pluck("installation_id", &ids).Error; err != nil {
			return err
		}
		r := tx.Where("client_key = ? OR installation_id = ? OR replaced_by = ? OR replaced_by IN ?", clientKey, clientKey, clientKey, append(ids, "")).
			Delete(&ForgeInstallationRow{})
		if r.Error != nil {
			return r.Error
		}
		n.ForgeInstallations = r.RowsAffected
		r = tx.Where("client_key = ?", clientKey).Delete(&CheckRow{})
		if r.Error != nil {
			return r.Error
		}
		n.Checks = r.RowsAffected
		r = tx.Where("client_key = ?", clientKey).Delete(&LifecycleEvent{})
		if r.Error != nil {
			return r.Error
		}
		n.Events = r.RowsAffected
		r = tx.Where("client_key = ?", clientKey).Delete(&TenantRow{})
		if r.Error != nil {
			return r.Error
		}
		n.Tenants = r.RowsAffected
		if db.Dialect == Postgres {
			return tx.Exec("SELECT pg_notify(?, ?)", TenantChannel, clientKey).Error
		}
		return nil
	})
	if err != nil {
		return DeletedCounts{}, storeErr("delete tenant data", err)
	}
	return n, nil
}

// PurgeUninstalled deletes the check history (personal data: accountIds,
// request paths) of tenants that have been uninstalled since before cutoff:
// Connect tenants, and Forge-only tenants (whose history is kept under the
// installation id). The tenant rows stay (reinstalls reuse the ids); their
// credentials are no longer accepted anyway.
func PurgeUninstalled(ctx context.Context, db *DB, cutoff time.Time) (int64, error) {
	var total int64
	for _, sub := range []*gorm.DB{
		db.Gorm.Model(&TenantRow{}).Select("client_key").
			Where("state = ? AND updated_at < ?", string(tenant.StateUninstalled), cutoff.UTC()),
		db.Gorm.Model(&ForgeInstallationRow{}).Select("installation_id").
			Where("state = ? AND updated_at < ? AND client_key IS NULL", string(tenant.StateUninstalled), cutoff.UTC()),
	} {
		r := db.Gorm.WithContext(ctx).Where("client_key IN (?)", sub).Delete(&CheckRow{})
		if r.Error != nil {
			return total, storeErr("purge uninstalled tenants' history", r.Error)
		}
		total += r.RowsAffected
	}
	return total, nil
}
