package api

import (
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/connect/scope"
)

func (s *Server) declaredScopes() scope.Set {
	set, _ := scope.ParseList(s.DescriptorInfo.Scopes)
	return set
}

// InstallationView is the JSON of GET /api/installation. It never carries
// the shared secret.
type InstallationView struct {
	ClientKey   string   `json:"clientKey"`
	BaseURL     string   `json:"baseUrl"`
	DisplayURL  string   `json:"displayUrl,omitempty"`
	ProductType string   `json:"productType"`
	State       string   `json:"state"`
	AppKey      string   `json:"appKey"`
	Version     string   `json:"version"`
	Scopes      []string `json:"scopes"`
	InstalledAt string   `json:"installedAt"`
	UpdatedAt   string   `json:"updatedAt"`
	AccountID   string   `json:"viewerAccountId,omitempty"`
}

func (s *Server) installation(c *gin.Context) {
	v := Verified(c)
	t := v.Tenant
	c.JSON(http.StatusOK, InstallationView{
		ClientKey: t.ClientKey, BaseURL: t.BaseURL, DisplayURL: t.DisplayURL, ProductType: t.ProductType,
		State: string(t.State), AppKey: s.appKey, Version: s.Version, Scopes: t.Scopes.Strings(),
		InstalledAt: t.InstalledAt.UTC().Format("2006-01-02T15:04:05Z"), UpdatedAt: t.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		AccountID: v.AccountID(),
	})
}

var minimalAdmin = template.Must(template.New("admin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect Doctor</title>
<script src="{{.APJS}}" data-options="sizeToParent:true"></script></head>
<body><main id="connect-doctor" data-client-key="{{.ClientKey}}">
<h1>Connect Doctor</h1><p>Installed on {{.BaseURL}}.</p></main></body></html>`))

// adminPage renders the admin module page (the full panel replaces this
// template).
func (s *Server) adminPage(c *gin.Context) {
	v := Verified(c)
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	_ = minimalAdmin.Execute(c.Writer, map[string]string{"APJS": s.APJSURL, "ClientKey": v.Tenant.ClientKey, "BaseURL": v.Tenant.BaseURL})
}
