package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/capture"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// adminStatus is the outcome of the Administer Jira probe for a viewer.
type adminStatus struct {
	Admin bool
	Err   error // the probe failed: unknown
}

// checkAdmin asks Jira (as the app, cached by the Jira client) whether the
// viewer holds Administer Jira.
func (p *Panel) checkAdmin(ctx context.Context, v *tenant.Viewer) adminStatus {
	acc := v.AccountID
	if acc == "" {
		return adminStatus{}
	}
	ctx, cancel := context.WithTimeout(ctx, p.AdminTimeout)
	defer cancel()
	perms, err := p.Admin.CheckPermissions(ctx, v.Tenant, acc, preflight.KeyAdminister)
	if err != nil {
		p.Logger.Warn("admin check failed", "client_key", v.Tenant.ClientKey, "error", withoutQuery(err.Error()))
		if _, isAPI := errors.AsType[*jira.APIError](err); !isAPI && !errors.Is(err, jira.ErrTenant) && !errors.Is(err, jira.ErrConfig) {
			err = describeNetErr("Jira", err)
		}
		return adminStatus{Err: err}
	}
	return adminStatus{Admin: perms[preflight.KeyAdminister]}
}

const notAdminMessage = "This needs the Administer Jira global permission, and Jira says you do not hold it."
const notAdminHint = "Ask a Jira administrator to open Connect Doctor, or to grant you Administer Jira. " +
	"Checks as yourself, Explain a response, the Endpoint explorer and the Scope advisor stay available to you."

// The panel's parts a viewer without Administer Jira does not see, and the
// ones they keep: the installation banner names both lists.
var (
	adminOnlyParts = []string{
		"the installation details (install and update dates, Cloud ID, SEN, OAuth client ID, versions)",
		"checks run as the app",
		"the History of checks",
	}
	everyoneParts = []string{
		"this installation summary and its scope table",
		"the Endpoint explorer",
		"checks run as yourself",
		"Explain a response",
		"the Scope advisor",
	}
)

const notAdminBanner = "Jira says you do not hold the Administer Jira global permission, so three parts of this panel are hidden from you."
const notAdminBannerHint = "Ask a Jira administrator to grant you Administer Jira, or to open Connect Doctor for you."

// requireAdmin writes 403 not_jira_admin (or 502 when Jira could not be
// asked) and reports false unless the viewer is a Jira administrator.
func (p *Panel) requireAdmin(c *gin.Context, v *tenant.Viewer) bool {
	st := p.checkAdmin(c.Request.Context(), v)
	switch {
	case st.Err != nil:
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusBadGateway, CodeAdminCheckFailed, "Jira could not be asked whether you are a Jira administrator: "+truncate(st.Err.Error(), 300),
			"Retry in a moment. If it persists, run a check of POST /rest/api/3/permissions/check as the app to see why Jira refuses.")
		return false
	case !st.Admin:
		httperr.Abort(c, http.StatusForbidden, CodeNotJiraAdmin, notAdminMessage, notAdminHint)
		return false
	}
	return true
}

// InstallationView is the JSON of GET /api/installation. It never carries
// the shared secret. Details is present for Jira administrators only.
type InstallationView struct {
	ClientKey   string       `json:"clientKey"`
	BaseURL     string       `json:"baseUrl"`
	DisplayURL  string       `json:"displayUrl,omitempty"`
	ProductType string       `json:"productType"`
	State       string       `json:"state"`
	AppKey      string       `json:"appKey"`
	Version     string       `json:"version"`
	Scopes      []ScopeCount `json:"scopes"`
	Reachable   int          `json:"reachableOperations"` // operations the declared set allows
	// Forge is set for a Forge installation: its calls carry OAuth 2.0
	// scopes (OAuthScopes, when an upgrade event named them), so Scopes is
	// empty and Reachable counts what the OAuth scopes allow (-1: unknown).
	Forge       bool            `json:"forge,omitempty"`
	OAuthScopes []string        `json:"oauthScopes,omitempty"`
	Operations  int             `json:"catalogOperations"`
	Viewer      ViewerView      `json:"viewer"`
	Details     *InstallDetails `json:"details,omitempty"`
}

// ScopeCount is one row of the scope table: a scope and the catalog
// operations whose Connect scope is exactly that one (the explorer's scope
// filter lists the same operations).
type ScopeCount struct {
	Scope      string `json:"scope"`
	Operations int    `json:"operations"`
	// Source says why the row is counted: "declared" (the installed
	// descriptor names the scope), "implied" (a declared scope grants it,
	// as WRITE grants READ) or "none" (operations that need no scope).
	// The rows add up to reachableOperations.
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Sources of a scope row.
const (
	SourceDeclared = "declared"
	SourceImplied  = "implied"
	SourceNone     = "none"
)

// ViewerView says who is looking and whether Jira calls them an admin.
type ViewerView struct {
	AccountID string `json:"accountId,omitempty"`
	// DisplayName is the account's name from Jira's user API (cached for
	// NameTTL); empty when Jira could not tell: show the accountId.
	DisplayName string          `json:"displayName,omitempty"`
	Admin       *bool           `json:"admin"` // null: Jira could not be asked
	Refusal     *httperr.Detail `json:"refusal,omitempty"`
	// Hidden and Available name the panel's parts the viewer does not see
	// and still sees, when Administer Jira is not confirmed.
	Hidden    []string `json:"hidden,omitempty"`
	Available []string `json:"available,omitempty"`
}

// InstallDetails are the administrator-only installation details.
type InstallDetails struct {
	InstalledAt    string `json:"installedAt"`
	UpdatedAt      string `json:"updatedAt"`
	Description    string `json:"description,omitempty"`
	SEN            string `json:"serviceEntitlementNumber,omitempty"`
	CloudID        string `json:"cloudId,omitempty"`
	InstallationID string `json:"installationId,omitempty"`
	OAuthClientID  string `json:"oauthClientId,omitempty"`
	ServerVersion  string `json:"serverVersion,omitempty"`
	PluginsVersion string `json:"pluginsVersion,omitempty"`
}

// installation answers every viewer of the tenant with the installation's
// public summary and who they are; the details need Administer Jira. (The
// panel learns from this answer whether to offer the admin-only sections.)
func (p *Panel) installation(c *gin.Context) {
	v := p.Viewer(c)
	t := v.Tenant
	st := p.checkAdmin(c.Request.Context(), v)
	name, err := p.names.displayName(c.Request.Context(), v, p.AdminTimeout)
	if err != nil {
		p.Logger.Warn("display name lookup failed", "client_key", t.ClientKey, "error", withoutQuery(err.Error()))
	}
	// Tenant records are immutable once read, so the answer for the same
	// record, viewer and name is the same bytes. Answers that depend on a
	// failed admin check, and Forge tenants (assembled afresh per
	// request), are not kept.
	key := installationKey{tenant: t, viewer: v.AccountID, admin: st.Admin, name: name}
	cacheable := st.Err == nil && !t.Forge()
	if cacheable {
		if body, ok := p.installations.Get(key); ok {
			c.Data(http.StatusOK, jsonContentType, body)
			return
		}
	}
	out := InstallationView{
		ClientKey: t.ClientKey, BaseURL: t.BaseURL, DisplayURL: t.DisplayURL, ProductType: t.ProductType,
		State: string(t.State), AppKey: p.AppKey, Version: p.Version,
		Reachable: p.counts.reachable(t.Scopes), Operations: p.Catalog.Len(),
		Viewer: ViewerView{AccountID: v.AccountID, DisplayName: name},
	}
	if t.Forge() {
		out.Forge, out.OAuthScopes, out.Reachable = true, t.OAuthScopes, oauthReachable(p.Catalog, t.OAuthScopes)
	}
	// A Forge installation's calls carry OAuth scopes: its table stays
	// empty unless it is linked to a Connect installation, whose scopes
	// govern that one's calls.
	if !t.Forge() || len(t.Scopes) > 0 {
		out.Scopes = p.counts.rows(t.Scopes)
	}
	switch {
	case st.Err != nil:
		out.Viewer.Refusal = &httperr.Detail{Code: CodeAdminCheckFailed, Message: "Jira could not be asked whether you are a Jira administrator: " + truncate(st.Err.Error(), 300),
			Hint: "The parts below marked hidden stay hidden until Jira answers; reload to retry."}
		out.Viewer.Hidden, out.Viewer.Available = adminOnlyParts, everyoneParts
	case st.Admin:
		out.Viewer.Admin = &st.Admin
		out.Details = &InstallDetails{
			InstalledAt: t.InstalledAt.UTC().Format(timeFormat), UpdatedAt: t.UpdatedAt.UTC().Format(timeFormat),
			Description: t.Description, SEN: t.ServiceEntitlementNumber, CloudID: t.CloudID, InstallationID: t.InstallationID,
			OAuthClientID: t.OAuthClientID, ServerVersion: t.ServerVersion, PluginsVersion: t.PluginsVersion,
		}
	default:
		out.Viewer.Admin = &st.Admin
		out.Viewer.Refusal = &httperr.Detail{Code: CodeNotJiraAdmin, Message: notAdminBanner, Hint: notAdminBannerHint}
		out.Viewer.Hidden, out.Viewer.Available = adminOnlyParts, everyoneParts
	}
	body, err := json.Marshal(out)
	if err != nil {
		httperr.Abort(c, http.StatusInternalServerError, "internal_error", "The installation could not be encoded.", "")
		return
	}
	if cacheable {
		p.installations.Add(key, body)
	}
	c.Data(http.StatusOK, jsonContentType, body)
}

// installationKey names one GET /api/installation answer. The tenant
// pointer keeps the record alive while the answer is cached, so a new
// record can never take its address.
type installationKey struct {
	tenant *tenant.Tenant
	viewer string
	admin  bool
	name   string
}

const jsonContentType = "application/json; charset=utf-8"

const timeFormat = "2006-01-02T15:04:05Z"

// scopeCounts counts catalog operations per Connect scope.
type scopeCounts struct {
	exact map[scope.Scope]int
}

func countScopes(c *catalog.Catalog) scopeCounts {
	sc := scopeCounts{exact: map[scope.Scope]int{}}
	for _, op := range c.Operations() {
		sc.exact[op.ConnectScope]++
	}
	return sc
}

// rows is the scope table of a declared set: each declared scope, each
// scope a declared one implies, and the operations that need no scope,
// each with the operations whose Connect scope is exactly that one. The
// rows add up to reachable(set).
func (sc scopeCounts) rows(set scope.Set) []ScopeCount {
	out := []ScopeCount{}
	seen := map[scope.Scope]bool{}
	for _, s := range set {
		if seen[s] || s == scope.None || s == "" || !set.Allows(s) {
			continue // NONE has its own row; INACCESSIBLE reaches nothing
		}
		seen[s] = true
		row := ScopeCount{Scope: string(s), Operations: sc.exact[s], Source: SourceDeclared}
		if s == scope.ActAsUser {
			row.Note = "lets the app act as a user through the JWT-bearer grant"
		}
		out = append(out, row)
	}
	for _, s := range scope.Declarable {
		if seen[s] || !set.Allows(s) || sc.exact[s] == 0 {
			continue
		}
		seen[s] = true
		by := ""
		for _, d := range set {
			if d != s && d.Implies(s) {
				by = string(d)
				break
			}
		}
		out = append(out, ScopeCount{Scope: string(s), Operations: sc.exact[s], Source: SourceImplied, Note: "granted by " + by})
	}
	return append(out, ScopeCount{Scope: string(scope.None), Operations: sc.exact[scope.None] + sc.exact[""], Source: SourceNone,
		Note: "operations that need no scope"})
}

// reachable counts the operations a scope set unlocks: a handful of
// Allows calls per distinct scope, not one per operation.
func (sc scopeCounts) reachable(set scope.Set) int {
	n := 0
	for s, c := range sc.exact {
		if s != scope.Inaccessible && set.Allows(s) {
			n += c
		}
	}
	return n
}

// oauthReachable counts the operations a set of granted OAuth 2.0 scopes
// allows through the gateway (all classic or all granular scopes of the
// operation, or none needed); -1 when the granted scopes are unknown.
func oauthReachable(c *catalog.Catalog, granted []string) int {
	if granted == nil {
		return -1
	}
	has := make(map[string]bool, len(granted))
	for _, g := range granted {
		has[strings.ToLower(g)] = true
	}
	all := func(need []string) bool {
		for _, n := range need {
			if !has[strings.ToLower(n)] {
				return false
			}
		}
		return len(need) > 0
	}
	n := 0
	for _, op := range c.Operations() {
		if all(op.OAuthClassic) || all(op.OAuthGranular) || (len(op.OAuthClassic) == 0 && len(op.OAuthGranular) == 0 && op.AnonymousAllowed) {
			n++
		}
	}
	return n
}

// Prediction is a preflight result in the explorer's compact form.
type Prediction struct {
	Outcome           string `json:"outcome"`
	Status            int    `json:"status"`
	Reason            string `json:"reason"`
	Fix               string `json:"fix,omitempty"`
	MissingScope      string `json:"missingScope,omitempty"`
	MissingPermission string `json:"missingPermission,omitempty"`
}

func compact(r preflight.Result) Prediction {
	return Prediction{Outcome: string(r.Outcome), Status: r.Status, Reason: r.Reason, Fix: r.Fix,
		MissingScope: string(r.MissingScope), MissingPermission: r.MissingPermission}
}

// EndpointView is one row of the endpoint explorer.
type EndpointView struct {
	Method           string     `json:"method"`
	Path             string     `json:"path"`
	OperationID      string     `json:"operationId"`
	API              string     `json:"api"`
	ConnectScope     string     `json:"connectScope"`
	Permission       string     `json:"permission"`
	PermissionDetail string     `json:"permissionDetail,omitempty"`
	PermissionNames  []string   `json:"permissionNames,omitempty"`
	Deprecated       bool       `json:"deprecated,omitempty"`
	Experimental     bool       `json:"experimental,omitempty"`
	Params           []string   `json:"params,omitempty"`
	AsApp            Prediction `json:"asApp"`
	AsViewer         Prediction `json:"asViewer"`
}

// viewerPermissions returns what is known of the viewer's permissions for
// predictions: Administer Jira from the (cached) probe, or nothing.
func (p *Panel) viewerPermissions(ctx context.Context, v *tenant.Viewer) *preflight.Permissions {
	st := p.checkAdmin(ctx, v)
	if st.Err != nil || v.AccountID == "" {
		return nil
	}
	return preflight.NewPermissions(map[string]bool{preflight.KeyAdminister: st.Admin})
}

func (p *Panel) endpointView(op *catalog.Operation, t *tenant.Tenant, viewer *preflight.Permissions) EndpointView {
	app := preflight.Predict(p.Catalog, preflight.Input{Method: op.Method, Path: op.Path, Identity: preflight.App, DeclaredScopes: t.Scopes,
		Forge: t.Forge(), OAuthScopes: t.OAuthScopes})
	user := preflight.Predict(p.Catalog, preflight.Input{Method: op.Method, Path: op.Path, Identity: preflight.User, DeclaredScopes: t.Scopes,
		Permissions: viewer, Forge: t.Forge(), OAuthScopes: t.OAuthScopes})
	return EndpointView{
		Method: op.Method, Path: op.Path, OperationID: op.OperationID, API: op.API, ConnectScope: string(op.ConnectScope),
		Permission: op.Permission, PermissionDetail: op.PermissionDetail, PermissionNames: op.PermissionNames,
		Deprecated: op.Deprecated, Experimental: op.Experimental, Params: templateParams(op.Path),
		AsApp: compact(app), AsViewer: compact(user),
	}
}

// templateParams lists the {name} parameters of a path template.
func templateParams(tpl string) []string {
	var out []string
	for _, seg := range strings.Split(tpl, "/") {
		if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

// EndpointPage is the JSON of GET /api/endpoints.
type EndpointPage struct {
	Items      []EndpointView `json:"items"`
	Total      int            `json:"total"`
	NextCursor string         `json:"nextCursor,omitempty"`
	Declared   []string       `json:"declaredScopes"`
}

func (p *Panel) endpoints(c *gin.Context) {
	v := p.Viewer(c)
	limit, ok := pageLimit(c, DefaultPageSize, MaxPageSize)
	if !ok {
		return
	}
	offset := 0
	if cur := c.Query("cursor"); cur != "" {
		n, err := strconv.Atoi(cur)
		if err != nil || n < 0 || n > 1_000_000 {
			httperr.Abort(c, http.StatusBadRequest, CodeBadCursor, "The cursor is not one this API issued.", "Pass the nextCursor of the previous page, or nothing for the first page.")
			return
		}
		offset = n
	}
	q := catalog.Query{Text: truncate(c.Query("q"), 200), Scope: c.Query("scope"), Permission: c.Query("permission")}
	ops := p.Catalog.Search(q)
	out := EndpointPage{Items: []EndpointView{}, Total: len(ops), Declared: v.Tenant.Scopes.Strings()}
	if offset < len(ops) {
		end := min(len(ops), offset+limit)
		viewer := p.viewerPermissions(c.Request.Context(), v)
		for i := offset; i < end; i++ {
			out.Items = append(out.Items, p.endpointView(&ops[i], v.Tenant, viewer))
		}
		if end < len(ops) {
			out.NextCursor = strconv.Itoa(end)
		}
	}
	c.JSON(http.StatusOK, out)
}

func (p *Panel) endpoint(c *gin.Context) {
	v := p.Viewer(c)
	op, ok := p.Catalog.ByOperationID(c.Param("operationId"))
	if !ok {
		httperr.Abort(c, http.StatusNotFound, CodeNotFound, "The catalog has no operation with that operationId.", "Search the endpoint explorer by path or keyword.")
		return
	}
	c.JSON(http.StatusOK, p.endpointView(op, v.Tenant, p.viewerPermissions(c.Request.Context(), v)))
}

// pageLimit reads ?limit= (default def, at most max); it writes 400 and
// reports false when the value is not a positive number.
func pageLimit(c *gin.Context, def, max int) (int, bool) {
	raw := c.Query("limit")
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		httperr.Abort(c, http.StatusBadRequest, CodeBadLimit, "limit must be a positive number.", "Use 1 to "+strconv.Itoa(max)+".")
		return 0, false
	}
	return min(n, max), true
}

// CheckSummary is one row of the history list.
type CheckSummary struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"createdAt"`
	AccountID  string `json:"accountId,omitempty"`
	As         string `json:"as"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	Status     int    `json:"status"`
	DurationMs int64  `json:"durationMs"`
	Outcome    string `json:"preflightOutcome,omitempty"`
	Cause      string `json:"cause,omitempty"`
	Summary    string `json:"summary,omitempty"`
}

// HistoryPage is the JSON of GET /api/checks.
type HistoryPage struct {
	Items      []CheckSummary `json:"items"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

func (p *Panel) listChecks(c *gin.Context) {
	v := p.Viewer(c)
	limit, ok := pageLimit(c, 20, storage.MaxCheckPage)
	if !ok || !p.requireAdmin(c, v) {
		return
	}
	rows, next, err := p.History.List(c.Request.Context(), v.Tenant.ClientKey, limit, c.Query("cursor"))
	if errors.Is(err, storage.ErrBadCursor) {
		httperr.Abort(c, http.StatusBadRequest, CodeBadCursor, "The cursor is not one this API issued.", "Pass the nextCursor of the previous page, or nothing for the first page.")
		return
	}
	if err != nil {
		p.storeDown(c, err)
		return
	}
	out := HistoryPage{Items: make([]CheckSummary, 0, len(rows)), NextCursor: next}
	for _, r := range rows {
		out.Items = append(out.Items, CheckSummary{ID: r.ID, CreatedAt: r.CreatedAt.UTC().Format(timeFormat), AccountID: r.AccountID,
			As: r.Identity, Method: r.Method, Path: r.Path, Status: r.Status, DurationMs: r.DurationMs, Outcome: r.Outcome, Cause: r.Cause, Summary: r.Summary})
	}
	c.JSON(http.StatusOK, out)
}

func (p *Panel) getCheck(c *gin.Context) {
	v := p.Viewer(c)
	if !p.requireAdmin(c, v) {
		return
	}
	row, err := p.History.Get(c.Request.Context(), v.Tenant.ClientKey, c.Param("id"))
	if errors.Is(err, storage.ErrCheckNotFound) {
		httperr.Abort(c, http.StatusNotFound, CodeNotFound, "This site has no check with that id.", "It may have been dropped by the history's retention limit.")
		return
	}
	if err != nil {
		p.storeDown(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(row.Result))
}

func (p *Panel) storeDown(c *gin.Context, err error) {
	p.Logger.Error("check history unavailable", "error", err.Error())
	c.Header("Retry-After", "5")
	httperr.Abort(c, http.StatusServiceUnavailable, CodeStoreUnavailable, "The check history is not available right now.", "Retry in a moment.")
}

// ExplainRequest is the body of POST /api/explain: either a structured
// exchange or the raw text of `curl -i` / `curl -v` output.
type ExplainRequest struct {
	Raw      string           `json:"raw"`
	As       string           `json:"as,omitempty"` // optional: app | user
	Request  *ExplainHTTPReq  `json:"request"`
	Response *ExplainHTTPResp `json:"response"`
}

// ExplainHTTPReq is the request side of a structured exchange.
type ExplainHTTPReq struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	HasBody bool              `json:"hasBody"`
}

// ExplainHTTPResp is the response side of a structured exchange.
type ExplainHTTPResp struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func (p *Panel) explain(c *gin.Context) {
	v := p.Viewer(c)
	var in ExplainRequest
	if !decodeJSON(c, &in) {
		return
	}
	var req explain.Request
	var resp explain.Response
	responseOnly, note := false, ""
	switch {
	case strings.TrimSpace(in.Raw) != "":
		pasted, n, err := parseRaw(in.Raw)
		if err != nil {
			httperr.Abort(c, http.StatusBadRequest, CodeUnparseable, "The pasted text cannot be read: "+err.Error(),
				"Paste the output of `curl -i` (status line, headers, blank line, body), of `curl -v`, or a HAR export (its first failing entry is explained).")
			return
		}
		req, resp, responseOnly, note = pasted.Request, pasted.Response, pasted.Context.ResponseOnly, n
	case in.Response != nil:
		if in.Response.Status < 100 || in.Response.Status > 599 {
			httperr.Abort(c, http.StatusBadRequest, CodeUnparseable, "response.status must be an HTTP status code.", "For example 401 or 403.")
			return
		}
		resp = explain.Response{Status: in.Response.Status, Header: toHeader(in.Response.Headers), Body: []byte(in.Response.Body)}
		if in.Request != nil {
			req = explain.Request{Method: strings.ToUpper(in.Request.Method), URL: in.Request.URL, Header: toHeader(in.Request.Headers), HasBody: in.Request.HasBody}
		}
	default:
		httperr.Abort(c, http.StatusBadRequest, CodeUnparseable, "Nothing to explain.", `Send {"raw":"<curl -i output>"} or {"request":{…},"response":{"status":…,"headers":{…},"body":"…"}}.`)
		return
	}
	id := ""
	switch in.As {
	case "", "app", "user":
		id = in.As
	default:
		httperr.Abort(c, http.StatusBadRequest, CodeBadIdentity, `as must be "app" or "user".`, "")
		return
	}
	t := v.Tenant
	ectx := explain.Context{
		TenantBaseURL: t.BaseURL, DeclaredScopes: t.Scopes, AppKey: p.AppKey, ClientKey: t.ClientKey,
		TenantState: string(t.State), Identity: id, Now: p.Now(), ResponseOnly: responseOnly,
	}
	p.forgeContext(c.Request.Context(), t, &ectx)
	d := p.Engine.Diagnose(explain.Input{Request: req, Response: resp, Context: ectx})
	if note != "" {
		d.Notes = append(d.Notes, note)
	}
	p.OnDiagnosis(d)
	c.JSON(http.StatusOK, d)
}

// parseRaw reads pasted text as the CLI's --capture does: a HAR export (its
// first failing entry), a full exchange (curl -v, or request then
// response), or a response alone. The note says which HAR entry was taken.
func parseRaw(raw string) (explain.Input, string, error) {
	if capture.LooksLikeHAR(raw) {
		items, err := capture.HAR(raw, capture.Select{Entry: -1})
		if err != nil {
			return explain.Input{}, "", err
		}
		note := "explained HAR " + items[0].Label
		if len(items) > 1 {
			note += fmt.Sprintf(" (the first of %d failing entries)", len(items))
		}
		return items[0].Input, note, nil
	}
	in, err := capture.Paste(raw)
	return in, "", err
}

func toHeader(m map[string]string) http.Header {
	h := http.Header{}
	for k, v := range m {
		h.Add(k, v)
	}
	return h
}

// AdviceRequest is the body of POST /api/scopes/advice.
type AdviceRequest struct {
	Operations []string `json:"operations"`
}

// AdviceView is the scope advisor's answer, compared with what the app
// declares for this site.
type AdviceView struct {
	catalog.Advice
	Declared []string `json:"declaredScopes"`
	// MissingFromDeclared are advised scopes the declared set does not
	// imply: calls needing them are refused today.
	MissingFromDeclared []string `json:"missingFromDeclared"`
}

func (p *Panel) advice(c *gin.Context) {
	v := p.Viewer(c)
	var in AdviceRequest
	if !decodeJSON(c, &in) {
		return
	}
	if len(in.Operations) == 0 {
		httperr.Abort(c, http.StatusBadRequest, CodeNoOperations, "No operations given.", `Send {"operations":["GET /rest/api/3/myself", "createIssue", …]}.`)
		return
	}
	if len(in.Operations) > MaxAdviceOps {
		httperr.Abort(c, http.StatusBadRequest, CodeNoOperations, "Too many operations: at most "+strconv.Itoa(MaxAdviceOps)+".", "")
		return
	}
	var b strings.Builder
	for _, op := range in.Operations {
		b.WriteString(strings.NewReplacer("\r", " ", "\n", " ").Replace(truncate(op, MaxPathLength)))
		b.WriteByte('\n')
	}
	adv, err := p.Catalog.AdviseLines(strings.NewReader(b.String()))
	if err != nil {
		httperr.Abort(c, http.StatusBadRequest, CodeNoOperations, "The operations could not be read.", "")
		return
	}
	out := AdviceView{Advice: adv, Declared: v.Tenant.Scopes.Strings(), MissingFromDeclared: []string{}}
	for _, s := range adv.Scopes {
		if !v.Tenant.Scopes.Allows(s) {
			out.MissingFromDeclared = append(out.MissingFromDeclared, string(s))
		}
	}
	c.JSON(http.StatusOK, out)
}

// decodeJSON reads the body into v, writing 400/413 on failure.
func decodeJSON(c *gin.Context, v any) bool {
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(v)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		httperr.Abort(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The request body exceeds "+strconv.FormatInt(mbe.Limit, 10)+" bytes.", "Send a smaller body.")
		return false
	case err != nil:
		httperr.Abort(c, http.StatusBadRequest, CodeBadJSON, "The body is not valid JSON: "+truncate(err.Error(), 200), "Send a JSON object with Content-Type: application/json.")
		return false
	case dec.More():
		httperr.Abort(c, http.StatusBadRequest, CodeBadJSON, "The body holds more than one JSON value.", "")
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
