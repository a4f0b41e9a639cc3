package forgesim

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// DefaultScopes are the permissions.scopes of forge.md's Forge-Remote-only
// manifest (§1.1).
var defaultScopes = []string{"read:app-system-token", "read:app-user-token", "read:jira-work", "read:jira-user", "manage:jira-configuration"}

// DefaultScopes returns the scopes of forge.md's Forge-Remote-only manifest:
// read:app-system-token, read:app-user-token, read:jira-work,
// read:jira-user, manage:jira-configuration.
func DefaultScopes() []string { return slices.Clone(defaultScopes) }

// SiteOptions configure NewSite. Zero fields take the Minter defaults
// (DefaultAppID, DefaultCloudID, DefaultSiteURL, DefaultInstallationID).
type SiteOptions struct {
	AppID, CloudID, SiteURL string
	InstallationID          string
	// Environment is the installation's Forge environment (default
	// PRODUCTION).
	Environment string
	// Scopes are the installed manifest's permissions.scopes; nil means
	// DefaultScopes().
	Scopes  []string
	Catalog *catalog.Catalog
	Now     func() time.Time
	Seed    int64
	// Key signs FITs (default: a fresh 2048-bit key) under KID (default
	// "forgesim-key-1").
	Key *rsa.PrivateKey
	KID string
	// Gateway options beyond Catalog, Now and Seed (lifetimes, address).
	Gateway GatewayOptions
	// Invoker options beyond Minter and Gateway (timeouts, retries, sleep).
	Invoker InvokerOptions
}

// Site bundles everything Forge contributes to one installation of an app
// on one Jira site: a JWKS host, a FIT minter, the api.atlassian.com
// gateway with the site and installation registered, and an invoker that
// calls the remote. Close it when done.
type Site struct {
	keys    *KeyHost
	minter  *Minter
	gw      *Gateway
	inv     *Invoker
	install *Installation
	siteURL string
}

// NewSite starts a simulated site. It panics when the gateway cannot listen
// or a key cannot be generated (test set-up failures).
func NewSite(o SiteOptions) *Site {
	d := (&Minter{AppID: o.AppID, CloudID: o.CloudID, SiteURL: o.SiteURL, InstallationID: o.InstallationID}).defaults()
	if o.KID == "" {
		o.KID = "forgesim-key-1"
	}
	if o.Key == nil {
		k, err := GenerateKey()
		if err != nil {
			panic(fmt.Sprintf("forgesim: NewSite: %v", err))
		}
		o.Key = k
	}
	if o.Scopes == nil {
		o.Scopes = DefaultScopes()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	gopts := o.Gateway
	gopts.Catalog, gopts.Now, gopts.Seed = o.Catalog, o.Now, o.Seed
	gw := NewGateway(gopts)
	s := &Site{keys: NewKeyHost(map[string]*rsa.PrivateKey{o.KID: o.Key}), gw: gw, siteURL: d.SiteURL}
	s.minter = &Minter{Key: o.Key, KID: o.KID, AppID: d.AppID, InstallationID: d.InstallationID, CloudID: d.CloudID,
		SiteURL: d.SiteURL, APIBaseURL: gw.APIBaseURL(d.CloudID), EnvironmentType: o.Environment, Now: o.Now}
	gw.AddSite(d.CloudID, d.SiteURL)
	s.install = gw.Install(InstallationSpec{InstallationID: d.InstallationID, AppID: d.AppID, CloudID: d.CloudID, Environment: o.Environment, Scopes: o.Scopes})
	iopts := o.Invoker
	iopts.Minter, iopts.Gateway = s.minter, gw
	s.inv = NewInvoker(iopts)
	return s
}

// Close stops the gateway and the key host.
func (s *Site) Close() {
	s.gw.Close()
	s.keys.Close()
}

// KeyHost is the JWKS host; configure a FIT verifier with JWKSURL().
func (s *Site) KeyHost() *KeyHost { return s.keys }

// Minter mints FITs for this installation.
func (s *Site) Minter() *Minter { return s.minter }

// Gateway is the api.atlassian.com stand-in.
func (s *Site) Gateway() *Gateway { return s.gw }

// Invoker calls the remote as Forge.
func (s *Site) Invoker() *Invoker { return s.inv }

// Installation is the installation as first registered.
func (s *Site) Installation() *Installation { return s.install }

// AppID is the app ARI (the FIT aud; FORGE_APP_ID).
func (s *Site) AppID() string { return s.install.AppID }

// CloudID is the site's cloud id.
func (s *Site) CloudID() string { return s.install.CloudID }

// SiteURL is the site's URL (https://<site>.atlassian.net).
func (s *Site) SiteURL() string { return s.siteURL }

// InstallationID is the Forge installation id (ARI).
func (s *Site) InstallationID() string { return s.install.InstallationID }

// JWKSURL is the key set URL (FORGE_JWKS_URL).
func (s *Site) JWKSURL() string { return s.keys.URL() }

// APIBaseURL is the FIT's app.apiBaseUrl: <gateway>/ex/jira/<cloudId>.
func (s *Site) APIBaseURL() string { return s.gw.APIBaseURL(s.install.CloudID) }

// Install delivers avi:forge:installed:app to remoteURL+LifecyclePath with
// the system token, as a lifecycle trigger with auth.appSystemToken does.
func (s *Site) Install(ctx context.Context, remoteURL string, opts ...EventOption) (*http.Response, error) {
	ev := InstalledEvent(s.InstallationID(), s.AppID(), s.CloudID(), s.siteURL, opts...)
	return s.inv.Invoke(ctx, remoteURL, LifecyclePath, InvocationSpec{InstallationID: s.InstallationID(), Event: ev, WithSystemToken: true})
}

// Upgrade grants scopes to the installation (a major upgrade an admin
// approved) and delivers avi:forge:upgraded:app.
func (s *Site) Upgrade(ctx context.Context, remoteURL string, scopes []string, opts ...EventOption) (*http.Response, error) {
	if err := s.gw.SetScopes(s.InstallationID(), scopes); err != nil {
		return nil, err
	}
	ev := UpgradedEvent(s.InstallationID(), s.AppID(), s.CloudID(), s.siteURL, scopes, opts...)
	return s.inv.Invoke(ctx, remoteURL, LifecyclePath, InvocationSpec{InstallationID: s.InstallationID(), Event: ev, WithSystemToken: true})
}

// Scheduled delivers a scheduledTrigger call to remoteURL+ScheduledPath with
// the system token (never a user token).
func (s *Site) Scheduled(ctx context.Context, remoteURL string) (*http.Response, error) {
	return s.inv.Invoke(ctx, remoteURL, ScheduledPath, InvocationSpec{InstallationID: s.InstallationID(), Kind: KindScheduled,
		Event: ScheduledEvent(s.InstallationID(), s.CloudID(), "token-refresh"), WithSystemToken: true})
}

// PreUninstall delivers the preUninstall call to remoteURL+PreUninstallPath
// and marks the installation uninstalled at the gateway.
func (s *Site) PreUninstall(ctx context.Context, remoteURL string) (*http.Response, error) {
	resp, err := s.inv.Invoke(ctx, remoteURL, PreUninstallPath, InvocationSpec{InstallationID: s.InstallationID(), Kind: KindPreUninstall,
		Event: PreUninstallEvent(s.InstallationID(), s.AppID(), s.CloudID()), WithSystemToken: true})
	s.gw.Uninstall(s.InstallationID())
	return resp, err
}

// UI plays a Custom UI invokeRemote through an endpoint with both tokens
// enabled, as accountID: method remoteURL+path with a JSON body.
func (s *Site) UI(ctx context.Context, remoteURL, method, path, accountID string, body any) (*http.Response, error) {
	return s.inv.Invoke(ctx, remoteURL, path, InvocationSpec{InstallationID: s.InstallationID(), AccountID: accountID, Kind: KindUI,
		Method: method, Event: body, WithSystemToken: true, WithUserToken: true})
}

// RequestRemote plays @forge/bridge requestRemote (FIT only) as accountID.
func (s *Site) RequestRemote(ctx context.Context, remoteURL, path, method string, body any, accountID string) (*http.Response, error) {
	return s.inv.RequestRemote(ctx, remoteURL, path, method, body, s.InstallationID(), accountID)
}

// Reinstall plays an uninstall followed by a new install of the app on the
// same site: Forge gives the new installation a new id (forge.md §1.3:
// app.installationId "changes on reinstall") while the site's cloudId stays.
// The gateway registers newInstallationID with the same app, environment
// and scopes (the old one stays uninstalled there), every FIT the site
// mints from now on names it, and the installed event is delivered for it.
// Call PreUninstall first to play the whole sequence as Forge does.
func (s *Site) Reinstall(ctx context.Context, remoteURL, newInstallationID string, opts ...EventOption) (*http.Response, error) {
	old := s.install
	s.gw.Uninstall(old.InstallationID)
	s.install = s.gw.Install(InstallationSpec{InstallationID: newInstallationID, AppID: old.AppID, CloudID: old.CloudID,
		Environment: old.Environment, Scopes: slices.Clone(old.Scopes)})
	s.minter.InstallationID = newInstallationID
	return s.Install(ctx, remoteURL, opts...)
}
