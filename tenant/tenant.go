// Package tenant is the application's model of an installation, shared by
// storage, the protocol verifiers, the OAuth token cache, the Jira client and
// the HTTP layer: a Tenant (one site that installed the app, over Connect,
// Forge or both), its lifecycle State, and a Viewer (a tenant and the account
// acting in it). It imports nothing above it.
package tenant

import (
	"time"

	"github.com/connect-doctor/connect-doctor/scope"
)

// State is the lifecycle state of an installation.
type State string

// Tenant states. A tenant row is never deleted by the lifecycle: an
// uninstalled tenant keeps its row (reinstalls reuse the clientKey) but its
// tokens are refused.
const (
	StateInstalled   State = "installed"
	StateDisabled    State = "disabled"
	StateUninstalled State = "uninstalled"
)

// Tenant is one installation of the app in one Atlassian site, as the
// application sees it. SharedSecret is the plaintext HS256 key; it exists
// only in memory (the store encrypts it at rest) and must never be logged or
// sent to a browser.
type Tenant struct {
	ClientKey                string
	AppKey                   string // the "key" of the installed app
	BaseURL                  string // prefix for every REST call; never DisplayURL
	DisplayURL               string
	ProductType              string
	Description              string
	ServiceEntitlementNumber string
	OAuthClientID            string
	CloudID                  string
	InstallationID           string
	ServerVersion            string
	PluginsVersion           string
	SharedSecret             string
	State                    State
	// Scopes are the Connect scopes the app declared when this site last
	// installed or updated it: what Jira enforces for the site.
	Scopes      scope.Set
	InstalledAt time.Time
	UpdatedAt   time.Time

	// Forge Remote (issue 8): set when the tenant is, or is linked to, a
	// Forge installation (InstallationID is then the Forge installation
	// ARI). BaseURL stays the site URL; Forge product calls go to
	// APIBaseURL instead, with OAuth tokens, never to BaseURL.
	ForgeAppID      string   // the app ARI
	EnvironmentType string   // DEVELOPMENT, STAGING or PRODUCTION
	EnvironmentID   string   // ari:cloud:ecosystem::environment/…
	APIBaseURL      string   // https://api.atlassian.com/ex/jira/<cloudId>
	OAuthScopes     []string // OAuth 2.0 scopes of the installed Forge version, when an upgrade event named them
}

// Forge reports whether the tenant has a Forge installation to call
// through the product API gateway.
func (t *Tenant) Forge() bool { return t != nil && t.APIBaseURL != "" }

// Active reports whether tokens from the tenant may be accepted.
func (t *Tenant) Active() bool { return t != nil && t.State == StateInstalled }

// String names the tenant without any secret, for logs.
func (t *Tenant) String() string {
	if t == nil {
		return "<nil tenant>"
	}
	return t.ClientKey + " (" + t.BaseURL + ")"
}

// Kind is the protocol a request reached the app through.
type Kind uint8

// The two kinds of viewer.
const (
	// Connect: a Connect JWT (context or page token) signed with the
	// tenant's shared secret.
	Connect Kind = iota + 1
	// Forge: a Forge Invocation Token from Forge Remote.
	Forge
)

// String names the kind ("connect", "forge").
func (k Kind) String() string {
	switch k {
	case Connect:
		return "connect"
	case Forge:
		return "forge"
	}
	return "unknown"
}

// Viewer is a tenant and the account acting in it, as a verified request
// names them: the one thing the admin panel needs to know about who is
// asking, whichever protocol authenticated the request.
type Viewer struct {
	Tenant *Tenant
	// AccountID is the acting user's Atlassian accountId; "" for an
	// anonymous request (a Connect token without sub, a FIT without
	// principal).
	AccountID string
	Kind      Kind
}
