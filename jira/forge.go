package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// Identities of the Forge Remote path (issue 8): the app system token and
// a user token, both sent as Bearer to the installation's app.apiBaseUrl.
const (
	IdentityForgeApp  = "forge-app"
	IdentityForgeUser = "forge-user"
)

// AsForgeApp returns a Doer that calls the tenant's Forge product API base
// (t.APIBaseURL, e.g. https://api.atlassian.com/ex/jira/<cloudId>) with the
// app system token from src. The base must pass Options.ForgeBaseCheck
// (the FORGE_API_HOSTS allow-list); relative /rest/… paths, retries and
// *APIError work as for the Connect identities.
func (c *Client) AsForgeApp(t *tenant.Tenant, src BearerSource) *Doer {
	return c.asForge(t, IdentityForgeApp, "", src)
}

// AsForgeUser is AsForgeApp with a user token (x-forge-oauth-user, or an
// offline user token) for accountID.
func (c *Client) AsForgeUser(t *tenant.Tenant, accountID string, src BearerSource) *Doer {
	return c.asForge(t, IdentityForgeUser, accountID, src)
}

func (c *Client) asForge(t *tenant.Tenant, identity, accountID string, src BearerSource) *Doer {
	d := &Doer{c: c, tenant: t, identity: identity, accountID: accountID}
	d.base, d.err = c.forgeBase(t)
	switch {
	case d.err != nil:
	case src == nil:
		d.err = fmt.Errorf("%w: no Forge token source", ErrConfig)
	case identity == IdentityForgeUser && accountID == "":
		d.err = fmt.Errorf("%w: no accountId to act as", ErrConfig)
	default:
		b := &bearer{next: c.base, source: src, base: d.base, userAgent: c.userAgent, what: "a Forge token"}
		d.rt = &retrier{next: b, policy: c.retry, now: c.now, log: c.log}
	}
	return d
}

// forgeBase checks t.APIBaseURL: the product API gateway, never the site.
func (c *Client) forgeBase(t *tenant.Tenant) (*url.URL, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrTenant)
	}
	if t.State == tenant.StateUninstalled || t.State == tenant.StateDisabled {
		return nil, fmt.Errorf("%w: %s is %s", ErrTenant, t.ClientKey, t.State)
	}
	if t.APIBaseURL == "" {
		return nil, fmt.Errorf("%w: %s has no Forge apiBaseUrl (no Forge installation)", ErrTenant, t.ClientKey)
	}
	if c.forgeCheck == nil {
		return nil, fmt.Errorf("%w: Options.ForgeBaseCheck is nil, so no Forge API host is trusted", ErrConfig)
	}
	if err := c.forgeCheck(t.APIBaseURL); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTenant, err)
	}
	u, err := url.Parse(t.APIBaseURL)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: apiBaseUrl %q of %s is not a plain absolute URL", ErrTenant, t.APIBaseURL, t.ClientKey)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("%w: apiBaseUrl %q of %s is not https", ErrTenant, t.APIBaseURL, t.ClientKey)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// CheckPermissionsAs is CheckPermissions through a given Doer, e.g. the
// Forge app identity (POST /rest/api/3/permissions/check with the system
// token). Answers are cached per tenant, identity, user and keys.
func (c *Client) CheckPermissionsAs(ctx context.Context, d *Doer, accountID string, global ...string) (map[string]bool, error) {
	norm, err := normalizeKeys(global)
	if err != nil {
		return nil, err
	}
	if d == nil || d.tenant == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrTenant)
	}
	if accountID == "" {
		return nil, fmt.Errorf("%w: no accountId to check", ErrConfig)
	}
	k := permKey{kind: probeCheck, clientKey: d.tenant.ClientKey, accountID: d.identity + "\x00" + accountID, keys: strings.Join(norm, ",")}
	if p, ok := c.cached(k); ok {
		return p.Global, nil
	}
	req, err := json.Marshal(struct {
		AccountID         string   `json:"accountId"`
		GlobalPermissions []string `json:"globalPermissions"`
	}{accountID, norm})
	if err != nil {
		return nil, err
	}
	resp, err := d.Call(ctx, http.MethodPost, "/rest/api/3/permissions/check", req)
	if err != nil {
		return nil, err
	}
	var body struct {
		GlobalPermissions []string `json:"globalPermissions"`
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("jira: decoding permissions/check: %w", err)
	}
	p := &Permissions{Global: make(map[string]bool, len(norm))}
	for _, key := range norm {
		p.Global[key] = slices.Contains(body.GlobalPermissions, key)
	}
	c.remember(k, p)
	return maps.Clone(p.Global), nil
}

// MyPermissionsAs is MyPermissions through a given Doer, e.g. the Forge
// user identity: GET /rest/api/3/mypermissions?permissions=… with the
// user's own token (read:jira-work). Cached like MyPermissions, per tenant,
// identity, user and keys.
func (c *Client) MyPermissionsAs(ctx context.Context, d *Doer, keys ...string) (*Permissions, error) {
	norm, err := normalizeKeys(keys)
	if err != nil {
		return nil, err
	}
	if d == nil || d.tenant == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrTenant)
	}
	k := permKey{kind: probeMine, clientKey: d.tenant.ClientKey, accountID: d.identity + "\x00" + d.accountID, keys: strings.Join(norm, ",")}
	if p, ok := c.cached(k); ok {
		return p, nil
	}
	resp, err := d.Call(ctx, http.MethodGet, "/rest/api/3/mypermissions?permissions="+k.keys, nil)
	if err != nil {
		return nil, err
	}
	p, err := decodeMyPermissions(resp.Body)
	if err != nil {
		return nil, err
	}
	c.remember(k, p)
	return p.clone(), nil
}
