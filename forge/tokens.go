package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Product-call token failures (forge.md §1.4, §3 O3/O6). Their codes double
// as explainer cause codes.
var (
	ErrForgeTokenAbsent = &Sentinel{code: "forge_token_absent",
		msg: "no Forge OAuth token is available for this call",
		hint: "x-forge-oauth-user is never sent to triggers, scheduled triggers or requestRemote calls, nor without auth.appUserToken on the endpoint " +
			"and a user scope; the system token needs auth.appSystemToken.enabled and read:app-system-token in manifest.yml. " +
			"For a user without a token, the app asks for an offline user token with the system token.",
		status: http.StatusConflict}
	ErrForgeTokenExpired = &Sentinel{code: "forge_token_expired",
		msg:    "the stored Forge OAuth token has expired",
		hint:   "Forge tokens live at most 4 h. Point an hourly scheduledTrigger at /forge/scheduled (endpoint with auth.appSystemToken.enabled) so a fresh system token is stored.",
		status: http.StatusConflict}
	ErrOfflineToken = &Sentinel{code: "offline_token_failed",
		msg:    "the offline user token could not be obtained",
		hint:   "offlineUserAuthToken needs the app system token, the site's context ARI and a user who can use the app; it is rate-limited.",
		status: http.StatusBadGateway}
)

// SiteARI is the context ARI of a Jira site: ari:cloud:jira::site/<cloudId>.
func SiteARI(cloudID string) string { return "ari:cloud:jira::site/" + cloudID }

// GraphQLURL is the GraphQL endpoint of the gateway an apiBaseUrl names:
// https://api.atlassian.com/ex/jira/<cloudId> → https://api.atlassian.com/graphql.
func GraphQLURL(apiBaseURL string) (string, error) {
	u, err := url.Parse(apiBaseURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: apiBaseUrl %q is not an absolute URL", ErrOfflineToken, apiBaseURL)
	}
	return u.Scheme + "://" + u.Host + "/graphql", nil
}

// offlineMutation is the documented mutation (forge.md §1.4).
const offlineMutation = `mutation forge_remote_offlineUserAuthToken($input: OfflineUserAuthTokenInput!) {
  offlineUserAuthToken(input: $input) {
    success
    errors { message }
    authToken { token ttl }
  }
}`

// OfflineOptions configure OfflineTokens. Zero fields take the defaults.
type OfflineOptions struct {
	HTTPClient *http.Client // default: 10 s timeout
	Now        func() time.Time
	Size       int           // cached tokens (default 10,000)
	MinTTL     time.Duration // a cached token with less left is fetched again (default 60 s)
}

// OfflineRequest names the user token wanted: the installation, its
// gateway and site, the user, and the system token that authorises the call.
type OfflineRequest struct {
	InstallationID string
	APIBaseURL     string
	CloudID        string
	AccountID      string
	SystemToken    Token
}

type offlineKey struct{ installation, account string }

// OfflineTokens obtains offline user tokens — the Forge replacement for
// Connect's JWT-bearer grant — through the GraphQL offlineUserAuthToken
// mutation, and caches each for its TTL in a bounded LRU. Concurrent
// requests for the same user share one call. Safe for concurrent use.
type OfflineTokens struct {
	http   *http.Client
	now    func() time.Time
	minTTL time.Duration
	cache  *lru.Cache[offlineKey, Token]
	group  singleflight.Group
	mu     sync.Mutex
	calls  int64
}

// NewOfflineTokens builds the cache.
func NewOfflineTokens(o OfflineOptions) *OfflineTokens {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Size <= 0 {
		o.Size = 10_000
	}
	if o.MinTTL <= 0 {
		o.MinTTL = time.Minute
	}
	c, _ := lru.New[offlineKey, Token](o.Size)
	return &OfflineTokens{http: o.HTTPClient, now: o.Now, minTTL: o.MinTTL, cache: c}
}

// Calls reports how many GraphQL calls were made (cache misses).
func (o *OfflineTokens) Calls() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

// Token returns a cached offline token for the user or fetches one.
func (o *OfflineTokens) Token(ctx context.Context, r OfflineRequest) (Token, error) {
	k := offlineKey{r.InstallationID, r.AccountID}
	if t, ok := o.cache.Get(k); ok && o.now().Add(o.minTTL).Before(t.Expiry) {
		return t, nil
	}
	v, err, _ := o.group.Do(r.InstallationID+"\x00"+r.AccountID, func() (any, error) {
		t, err := o.fetch(ctx, r)
		if err == nil {
			o.cache.Add(k, t)
		}
		return t, err
	})
	if err != nil {
		return Token{}, err
	}
	return v.(Token), nil
}

// Forget drops a cached token (the gateway refused it).
func (o *OfflineTokens) Forget(installationID, accountID string) {
	o.cache.Remove(offlineKey{installationID, accountID})
}

// ForgetInstallation drops every cached token of an installation.
func (o *OfflineTokens) ForgetInstallation(installationID string) {
	for _, k := range o.cache.Keys() {
		if k.installation == installationID {
			o.cache.Remove(k)
		}
	}
}

func (o *OfflineTokens) fetch(ctx context.Context, r OfflineRequest) (Token, error) {
	switch {
	case r.AccountID == "":
		return Token{}, fmt.Errorf("%w: no user to act as", ErrOfflineToken)
	case r.CloudID == "":
		return Token{}, fmt.Errorf("%w: the installation's cloudId is unknown", ErrOfflineToken)
	case !r.SystemToken.Present():
		return Token{}, fmt.Errorf("%w: an offline user token is requested with the system token, and none is stored", ErrForgeTokenAbsent)
	case r.SystemToken.Expired(o.now()):
		return Token{}, fmt.Errorf("%w: the system token needed for an offline user token expired at %s", ErrForgeTokenExpired, r.SystemToken.Expiry.UTC().Format(time.RFC3339))
	}
	endpoint, err := GraphQLURL(r.APIBaseURL)
	if err != nil {
		return Token{}, err
	}
	body, _ := json.Marshal(map[string]any{"query": offlineMutation, "variables": map[string]any{
		"input": map[string]any{"contextIds": []string{SiteARI(r.CloudID)}, "userId": r.AccountID}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Token{}, fmt.Errorf("%w: %v", ErrOfflineToken, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.SystemToken.Value())
	o.mu.Lock()
	o.calls++
	o.mu.Unlock()
	resp, err := o.http.Do(req)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %s: %v", ErrOfflineToken, endpoint, redactErr(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return Token{}, fmt.Errorf("%w: the gateway answered %d %s", ErrOfflineToken, resp.StatusCode, excerpt(raw))
	}
	var out struct {
		Data struct {
			Offline *struct {
				Success bool `json:"success"`
				Errors  []struct {
					Message string `json:"message"`
				} `json:"errors"`
				AuthToken *struct {
					Token string `json:"token"`
					TTL   int64  `json:"ttl"`
				} `json:"authToken"`
			} `json:"offlineUserAuthToken"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return Token{}, fmt.Errorf("%w: the answer is not GraphQL JSON", ErrOfflineToken)
	}
	var msgs []string
	for _, e := range out.Errors {
		msgs = append(msgs, e.Message)
	}
	res := out.Data.Offline
	if res != nil {
		for _, e := range res.Errors {
			msgs = append(msgs, e.Message)
		}
	}
	if res == nil || !res.Success || res.AuthToken == nil || res.AuthToken.Token == "" || res.AuthToken.TTL <= 0 {
		return Token{}, fmt.Errorf("%w: %s", ErrOfflineToken, excerpt([]byte(strings.Join(msgs, "; "))))
	}
	// The expiry is the ttl Forge states, never the token's own payload.
	t := NewToken(res.AuthToken.Token)
	t.Expiry = o.now().Add(time.Duration(res.AuthToken.TTL) * time.Second)
	return t, nil
}

// redactErr drops the URL's query from a transport error (there is none,
// but the error text must never carry a token).
func redactErr(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "(no message)"
	}
	return s
}

// StaticBearer offers one token Forge delivered (x-forge-oauth-user, or a
// stored system token) to the Jira client. It cannot be refreshed: Forge
// has no refresh endpoint (§1.4).
type StaticBearer struct {
	Token Token
	// Absent is the error when no token is present; it should wrap
	// ErrForgeTokenAbsent and say why (default: ErrForgeTokenAbsent).
	Absent error
	Now    func() time.Time
}

// Bearer implements jira.BearerSource.
func (s StaticBearer) Bearer(context.Context) (string, error) {
	if !s.Token.Present() {
		if s.Absent != nil {
			return "", s.Absent
		}
		return "", ErrForgeTokenAbsent
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	if s.Token.Expired(now()) {
		return "", fmt.Errorf("%w: it expired at %s", ErrForgeTokenExpired, s.Token.Expiry.UTC().Format(time.RFC3339))
	}
	return s.Token.Value(), nil
}

// Refresh implements jira.BearerSource: a delivered token cannot be renewed.
func (StaticBearer) Refresh(string) bool { return false }

// OfflineBearer offers an offline user token from OfflineTokens; after a
// 401 the cached token is dropped once and fetched again.
type OfflineBearer struct {
	Tokens  *OfflineTokens
	Request OfflineRequest
	once    sync.Once
}

// Bearer implements jira.BearerSource.
func (b *OfflineBearer) Bearer(ctx context.Context) (string, error) {
	t, err := b.Tokens.Token(ctx, b.Request)
	if err != nil {
		return "", err
	}
	return t.Value(), nil
}

// Refresh implements jira.BearerSource.
func (b *OfflineBearer) Refresh(string) bool {
	first := false
	b.once.Do(func() {
		b.Tokens.Forget(b.Request.InstallationID, b.Request.AccountID)
		first = true
	})
	return first
}
