// Package explain is the diagnosis engine of Connect Doctor: given an HTTP
// request, the response it got (typically a 401 or 403 from Jira) and what
// the app knows about the tenant, it names the most likely causes, ranked,
// each with the evidence that points to it and a concrete fix.
//
// The engine is pure and deterministic: it does no I/O, reads no clock (the
// caller passes Context.Now) and never trusts a token it decodes. It works
// for Connect JWTs, user-impersonation tokens, OAuth 2.0 bearer tokens, API
// tokens (Basic), and for answers produced by something other than Jira
// (firewalls, CDNs, proxies, caches, other APIs).
//
// On the Forge Remote path (Context.Path, ForgeAppID, ForgeInvocation, or a
// Forge Invocation Token on a request to the remote) it explains both sides:
// a remote refusing a FIT (the fit_* codes, identical to the forge package's
// error codes) and the app's product calls through api.atlassian.com with
// Forge OAuth tokens (token absent or expired, 401 "scope does not match",
// 403 "missing scope grants" with the smallest permissions.scopes addition
// computed from the catalog's classic and granular scopes, a token sent to
// the site URL, Connect scopes on a Forge path). CODES.md lists every code.
package explain

import (
	"net/http"
	"time"

	"github.com/connect-doctor/connect-doctor/explain/knowledge"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

// Request is the request that was sent. URL may be absolute
// ("https://x.atlassian.net/rest/api/3/myself") or a path with query.
type Request struct {
	Method  string      `json:"method"`
	URL     string      `json:"url"`
	Header  http.Header `json:"header,omitempty"`
	HasBody bool        `json:"hasBody,omitempty"`
	// Body is the request body when it is known (a token endpoint's form,
	// a HAR's postData); the engine reads credentials from it (a JWT-bearer
	// assertion) and never prints it whole.
	Body []byte `json:"-"`
}

// Response is the answer that came back. Status 0 means no answer (see
// Context.NetworkErr).
type Response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
	// Redirects lists the responses that preceded this one when the client
	// followed redirects (curl -iL), oldest first.
	Redirects []Redirect `json:"redirects,omitempty"`
}

// Redirect is one intermediate 3xx answer.
type Redirect struct {
	Status   int    `json:"status"`
	Location string `json:"location,omitempty"`
}

// Context is what the app (or the CLI user) knows beyond the exchange
// itself. Every field is optional; the more is known, the sharper the
// diagnosis.
type Context struct {
	TenantBaseURL  string    // the tenant's baseUrl (never the displayUrl)
	DeclaredScopes scope.Set // scopes of the installed descriptor; nil = unknown
	AppKey         string
	ClientKey      string
	SharedSecret   string
	// PreviousSecrets are secrets the tenant had before a reinstall; a token
	// that verifies with one of them proves shared_secret_stale.
	PreviousSecrets []string
	// Identity is who the request acts as: "app" (Connect JWT), "user"
	// (user impersonation through the JWT-bearer grant) or "" (unknown).
	Identity string
	// TenantState is the app's record of the installation: "installed",
	// "disabled", "uninstalled" or "" (unknown).
	TenantState string
	// Now is the caller's clock. The engine never reads the clock itself:
	// with a zero Now it judges token times against the response's Date
	// header only, or not at all.
	Now         time.Time
	Preflight   *preflight.Result
	ExchangeErr error // the token exchange failure, if any
	NetworkErr  error // transport failure: the verdict is "network"
	// ResponseOnly: the input held only a response (a pasted curl -i), so
	// nothing is known about the request: the engine never concludes that
	// no credentials were sent, and says what the request would tell.
	ResponseOnly bool

	// Forge Remote and OAuth 2.0 (forge.md §1, §3). All optional; unset,
	// the engine behaves as before.

	// Path is the protocol the exchange belongs to: PathConnect, PathForge
	// or "" (inferred: a FIT, ForgeAppID or ForgeInvocation means Forge).
	// On the Forge path the Forge and OAuth 2.0 causes lead over the
	// generic ones.
	Path string
	// ForgeAppID is the backend's FORGE_APP_ID (ARI or bare UUID).
	ForgeAppID string
	// ForgeEnvironments are the app.environment types (or environment
	// ARIs) the backend accepts; empty means PRODUCTION.
	ForgeEnvironments []string
	// ForgeKIDs are the key ids of the key set the backend trusts, when
	// known; a FIT signed under another kid is fit_unknown_kid.
	ForgeKIDs []string
	// ForgeJWKSURL is the key set the backend trusts (FORGE_JWKS_URL), for
	// evidence.
	ForgeJWKSURL string
	// GrantedScopes are the installed manifest's permissions.scopes (what
	// the Forge installation was granted); nil = unknown.
	GrantedScopes []string
	// ForgeInvocation holds the headers Forge sent to the remote for the
	// call that led to this product request (Authorization: Bearer <FIT>,
	// x-forge-oauth-system, x-forge-oauth-user), so the engine can tell
	// which tokens Forge delivered and to what kind of call.
	ForgeInvocation http.Header
	// ForgeCall is the kind of Forge call that led here when known:
	// ForgeCallUI, ForgeCallTrigger, ForgeCallScheduled,
	// ForgeCallRequestRemote or ForgeCallFunction.
	ForgeCall string
}

// Paths (Context.Path).
const (
	PathConnect = "connect"
	PathForge   = "forge"
)

// Forge call kinds (Context.ForgeCall).
const (
	ForgeCallUI            = "ui"            // frontend invokeRemote through Forge
	ForgeCallTrigger       = "trigger"       // product or lifecycle event trigger
	ForgeCallScheduled     = "scheduled"     // scheduledTrigger
	ForgeCallRequestRemote = "requestRemote" // @forge/bridge requestRemote (browser → remote)
	ForgeCallFunction      = "function"      // a Forge function's invokeRemote
)

// Identities.
const (
	IdentityApp  = "app"
	IdentityUser = "user"
)

// Input is one exchange to diagnose.
type Input struct {
	Request  Request
	Response Response
	Context  Context
}

// Cause is one candidate explanation. Confidence is the engine's estimate
// (0–1) that this is the reason for the response; it reflects the strength
// of the evidence, so status-only inferences stay well below direct proof.
type Cause struct {
	Code       string   `json:"code"`
	Confidence float64  `json:"confidence"`
	Title      string   `json:"title"`
	Evidence   []string `json:"evidence"`
	Fix        string   `json:"fix"`
	// Strength is the class of the strongest evidence: decisive (the
	// service's own error text or code, a recomputed qsh or signature),
	// strong (a specific header or fact of the exchange) or weak (a
	// heuristic, a status alone).
	Strength string `json:"strength,omitempty"`
	// Unconfirmed marks a generic explanation nothing specific confirms;
	// Collect then says what would decide it.
	Unconfirmed bool   `json:"unconfirmed,omitempty"`
	Collect     string `json:"collect,omitempty"`
}

// Diagnosis is the engine's answer. Causes are ranked, most likely first.
type Diagnosis struct {
	Status   int                `json:"status"`
	Verdict  string             `json:"verdict"`
	Summary  string             `json:"summary"`
	Request  string             `json:"request,omitempty"` // "GET /rest/api/3/myself"
	Causes   []Cause            `json:"causes"`
	Endpoint *catalog.Operation `json:"endpoint,omitempty"`
	Token    *TokenReport       `json:"token,omitempty"`
	// Notes are observations that are not causes (who answered, the
	// assumptions the engine made, what it could not check).
	Notes []string `json:"notes,omitempty"`
}

// Top returns the leading cause, if any.
func (d Diagnosis) Top() (Cause, bool) {
	if len(d.Causes) == 0 {
		return Cause{}, false
	}
	return d.Causes[0], true
}

// Engine diagnoses exchanges against an endpoint catalog. It is immutable
// and safe for concurrent use.
type Engine struct {
	cat *catalog.Catalog
	kb  *knowledge.Base
}

// New returns an engine using c to identify endpoints (a nil catalog means
// every endpoint is unknown) and the embedded service knowledge. The
// embedded rule files are validated by the package's tests; New panics if
// they do not load, as regexp.MustCompile does.
func New(c *catalog.Catalog) *Engine {
	kb, err := knowledge.Default(func(code string) bool { _, ok := LookupCode(code); return ok })
	if err != nil {
		panic("explain: embedded service knowledge: " + err.Error())
	}
	return &Engine{cat: c, kb: kb}
}

// NewWithKnowledge returns an engine using the given service knowledge.
func NewWithKnowledge(c *catalog.Catalog, kb *knowledge.Base) *Engine {
	return &Engine{cat: c, kb: kb}
}
