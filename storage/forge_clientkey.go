package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// Errors of LinkConnectClientKey.
var (
	// ErrNoConnectTenant: no installed Connect tenant has that clientKey
	// (not yet installed, or uninstalled): nothing is linked; a later
	// event or the first panel call links it.
	ErrNoConnectTenant = errors.New("storage: no installed Connect tenant with that clientKey")
	// ErrOtherSite: the Connect tenant belongs to another site than the
	// installation (cloudId, or site URL when a cloudId is unknown), or
	// the sites cannot be compared. Never linked.
	ErrOtherSite = errors.New("storage: the Connect tenant belongs to another site")
)

// LinkConnectClientKey links the installation to the Connect tenant whose
// clientKey Forge reported (the reserved app property of forge.md §1.7
// option 2), only when that tenant exists, is installed and is the same
// site: equal cloudIds, or, when the tenant's cloudId is unknown, equal
// site URLs. An installation already linked to that tenant is returned
// unchanged; one linked to another tenant is not relinked (an
// administrator's confirmation or Connect's own payload decided).
func (s *ForgeStore) LinkConnectClientKey(ctx context.Context, installationID, clientKey string) (*ForgeInstallation, error) {
	if clientKey == "" {
		return nil, ErrNoConnectTenant
	}
	var out *ForgeInstallation
	err := s.write(ctx, func(tx *gorm.DB) (string, error) {
		var row ForgeInstallationRow
		if err := tx.Where("installation_id = ?", installationID).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return "", fmt.Errorf("%w: %.80q", ErrUnknownInstallation, installationID)
			}
			return "", err
		}
		if row.ClientKey != nil {
			out = s.toInstallation(&row)
			return "", nil
		}
		var ct TenantRow
		err := tx.Select("client_key, cloud_id, base_url, state").Where("client_key = ?", clientKey).Take(&ct).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return "", ErrNoConnectTenant
		}
		if err != nil {
			return "", err
		}
		if ct.State == string(tenant.StateUninstalled) {
			return "", ErrNoConnectTenant
		}
		if !sameSite(ct.CloudID, ct.BaseURL, row.CloudID, row.SiteURL) {
			return "", ErrOtherSite
		}
		out, err = s.linkAndLoad(tx, installationID, clientKey)
		return clientKey, err
	})
	switch {
	case errors.Is(err, ErrUnknownInstallation), errors.Is(err, ErrNoConnectTenant), errors.Is(err, ErrOtherSite):
		return nil, err
	case err != nil:
		return nil, storeErr("link Forge installation by clientKey", err)
	}
	return out, nil
}

// sameSite compares a Connect tenant (cloudId, baseUrl) with a Forge
// installation (cloudId, siteUrl): by cloudId when both are known (a site
// URL can be reused by a re-created site), otherwise by URL; false when
// nothing can be compared.
func sameSite(tenantCloud, baseURL, instCloud, siteURL string) bool {
	if tenantCloud != "" && instCloud != "" {
		return tenantCloud == instCloud
	}
	a, b := strings.TrimRight(baseURL, "/"), strings.TrimRight(siteURL, "/")
	return a != "" && b != "" && strings.EqualFold(a, b)
}
