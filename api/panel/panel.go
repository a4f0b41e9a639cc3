// Package panel is Connect Doctor's admin panel inside Jira: the adminPages
// page (/admin, verified with the page's request token), its embedded
// static assets, and the JSON API the page calls with context tokens
// (/api/installation, /api/endpoints, /api/checks, /api/explain,
// /api/scopes/advice). The tenant always comes from the verified token.
// Checks as the app, installation details and the history are reserved to
// viewers holding Jira's Administer Jira global permission, which is asked
// of Jira itself (POST /rest/api/3/permissions/check as the app, cached by
// the Jira client).
package panel

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/explain/preflight"
	"github.com/connect-doctor/connect-doctor/internal/redact"
	"github.com/connect-doctor/connect-doctor/internal/ttlcache"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// Router is what the panel needs from the HTTP server: route groups under
// the app's base path and the two token checks. *api.Server implements it.
type Router interface {
	Group(path string, h ...gin.HandlerFunc) *gin.RouterGroup
	ContextAuth() gin.HandlerFunc
	PageAuth() gin.HandlerFunc
}

// Caller performs a check against the tenant's Jira as the app or as a
// user. JiraCaller adapts *jira.Client.
type Caller interface {
	Call(ctx context.Context, t *tenant.Tenant, as preflight.Identity, accountID, method, path string, body []byte) (*jira.Response, error)
}

// AdminChecker asks Jira which global permissions a user holds.
// *jira.Client implements it (and caches the answers).
type AdminChecker interface {
	CheckPermissions(ctx context.Context, t *tenant.Tenant, accountID string, global ...string) (map[string]bool, error)
}

// History stores checks. *storage.CheckStore implements it.
type History interface {
	Add(ctx context.Context, row *storage.CheckRow) error
	List(ctx context.Context, clientKey string, limit int, cursor string) ([]storage.CheckRow, string, error)
	Get(ctx context.Context, clientKey, id string) (*storage.CheckRow, error)
}

// Deps are the panel's collaborators and settings.
type Deps struct {
	Catalog *catalog.Catalog
	Engine  *explain.Engine
	Jira    Caller
	Admin   AdminChecker
	History History
	// Viewer returns the tenant and account of an authenticated request
	// (default api.Viewer: the Connect token's, or the one a Forge route
	// recorded with api.SetViewer).
	Viewer  func(*gin.Context) *tenant.Viewer
	AppKey  string
	Version string
	APJSURL string // all.js: Atlassian's CDN or the simulator's bridge
	Logger  *slog.Logger
	Now     func() time.Time
	// ChecksPerMinute is the ceiling on POST /api/checks per (tenant,
	// identity), over all accounts.
	ChecksPerMinute int
	// AccountChecksPerMinute is the limit per (tenant, identity, account),
	// under the ceiling (default: a third of ChecksPerMinute, at least 1),
	// so that one user cannot spend a site's budget.
	AccountChecksPerMinute int
	// CheckTimeout bounds one check (default 30 s).
	CheckTimeout time.Duration
	// AdminTimeout bounds the admin permission probe and the display
	// name lookup (default 10 s).
	AdminTimeout time.Duration
	// NameTTL is how long a viewer's display name (Jira's user API) is
	// kept (default DefaultNameTTL, 10 minutes).
	NameTTL time.Duration
	// OnDiagnosis, when set, is told every diagnosis the panel produces
	// (for metrics).
	OnDiagnosis func(explain.Diagnosis)
	// ForgeExplain, when set, adds what the Forge Remote request knows
	// (the invocation's headers, the kind of call) to the explainer's
	// context for a Forge tenant (api/forgeapi).
	ForgeExplain func(ctx context.Context, ec *explain.Context)
	// Quota, when set, serves GET /api/quota (the tenant's rate-limit state).
	Quota QuotaSource
	// AllowedHosts (ALLOWED_HOSTS) re-checks the stored baseUrl and
	// displayUrl before they go into the page's frame-ancestors; nil
	// checks only that each is a plain origin.
	AllowedHosts []config.HostPattern
}

// Panel serves the admin page and its API.
type Panel struct {
	Deps
	assets  *assets
	limiter *checkBudget
	counts  scopeCounts
	pages   *ttlcache.Cache[pageKey, *renderedPage] // rendered pages by base path, view and site
	// installations holds encoded GET /api/installation answers by tenant
	// record and viewer: the answer is a pure function of both.
	installations *ttlcache.Cache[installationKey, []byte]
	gzip          *compressor
	redactor      *redact.Redactor // personal data out of stored checks
	names         *names           // viewers' display names
	// tenantOf is the viewer's tenant for routes that need nothing else
	// (the page): without an injected Viewer it reads the request's context
	// and builds no Viewer.
	tenantOf func(*gin.Context) *tenant.Tenant
}

// Limits of the API.
const (
	MaxAPIBody       = 256 << 10 // any /api request
	MaxCheckBody     = 64 << 10  // the JSON body a check sends to Jira
	MaxResponseShown = 16 << 10  // response body bytes returned and stored
	MaxPathLength    = jira.MaxPathLength
	MaxAdviceOps     = 500
	DefaultPageSize  = 50
	MaxPageSize      = 200
)

// New builds the panel.
func New(d Deps) (*Panel, error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	tenantOf := api.ViewerTenant
	if d.Viewer == nil {
		d.Viewer = api.Viewer
	} else {
		viewer := d.Viewer
		tenantOf = func(c *gin.Context) *tenant.Tenant {
			if v := viewer(c); v != nil {
				return v.Tenant
			}
			return nil
		}
	}
	if d.Catalog == nil {
		d.Catalog = catalog.Default()
	}
	if d.OnDiagnosis == nil {
		d.OnDiagnosis = func(explain.Diagnosis) {}
	}
	if d.Engine == nil {
		d.Engine = explain.New(d.Catalog)
	}
	if d.ChecksPerMinute < 1 {
		d.ChecksPerMinute = 60
	}
	if d.AccountChecksPerMinute < 1 {
		d.AccountChecksPerMinute = max(1, d.ChecksPerMinute/3)
	}
	if d.CheckTimeout <= 0 {
		d.CheckTimeout = 30 * time.Second
	}
	if d.AdminTimeout <= 0 {
		d.AdminTimeout = 10 * time.Second
	}
	if d.NameTTL <= 0 {
		d.NameTTL = DefaultNameTTL
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	pages := ttlcache.New[pageKey, *renderedPage](ttlcache.Options{Size: 4096})
	installations := ttlcache.New[installationKey, []byte](ttlcache.Options{Size: 4096})
	return &Panel{tenantOf: tenantOf, names: newNames(d.Jira, d.Now, d.NameTTL), redactor: redact.New(), pages: pages, installations: installations, gzip: newCompressor(), Deps: d, assets: a,
		limiter: newCheckBudget(d.AccountChecksPerMinute, d.ChecksPerMinute, 10000), counts: countScopes(d.Catalog)}, nil
}

// Register mounts the page, the static assets and the API on r.
func (p *Panel) Register(r Router) {
	r.Group("/static").GET("/:name", p.static)
	r.Group("", LimitBody(64<<10), r.PageAuth()).GET("/admin", p.page)

	// RegisterAPI adds the body limit and no-store itself.
	p.RegisterAPI(r.Group("/api", r.ContextAuth()))
}

// RegisterAPI mounts the JSON API on g, whose middleware must have
// authenticated the request so that Deps.Viewer finds the tenant: the
// Connect context-token group above, or the Forge Remote group under
// /forge/api with FIT authentication (package api/forgeapi). The handlers
// and their JSON are the same for both.
func (p *Panel) RegisterAPI(g *gin.RouterGroup) {
	g.Use(LimitBody(MaxAPIBody), noStore)
	g.GET("/installation", p.installation)
	g.GET("/endpoints", p.endpoints)
	g.GET("/endpoints/:operationId", p.endpoint)
	g.POST("/checks", p.runCheck)
	g.GET("/checks", p.listChecks)
	g.GET("/checks/:id", p.getCheck)
	g.POST("/explain", p.explain)
	g.POST("/scopes/advice", p.advice)
	g.GET("/quota", p.quota)
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// LimitBody caps request bodies at n bytes: a declared Content-Length over
// n is answered 413 body_too_large at once, and reading past n fails (the
// handlers answer 413). Requests without a body pass untouched. The panel
// and the Forge routes (api/forgeapi) use it.
func LimitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			httperr.Abort(c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The request body exceeds %d bytes.", n), "Send a smaller body.")
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody { // a GET has nothing to cap
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}
