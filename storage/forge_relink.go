package storage

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// Relink reports what TakeOver moved to the new installation.
type Relink struct {
	// From are the earlier installation ids whose record was taken over,
	// oldest first.
	From []string
	// ClientKey is the Connect tenant link carried over ("" when none).
	ClientKey string
	// Checks and Events count the history rows moved.
	Checks, Events int64
}

// ErrRelinkRefused: TakeOver was asked to relink on a cloudId that does not
// match the installation's stored one (or none).
var ErrRelinkRefused = errors.New("storage: relink refused: the installation's cloudId is unknown or differs")

// TakeOver gives a new Forge installation the record of the earlier
// installations of the same app on the same site: Forge changes the
// installation id on a reinstall, while the site's cloudId stays (Forge
// Remote essentials). Earlier installations are the rows with the same
// cloudId, app id and environment (type, and id when both know it),
// installed no later than this one and not already replaced. Their check
// history and lifecycle log move to installationID, their Connect link
// moves with them when this installation has none (and the Connect tenant
// is not of another cloudId), and each keeps only ReplacedBy, state
// uninstalled and no token (ReplacedBy always names the installation
// that holds the record now). All in one transaction; a second call finds
// nothing left to take over.
//
// cloudID is the cloudId of the verified invocation that triggers the
// take-over and must equal the stored one: TakeOver is for Forge's own
// calls (lifecycle events, scheduled triggers) whose FIT was verified,
// never for a user's UI call, and never relinks across sites.
func (s *ForgeStore) TakeOver(ctx context.Context, installationID, cloudID string) (*ForgeInstallation, *Relink, error) {
	rl := &Relink{}
	var out *ForgeInstallation
	err := s.write(ctx, func(tx *gorm.DB) (string, error) {
		var row ForgeInstallationRow
		if err := tx.Where("installation_id = ?", installationID).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return "", fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
			}
			return "", err
		}
		if cloudID == "" || row.CloudID != cloudID {
			return "", fmt.Errorf("%w (stored %.64q, invocation %.64q)", ErrRelinkRefused, row.CloudID, cloudID)
		}
		if row.ReplacedBy != nil {
			// This installation was itself replaced: a late event of an
			// old installation takes nothing over.
			out = s.toInstallation(&row)
			return "", nil
		}
		q := tx.Where("cloud_id = ? AND app_id = ? AND environment_type = ? AND installation_id <> ? AND replaced_by IS NULL AND installed_at <= ?",
			row.CloudID, row.AppID, row.EnvironmentType, installationID, row.InstalledAt)
		if row.EnvironmentID != "" {
			q = q.Where("(environment_id = '' OR environment_id = ?)", row.EnvironmentID)
		}
		var olds []ForgeInstallationRow
		if err := q.Order("installed_at, installation_id").Find(&olds).Error; err != nil {
			return "", err
		}
		now := s.now().UTC()
		notify := ""
		for _, o := range olds {
			r := tx.Model(&CheckRow{}).Where("client_key = ?", o.InstallationID).Update("client_key", installationID)
			if r.Error != nil {
				return "", r.Error
			}
			rl.Checks += r.RowsAffected
			r = tx.Model(&LifecycleEvent{}).Where("client_key = ?", o.InstallationID).Update("client_key", installationID)
			if r.Error != nil {
				return "", r.Error
			}
			rl.Events += r.RowsAffected
			// replaced_by always names the installation that holds the
			// record now, so earlier links of the chain follow.
			if err := tx.Model(&ForgeInstallationRow{}).Where("replaced_by = ?", o.InstallationID).
				Update("replaced_by", installationID).Error; err != nil {
				return "", err
			}
			if o.ClientKey != nil && row.ClientKey == nil {
				ok, err := sameCloud(tx, *o.ClientKey, row.CloudID)
				if err != nil {
					return "", err
				}
				if ok {
					ck := *o.ClientKey
					row.ClientKey, row.LinkCandidate = &ck, nil
				}
			}
			if err := tx.Model(&ForgeInstallationRow{}).Where("installation_id = ?", o.InstallationID).Updates(map[string]any{
				"replaced_by": installationID, "state": string(tenant.StateUninstalled), "client_key": nil, "link_candidate": nil,
				"system_token_enc": "", "system_token_expires_at": nil, "updated_at": now,
			}).Error; err != nil {
				return "", err
			}
			rl.From = append(rl.From, o.InstallationID)
		}
		if len(olds) == 0 {
			out = s.toInstallation(&row)
			return "", nil
		}
		if row.ClientKey != nil {
			rl.ClientKey = *row.ClientKey
			notify = rl.ClientKey
			if err := tx.Model(&ForgeInstallationRow{}).Where("installation_id = ?", installationID).
				Updates(map[string]any{"client_key": rl.ClientKey, "link_candidate": nil, "updated_at": now}).Error; err != nil {
				return "", err
			}
		}
		if err := tx.Where("installation_id = ?", installationID).Take(&row).Error; err != nil {
			return "", err
		}
		out = s.toInstallation(&row)
		return notify, nil
	})
	switch {
	case errors.Is(err, ErrUnknownInstallation), errors.Is(err, ErrRelinkRefused):
		return nil, nil, err
	case err != nil:
		return nil, nil, storeErr("take over Forge installation", err)
	}
	return out, rl, nil
}

// sameCloud reports whether the Connect tenant clientKey may be linked to
// an installation of cloudID: its cloudId is unknown or equal.
func sameCloud(tx *gorm.DB, clientKey, cloudID string) (bool, error) {
	var tc []string
	if err := tx.Model(&TenantRow{}).Where("client_key = ?", clientKey).Limit(1).Pluck("cloud_id", &tc).Error; err != nil {
		return false, err
	}
	return len(tc) == 0 || tc[0] == "" || tc[0] == cloudID, nil
}

// MarkUninstalled records the pre-uninstall call: the installation becomes
// uninstalled and its system token is dropped. It is idempotent: changed is
// false, and nothing is written, when the installation was already
// uninstalled (a repeated or late call). ErrUnknownInstallation when there
// is no such row.
func (s *ForgeStore) MarkUninstalled(ctx context.Context, installationID string) (changed bool, err error) {
	var affected int64
	err = s.write(ctx, func(tx *gorm.DB) (string, error) {
		res := tx.Model(&ForgeInstallationRow{}).Where("installation_id = ? AND state <> ?", installationID, string(tenant.StateUninstalled)).
			Updates(map[string]any{"state": string(tenant.StateUninstalled), "system_token_enc": "", "system_token_expires_at": nil,
				"updated_at": s.now().UTC()})
		affected = res.RowsAffected
		return "", res.Error
	})
	if err != nil {
		return false, storeErr("mark Forge installation uninstalled", err)
	}
	if affected > 0 {
		return true, nil
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&ForgeInstallationRow{}).Where("installation_id = ?", installationID).Count(&n).Error; err != nil {
		return false, storeErr("mark Forge installation uninstalled", err)
	}
	if n == 0 {
		return false, fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
	}
	return false, nil
}
