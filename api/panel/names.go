package panel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/internal/ttlcache"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// DefaultNameTTL is how long a viewer's display name is kept.
const DefaultNameTTL = 10 * time.Minute

// nameFailTTL is how long a failed lookup is remembered: the panel shows
// the accountId meanwhile and asks Jira again after it.
const nameFailTTL = time.Minute

// nameKey names one account in one tenant.
type nameKey struct{ clientKey, accountID string }

// nameEntry is a looked-up display name ("" when the lookup failed) and
// until when it may be used.
type nameEntry struct {
	name  string
	until time.Time
}

// names looks up accounts' display names with Jira's user API (GET
// /rest/api/3/user?accountId=… as the app, through the panel's Caller: the
// site with a Connect JWT, or the Forge gateway with the system token) and
// keeps them for NameTTL.
type names struct {
	jira  Caller
	now   func() time.Time
	ttl   time.Duration
	cache *ttlcache.Cache[nameKey, nameEntry]
}

func newNames(j Caller, now func() time.Time, ttl time.Duration) *names {
	return &names{jira: j, now: now, ttl: ttl,
		cache: ttlcache.New[nameKey, nameEntry](ttlcache.Options{Size: 4096, TTL: ttl, Now: now})}
}

// displayName returns the viewer's display name, or "" with the reason
// when Jira could not tell (the panel then shows the accountId).
func (n *names) displayName(ctx context.Context, v *tenant.Viewer, timeout time.Duration) (string, error) {
	if v.AccountID == "" {
		return "", nil
	}
	k := nameKey{v.Tenant.ClientKey, v.AccountID}
	if e, ok := n.cache.Get(k); ok && n.now().Before(e.until) {
		return e.name, nil
	}
	name, err := n.lookup(ctx, v, timeout)
	ttl := n.ttl
	if err != nil {
		ttl = min(ttl, nameFailTTL)
	}
	n.cache.Add(k, nameEntry{name: name, until: n.now().Add(ttl)})
	return name, err
}

func (n *names) lookup(ctx context.Context, v *tenant.Viewer, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := n.jira.Call(ctx, v.Tenant, preflight.App, "", http.MethodGet, "/rest/api/3/user?accountId="+url.QueryEscape(v.AccountID), nil)
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusOK {
		return "", fmt.Errorf("GET /rest/api/3/user answered %d", resp.Status)
	}
	var u struct {
		DisplayName string `json:"displayName"`
	}
	if err := json.Unmarshal(resp.Body, &u); err != nil {
		return "", fmt.Errorf("GET /rest/api/3/user: %w", err)
	}
	if u.DisplayName == "" {
		return "", fmt.Errorf("GET /rest/api/3/user: no displayName")
	}
	return truncate(u.DisplayName, 200), nil
}
