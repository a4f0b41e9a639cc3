package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// Permissions is what Jira says the acting user holds: global permissions
// (e.g. ADMINISTER) and project permissions (e.g. BROWSE_PROJECTS; without
// a project context Jira reports whether the user holds it anywhere).
type Permissions struct {
	Global  map[string]bool
	Project map[string]bool
}

// Has reports whether key is granted, global or project.
func (p *Permissions) Has(key string) bool { return p != nil && (p.Global[key] || p.Project[key]) }

func (p *Permissions) clone() *Permissions {
	return &Permissions{Global: maps.Clone(p.Global), Project: maps.Clone(p.Project)}
}

const (
	probeMine uint8 = iota + 1
	probeCheck
)

type permKey struct {
	kind      uint8
	clientKey string
	accountID string
	keys      string
}

type permEntry struct {
	perms   *Permissions
	expires time.Time
}

// normalizeKeys sorts and de-duplicates permission keys and refuses
// anything that is not a permission key (letters, digits, "_", "-", ".",
// ":"; app-defined keys use the last three).
func normalizeKeys(keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no permission keys given (Jira requires the permissions parameter)", ErrConfig)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if k == "" || len(k) > 255 || strings.IndexFunc(k, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.' || r == ':')
		}) >= 0 {
			return nil, fmt.Errorf("%w: %q is not a permission key", ErrConfig, k)
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (c *Client) cached(k permKey) (*Permissions, bool) {
	e, ok := c.perms.Get(k)
	if !ok || !c.now().Before(e.expires) {
		return nil, false
	}
	return e.perms.clone(), true
}

func (c *Client) remember(k permKey, p *Permissions) {
	c.perms.Add(k, permEntry{perms: p.clone(), expires: c.now().Add(c.permTTL)})
}

// ForgetPermissions drops the cached probe answers of a tenant (call it
// when the tenant is reinstalled or its users' permissions change).
func (c *Client) ForgetPermissions(clientKey string) {
	for _, k := range c.perms.Keys() {
		if k.clientKey == clientKey {
			c.perms.Remove(k)
		}
	}
}

// MyPermissions asks Jira, as the user accountID, which of the permission
// keys the user holds: GET /rest/api/3/mypermissions?permissions=…. The
// answer is cached per tenant, user and key set for Options.PermissionTTL.
func (c *Client) MyPermissions(ctx context.Context, t *tenant.Tenant, accountID string, keys ...string) (*Permissions, error) {
	norm, err := normalizeKeys(keys)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrTenant)
	}
	k := permKey{kind: probeMine, clientKey: t.ClientKey, accountID: accountID, keys: strings.Join(norm, ",")}
	if p, ok := c.cached(k); ok {
		return p, nil
	}
	resp, err := c.AsUser(t, accountID).Call(ctx, http.MethodGet, "/rest/api/3/mypermissions?permissions="+k.keys, nil)
	if err != nil {
		return nil, err
	}
	p, err := decodeMyPermissions(resp.Body)
	if err != nil {
		return nil, err
	}
	c.remember(k, p)
	return p, nil
}

func decodeMyPermissions(raw []byte) (*Permissions, error) {
	var body struct {
		Permissions map[string]struct {
			Key            string `json:"key"`
			Type           string `json:"type"`
			HavePermission bool   `json:"havePermission"`
		} `json:"permissions"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("jira: decoding mypermissions: %w", err)
	}
	p := &Permissions{Global: map[string]bool{}, Project: map[string]bool{}}
	for key, v := range body.Permissions {
		if v.Key != "" {
			key = v.Key
		}
		if strings.EqualFold(v.Type, "GLOBAL") {
			p.Global[key] = v.HavePermission
		} else {
			p.Project[key] = v.HavePermission
		}
	}
	return p, nil
}

// CheckPermissions asks Jira, as the app, which of the global permissions
// the user accountID holds: POST /rest/api/3/permissions/check with
// {"accountId":…,"globalPermissions":[…]}. Every requested key is in the
// result. Cached like MyPermissions.
func (c *Client) CheckPermissions(ctx context.Context, t *tenant.Tenant, accountID string, global ...string) (map[string]bool, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrTenant)
	}
	return c.CheckPermissionsAs(ctx, c.AsApp(t), accountID, global...)
}
