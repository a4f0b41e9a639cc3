package explain

import (
	"encoding/json"
	"strings"
)

// ForgeClaims are the Forge-specific claims of a FIT (forge.md §1.3), read
// without verification.
type ForgeClaims struct {
	AppID           string `json:"appId,omitempty"`
	InstallationID  string `json:"installationId,omitempty"`
	APIBaseURL      string `json:"apiBaseUrl,omitempty"`
	EnvironmentType string `json:"environmentType,omitempty"`
	EnvironmentID   string `json:"environmentId,omitempty"`
	ModuleType      string `json:"moduleType,omitempty"`
	ModuleKey       string `json:"moduleKey,omitempty"`
	Principal       string `json:"principal,omitempty"`
	CloudID         string `json:"cloudId,omitempty"`
	SiteURL         string `json:"siteUrl,omitempty"`
	HasJTI          bool   `json:"hasJti"`
	HasApp          bool   `json:"hasApp"`
	HasContext      bool   `json:"hasContext"`
}

func decodeForge(names map[string]json.RawMessage) *ForgeClaims {
	f := &ForgeClaims{}
	var jti string
	_ = json.Unmarshal(names["jti"], &jti)
	f.HasJTI = jti != ""
	var app struct {
		ID             string `json:"id"`
		InstallationID string `json:"installationId"`
		Installation   struct {
			ID       string `json:"id"`
			Contexts []struct {
				CloudID string `json:"cloudId"`
			} `json:"contexts"`
		} `json:"installation"`
		APIBaseURL  string `json:"apiBaseUrl"`
		Environment struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"environment"`
		Module struct {
			Type string `json:"type"`
			Key  string `json:"key"`
		} `json:"module"`
	}
	if raw, ok := names["app"]; ok && json.Unmarshal(raw, &app) == nil {
		f.HasApp = true
		f.AppID, f.InstallationID, f.APIBaseURL = app.ID, app.InstallationID, app.APIBaseURL
		if f.InstallationID == "" {
			f.InstallationID = app.Installation.ID
		}
		f.EnvironmentType, f.EnvironmentID = app.Environment.Type, app.Environment.ID
		f.ModuleType, f.ModuleKey = app.Module.Type, app.Module.Key
		if len(app.Installation.Contexts) > 0 {
			f.CloudID = app.Installation.Contexts[0].CloudID
		}
	}
	var ctx struct {
		CloudID string `json:"cloudId"`
		SiteURL string `json:"siteUrl"`
	}
	if raw, ok := names["context"]; ok && json.Unmarshal(raw, &ctx) == nil && string(raw) != "null" {
		f.HasContext = true
		if ctx.CloudID != "" {
			f.CloudID = ctx.CloudID
		}
		f.SiteURL = ctx.SiteURL
	}
	if f.CloudID == "" {
		if i := strings.LastIndex(f.APIBaseURL, "/"); i >= 0 && strings.Contains(f.APIBaseURL, "/ex/") {
			f.CloudID = f.APIBaseURL[i+1:]
		}
	}
	var p string
	if raw, ok := names["principal"]; ok {
		if json.Unmarshal(raw, &p) != nil {
			var o struct {
				AccountID string `json:"accountId"`
			}
			_ = json.Unmarshal(raw, &o)
			p = o.AccountID
		}
	}
	f.Principal = p
	return f
}
