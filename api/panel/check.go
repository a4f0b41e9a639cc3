package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// CheckRequest is the body of POST /api/checks.
type CheckRequest struct {
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	As       string          `json:"as"`       // "app" | "user"
	Identity string          `json:"identity"` // alias of as
	Body     json.RawMessage `json:"body,omitempty"`
}

// CheckResult is the answer of POST /api/checks and GET /api/checks/{id}.
type CheckResult struct {
	ID        string             `json:"id"`
	CreatedAt string             `json:"createdAt"`
	Request   CheckedRequest     `json:"request"`
	Response  CheckedResponse    `json:"response"`
	Preflight preflight.Result   `json:"preflight"`
	Diagnosis explain.Diagnosis  `json:"diagnosis"`
	Failure   *httperr.Detail    `json:"failure,omitempty"` // no answer from Jira: token exchange or network failure
	Stored    bool               `json:"stored"`
	Endpoint  *EndpointReference `json:"endpoint,omitempty"`
}

// CheckedRequest is what was sent (never the credentials).
type CheckedRequest struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	As        string `json:"as"`
	AccountID string `json:"accountId,omitempty"` // the impersonated user, for "user"
	HasBody   bool   `json:"hasBody,omitempty"`
}

// CheckedResponse is what Jira answered, trimmed.
type CheckedResponse struct {
	Status        int               `json:"status"` // 0: no answer
	Headers       map[string]string `json:"headers,omitempty"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"bodyTruncated,omitempty"`
	DurationMs    int64             `json:"durationMs"`
	Attempts      int               `json:"attempts,omitempty"`
}

// EndpointReference names the catalog operation a check matched.
type EndpointReference struct {
	OperationID  string `json:"operationId"`
	Template     string `json:"template"`
	ConnectScope string `json:"connectScope"`
	Permission   string `json:"permission"`
}

// checkMethods are the methods a check may use.
var checkMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// shownHeaders are the response headers returned with a check: the ones
// that explain an answer.
var shownHeaders = []string{"Content-Type", "WWW-Authenticate", "X-Seraph-LoginReason", "Retry-After", "X-RateLimit-Limit",
	"X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Cache", "Age", "Server", "Via", "CF-Ray", "X-Request-Id",
	"X-Arequestid", "Atl-Traceid", "Date", "Location"}

// pathCode maps a path refused by jira.ValidatePath (the one validator the
// panel and the Jira client share) to the panel's error code.
func pathCode(err error) string {
	if errors.Is(err, jira.ErrAbsoluteURL) {
		return CodeAbsoluteURL
	}
	return CodePathNotAllowed
}

const pathHint = "Give a path relative to the Jira site, starting with /rest/, e.g. /rest/api/3/myself?expand=groups. " +
	"The site is always the one the panel is opened from."

func (p *Panel) runCheck(c *gin.Context) {
	v := p.Viewer(c)
	var in CheckRequest
	if !decodeJSON(c, &in) {
		return
	}
	method := strings.ToUpper(strings.TrimSpace(in.Method))
	if !contains(checkMethods, method) {
		httperr.Abort(c, http.StatusBadRequest, CodeBadMethod, fmt.Sprintf("Method %q cannot be used for a check.", truncate(in.Method, 20)), "Use one of "+strings.Join(checkMethods, ", ")+".")
		return
	}
	if err := jira.ValidatePath(in.Path); err != nil {
		httperr.Abort(c, http.StatusBadRequest, pathCode(err), err.Error(), pathHint)
		return
	}
	as := in.As
	if as == "" {
		as = in.Identity
	}
	if as != string(preflight.App) && as != string(preflight.User) {
		httperr.Abort(c, http.StatusBadRequest, CodeBadIdentity, `"as" must be "app" (the app's own user) or "user" (you, through the JWT-bearer grant).`, "")
		return
	}
	var body []byte
	if len(in.Body) > 0 && string(in.Body) != "null" {
		body = in.Body
	}
	if len(body) > MaxCheckBody {
		httperr.Abort(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("The check's body exceeds %d bytes.", MaxCheckBody), "Send a smaller body.")
		return
	}
	if body != nil && (method == http.MethodGet || method == http.MethodHead) {
		httperr.Abort(c, http.StatusBadRequest, CodeGetWithBody, "GET and HEAD requests must not carry a body: Jira refuses them (CHANGE-2328).", "Remove the body, or use POST for search-like operations (e.g. POST /rest/api/3/search/jql).")
		return
	}
	acc := v.AccountID
	if as == string(preflight.User) && acc == "" {
		httperr.Abort(c, http.StatusBadRequest, CodeNoViewer, "The panel's token names no user, so there is nobody to act as.", "Log in to Jira and reopen the panel.")
		return
	}
	var perms *preflight.Permissions
	if as == string(preflight.App) {
		if !p.requireAdmin(c, v) {
			return
		}
	} else {
		perms = p.viewerPermissions(c.Request.Context(), v)
	}
	if ok, scope, wait := p.limiter.allow(v.Tenant.ClientKey, as, acc, p.Now()); !ok {
		secs := strconv.Itoa(retryAfterSeconds(wait))
		c.Header("Retry-After", secs)
		msg := fmt.Sprintf("You ran more than %d checks as %s in a minute.", p.AccountChecksPerMinute, as)
		hint := "Wait " + secs + " s and retry (ACCOUNT_CHECKS_PER_MINUTE sets the limit per user)."
		if scope == budgetTenant {
			msg = fmt.Sprintf("This site ran more than %d checks as %s in a minute.", p.ChecksPerMinute, as)
			hint = "Wait " + secs + " s and retry (CHECKS_PER_MINUTE sets the limit per site)."
		}
		httperr.Abort(c, http.StatusTooManyRequests, CodeRateLimited, msg, hint)
		return
	}
	res, status, errDetail := p.perform(c.Request.Context(), v, method, in.Path, preflight.Identity(as), acc, body, perms)
	if errDetail != nil {
		httperr.Abort(c, status, errDetail.Code, errDetail.Message, errDetail.Hint)
		return
	}
	p.store(c.Request.Context(), v, res)
	c.JSON(http.StatusOK, res)
}

// perform runs one check and diagnoses it. A refusal before anything was
// sent is returned as an error detail with its HTTP status.
func (p *Panel) perform(ctx context.Context, v *tenant.Viewer, method, path string, as preflight.Identity, acc string, body []byte, perms *preflight.Permissions) (*CheckResult, int, *httperr.Detail) {
	t := v.Tenant
	pf := preflight.Predict(p.Catalog, preflight.Input{Method: method, Path: path, Identity: as, DeclaredScopes: t.Scopes, Permissions: perms,
		Forge: t.Forge(), OAuthScopes: t.OAuthScopes})
	now := p.Now()
	cctx, cancel := context.WithTimeout(ctx, p.CheckTimeout)
	defer cancel()
	resp, err := p.Jira.Call(cctx, t, as, acc, method, path, body)

	res := &CheckResult{
		CreatedAt: now.UTC().Format(timeFormat),
		Request:   CheckedRequest{Method: method, Path: path, As: string(as), HasBody: body != nil},
		Preflight: pf,
	}
	if as == preflight.User {
		res.Request.AccountID = acc
	}
	if pf.Operation != nil {
		res.Endpoint = &EndpointReference{OperationID: pf.Operation.OperationID, Template: pf.Operation.Path,
			ConnectScope: string(pf.Operation.ConnectScope), Permission: pf.Operation.Permission}
	}
	ectx := explain.Context{
		TenantBaseURL: t.BaseURL, DeclaredScopes: t.Scopes, AppKey: p.AppKey, ClientKey: t.ClientKey,
		SharedSecret: t.SharedSecret, Identity: string(as), TenantState: string(t.State), Now: now, Preflight: &pf,
	}
	ereq := explain.Request{Method: method, URL: strings.TrimSuffix(t.BaseURL, "/") + path, Header: http.Header{}, HasBody: body != nil}
	var eresp explain.Response
	switch {
	case resp != nil:
		shown, truncated := trimBody(resp.Body, MaxResponseShown)
		res.Response = CheckedResponse{Status: resp.Status, Headers: pickHeaders(resp.Header), Body: shown,
			BodyTruncated: truncated || errors.Is(err, jira.ErrResponseTooLarge), DurationMs: resp.Duration.Milliseconds(), Attempts: resp.Attempts}
		eresp = explain.Response{Status: resp.Status, Header: resp.Header, Body: resp.Body}
	case errors.Is(err, jira.ErrAbsoluteURL), errors.Is(err, jira.ErrPathNotAllowed):
		return nil, http.StatusBadRequest, &httperr.Detail{Code: pathCode(err), Message: err.Error(), Hint: pathHint}
	case errors.Is(err, jira.ErrGetWithBody):
		return nil, http.StatusBadRequest, &httperr.Detail{Code: CodeGetWithBody, Message: err.Error(), Hint: "Remove the body."}
	case errors.Is(err, jira.ErrTenant):
		return nil, http.StatusConflict, &httperr.Detail{Code: CodeTenantCannotCall, Message: err.Error(), Hint: "Reinstall or enable the app on the site."}
	case errors.Is(err, jira.ErrConfig):
		return nil, http.StatusInternalServerError, &httperr.Detail{Code: CodeClientConfig, Message: err.Error(), Hint: "Check the app's configuration."}
	case errors.Is(err, jira.ErrToken):
		if isTransport(err) {
			p.Logger.Debug("check: token exchange transport error", "client_key", t.ClientKey, "error", withoutQuery(err.Error()))
			err = describeNetErr("Atlassian's authorization server (token exchange)", err)
		}
		ectx.ExchangeErr = err
		res.Failure = &httperr.Detail{Code: "token_exchange_failed", Message: truncate(err.Error(), 500), Hint: httperr.HintOf(err)}
	case err != nil:
		p.Logger.Debug("check: transport error", "client_key", t.ClientKey, "error", withoutQuery(err.Error()))
		err = describeNetErr("Jira", err)
		ectx.NetworkErr = err
		res.Failure = &httperr.Detail{Code: "network_error", Message: err.Error()}
	}
	res.Response.DurationMs = max(res.Response.DurationMs, p.Now().Sub(now).Milliseconds())
	if t.Forge() {
		// Forge Remote: the call went to the product API gateway with an
		// OAuth token (system or user), never to the site with a JWT.
		p.forgeContext(ctx, t, &ectx)
		ereq.URL = strings.TrimSuffix(t.APIBaseURL, "/") + path
		if res.Failure == nil || ectx.NetworkErr != nil {
			ereq.Header.Set("Authorization", "Bearer "+forgeTokenPlaceholder)
		}
	} else if as == preflight.App {
		// The Jira client signs every attempt afresh; the engine gets the
		// same token the client would sign now, so that it can check the
		// qsh and signature. Only the decoded report reaches the browser.
		if tok, err := jira.SignAppToken(p.AppKey, t, method, path, now); err == nil {
			ereq.Header.Set("Authorization", "JWT "+tok)
		}
	} else if res.Failure == nil || ectx.NetworkErr != nil {
		ereq.Header.Set("Authorization", "Bearer "+userTokenPlaceholder)
	}
	res.Diagnosis = p.Engine.Diagnose(explain.Input{Request: ereq, Response: eresp, Context: ectx})
	p.OnDiagnosis(res.Diagnosis)
	return res, 0, nil
}

// userTokenPlaceholder stands for the user access token the Jira client
// used (held in the token cache, never handed out): an opaque bearer.
const userTokenPlaceholder = "user-access-token-from-the-jwt-bearer-grant"

// forgeContext fills the explainer's Forge fields for a Forge tenant.
func (p *Panel) forgeContext(ctx context.Context, t *tenant.Tenant, ec *explain.Context) {
	if !t.Forge() {
		return
	}
	ec.Path, ec.ForgeAppID, ec.GrantedScopes = explain.PathForge, t.ForgeAppID, t.OAuthScopes
	// Gateway calls carry OAuth scopes; the (linked) Connect tenant's
	// scopes and ACT_AS_USER do not govern them.
	ec.DeclaredScopes = nil
	if p.ForgeExplain != nil {
		p.ForgeExplain(ctx, ec)
	}
}

// forgeTokenPlaceholder stands for the Forge OAuth token of a check made on
// the Forge Remote path (held by the app, never handed out).
const forgeTokenPlaceholder = "forge-oauth-token"

// store records a check in the history (best effort: the answer is still
// returned when the database is down, with stored=false).
func (p *Panel) store(ctx context.Context, v *tenant.Viewer, res *CheckResult) {
	row := &storage.CheckRow{
		ClientKey: v.Tenant.ClientKey, AccountID: v.AccountID, Identity: res.Request.As, Method: res.Request.Method,
		Path: res.Request.Path, Status: res.Response.Status, DurationMs: res.Response.DurationMs,
		Outcome: string(res.Preflight.Outcome), Summary: res.Diagnosis.Summary,
	}
	if top, ok := res.Diagnosis.Top(); ok {
		row.Cause = top.Code
	}
	row.ID = storage.NewID(p.Now())
	res.ID = row.ID
	res.Stored = true
	raw, err := json.Marshal(res)
	if err == nil {
		row.Result = string(raw)
		RedactRow(p.redactor, row)
		err = p.History.Add(ctx, row)
	}
	if err != nil {
		p.Logger.Warn("check not stored in history", "client_key", v.Tenant.ClientKey, "error", err.Error())
		res.Stored = false
	}
}

// trimBody returns at most n bytes of b as text, cut on a rune boundary.
func trimBody(b []byte, n int) (string, bool) {
	if len(b) <= n {
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	// Back up to the start of the rune that the cut would split.
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(b[n]); i++ {
		n--
	}
	cut := b[:n]
	return strings.ToValidUTF8(string(cut), "\uFFFD"), true
}

func pickHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range shownHeaders {
		if v := h.Values(k); len(v) > 0 {
			out[k] = truncate(strings.Join(v, ", "), 512)
		}
	}
	return out
}

// JiraCaller adapts *jira.Client to Caller.
type JiraCaller struct{ Client *jira.Client }

// Call sends the check as the app or as accountID.
func (j JiraCaller) Call(ctx context.Context, t *tenant.Tenant, as preflight.Identity, accountID, method, path string, body []byte) (*jira.Response, error) {
	d := j.Client.AsApp(t)
	if as == preflight.User {
		d = j.Client.AsUser(t, accountID)
	}
	return d.Call(ctx, method, path, body)
}
