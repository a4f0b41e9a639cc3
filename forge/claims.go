package forge

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is the payload of a Forge Invocation Token (forge.md §1.3).
type Claims struct {
	jwt.RegisteredClaims
	App App `json:"app"`
	// Context is present for frontend calls only.
	Context *InvocationContext `json:"context,omitempty"`
	// Principal is the account id of the invoking user (UI modules only).
	Principal Principal `json:"principal,omitempty"`
	// ICLabel is set for Isolated Cloud requests only.
	ICLabel string `json:"icLabel,omitempty"`
}

// App is the FIT's "app" claim.
type App struct {
	ID             string        `json:"id"`
	InstallationID string        `json:"installationId"`
	Installation   *Installation `json:"installation,omitempty"`
	APIBaseURL     string        `json:"apiBaseUrl"`
	AppVersion     string        `json:"appVersion,omitempty"`
	// Version is deprecated by Atlassian in favour of AppVersion.
	Version     string      `json:"version,omitempty"`
	Environment Environment `json:"environment"`
	Module      Module      `json:"module"`
	// License is present only for paid apps in production.
	License *License `json:"license,omitempty"`
}

// Installation is app.installation.
type Installation struct {
	ID       string                `json:"id"`
	Contexts []InstallationContext `json:"contexts,omitempty"`
}

// InstallationContext is one product context of an installation.
type InstallationContext struct {
	Name        string `json:"name,omitempty"`
	APIBaseURL  string `json:"apiBaseUrl,omitempty"`
	CloudID     string `json:"cloudId,omitempty"`
	WorkspaceID string `json:"workspaceId,omitempty"`
}

// Environment is app.environment.
type Environment struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Module is app.module: "core:endpoint" for backend and trigger calls, the
// UI module type for frontend calls.
type Module struct {
	Type string `json:"type"`
	Key  string `json:"key"`
}

// License is app.license (paid apps in production).
type License struct {
	Active                   *bool    `json:"active,omitempty"`
	BillingPeriod            string   `json:"billingPeriod,omitempty"`
	CapabilitySet            string   `json:"capabilitySet,omitempty"`
	CCPEntitlementID         string   `json:"ccpEntitlementId,omitempty"`
	CCPEntitlementSlug       string   `json:"ccpEntitlementSlug,omitempty"`
	IsEvaluation             *bool    `json:"isEvaluation,omitempty"`
	SubscriptionEndDate      *string  `json:"subscriptionEndDate,omitempty"`
	TrialEndDate             *string  `json:"trialEndDate,omitempty"`
	Type                     string   `json:"type,omitempty"`
	Modes                    []string `json:"modes,omitempty"`
	SupportEntitlementNumber *string  `json:"supportEntitlementNumber,omitempty"`
	// IsActive is deprecated by Atlassian in favour of Active.
	IsActive *bool `json:"isActive,omitempty"`
}

// InvocationContext is the FIT's "context" claim (frontend calls).
type InvocationContext struct {
	CloudID   string          `json:"cloudId,omitempty"`
	SiteURL   string          `json:"siteUrl,omitempty"`
	LocalID   string          `json:"localId,omitempty"`
	ModuleKey string          `json:"moduleKey,omitempty"`
	Extension json.RawMessage `json:"extension,omitempty"`
}

// Principal is an account id. It decodes from a JSON string or from an
// object with an "accountId" field.
type Principal string

// UnmarshalJSON accepts "id", {"accountId":"id"} and null.
func (p *Principal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*p = ""
		return nil
	}
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			AccountID string `json:"accountId"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*p = Principal(o.AccountID)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*p = Principal(s)
	return nil
}

// InstallationID returns app.installationId, or app.installation.id.
func (c *Claims) InstallationID() string {
	if c.App.InstallationID != "" {
		return c.App.InstallationID
	}
	if c.App.Installation != nil {
		return c.App.Installation.ID
	}
	return ""
}

// CloudID returns the site's cloud id from context, the installation
// contexts, or the last path segment of an /ex/<product>/<cloudId> apiBaseUrl.
func (c *Claims) CloudID() string {
	if c.Context != nil && c.Context.CloudID != "" {
		return c.Context.CloudID
	}
	if c.App.Installation != nil {
		for _, ic := range c.App.Installation.Contexts {
			if ic.CloudID != "" {
				return ic.CloudID
			}
		}
	}
	if u, err := url.Parse(c.App.APIBaseURL); err == nil {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) == 3 && parts[0] == "ex" && parts[2] != "" {
			return parts[2]
		}
	}
	return ""
}

// UserAccountID returns the invoking user's account id, or "".
func (c *Claims) UserAccountID() string { return string(c.Principal) }
