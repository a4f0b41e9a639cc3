package forgesim

import (
	"github.com/connect-doctor/connect-doctor/sim/ratesim"

	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// Token lifetimes (forge.md §1.2, §1.4): Forge OAuth tokens live at most
// 4 h; a delivered system token is valid for at least 2 h.
const (
	DefaultSystemTokenTTL  = 4 * time.Hour
	DefaultUserTokenTTL    = 4 * time.Hour
	DefaultOfflineTokenTTL = time.Hour
)

// Texts the gateway answers with. The 401 scope text is forge.md §3 O1 and
// the 403 grants text §3 O2, verbatim. forge.md documents no body for an
// expired, revoked or unknown token (O3) nor for an unknown cloudId: the
// gateway uses the {"code","message"} shape of O1 with the plain status
// text (an assumption).
const (
	ScopeMismatchMessage = "Unauthorized; scope does not match"
	UnauthorizedMessage  = "Unauthorized"
	NotFoundMessage      = "Not Found"
	// MissingGrantsPrefix starts the 403 text of §3 O2.
	MissingGrantsPrefix = "Access to the resource was denied due to missing scope grants."
	// PermissionMessage is Jira's (illustrative) refusal when the acting
	// account lacks a product permission (connect-protocol.md §3.1).
	PermissionMessage = "You do not have permission to perform this action."
	// SiteTokenMessage is what users report a Jira site answers when it
	// gets an OAuth/Forge bearer token (forge.md §3 O5).
	SiteTokenMessage = "Failed to parse Connect Session Auth Token"
)

// Token kinds the gateway issues.
const (
	TokenSystem  = "system"
	TokenUser    = "user"
	TokenOffline = "offline"
)

// ErrUnknownInstallation is returned when a token is asked for an
// installation the gateway does not know (or that was uninstalled).
var ErrUnknownInstallation = errors.New("forgesim: unknown installation")

// GatewayOptions configure NewGateway.
type GatewayOptions struct {
	// Catalog decides each operation's OAuth scopes. Default
	// catalog.Default().
	Catalog *catalog.Catalog
	// Now is the clock for token expiry. Default time.Now.
	Now func() time.Time
	// Addr is where to listen. Default "127.0.0.1:0".
	Addr string
	// Seed makes ids and tokens reproducible; 0 picks a random seed.
	Seed int64
	// Token lifetimes; zero means the defaults above.
	SystemTokenTTL, UserTokenTTL, OfflineTokenTTL time.Duration
	// RateLimits, when set, enforces the 2026 points-based limits on
	// /ex/jira/<cloudId>/rest/… (sim/ratesim), the tenant being the
	// cloudId; ratesim.Options.Gateway gives the gateway's 429 without
	// Retry-After.
	RateLimits *ratesim.Model
}

// InstallationSpec describes a Forge installation of an app on a site.
type InstallationSpec struct {
	InstallationID string // ari:cloud:ecosystem::installation/<uuid>
	AppID          string // ari:cloud:ecosystem::app/<uuid>
	CloudID        string
	// Environment is the Forge environment type: PRODUCTION (default),
	// STAGING or DEVELOPMENT.
	Environment string
	// Scopes are the manifest's permissions.scopes as granted to the
	// installed version.
	Scopes []string
}

// Installation is a snapshot of an installation the gateway knows.
type Installation struct {
	InstallationSpec
	// AppAccountID is the app's bot user on the site ("app system user").
	AppAccountID string
	Uninstalled  bool
}

// HasScope reports whether s was granted.
func (in *Installation) HasScope(s string) bool { return slices.Contains(in.Scopes, s) }

// GatewayRequest is one request the gateway received, for assertions.
type GatewayRequest struct {
	Time           time.Time
	Method         string
	Path           string // as sent, still escaped
	RawQuery       string
	CloudID        string
	TokenKind      string // system | user | offline | "" (none or unknown)
	InstallationID string
	AccountID      string // the acting account (the app's bot user for system tokens)
	Operation      string // catalog operationId, when matched
	Status         int
	Reason         string // why the gateway refused, if it did
}

type tokenRecord struct {
	kind           string
	installationID string
	accountID      string
	exp            time.Time
	revoked        bool
}

// Gateway simulates https://api.atlassian.com for Forge Remote: the product
// API under /ex/jira/<cloudId>/rest/… authorised by Forge OAuth bearer
// tokens, with the OAuth scopes of the endpoint catalog enforced, and the
// GraphQL offlineUserAuthToken mutation at POST /graphql.
//
// Scope rule: an operation is allowed when the granted scopes include ALL of
// its classic OAuth scopes or ALL of its granular OAuth scopes (forge.md §3
// O1: granular sets are enforced all-of). An operation with neither list is
// allowed only when it is anonymous-access (e.g. serverInfo); any other
// operation without OAuth scopes (Connect-only, INACCESSIBLE) is refused as
// a scope mismatch. A refused system token gets 401 "Unauthorized; scope
// does not match" (§3 O1); a refused user or offline user token gets 403
// "…missing scope grants…" listing the granted scopes and the acceptable
// groups (§3 O2).
type Gateway struct {
	cat  *catalog.Catalog
	now  func() time.Time
	ttl  map[string]time.Duration
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{}

	mu       sync.Mutex
	rng      *rand.Rand
	secret   []byte
	sites    map[string]string // cloudID → site URL
	installs map[string]*Installation
	tokens   map[string]*tokenRecord
	admins   map[string]bool
	users    map[string]string // accountID → display name
	requests []GatewayRequest
	ckProps  map[string]ClientKeyProperty // installationID → reserved clientKey property
}

// NewGateway starts a gateway. Close it when done. Like
// httptest.NewServer, it panics when it cannot listen on Addr.
func NewGateway(o GatewayOptions) *Gateway {
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	seed := uint64(o.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	g := &Gateway{
		cat: o.Catalog, now: o.Now,
		ttl: map[string]time.Duration{
			TokenSystem:  orDur(o.SystemTokenTTL, DefaultSystemTokenTTL),
			TokenUser:    orDur(o.UserTokenTTL, DefaultUserTokenTTL),
			TokenOffline: orDur(o.OfflineTokenTTL, DefaultOfflineTokenTTL),
		},
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		sites:    map[string]string{},
		installs: map[string]*Installation{},
		tokens:   map[string]*tokenRecord{},
		admins:   map[string]bool{},
		users:    map[string]string{},
		done:     make(chan struct{}),
	}
	g.secret = []byte(g.randHex(32))
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		panic(fmt.Sprintf("forgesim: gateway listen on %s: %v", o.Addr, err))
	}
	g.ln = ln
	g.url = "http://" + ln.Addr().String()
	var h http.Handler = g
	if o.RateLimits != nil {
		h = o.RateLimits.Wrap(g, gatewayCloudID, func(r *http.Request) string {
			_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/ex/jira/"), "/")
			return "/" + rest
		})
	}
	g.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(g.done)
		_ = g.srv.Serve(ln)
	}()
	return g
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// URL is the gateway's base URL, e.g. http://127.0.0.1:PORT (the stand-in
// for https://api.atlassian.com).
func (g *Gateway) URL() string { return g.url }

// APIBaseURL is the app.apiBaseUrl of a Jira site: URL()/ex/jira/<cloudId>.
func (g *Gateway) APIBaseURL(cloudID string) string { return g.url + "/ex/jira/" + cloudID }

// Close stops the gateway.
func (g *Gateway) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = g.srv.Shutdown(ctx)
	<-g.done
}

// AddSite registers a Jira site.
func (g *Gateway) AddSite(cloudID, siteURL string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sites[cloudID] = strings.TrimSuffix(siteURL, "/")
}

// SiteURL returns the URL of a registered site.
func (g *Gateway) SiteURL(cloudID string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sites[cloudID]
	return s, ok
}

// Install records an installation (replacing one with the same id) and
// returns a snapshot. The site is registered if it was not.
func (g *Gateway) Install(spec InstallationSpec) *Installation {
	if spec.Environment == "" {
		spec.Environment = "PRODUCTION"
	}
	spec.Scopes = slices.Clone(spec.Scopes)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.sites[spec.CloudID]; !ok {
		g.sites[spec.CloudID] = ""
	}
	in := &Installation{InstallationSpec: spec, AppAccountID: "557058:" + g.uuid()}
	g.installs[spec.InstallationID] = in
	g.users[in.AppAccountID] = "Connect Doctor (app)"
	cp := *in
	cp.Scopes = slices.Clone(in.Scopes)
	return &cp
}

// Installation returns a snapshot of an installation.
func (g *Gateway) Installation(installationID string) (*Installation, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	in, ok := g.installs[installationID]
	if !ok {
		return nil, false
	}
	cp := *in
	cp.Scopes = slices.Clone(in.Scopes)
	return &cp, true
}

// SetScopes changes the granted scopes of an installation (an upgrade the
// admin approved). Tokens already issued follow the new grant.
func (g *Gateway) SetScopes(installationID string, scopes []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	in, ok := g.installs[installationID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownInstallation, installationID)
	}
	in.Scopes = slices.Clone(scopes)
	return nil
}

// Uninstall marks an installation uninstalled: its tokens stop working and
// no new ones are issued.
func (g *Gateway) Uninstall(installationID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if in, ok := g.installs[installationID]; ok {
		in.Uninstalled = true
	}
}

// SetAdmin grants or removes the Administer Jira global permission of an
// account. The app's bot user is an administrator when the installation
// holds manage:jira-configuration.
func (g *Gateway) SetAdmin(accountID string, admin bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admins[accountID] = admin
	if _, ok := g.users[accountID]; !ok {
		g.users[accountID] = "User " + accountID
	}
}

// AddUser registers a user's display name (optional: unknown account ids
// are accepted with a generated name).
func (g *Gateway) AddUser(accountID, displayName string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users[accountID] = displayName
}

// SystemToken issues an app system token for the installation, as Forge
// puts in x-forge-oauth-system. It returns "" for an unknown or uninstalled
// installation.
func (g *Gateway) SystemToken(installationID string) (token string, exp time.Time) {
	t, e, _ := g.issue(TokenSystem, installationID, "")
	return t, e
}

// UserToken issues an app user token for accountID, as Forge puts in
// x-forge-oauth-user. It returns "" for an unknown or uninstalled
// installation or an empty accountID.
func (g *Gateway) UserToken(installationID, accountID string) (token string, exp time.Time) {
	if accountID == "" {
		return "", time.Time{}
	}
	t, e, _ := g.issue(TokenUser, installationID, accountID)
	return t, e
}

// Revoke invalidates a token; it reports whether the token was known.
func (g *Gateway) Revoke(token string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.tokens[token]
	if ok {
		r.revoked = true
	}
	return ok
}

// RevokeAll invalidates every token of an installation.
func (g *Gateway) RevokeAll(installationID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.tokens {
		if r.installationID == installationID {
			r.revoked = true
		}
	}
}

func (g *Gateway) issue(kind, installationID, accountID string) (string, time.Time, error) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	in, ok := g.installs[installationID]
	if !ok || in.Uninstalled {
		return "", time.Time{}, fmt.Errorf("%w: %s", ErrUnknownInstallation, installationID)
	}
	if kind == TokenSystem {
		accountID = in.AppAccountID
	}
	if _, ok := g.users[accountID]; !ok {
		g.users[accountID] = "User " + accountID
	}
	exp := now.Add(g.ttl[kind]).Truncate(time.Second)
	// A JWT-shaped token whose exp is the expiry (forge.md §1.4). Remotes
	// treat it as opaque; the gateway looks it up rather than trusting it.
	claims := jwt.MapClaims{
		"iss":                    "https://auth.atlassian.com/",
		"aud":                    "api.atlassian.com",
		"sub":                    accountID,
		"iat":                    now.Unix(),
		"exp":                    exp.Unix(),
		"jti":                    g.uuid(),
		"scope":                  strings.Join(in.Scopes, " "),
		"https://forgesim/token": map[string]any{"type": kind, "installationId": installationID},
	}
	hdr := map[string]any{"alg": "HS256", "typ": "JWT", "kid": "forgesim/" + kind}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header = hdr
	s, err := tok.SignedString(g.secret)
	if err != nil {
		return "", time.Time{}, err
	}
	g.tokens[s] = &tokenRecord{kind: kind, installationID: installationID, accountID: accountID, exp: exp}
	return s, exp, nil
}

// lookup resolves a bearer token; reason is set when it is not usable.
func (g *Gateway) lookup(tok string) (rec tokenRecord, in Installation, reason string) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.tokens[tok]
	switch {
	case !ok:
		return tokenRecord{}, Installation{}, "unknown token"
	case r.revoked:
		return *r, Installation{}, "token revoked"
	case !now.Before(r.exp):
		return *r, Installation{}, "token expired at " + r.exp.UTC().Format(time.RFC3339)
	}
	ip, ok := g.installs[r.installationID]
	if !ok || ip.Uninstalled {
		return *r, Installation{}, "installation uninstalled"
	}
	cp := *ip
	cp.Scopes = slices.Clone(ip.Scopes)
	return *r, cp, ""
}

func (g *Gateway) isAdmin(in *Installation, accountID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if accountID == in.AppAccountID {
		return in.HasScope("manage:jira-configuration")
	}
	return g.admins[accountID]
}

func (g *Gateway) displayName(accountID string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n, ok := g.users[accountID]; ok {
		return n
	}
	return "User " + accountID
}

// Requests returns what the gateway received so far, oldest first.
func (g *Gateway) Requests() []GatewayRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

// ResetRequests forgets the recorded requests.
func (g *Gateway) ResetRequests() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = nil
}

func (g *Gateway) record(rr GatewayRequest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.requests) >= 10000 {
		g.requests = slices.Delete(g.requests, 0, 1)
	}
	g.requests = append(g.requests, rr)
}

func (g *Gateway) randHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// uuid returns a random (seeded) UUID-shaped id. Callers hold g.mu or are
// in the constructor.
func (g *Gateway) uuid() string {
	h := g.randHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// traceID derives a stable trace id for a response.
func (g *Gateway) traceID(seed string) string {
	m := hmac.New(sha256.New, g.secret)
	m.Write([]byte(seed))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	if v != nil && status != http.StatusNoContent {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func codeBody(status int, msg string) map[string]any {
	return map[string]any{"code": status, "message": msg}
}

func jiraErrors(msgs ...string) map[string]any {
	return map[string]any{"errorMessages": msgs, "errors": map[string]string{}}
}

// MissingGrantsText renders the §3 O2 message for the granted scopes and
// the acceptable scope groups.
func MissingGrantsText(granted []string, groups [][]string) string {
	var b strings.Builder
	b.WriteString(MissingGrantsPrefix)
	b.WriteString(" Your app was granted the following scopes: [")
	b.WriteString(strings.Join(granted, ", "))
	b.WriteString("].\nThe resource can be accessed by having one of these groups of scopes:\n")
	for _, gr := range groups {
		b.WriteString(" * [" + strings.Join(gr, ", ") + "]\n")
	}
	return b.String()
}

// Allowed applies the gateway's scope rule to an operation (see Gateway).
func Allowed(op *catalog.Operation, granted []string) bool {
	all := func(need []string) bool {
		if len(need) == 0 {
			return false
		}
		for _, n := range need {
			if !slices.Contains(granted, n) {
				return false
			}
		}
		return true
	}
	if len(op.OAuthClassic) == 0 && len(op.OAuthGranular) == 0 {
		return op.AnonymousAllowed
	}
	return all(op.OAuthClassic) || all(op.OAuthGranular)
}

// gatewayCloudID is the cloudId of /ex/jira/<cloudId>/…, the rate-limit tenant.
func gatewayCloudID(r *http.Request) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/ex/jira/"), "/")
	return id
}
