package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// ForgeInstallationRow is the forge_installations table (migration 00003).
// ClientKey is the linked Connect tenant and LinkCandidate a Connect tenant
// of the same site awaiting an administrator's confirmation; both are NULL
// when absent. The system token is stored only as ciphertext bound to the
// installation id.
type ForgeInstallationRow struct {
	InstallationID       string  `gorm:"primaryKey;size:255"`
	AppID                string  `gorm:"size:255;not null"`
	EnvironmentType      string  `gorm:"size:32;not null;default:''"`
	EnvironmentID        string  `gorm:"size:255;not null;default:''"`
	CloudID              string  `gorm:"size:255;not null;default:''"`
	SiteURL              string  `gorm:"column:site_url;size:512;not null;default:''"`
	APIBaseURL           string  `gorm:"column:api_base_url;size:512;not null;default:''"`
	AppVersion           string  `gorm:"size:64;not null;default:''"`
	Scopes               string  `gorm:"not null;default:''"`
	ClientKey            *string `gorm:"size:255"`
	LinkCandidate        *string `gorm:"size:255"`
	SystemTokenEnc       string  `gorm:"not null;default:''"`
	SystemTokenExpiresAt *time.Time
	State                string `gorm:"size:16;not null"`
	InstalledAt          time.Time
	UpdatedAt            time.Time `gorm:"autoUpdateTime:false"`
	// ReplacedBy is the installation that took over this one's record
	// after a reinstall (migration 00006); NULL otherwise.
	ReplacedBy *string `gorm:"size:255"`
}

// TableName fixes the table name.
func (ForgeInstallationRow) TableName() string { return "forge_installations" }

// ForgeInstallation is one Forge installation as the application sees it.
// It never carries the system token.
type ForgeInstallation struct {
	InstallationID  string
	AppID           string
	EnvironmentType string
	EnvironmentID   string
	CloudID         string
	SiteURL         string
	APIBaseURL      string
	AppVersion      string
	// Scopes are the OAuth scopes of the installed version, when an
	// upgrade event named them (nil: unknown).
	Scopes []string
	// ClientKey is the linked Connect tenant ("" when none);
	// LinkCandidate a Connect tenant of the same cloudId or site URL
	// awaiting confirmation.
	ClientKey     string
	LinkCandidate string
	// SystemTokenExpiry is the stored system token's expiry (zero when no
	// token is stored or it has no exp).
	SystemTokenExpiry time.Time
	HasSystemToken    bool
	State             tenant.State
	InstalledAt       time.Time
	UpdatedAt         time.Time
	// ReplacedBy is the installation that took over this record after a
	// reinstall ("" when none).
	ReplacedBy string
}

// Forge store errors.
var (
	// ErrUnknownInstallation: no Forge installation with that id.
	ErrUnknownInstallation = errors.New("storage: unknown Forge installation")
	// ErrNoSystemToken: the installation has no stored system token.
	ErrNoSystemToken = errors.New("storage: no Forge system token stored for the installation")
	// ErrNotLinkCandidate: the clientKey to link is not the installation's
	// link candidate.
	ErrNotLinkCandidate = errors.New("storage: the Connect tenant is not this installation's link candidate")
)

// ForgeStore keeps Forge installations, their encrypted system tokens and
// their links to Connect tenants. Database failures wrap connect.ErrStore.
type ForgeStore struct {
	db      *gorm.DB
	dialect Dialect
	sealer  *Sealer
	now     func() time.Time
	tenants *TenantStore
}

// NewForgeStore builds the store. Its sealer must be the tenants' one: the
// merged tenant view decrypts the linked Connect tenant's secret.
func NewForgeStore(db *DB, sealer *Sealer, now func() time.Time) *ForgeStore {
	if now == nil {
		now = time.Now
	}
	return &ForgeStore{db: db.Gorm, dialect: db.Dialect, sealer: sealer, now: now, tenants: NewTenantStore(db, sealer, now)}
}

func (s *ForgeStore) toInstallation(r *ForgeInstallationRow) *ForgeInstallation {
	out := &ForgeInstallation{
		InstallationID: r.InstallationID, AppID: r.AppID, EnvironmentType: r.EnvironmentType, EnvironmentID: r.EnvironmentID,
		CloudID: r.CloudID, SiteURL: r.SiteURL, APIBaseURL: r.APIBaseURL, AppVersion: r.AppVersion,
		HasSystemToken: r.SystemTokenEnc != "", State: tenant.State(r.State),
		InstalledAt: r.InstalledAt, UpdatedAt: r.UpdatedAt,
	}
	if r.Scopes != "" {
		out.Scopes = strings.Split(r.Scopes, " ")
	}
	if r.ClientKey != nil {
		out.ClientKey = *r.ClientKey
	}
	if r.LinkCandidate != nil {
		out.LinkCandidate = *r.LinkCandidate
	}
	if r.SystemTokenExpiresAt != nil && r.SystemTokenEnc != "" {
		out.SystemTokenExpiry = r.SystemTokenExpiresAt.UTC()
	}
	if r.ReplacedBy != nil {
		out.ReplacedBy = *r.ReplacedBy
	}
	return out
}

// write runs f in a transaction and, on PostgreSQL, announces the linked
// Connect tenant (if any) so other instances drop cached copies.
func (s *ForgeStore) write(ctx context.Context, f func(tx *gorm.DB) (notify string, err error)) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ck, err := f(tx)
		if err != nil {
			return err
		}
		if s.dialect == Postgres && ck != "" {
			return tx.Exec("SELECT pg_notify(?, ?)", TenantChannel, ck).Error
		}
		return nil
	})
}

// SaveInstallation records an installed or upgraded event (or the first
// verified call of an installation never seen): a new row, or an update of
// every non-empty field; the state becomes installed and installed_at is
// kept. It then links the installation: to the Connect tenant whose install
// payload carried the same installationId (automatic), otherwise it
// records a Connect tenant of the same cloudId or site URL as the link
// candidate. The system token is not touched (StoreSystemToken).
func (s *ForgeStore) SaveInstallation(ctx context.Context, in ForgeInstallation) (*ForgeInstallation, error) {
	if in.InstallationID == "" || in.AppID == "" {
		return nil, storeErr("save Forge installation", errors.New("installation id and app id are required"))
	}
	now := s.now().UTC()
	row := ForgeInstallationRow{
		InstallationID: in.InstallationID, AppID: in.AppID, EnvironmentType: in.EnvironmentType, EnvironmentID: in.EnvironmentID,
		CloudID: in.CloudID, SiteURL: strings.TrimRight(in.SiteURL, "/"), APIBaseURL: strings.TrimRight(in.APIBaseURL, "/"),
		AppVersion: in.AppVersion, Scopes: strings.Join(in.Scopes, " "),
		State: string(tenant.StateInstalled), InstalledAt: now, UpdatedAt: now,
	}
	// Only non-empty values overwrite: an event without a site URL must not
	// erase the one a UI call delivered.
	update := []string{"app_id", "state", "updated_at"}
	for col, v := range map[string]string{"environment_type": row.EnvironmentType, "environment_id": row.EnvironmentID,
		"cloud_id": row.CloudID, "site_url": row.SiteURL, "api_base_url": row.APIBaseURL, "app_version": row.AppVersion} {
		if v != "" {
			update = append(update, col)
		}
	}
	if in.Scopes != nil {
		update = append(update, "scopes")
	}
	var out *ForgeInstallation
	err := s.write(ctx, func(tx *gorm.DB) (string, error) {
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "installation_id"}},
			DoUpdates: clause.AssignmentColumns(update),
		}).Create(&row).Error; err != nil {
			return "", err
		}
		// An installation whose record a reinstall took over stays
		// uninstalled: a late redelivery of its event revives nothing.
		if err := tx.Model(&ForgeInstallationRow{}).Where("installation_id = ? AND replaced_by IS NOT NULL", in.InstallationID).
			Update("state", string(tenant.StateUninstalled)).Error; err != nil {
			return "", err
		}
		var err error
		out, err = s.link(tx, in.InstallationID)
		return out.ClientKey, err
	})
	if err != nil {
		return nil, storeErr("save Forge installation", err)
	}
	return out, nil
}

// link resolves the installation's link inside tx and returns the row.
func (s *ForgeStore) link(tx *gorm.DB, id string) (*ForgeInstallation, error) {
	var row ForgeInstallationRow
	if err := tx.Where("installation_id = ?", id).Take(&row).Error; err != nil {
		return nil, err
	}
	if row.ClientKey == nil {
		// Automatic: the Connect install payload named this installation.
		var ck []string
		if err := tx.Model(&TenantRow{}).Where("installation_id = ?", id).Order("updated_at DESC").Limit(1).Pluck("client_key", &ck).Error; err != nil {
			return nil, err
		}
		// Unless the tenant is linked to another live installation (an
		// administrator confirmed a newer one): then this is a candidate.
		var others int64
		if len(ck) == 1 {
			if err := tx.Model(&ForgeInstallationRow{}).Where("client_key = ? AND installation_id <> ? AND state = ?",
				ck[0], id, string(tenant.StateInstalled)).Count(&others).Error; err != nil {
				return nil, err
			}
		}
		// Never across sites: a Connect tenant whose cloudId is known and
		// differs is not linked, whatever installationId it reported.
		if len(ck) == 1 && row.CloudID != "" {
			var tc []string
			if err := tx.Model(&TenantRow{}).Where("client_key = ?", ck[0]).Limit(1).Pluck("cloud_id", &tc).Error; err != nil {
				return nil, err
			}
			if len(tc) == 1 && tc[0] != "" && tc[0] != row.CloudID {
				ck = nil
			}
		}
		if len(ck) == 1 && others == 0 {
			if err := s.setLink(tx, id, ck[0]); err != nil {
				return nil, err
			}
			row.ClientKey, row.LinkCandidate = &ck[0], nil
		}
	}
	if row.ClientKey == nil && row.LinkCandidate == nil && (row.CloudID != "" || row.SiteURL != "") {
		// Fallback: same cloudId or site URL. Only a candidate: a site URL
		// can be reused by a re-created site, so an administrator decides.
		q := tx.Model(&TenantRow{}).Where("state <> ?", string(tenant.StateUninstalled))
		// A site URL is only a fallback for a Connect tenant whose cloudId
		// is unknown: when both cloudIds are known and differ, the sites
		// differ, whatever their URLs say (issue 16 item 3).
		switch {
		case row.CloudID != "" && row.SiteURL != "":
			q = q.Where("(cloud_id = ? OR (cloud_id = '' AND (base_url = ? OR base_url = ?)))", row.CloudID, row.SiteURL, row.SiteURL+"/")
		case row.CloudID != "":
			q = q.Where("cloud_id = ?", row.CloudID)
		default:
			q = q.Where("(base_url = ? OR base_url = ?)", row.SiteURL, row.SiteURL+"/")
		}
		var ck []string
		if err := q.Order("updated_at DESC").Limit(1).Pluck("client_key", &ck).Error; err != nil {
			return nil, err
		}
		if len(ck) == 1 {
			if err := tx.Model(&ForgeInstallationRow{}).Where("installation_id = ?", id).Update("link_candidate", ck[0]).Error; err != nil {
				return nil, err
			}
			row.LinkCandidate = &ck[0]
		}
	}
	return s.toInstallation(&row), nil
}

// setLink links id to clientKey and unlinks any other installation from
// that Connect tenant (a reinstall creates a new installation id).
func (s *ForgeStore) setLink(tx *gorm.DB, id, clientKey string) error {
	if err := tx.Model(&ForgeInstallationRow{}).Where("client_key = ? AND installation_id <> ?", clientKey, id).
		Update("client_key", nil).Error; err != nil {
		return err
	}
	return tx.Model(&ForgeInstallationRow{}).Where("installation_id = ?", id).
		Updates(map[string]any{"client_key": clientKey, "link_candidate": nil, "updated_at": s.now().UTC()}).Error
}

// linkAndLoad links installation id to clientKey (setLink) and returns
// the installation as stored afterwards.
func (s *ForgeStore) linkAndLoad(tx *gorm.DB, id, clientKey string) (*ForgeInstallation, error) {
	if err := s.setLink(tx, id, clientKey); err != nil {
		return nil, err
	}
	var row ForgeInstallationRow
	if err := tx.Where("installation_id = ?", id).Take(&row).Error; err != nil {
		return nil, err
	}
	return s.toInstallation(&row), nil
}

// Get returns an installation. A Connect install that named this
// installation after it was first stored is linked here.
func (s *ForgeStore) Get(ctx context.Context, installationID string) (*ForgeInstallation, error) {
	var row ForgeInstallationRow
	err := s.db.WithContext(ctx).Where("installation_id = ?", installationID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
	}
	if err != nil {
		return nil, storeErr("get Forge installation", err)
	}
	if row.ClientKey != nil {
		return s.toInstallation(&row), nil
	}
	var out *ForgeInstallation
	err = s.write(ctx, func(tx *gorm.DB) (string, error) {
		var err error
		out, err = s.link(tx, installationID)
		if err != nil {
			return "", err
		}
		return out.ClientKey, nil
	})
	if err != nil {
		return nil, storeErr("link Forge installation", err)
	}
	return out, nil
}

// ByClientKey returns the installation linked to a Connect tenant.
func (s *ForgeStore) ByClientKey(ctx context.Context, clientKey string) (*ForgeInstallation, error) {
	var row ForgeInstallationRow
	err := s.db.WithContext(ctx).Where("client_key = ?", clientKey).Order("updated_at DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: none linked to %.64q", ErrUnknownInstallation, clientKey)
	}
	if err != nil {
		return nil, storeErr("get Forge installation", err)
	}
	return s.toInstallation(&row), nil
}

// ConfirmLink links the installation to clientKey, which must be its
// current link candidate (an administrator confirmed the match).
func (s *ForgeStore) ConfirmLink(ctx context.Context, installationID, clientKey string) (*ForgeInstallation, error) {
	var out *ForgeInstallation
	err := s.write(ctx, func(tx *gorm.DB) (string, error) {
		var row ForgeInstallationRow
		if err := tx.Where("installation_id = ?", installationID).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return "", fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
			}
			return "", err
		}
		if row.ClientKey != nil && *row.ClientKey == clientKey {
			out = s.toInstallation(&row)
			return "", nil
		}
		if row.LinkCandidate == nil || *row.LinkCandidate != clientKey || clientKey == "" {
			return "", ErrNotLinkCandidate
		}
		// Re-checked at confirmation: a candidate recorded before the
		// cloudId rule, or a tenant whose cloudId became known since.
		var ct TenantRow
		if err := tx.Select("client_key, cloud_id").Where("client_key = ?", clientKey).Take(&ct).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return "", ErrNotLinkCandidate
			}
			return "", err
		}
		if ct.CloudID != "" && row.CloudID != "" && ct.CloudID != row.CloudID {
			return "", fmt.Errorf("%w: the Connect tenant belongs to another cloudId", ErrNotLinkCandidate)
		}
		var err error
		out, err = s.linkAndLoad(tx, installationID, clientKey)
		return clientKey, err
	})
	switch {
	case errors.Is(err, ErrUnknownInstallation), errors.Is(err, ErrNotLinkCandidate):
		return nil, err
	case err != nil:
		return nil, storeErr("confirm Forge link", err)
	}
	return out, nil
}

// SetState changes an installation's state (pre-uninstall marks it
// uninstalled). ErrUnknownInstallation when there is no such row.
func (s *ForgeStore) SetState(ctx context.Context, installationID string, state tenant.State) error {
	var affected int64
	err := s.write(ctx, func(tx *gorm.DB) (string, error) {
		res := tx.Model(&ForgeInstallationRow{}).Where("installation_id = ?", installationID).
			Updates(map[string]any{"state": string(state), "updated_at": s.now().UTC()})
		affected = res.RowsAffected
		return "", res.Error
	})
	if err != nil {
		return storeErr("set Forge state", err)
	}
	if affected == 0 {
		return fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
	}
	return nil
}

// StoreSystemToken stores token as the installation's system token unless
// the stored one expires at least as late: a token is replaced only by a
// newer one (a zero exp, i.e. unknown, replaces only an absent or expired
// token). It reports whether the token was stored. The token is sealed with
// the installation id as additional data and never logged.
func (s *ForgeStore) StoreSystemToken(ctx context.Context, installationID, token string, exp time.Time) (bool, error) {
	if token == "" {
		return false, nil
	}
	enc, err := s.sealer.Seal(token, installationID)
	if err != nil {
		return false, storeErr("encrypt Forge token", err)
	}
	now := s.now().UTC()
	var expCol *time.Time
	q := s.db.WithContext(ctx).Model(&ForgeInstallationRow{}).Where("installation_id = ?", installationID)
	if exp.IsZero() {
		q = q.Where("(system_token_enc = '' OR system_token_expires_at IS NULL OR system_token_expires_at <= ?)", now)
	} else {
		e := exp.UTC()
		expCol = &e
		q = q.Where("(system_token_enc = '' OR system_token_expires_at IS NULL OR system_token_expires_at < ?)", e)
	}
	res := q.Updates(map[string]any{"system_token_enc": enc, "system_token_expires_at": expCol, "updated_at": now})
	if res.Error != nil {
		return false, storeErr("store Forge token", res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.Get(ctx, installationID); err != nil {
			return false, err
		}
		return false, nil
	}
	return true, nil
}

// SystemToken returns the stored system token and its expiry (zero when
// unknown). ErrNoSystemToken when none is stored.
func (s *ForgeStore) SystemToken(ctx context.Context, installationID string) (string, time.Time, error) {
	var row ForgeInstallationRow
	err := s.db.WithContext(ctx).Select("installation_id, system_token_enc, system_token_expires_at").
		Where("installation_id = ?", installationID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", time.Time{}, fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
	}
	if err != nil {
		return "", time.Time{}, storeErr("get Forge token", err)
	}
	if row.SystemTokenEnc == "" {
		return "", time.Time{}, fmt.Errorf("%w: %.80q", ErrNoSystemToken, installationID)
	}
	tok, err := s.sealer.Open(row.SystemTokenEnc, installationID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: Forge installation %.80q: %v", connect.ErrStore, installationID, err)
	}
	var exp time.Time
	if row.SystemTokenExpiresAt != nil {
		exp = row.SystemTokenExpiresAt.UTC()
	}
	return tok, exp, nil
}

// Tenant returns the single tenant view of an installation: the linked
// Connect tenant (its clientKey, secret, scopes and history) with the Forge
// fields added, or, without a link, a Forge-only tenant whose ClientKey is
// the installation id. The state is the Forge installation's.
func (s *ForgeStore) Tenant(ctx context.Context, installationID string) (*tenant.Tenant, *ForgeInstallation, error) {
	inst, err := s.Get(ctx, installationID)
	if err != nil {
		return nil, nil, err
	}
	var t *tenant.Tenant
	if inst.ClientKey != "" {
		if t, err = s.tenants.Get(ctx, inst.ClientKey); err != nil && !errors.Is(err, connect.ErrUnknownTenant) {
			return nil, nil, err
		}
	}
	if t == nil {
		t = &tenant.Tenant{ClientKey: inst.InstallationID, BaseURL: inst.SiteURL, ProductType: "jira",
			InstalledAt: inst.InstalledAt, UpdatedAt: inst.UpdatedAt}
	}
	t.InstallationID = inst.InstallationID
	if inst.CloudID != "" {
		t.CloudID = inst.CloudID
	}
	if t.BaseURL == "" {
		t.BaseURL = inst.SiteURL
	}
	t.State = inst.State
	t.ForgeAppID, t.EnvironmentType, t.EnvironmentID = inst.AppID, inst.EnvironmentType, inst.EnvironmentID
	t.APIBaseURL, t.OAuthScopes = inst.APIBaseURL, inst.Scopes
	return t, inst, nil
}

// Reencrypt moves every stored system token to the sealer's current key,
// like TenantStore.Reencrypt for shared secrets.
func (s *ForgeStore) Reencrypt(ctx context.Context) (ReencryptStats, error) {
	var st ReencryptStats
	prefix := "v1." + s.sealer.CurrentKeyID() + "."
	var rows []ForgeInstallationRow
	if err := s.db.WithContext(ctx).Select("installation_id, system_token_enc").Where("system_token_enc <> ''").
		Order("installation_id").Find(&rows).Error; err != nil {
		return st, storeErr("list Forge tokens", err)
	}
	for _, r := range rows {
		st.Checked++
		if strings.HasPrefix(r.SystemTokenEnc, prefix) {
			st.Current++
			continue
		}
		plain, err := s.sealer.Open(r.SystemTokenEnc, r.InstallationID)
		if err != nil {
			st.Failed = append(st.Failed, r.InstallationID)
			continue
		}
		sealed, err := s.sealer.Seal(plain, r.InstallationID)
		if err != nil {
			return st, err
		}
		res := s.db.WithContext(ctx).Model(&ForgeInstallationRow{}).
			Where("installation_id = ? AND system_token_enc = ?", r.InstallationID, r.SystemTokenEnc).
			Update("system_token_enc", sealed)
		if res.Error != nil {
			return st, storeErr("rewrite Forge token", res.Error)
		}
		if res.RowsAffected == 0 {
			st.Skipped++
			continue
		}
		st.Reencrypted++
	}
	if len(st.Failed) > 0 {
		return st, fmt.Errorf("%w: %d Forge installation(s), e.g. %s", ErrUndecryptable, len(st.Failed), st.Failed[0])
	}
	return st, nil
}
