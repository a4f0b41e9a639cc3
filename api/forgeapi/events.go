package forgeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/storage"
)

// Lifecycle event types (forge.md §1.5).
const (
	EventInstalled = "avi:forge:installed:app"
	EventUpgraded  = "avi:forge:upgraded:app"
)

// Names in the lifecycle log (lifecycle_events.event, at most 16 bytes).
const (
	logInstalled = "forge:installed"
	logUpgraded  = "forge:upgraded"
	logScheduled = "forge:scheduled"
	logUninstall = "forge:uninstall"
	logRelinked  = "forge:relinked"
)

// RetryContext is what Forge adds to a redelivered event.
type RetryContext struct {
	RetryCount  int    `json:"retryCount"`
	RetryReason string `json:"retryReason"`
}

// event is a lifecycle payload. Forge documents the fields nested under
// "payload"; remotes in the wild see them at the top level: both are read.
type event struct {
	EventType      string    `json:"eventType"`
	ID             string    `json:"id"`
	InstallationID string    `json:"installationId"`
	App            *eventApp `json:"app"`
	Environment    *struct {
		ID string `json:"id"`
	} `json:"environment"`
	Permissions *struct {
		Scopes []string `json:"scopes"`
	} `json:"permissions"`
	RetryContext *RetryContext   `json:"retryContext"`
	Payload      json.RawMessage `json:"payload"`
}

type eventApp struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

// EventAnswer is the JSON answer to a delivered event.
type EventAnswer struct {
	Status         string `json:"status"` // installed | upgraded | ignored | refreshed | uninstalled
	InstallationID string `json:"installationId"`
	Linked         bool   `json:"linked"`
	LinkCandidate  string `json:"linkCandidate,omitempty"`
	// SystemToken says what happened to x-forge-oauth-system: stored,
	// kept (the stored one expires later), absent or error.
	SystemToken string `json:"systemToken"`
	Retry       int    `json:"retryCount,omitempty"`
	// RelinkedFrom are the earlier installation ids of the same site
	// whose record (history, Connect link) this installation took over.
	RelinkedFrom []string `json:"relinkedFrom,omitempty"`
	// Repeated is true when a pre-uninstall call found the installation
	// already uninstalled and changed nothing.
	Repeated bool `json:"repeated,omitempty"`
	// ClientKeyLookup is the outcome of reading the Connect clientKey app
	// property (linked, absent, malformed, other_site, no_connect_tenant,
	// unavailable); empty when no lookup ran.
	ClientKeyLookup string `json:"clientKeyLookup,omitempty"`
}

// readEvent decodes the body (either shape) or writes 400.
func readEvent(c *gin.Context) (*event, bool) {
	raw, err := io.ReadAll(c.Request.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		httperr.Abort(c, http.StatusRequestEntityTooLarge, "payload_too_large", "The event is larger than allowed.", "")
		return nil, false
	}
	var ev event
	if len(strings.TrimSpace(string(raw))) == 0 {
		return &ev, true // scheduled and pre-uninstall bodies are optional
	}
	if err != nil || json.Unmarshal(raw, &ev) != nil {
		httperr.Abort(c, http.StatusBadRequest, "payload_malformed", "The event body is not a JSON object.", "Forge posts the event as JSON.")
		return nil, false
	}
	if len(ev.Payload) > 0 && string(ev.Payload) != "null" {
		var inner event
		if json.Unmarshal(ev.Payload, &inner) != nil {
			httperr.Abort(c, http.StatusBadRequest, "payload_malformed", "The event's payload is not a JSON object.", "")
			return nil, false
		}
		if inner.RetryContext == nil {
			inner.RetryContext = ev.RetryContext
		}
		if inner.EventType == "" {
			inner.EventType = ev.EventType
		}
		ev = inner
	}
	return &ev, true
}

// checkEvent refuses an event about another installation or app than the
// FIT names (the FIT is what is verified).
func (s *Server) checkEvent(c *gin.Context, cl *forge.Claims, ev *event) bool {
	if id := firstNonEmpty(ev.ID, ev.InstallationID); id != "" && id != cl.InstallationID() {
		httperr.Abort(c, http.StatusBadRequest, "installation_mismatch", "The event names another installation than its invocation token.", "")
		return false
	}
	if ev.App != nil && ev.App.ID != "" {
		if id, err := forge.NormalizeAppID(ev.App.ID); err != nil || id != s.Verifier.AppID() {
			httperr.Abort(c, http.StatusBadRequest, "app_mismatch", "The event names another app than FORGE_APP_ID.", "")
			return false
		}
	}
	return true
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func retryDetail(rc *RetryContext) (int, string) {
	if rc == nil {
		return 0, ""
	}
	return rc.RetryCount, fmt.Sprintf("retry %d (%s)", rc.RetryCount, truncate(rc.RetryReason, 64))
}

// lifecycle handles avi:forge:installed:app and avi:forge:upgraded:app.
// It is idempotent (an upsert keyed by the installation id), so Forge's
// redeliveries (retryContext) are harmless, and it does only two bounded
// database writes, answering well within Forge's 5 s.
func (s *Server) lifecycle(c *gin.Context) {
	inv, _ := FromContext(c.Request.Context())
	ev, ok := readEvent(c)
	if !ok || !s.checkEvent(c, inv.Claims, ev) {
		return
	}
	typ := ev.EventType
	if typ == "" { // the documented payload has no eventType
		typ = EventInstalled
		if ev.Permissions != nil {
			typ = EventUpgraded
		}
	}
	id := inv.Claims.InstallationID()
	retry, detail := retryDetail(ev.RetryContext)
	if typ != EventInstalled && typ != EventUpgraded {
		c.JSON(http.StatusOK, EventAnswer{Status: "ignored", InstallationID: id, SystemToken: "absent", Retry: retry})
		return
	}
	logName := logInstalled
	in := installationFromClaims(inv.Claims)
	if ev.Environment != nil && in.EnvironmentID == "" {
		in.EnvironmentID = ev.Environment.ID
	}
	if ev.App != nil && in.AppVersion == "" {
		in.AppVersion = ev.App.Version
	}
	if typ == EventUpgraded {
		logName = logUpgraded
		if ev.Permissions != nil {
			in.Scopes = append([]string{}, ev.Permissions.Scopes...)
		}
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.EventTimeout)
	defer cancel()
	inst, err := s.Store.SaveInstallation(ctx, in)
	var from []string
	if err == nil {
		inst, from, err = s.takeOver(ctx, c, inv, inst)
	}
	if err != nil {
		s.logEvent(c, logName, id, storage.OutcomeFailed, "store_unavailable", detail)
		s.storeDown(c, err) // 503: Forge redelivers (up to 4 times)
		return
	}
	tok := s.keepSystemToken(ctx, id, inv.Tokens.System)
	inst, lookup := s.linkByClientKey(ctx, inv, inst)
	s.invalidate(inst)
	if typ == EventUpgraded && s.Offline != nil {
		s.Offline.ForgetInstallation(id) // scopes changed: old user tokens carry the old ones
	}
	reason := ""
	if ev.RetryContext != nil {
		reason = truncate(ev.RetryContext.RetryReason, 64)
	}
	s.logEvent(c, logName, id, storage.OutcomeAccepted, reason, detail)
	s.Logger.Info("forge: "+strings.TrimPrefix(typ, "avi:forge:"), slog.String("installation_id", id), slog.String("cloud_id", inst.CloudID),
		slog.Bool("linked", inst.ClientKey != ""), slog.String("system_token", tok), slog.Int("retry", retry))
	status := "installed"
	if typ == EventUpgraded {
		status = "upgraded"
	}
	c.JSON(http.StatusOK, EventAnswer{Status: status, InstallationID: id, Linked: inst.ClientKey != "", LinkCandidate: inst.LinkCandidate,
		SystemToken: tok, Retry: retry, RelinkedFrom: from, ClientKeyLookup: lookup})
}

// scheduled stores the system token the hourly scheduledTrigger delivers
// (forge.md §1.4: there is no refresh endpoint).
func (s *Server) scheduled(c *gin.Context) {
	inv, _ := FromContext(c.Request.Context())
	ev, ok := readEvent(c)
	if !ok {
		return
	}
	id := inv.Claims.InstallationID()
	retry, detail := retryDetail(ev.RetryContext)
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.EventTimeout)
	defer cancel()
	inst, err := s.Store.Get(ctx, id)
	if errors.Is(err, storage.ErrUnknownInstallation) {
		// The installed event was missed: the verified FIT describes it.
		inst, err = s.Store.SaveInstallation(ctx, installationFromClaims(inv.Claims))
	}
	var from []string
	if err == nil && inst.ReplacedBy == "" {
		inst, from, err = s.takeOver(ctx, c, inv, inst)
	}
	if err != nil {
		s.logEvent(c, logScheduled, id, storage.OutcomeFailed, "store_unavailable", detail)
		s.storeDown(c, err)
		return
	}
	tok := s.keepSystemToken(ctx, id, inv.Tokens.System)
	var lookup string
	if inst.ReplacedBy == "" {
		inst, lookup = s.linkByClientKey(ctx, inv, inst)
	}
	if tok == "absent" {
		s.Logger.Warn("forge: scheduled trigger without a system token: enable auth.appSystemToken on its endpoint",
			slog.String("installation_id", id))
	}
	s.logEvent(c, logScheduled, id, storage.OutcomeAccepted, "system_token_"+tok, detail)
	c.JSON(http.StatusOK, EventAnswer{Status: "refreshed", InstallationID: id, Linked: inst.ClientKey != "", LinkCandidate: inst.LinkCandidate,
		SystemToken: tok, Retry: retry, RelinkedFrom: from, ClientKeyLookup: lookup})
}

// preUninstall marks the installation uninstalled (Forge sends no
// uninstalled event; the preUninstall module is the best-effort signal,
// which Forge waits 55 s for and which does not block the uninstall). Its
// work is bounded by PreUninstallTimeout (50 s by default), so it answers
// before Forge gives up, and it is idempotent: a second call for the same
// installation changes nothing and answers success.
func (s *Server) preUninstall(c *gin.Context) {
	inv, _ := FromContext(c.Request.Context())
	ev, ok := readEvent(c)
	if !ok || !s.checkEvent(c, inv.Claims, ev) {
		return
	}
	id := inv.Claims.InstallationID()
	_, detail := retryDetail(ev.RetryContext)
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.PreUninstallTimeout)
	defer cancel()
	inst, _ := s.Store.Get(ctx, id)
	changed, err := s.Store.MarkUninstalled(ctx, id)
	ans := EventAnswer{Status: "uninstalled", InstallationID: id, SystemToken: "absent"}
	switch {
	case errors.Is(err, storage.ErrUnknownInstallation):
		s.logEvent(c, logUninstall, id, storage.OutcomeAccepted, "unknown_installation", detail)
	case err != nil:
		reason := "store_unavailable"
		if ctx.Err() != nil {
			reason = "timeout"
		}
		s.logEvent(c, logUninstall, id, storage.OutcomeFailed, reason, detail)
		s.storeDown(c, err)
		return
	case !changed:
		// Already uninstalled: a repeated or redelivered call. Nothing is
		// written (not even the lifecycle log: the first call logged it).
		ans.Status, ans.Repeated = "already_uninstalled", true
		c.JSON(http.StatusOK, ans)
		return
	default:
		s.logEvent(c, logUninstall, id, storage.OutcomeAccepted, "", detail)
	}
	s.invalidate(inst)
	s.Invalidate(id)
	if s.Offline != nil {
		s.Offline.ForgetInstallation(id)
	}
	s.Logger.Info("forge: pre-uninstall", slog.String("installation_id", id))
	c.JSON(http.StatusOK, ans)
}

// takeOver gives an installation of a verified Forge call the record of
// the earlier installations of the app on the same site (a reinstall
// changes the installation id, not the cloudId). It runs only on the event
// routes, after fromForge: never on a user's UI call.
func (s *Server) takeOver(ctx context.Context, c *gin.Context, inv *Invocation, inst *storage.ForgeInstallation) (*storage.ForgeInstallation, []string, error) {
	cloud := inv.Claims.CloudID()
	if cloud == "" {
		return inst, nil, nil
	}
	id := inv.Claims.InstallationID()
	out, rl, err := s.Store.TakeOver(ctx, id, cloud)
	switch {
	case errors.Is(err, storage.ErrRelinkRefused):
		s.Logger.Warn("forge: relink refused", slog.String("installation_id", id), slog.String("error", err.Error()))
		return inst, nil, nil
	case err != nil:
		return nil, nil, err
	case len(rl.From) == 0:
		return out, nil, nil
	}
	for _, old := range rl.From {
		s.Invalidate(old)
		if s.Offline != nil {
			s.Offline.ForgetInstallation(old)
		}
	}
	s.invalidate(out)
	s.logEvent(c, logRelinked, id, storage.OutcomeAccepted, "reinstall_same_cloud",
		truncate(fmt.Sprintf("from %s; %d checks, %d events moved; clientKey %q", strings.Join(rl.From, ", "), rl.Checks, rl.Events, rl.ClientKey), 1000))
	s.Logger.Info("forge: reinstall relinked", slog.String("installation_id", id), slog.String("cloud_id", cloud),
		slog.Any("from", rl.From), slog.Int64("checks", rl.Checks), slog.Bool("linked", rl.ClientKey != ""))
	return out, rl.From, nil
}

func (s *Server) invalidate(inst *storage.ForgeInstallation) {
	if inst == nil {
		return
	}
	s.Invalidate(inst.InstallationID)
	if inst.ClientKey != "" {
		s.Invalidate(inst.ClientKey)
	}
}

func (s *Server) logEvent(c *gin.Context, name, id, outcome, reason, detail string) {
	if s.Events == nil {
		return
	}
	err := s.Events.LogEvent(context.WithoutCancel(c.Request.Context()), storage.LifecycleEvent{ClientKey: id, Event: name, Outcome: outcome,
		Reason: truncate(reason, 64), Detail: detail})
	if err != nil {
		s.Logger.Warn("forge: lifecycle log write failed", slog.String("error", err.Error()))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// LinkView is the JSON of GET and POST /forge/api/link.
type LinkView struct {
	InstallationID string `json:"installationId"`
	CloudID        string `json:"cloudId,omitempty"`
	SiteURL        string `json:"siteUrl,omitempty"`
	// ClientKey is the linked Connect tenant; LinkCandidate a Connect
	// tenant of the same cloudId or site URL that an administrator may
	// confirm with POST {"clientKey": LinkCandidate}.
	ClientKey     string `json:"clientKey,omitempty"`
	LinkCandidate string `json:"linkCandidate,omitempty"`
	LinkedBy      string `json:"linkedBy,omitempty"` // how the link was made, when known
}

// LinkRequest is the body of POST /forge/api/link.
type LinkRequest struct {
	ClientKey string `json:"clientKey"`
}

func linkView(in *storage.ForgeInstallation) LinkView {
	return LinkView{InstallationID: in.InstallationID, CloudID: in.CloudID, SiteURL: in.SiteURL, ClientKey: in.ClientKey, LinkCandidate: in.LinkCandidate}
}

func (s *Server) getLink(c *gin.Context) {
	inv, _ := FromContext(c.Request.Context())
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, linkView(inv.Installation))
}

// postLink confirms the link candidate. Only a Jira administrator (asked of
// Jira with the system token) may link: the link merges the Connect
// tenant's history and settings into this installation.
func (s *Server) postLink(c *gin.Context) {
	inv, _ := FromContext(c.Request.Context())
	c.Header("Cache-Control", "no-store")
	var in LinkRequest
	if err := json.NewDecoder(c.Request.Body).Decode(&in); err != nil || in.ClientKey == "" {
		httperr.Abort(c, http.StatusBadRequest, "invalid_json", `Send {"clientKey": "<the linkCandidate of GET /forge/api/link>"}.`, "")
		return
	}
	acc := inv.Claims.UserAccountID()
	if acc == "" {
		httperr.Abort(c, http.StatusForbidden, "no_viewer", "The invocation names no user, so nobody can be checked for Administer Jira.", "Call from a UI module (invokeRemote or requestRemote).")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	perms, err := s.globalPermissions(ctx, inv, acc, preflight.KeyAdminister)
	switch {
	case err != nil:
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusBadGateway, panel.CodeAdminCheckFailed, "Jira could not be asked whether you are a Jira administrator: "+truncate(err.Error(), 300), "")
		return
	case !perms[preflight.KeyAdminister]:
		httperr.Abort(c, http.StatusForbidden, panel.CodeNotJiraAdmin, "Linking a Connect installation needs the Administer Jira global permission.", "")
		return
	}
	if in.ClientKey != inv.Installation.LinkCandidate {
		httperr.Abort(c, http.StatusConflict, "not_link_candidate", "That Connect installation is not this Forge installation's link candidate.",
			"GET /forge/api/link shows the candidate.")
		return
	}
	// The link merges the Connect tenant's history into this installation:
	// the user must administer that site too, asked of the Connect
	// tenant's own Jira as the Connect app (issue 16 item 3).
	if s.ConnectAdmin == nil || s.ConnectTenant == nil {
		httperr.Abort(c, http.StatusForbidden, panel.CodeNotJiraAdmin, "The Connect tenant's site cannot be asked whether you administer it, so no link can be confirmed.", "")
		return
	}
	ct, err := s.ConnectTenant(ctx, in.ClientKey)
	if err != nil {
		httperr.Abort(c, http.StatusConflict, "not_link_candidate", "The candidate Connect installation could not be loaded.", "")
		return
	}
	cperms, err := s.ConnectAdmin.CheckPermissions(ctx, ct, acc, preflight.KeyAdminister)
	switch {
	case err != nil:
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusBadGateway, panel.CodeAdminCheckFailed, "The Connect installation's site could not be asked whether you administer it.", "")
		return
	case !cperms[preflight.KeyAdminister]:
		httperr.Abort(c, http.StatusForbidden, panel.CodeNotJiraAdmin, "Linking needs the Administer Jira global permission on the Connect installation's site too.", "")
		return
	}
	out, err := s.Store.ConfirmLink(ctx, inv.Claims.InstallationID(), in.ClientKey)
	switch {
	case errors.Is(err, storage.ErrNotLinkCandidate):
		httperr.Abort(c, http.StatusConflict, "not_link_candidate", "That Connect installation is not this Forge installation's link candidate.",
			"GET /forge/api/link shows the candidate: a Connect tenant of the same cloudId or site URL.")
		return
	case err != nil:
		s.storeDown(c, err)
		return
	}
	s.invalidate(out)
	s.logEvent(c, "forge:linked", out.InstallationID, storage.OutcomeAccepted, "admin_confirmed", "clientKey "+truncate(out.ClientKey, 200)+" by "+truncate(acc, 128))
	v := linkView(out)
	v.LinkedBy = "admin_confirmed"
	c.JSON(http.StatusOK, v)
}
