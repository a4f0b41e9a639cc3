package storage

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/connect-doctor/connect-doctor/connect"
)

// DeletedCounts reports what a deletion removed.
type DeletedCounts struct {
	Tenants, Checks, Events int64
}

// DeleteTenantData removes everything stored for one tenant — its row and
// secret, its check history (which holds users' accountIds) and its
// lifecycle log — in one transaction.
func DeleteTenantData(ctx context.Context, db *DB, clientKey string) (DeletedCounts, error) {
	var n DeletedCounts
	err := db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r := tx.Where("client_key = ?", clientKey).Delete(&CheckRow{})
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
// request paths) of tenants that have been uninstalled since before cutoff.
// The tenant row stays (reinstalls reuse the clientKey); its secret is no
// longer accepted anyway.
func PurgeUninstalled(ctx context.Context, db *DB, cutoff time.Time) (int64, error) {
	sub := db.Gorm.Model(&TenantRow{}).Select("client_key").
		Where("state = ? AND updated_at < ?", string(connect.StateUninstalled), cutoff.UTC())
	r := db.Gorm.WithContext(ctx).Where("client_key IN (?)", sub).Delete(&CheckRow{})
	if r.Error != nil {
		return 0, storeErr("purge uninstalled tenants' history", r.Error)
	}
	return r.RowsAffected, nil
}
