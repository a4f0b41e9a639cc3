// Package forgeapi is Connect Doctor's Forge Remote surface: the routes
// Forge calls with a Forge Invocation Token (FIT) — lifecycle events
// (POST /forge/lifecycle), the scheduled token refresh (POST
// /forge/scheduled), the pre-uninstall call (POST /forge/pre-uninstall) —
// and the admin panel's JSON API under /forge/api/… with FIT
// authentication, served by the same handlers as the Connect /api/….
//
// Routes are split by protocol: every /forge/… route accepts only a FIT
// (a Connect JWT is refused: wrong scheme, or an HS256 token that is not
// RS256), and the Connect routes refuse a FIT (they accept only
// "Authorization: JWT"). The Forge OAuth tokens (x-forge-oauth-system,
// x-forge-oauth-user) are read from the request, the system token stored
// encrypted per installation (replaced only by a newer one), and product
// calls go to the installation's app.apiBaseUrl through the Jira client's
// Forge identities. Facts: shared/docs/forge.md §1, §3, §5.
package forgeapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// Store is what the routes need from storage. *storage.ForgeStore
// implements it.
type Store interface {
	SaveInstallation(ctx context.Context, in storage.ForgeInstallation) (*storage.ForgeInstallation, error)
	Get(ctx context.Context, installationID string) (*storage.ForgeInstallation, error)
	MarkUninstalled(ctx context.Context, installationID string) (bool, error)
	TakeOver(ctx context.Context, installationID, cloudID string) (*storage.ForgeInstallation, *storage.Relink, error)
	StoreSystemToken(ctx context.Context, installationID, token string, exp time.Time) (bool, error)
	SystemToken(ctx context.Context, installationID string) (string, time.Time, error)
	ConfirmLink(ctx context.Context, installationID, clientKey string) (*storage.ForgeInstallation, error)
	Tenant(ctx context.Context, installationID string) (*tenant.Tenant, *storage.ForgeInstallation, error)
}

// EventLog records lifecycle deliveries. *storage.TenantStore implements it.
type EventLog interface {
	LogEvent(ctx context.Context, ev storage.LifecycleEvent) error
}

// Router is what Register needs from the HTTP server: groups under the
// app's base path. *api.Server implements it.
type Router interface {
	Group(path string, h ...gin.HandlerFunc) *gin.RouterGroup
}

// APIMounter mounts the panel's JSON API on a group. *panel.Panel
// implements it.
type APIMounter interface {
	RegisterAPI(g *gin.RouterGroup)
}

// Deps are the collaborators of the Forge routes.
type Deps struct {
	// Verifier checks the FITs of /forge/api calls. requestRemote FITs
	// are cached and reused by the browser, so it should have no replay
	// cache.
	Verifier *forge.Verifier
	// EventVerifier checks lifecycle, scheduled and pre-uninstall calls;
	// every delivery carries a fresh FIT, so a replay cache belongs here.
	// Default: Verifier.
	EventVerifier *forge.Verifier
	Store         Store
	Events        EventLog
	// Admin answers the Administer Jira probe; its Forge identity is used
	// (CheckPermissionsAs, cached).
	Admin *jira.Client
	// Offline obtains offline user tokens (checks as a user when the
	// request carries no x-forge-oauth-user, e.g. requestRemote).
	Offline *forge.OfflineTokens
	// Invalidate drops a tenant (clientKey or installation id) from the
	// caches after a write.
	Invalidate func(key string)
	Logger     *slog.Logger
	Now        func() time.Time
	// EventTimeout bounds the work of one event; Forge gives a remote 5 s.
	// Default 3 s.
	EventTimeout time.Duration
	// ConnectAdmin and ConnectTenant ask the Connect tenant's own site
	// whether the user linking it is a Jira administrator there too (issue
	// 16 item 3). Without them no link can be confirmed.
	ConnectAdmin  panel.AdminChecker
	ConnectTenant func(ctx context.Context, clientKey string) (*tenant.Tenant, error)
	// EventModules are the endpoint module keys the manifest routes to
	// each event route (default DefaultEventModules).
	EventModules EventModules
	// PreUninstallTimeout bounds the pre-uninstall call's work. Forge
	// waits 55 s for it (manifest reference, preUninstall); default
	// DefaultPreUninstallTimeout, and never 55 s or more.
	PreUninstallTimeout time.Duration
	// License, when set, refuses /forge/api calls whose verified FIT does
	// not pass the licence policy (RequireActiveLicense).
	License *forge.LicensePolicy
	// UsedTokens makes the jti of event FITs single use across every
	// instance sharing the database (the EventVerifier's replay cache
	// covers one process only). *storage.TokenLedger implements it; nil
	// leaves only the in-process cache.
	UsedTokens TokenLedger
	// ConnectKey is the manifest's app.connect.key (the Connect descriptor
	// key). When set, an installation not linked yet reads the reserved
	// clientKey app property on its installed, upgraded and scheduled
	// events and links to that Connect tenant of the same site (forge.md
	// §1.7 option 2). "" turns the lookup off.
	ConnectKey string
}

// TokenLedger records single-use tokens until they expire.
type TokenLedger interface {
	UseOnce(ctx context.Context, kind, hash string, exp time.Time) error
	Release(ctx context.Context, hash string) error
}

// Pre-uninstall bounds: Forge gives the call 55 s.
const (
	PreUninstallLimit          = 55 * time.Second
	DefaultPreUninstallTimeout = 50 * time.Second
)

// EventModules lists, per event route, the app.module.key values of the
// FITs it accepts: the endpoint (and, since Atlassian does not document
// which of the two the FIT names, the trigger) module keys the manifest
// declares for that route.
type EventModules struct {
	Lifecycle, Scheduled, PreUninstall []string
}

// DefaultEventModules are the keys of the manifests Connect Doctor
// generates (forge/manifest: doctor-lifecycle, doctor-scheduled,
// doctor-uninstall and their triggers) and of forge.md §1.1's example
// (doctor-events serves the lifecycle trigger and the scheduledTrigger).
func DefaultEventModules() EventModules {
	return EventModules{
		Lifecycle:    []string{"doctor-lifecycle", "lifecycle-to-remote", "doctor-events"},
		Scheduled:    []string{"doctor-scheduled", "token-refresh", "doctor-events"},
		PreUninstall: []string{"doctor-uninstall", "pre-uninstall"},
	}
}

// Server serves the Forge routes.
type Server struct {
	Deps
}

// New builds the Forge routes.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Invalidate == nil {
		d.Invalidate = func(string) {}
	}
	if d.EventVerifier == nil {
		d.EventVerifier = d.Verifier
	}
	if d.EventTimeout <= 0 {
		d.EventTimeout = 3 * time.Second
	}
	if d.PreUninstallTimeout <= 0 || d.PreUninstallTimeout >= PreUninstallLimit {
		d.PreUninstallTimeout = DefaultPreUninstallTimeout
	}
	def := DefaultEventModules()
	if len(d.EventModules.Lifecycle) == 0 {
		d.EventModules.Lifecycle = def.Lifecycle
	}
	if len(d.EventModules.Scheduled) == 0 {
		d.EventModules.Scheduled = def.Scheduled
	}
	if len(d.EventModules.PreUninstall) == 0 {
		d.EventModules.PreUninstall = def.PreUninstall
	}
	return &Server{Deps: d}
}

// Limits.
const (
	MaxEventBody = 64 << 10
	MaxAPIBody   = panel.MaxAPIBody
)

// Register mounts the Forge routes on r and the panel API (panelAPI.RegisterAPI)
// under /forge/api.
func (s *Server) Register(r Router, panelAPI APIMounter) {
	f := r.Group("/forge", panel.LimitBody(MaxEventBody))
	f.POST("/lifecycle", s.fit(s.EventVerifier), s.fromForge(s.EventModules.Lifecycle), s.once(), s.lifecycle)
	f.POST("/scheduled", s.fit(s.EventVerifier), s.fromForge(s.EventModules.Scheduled), s.once(), s.scheduled)
	f.POST("/pre-uninstall", s.fit(s.EventVerifier), s.fromForge(s.EventModules.PreUninstall), s.once(), s.preUninstall)

	// requestRemote calls come straight from the browser (the Forge
	// iframe's origin): CORS preflights carry no token.
	r.Group("/forge/api").OPTIONS("/*path", preflightCORS)
	mw := []gin.HandlerFunc{cors, s.fit(s.Verifier), s.tenant()}
	if s.License != nil {
		mw = append(mw, s.RequireActiveLicense(*s.License))
	}
	g := r.Group("/forge/api", mw...)
	g.GET("/link", s.getLink)
	g.POST("/link", panel.LimitBody(4<<10), s.postLink)
	panelAPI.RegisterAPI(g)
}

// Invocation is one verified Forge call: its claims, the OAuth tokens it
// carried and, on /forge/api, the tenant.
type Invocation struct {
	Claims       *forge.Claims
	Tokens       forge.OAuthTokens
	Tenant       *tenant.Tenant
	Installation *storage.ForgeInstallation
	fit          string // the raw FIT, for the explainer only (short-lived, never logged)
}

type ctxKey struct{}

// FromContext returns the Forge invocation of a request that passed the
// FIT middleware. The Forge-aware Caller and AdminChecker use it to pick
// the Forge identities.
func FromContext(ctx context.Context) (*Invocation, bool) {
	inv, ok := ctx.Value(ctxKey{}).(*Invocation)
	return inv, ok
}

// fit verifies the FIT and reads the OAuth headers. A failure is a 401
// envelope with the FIT code (503 when the key set is unreachable).
func (s *Server) fit(v *forge.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, err := v.VerifyRequest(c.Request)
		if err == nil && claims.App.APIBaseURL != "" {
			err = v.CheckAPIBaseURL(claims.App.APIBaseURL)
		}
		if err != nil {
			s.Logger.Warn("forge: invocation refused", slog.String("route", c.FullPath()), slog.String("code", forge.Code(err)),
				slog.String("error", err.Error()))
			abortFIT(c, err)
			return
		}
		toks, err := forge.ParseOAuthHeaders(c.Request.Header)
		if err != nil {
			abortFIT(c, err)
			return
		}
		inv := &Invocation{Claims: claims, Tokens: toks}
		inv.fit, _ = forge.BearerToken(c.Request.Header)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), ctxKey{}, inv))
		c.Next()
	}
}

// fromForge admits only FITs Forge mints for a call it makes itself to
// this route (issue 16 item 2): no user principal, app.module.type
// core:endpoint (forge.md §1.3: UI calls carry the UI module's type) and a
// module key the manifest routes here. A regular user's UI FIT — valid,
// with a fresh jti — is refused, so it can neither uninstall nor rewrite
// scopes, nor deliver a system token.
func (s *Server) fromForge(keys []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		inv, _ := FromContext(c.Request.Context())
		cl := inv.Claims
		why := ""
		switch {
		case cl.UserAccountID() != "":
			why = "it names a user (principal): only UI invocations do"
		case cl.App.Module.Type != "core:endpoint":
			why = fmt.Sprintf("its module type is %.64q, not core:endpoint", cl.App.Module.Type)
		case !slices.Contains(keys, cl.App.Module.Key):
			why = fmt.Sprintf("its module key %.64q is not one this route serves %v", cl.App.Module.Key, keys)
		}
		if why != "" {
			s.Logger.Warn("forge: event route refused a FIT not minted for it", slog.String("route", c.FullPath()),
				slog.String("installation_id", cl.InstallationID()), slog.String("module", cl.App.Module.Type+"/"+cl.App.Module.Key),
				slog.Bool("principal", cl.UserAccountID() != ""))
			httperr.Abort(c, http.StatusForbidden, "fit_not_event_invocation", "This route accepts only the invocation tokens Forge mints for its trigger: "+why+".",
				"Point the lifecycle trigger, scheduledTrigger and preUninstall at endpoints whose keys are in FORGE_EVENT_MODULES.")
			return
		}
		c.Next()
	}
}

// once makes an event FIT's jti single use in the shared ledger, so a
// captured delivery replayed to another instance is refused as on this
// one (fit_replayed). A delivery answered 5xx releases its jti: Forge's
// retry is not a replay.
func (s *Server) once() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.UsedTokens == nil {
			c.Next()
			return
		}
		inv, _ := FromContext(c.Request.Context())
		cl := inv.Claims
		sum := sha256.Sum256([]byte("forge-fit\x00" + cl.App.ID + "\x00" + cl.ID))
		key := hex.EncodeToString(sum[:])
		exp := s.Now().Add(time.Hour)
		if cl.ExpiresAt != nil {
			exp = cl.ExpiresAt.Time.Add(forge.DefaultLeeway)
		}
		switch err := s.UsedTokens.UseOnce(c.Request.Context(), "forge-event", key, exp); {
		case errors.Is(err, storage.ErrTokenUsed):
			s.Logger.Warn("forge: event FIT replayed", slog.String("route", c.FullPath()), slog.String("installation_id", cl.InstallationID()))
			abortFIT(c, fmt.Errorf("%w: jti seen by another instance", forge.ErrFITReplayed))
			return
		case err != nil:
			s.storeDown(c, err)
			return
		}
		c.Next()
		if c.Writer.Status() >= 500 {
			_ = s.UsedTokens.Release(context.WithoutCancel(c.Request.Context()), key)
		}
	}
}

// installationFromClaims describes the installation a verified FIT names.
func installationFromClaims(cl *forge.Claims) storage.ForgeInstallation {
	in := storage.ForgeInstallation{
		InstallationID: cl.InstallationID(), AppID: cl.App.ID, EnvironmentType: cl.App.Environment.Type,
		EnvironmentID: cl.App.Environment.ID, CloudID: cl.CloudID(), APIBaseURL: cl.App.APIBaseURL, AppVersion: cl.App.AppVersion,
	}
	if in.AppVersion == "" {
		in.AppVersion = cl.App.Version
	}
	if cl.Context != nil {
		in.SiteURL = cl.Context.SiteURL
	}
	return in
}

// tenant loads (or, for an installation never seen, records) the
// installation of a /forge/api call, stores a delivered system token and
// exposes the tenant to the panel's handlers.
func (s *Server) tenant() gin.HandlerFunc {
	return func(c *gin.Context) {
		inv, _ := FromContext(c.Request.Context())
		ctx := c.Request.Context()
		id := inv.Claims.InstallationID()
		t, inst, err := s.Store.Tenant(ctx, id)
		fromFIT := installationFromClaims(inv.Claims)
		if errors.Is(err, storage.ErrUnknownInstallation) || (err == nil && stale(inst, fromFIT)) {
			if _, err = s.Store.SaveInstallation(ctx, fromFIT); err == nil {
				s.Invalidate(id)
				t, inst, err = s.Store.Tenant(ctx, id)
			}
		}
		if err != nil {
			s.storeDown(c, err)
			return
		}
		if inst.ReplacedBy != "" {
			httperr.Abort(c, http.StatusForbidden, "forge_installation_replaced", "This Forge installation was replaced by a reinstall on the same site; its record moved to the new installation.",
				"Reload the page: the app's current installation answers.")
			return
		}
		if inst.State == tenant.StateUninstalled {
			httperr.Abort(c, http.StatusForbidden, "forge_installation_uninstalled", "This Forge installation was marked uninstalled by its pre-uninstall call.",
				"Reinstall the app; a reinstall creates a new installation id.")
			return
		}
		// No system token is taken from a UI call (issue 16 item 1): a
		// requestRemote comes straight from the browser, which can set
		// x-forge-oauth-system to anything.
		inv.Tenant, inv.Installation = t, inst
		// The panel's handlers (mounted under /forge/api) read the viewer
		// as they do on the Connect routes.
		api.SetViewer(c, &tenant.Viewer{Tenant: t, AccountID: inv.Claims.UserAccountID(), Kind: tenant.Forge})
		c.Next()
	}
}

// stale reports whether a FIT brings installation facts the row lacks.
func stale(inst *storage.ForgeInstallation, f storage.ForgeInstallation) bool {
	return (f.APIBaseURL != "" && f.APIBaseURL != inst.APIBaseURL) || (f.SiteURL != "" && inst.SiteURL == "") ||
		(f.CloudID != "" && inst.CloudID == "")
}

// keepSystemToken stores the system token of a call Forge made itself
// (event routes, after fromForge). Its expiry is the validity Forge
// guarantees from receipt, never an exp read out of the token, so the
// newest delivery wins.
func (s *Server) keepSystemToken(ctx context.Context, id string, tok forge.Token) string {
	if !tok.Present() {
		return "absent"
	}
	tok = forge.DeliveredToken(tok.Value(), s.Now())
	stored, err := s.Store.StoreSystemToken(ctx, id, tok.Value(), tok.Expiry)
	switch {
	case err != nil:
		s.Logger.Warn("forge: system token not stored", slog.String("installation_id", id), slog.String("error", err.Error()))
		return "error"
	case stored:
		return "stored"
	}
	return "kept"
}

func (s *Server) storeDown(c *gin.Context, err error) {
	s.Logger.Error("forge: store unavailable", slog.String("error", err.Error()))
	c.Header("Retry-After", "5")
	httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The installation could not be read or stored.", "Retry in a moment.")
}

// systemToken returns the stored system token for a product call: only
// one Forge delivered on a call it made itself. A UI call's
// x-forge-oauth-system is never used: the browser may have set it.
func (s *Server) systemToken(ctx context.Context, inv *Invocation) (forge.Token, error) {
	raw, exp, err := s.Store.SystemToken(ctx, inv.Claims.InstallationID())
	switch {
	case errors.Is(err, storage.ErrNoSystemToken):
		return forge.Token{}, nil
	case err != nil:
		return forge.Token{}, err
	}
	t := forge.NewToken(raw)
	if !exp.IsZero() {
		t.Expiry = exp
	}
	return t, nil
}

// errNoSystemToken explains an absent system token.
var errNoSystemToken = errors.New("no app system token was delivered with this call and none is stored: enable auth.appSystemToken on the endpoint " +
	"(and read:app-system-token in permissions.scopes), and let the lifecycle trigger or the hourly scheduledTrigger deliver one")

// doer picks the Forge identity for a check or probe: the system token as
// the app; as a user, the request's x-forge-oauth-user for the invoking
// user, otherwise an offline user token obtained with the system token.
func (s *Server) doer(ctx context.Context, client *jira.Client, inv *Invocation, as preflight.Identity, accountID string) *jira.Doer {
	t := inv.Tenant
	sys, err := s.systemToken(ctx, inv)
	if as != preflight.User {
		if err != nil {
			return client.AsForgeApp(t, failing{err})
		}
		return client.AsForgeApp(t, forge.StaticBearer{Token: sys, Now: s.Now, Absent: fmt.Errorf("%w: %w", forge.ErrForgeTokenAbsent, errNoSystemToken)})
	}
	if accountID == inv.Claims.UserAccountID() && inv.Tokens.User.Present() {
		return client.AsForgeUser(t, accountID, forge.StaticBearer{Token: inv.Tokens.User, Now: s.Now})
	}
	if err != nil {
		return client.AsForgeUser(t, accountID, failing{err})
	}
	if s.Offline == nil {
		return client.AsForgeUser(t, accountID, forge.StaticBearer{Absent: fmt.Errorf("%w: no x-forge-oauth-user on this call "+
			"(requestRemote, triggers and endpoints without auth.appUserToken carry none) and offline user tokens are not configured", forge.ErrForgeTokenAbsent)})
	}
	return client.AsForgeUser(t, accountID, &forge.OfflineBearer{Tokens: s.Offline, Request: forge.OfflineRequest{
		InstallationID: inv.Claims.InstallationID(), APIBaseURL: t.APIBaseURL, CloudID: t.CloudID, AccountID: accountID, SystemToken: sys}})
}

// failing is a token source that only reports err.
type failing struct{ err error }

func (f failing) Bearer(context.Context) (string, error) { return "", f.err }
func (failing) Refresh(string) bool                      { return false }

// Caller is the panel's Caller for both protocols: a request that passed
// the FIT middleware is sent with a Forge identity to the apiBaseUrl, any
// other through Connect.
type Caller struct {
	Connect panel.Caller
	Forge   *Server
	Client  *jira.Client
}

// Call implements panel.Caller.
func (k Caller) Call(ctx context.Context, t *tenant.Tenant, as preflight.Identity, accountID, method, path string, body []byte) (*jira.Response, error) {
	if inv, ok := FromContext(ctx); ok && inv.Tenant != nil {
		return k.Forge.doer(ctx, k.Client, inv, as, accountID).Call(ctx, method, path, body)
	}
	return k.Connect.Call(ctx, t, as, accountID, method, path, body)
}

// AdminChecker is the panel's AdminChecker for both protocols: on the
// Forge path the Administer Jira probe is made with the system token.
type AdminChecker struct {
	Connect panel.AdminChecker
	Forge   *Server
}

// CheckPermissions implements panel.AdminChecker.
func (a AdminChecker) CheckPermissions(ctx context.Context, t *tenant.Tenant, accountID string, global ...string) (map[string]bool, error) {
	if inv, ok := FromContext(ctx); ok && inv.Tenant != nil {
		return a.Forge.globalPermissions(ctx, inv, accountID, global...)
	}
	return a.Connect.CheckPermissions(ctx, t, accountID, global...)
}

// globalPermissions asks Jira which global permissions accountID holds. For
// the invoking user it asks as that user (GET /rest/api/3/mypermissions
// with the user's token or an offline one: read:jira-work, which every
// Forge Remote manifest with user tokens has); for anyone else as the app
// (POST /rest/api/3/permissions/check, which needs read:permission:jira).
func (s *Server) globalPermissions(ctx context.Context, inv *Invocation, accountID string, global ...string) (map[string]bool, error) {
	if accountID == "" || accountID != inv.Claims.UserAccountID() {
		return s.Admin.CheckPermissionsAs(ctx, s.doer(ctx, s.Admin, inv, preflight.App, ""), accountID, global...)
	}
	p, err := s.Admin.MyPermissionsAs(ctx, s.doer(ctx, s.Admin, inv, preflight.User, accountID), global...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(global))
	for _, k := range global {
		out[k] = p.Global[k] || (k == preflight.KeyAdminister && p.Global["SYSTEM_ADMIN"])
	}
	return out, nil
}

// abortFIT answers a refused invocation: 401 with a Bearer challenge, or
// 503 with Retry-After when the key set is unreachable.
func abortFIT(c *gin.Context, err error) {
	switch httperr.Status(err) {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="forge", error="invalid_token"`)
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", "5")
	}
	httperr.AbortErr(c, err)
}

// cors lets the Forge iframe call /forge/api with requestRemote. The FIT in
// Authorization is the only credential (no cookies), so any origin may
// send it.
func cors(c *gin.Context) {
	if c.GetHeader("Origin") != "" {
		c.Header("Access-Control-Allow-Origin", "*")
		c.Header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
	}
	c.Next()
}

func preflightCORS(c *gin.Context) {
	c.Header("Access-Control-Allow-Origin", "*")
	c.Header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
	c.Header("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
}

// ExplainContext adds what a /forge/api request knows to the explainer's
// context (panel.Deps.ForgeExplain): the FIT Forge sent, which OAuth
// headers came with it (their values are never passed on) and the kind of
// call — invokeRemote through Forge when OAuth headers came, requestRemote
// from the browser for a UI FIT without them.
func (s *Server) ExplainContext(ctx context.Context, ec *explain.Context) {
	inv, ok := FromContext(ctx)
	if !ok {
		return
	}
	ec.ForgeAppID = s.Verifier.AppID()
	h := http.Header{}
	if inv.fit != "" {
		h.Set("Authorization", "Bearer "+inv.fit)
	}
	if inv.Tokens.System.Present() {
		h.Set(forge.HeaderSystemToken, "present")
	}
	if inv.Tokens.User.Present() {
		h.Set(forge.HeaderUserToken, "present")
	}
	ec.ForgeInvocation = h
	switch {
	case inv.Tokens.System.Present() || inv.Tokens.User.Present():
		ec.ForgeCall = explain.ForgeCallUI
	case inv.Claims.App.Module.Type != "" && inv.Claims.App.Module.Type != "core:endpoint":
		ec.ForgeCall = explain.ForgeCallRequestRemote
	}
}
