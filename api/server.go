// Package api is Connect Doctor's HTTP layer: the gin router with its
// middleware (request id, structured access log, panic recovery, body
// limits), the descriptor, the Connect lifecycle callbacks, the
// JWT-verified page and API routes, health checks and metrics.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TenantStore is what the lifecycle handlers need from storage.
type TenantStore interface {
	SaveInstall(ctx context.Context, t *tenant.Tenant) error
	SetState(ctx context.Context, clientKey string, state tenant.State) error
	Get(ctx context.Context, clientKey string) (*tenant.Tenant, error)
	LogEvent(ctx context.Context, ev storage.LifecycleEvent) error
}

// TokenLedger remembers single-use tokens until they expire (shared by
// every instance). *storage.TokenLedger implements it.
type TokenLedger interface {
	// Use records a token with its body: first is false for the same
	// token and body again; storage.ErrTokenUsed for another body.
	Use(ctx context.Context, kind, hash, bodyHash string, exp time.Time) (first bool, err error)
	// UseOnce records a token: storage.ErrTokenUsed when it was seen.
	UseOnce(ctx context.Context, kind, hash string, exp time.Time) error
	Release(ctx context.Context, hash string) error
}

// Pinger checks the database for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// InstallVerifier verifies RS256 lifecycle tokens.
type InstallVerifier interface {
	Verify(ctx context.Context, method, requestURI, token, payloadClientKey string) (*connect.Claims, error)
}

// RequestVerifier verifies HS256 request and context tokens.
type RequestVerifier interface {
	Verify(ctx context.Context, method, requestURI, token string, o connect.VerifyOptions) (*connect.Verified, error)
}

// Deps are the collaborators of the server, built by the caller.
type Deps struct {
	Descriptor      []byte // the JSON served at /atlassian-connect.json
	DescriptorInfo  *connect.Descriptor
	Store           TenantStore
	Invalidate      func(clientKey string) // drops a tenant from caches after a write
	DB              Pinger
	InstallVerifier InstallVerifier
	// UsedTokens makes install tokens single use (default: a ledger in
	// memory, for one instance only).
	UsedTokens      TokenLedger
	RequestVerifier RequestVerifier
	AllowedHosts    []config.HostPattern
	Logger          *slog.Logger
	Now             func() time.Time
	Version         string
	APJSURL         string
	// MetricsToken, when set, serves /metrics on the public router behind
	// "Authorization: Bearer <token>". Unset, the public router has no
	// /metrics: the operator serves MetricsHandler on a separate listener
	// (METRICS_ADDR).
	MetricsToken string
	// TrustedProxies (TRUSTED_PROXIES): only a peer in this list may say
	// who the client is (X-Forwarded-For); empty, the TCP peer is the
	// client. The per-source key-fetch limit and logs use that address.
	TrustedProxies []string
}

// Server holds the router and its dependencies.
type Server struct {
	Deps
	appKey   string
	basePath string
	engine   *gin.Engine
	metrics  *metrics
	refusals *sampler
}

// New builds the server and its routes.
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
	s := &Server{Deps: d, appKey: d.DescriptorInfo.Key, basePath: connect.BasePath(d.DescriptorInfo.BaseURL), metrics: newMetrics(),
		refusals: newSampler(d.Now, refusalLogsPerMinute)}
	if s.UsedTokens == nil {
		s.UsedTokens = newMemoryLedger(d.Now)
	}
	e := gin.New()
	// gin believes X-Forwarded-For from every peer by default: anyone could
	// then pick the address the per-source limits count.
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		d.Logger.Error("TRUSTED_PROXIES ignored", slog.String("error", err.Error()))
		_ = e.SetTrustedProxies(nil)
	}
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(withRequestID(), accessLog(d.Logger, s.metrics), recoverJSON(d.Logger), securityHeaders())
	e.NoRoute(func(c *gin.Context) {
		httperr.Abort(c, http.StatusNotFound, "not_found", "No such route.", "The app serves /atlassian-connect.json, the lifecycle callbacks, /admin and /api/….")
	})
	e.NoMethod(func(c *gin.Context) {
		httperr.Abort(c, http.StatusMethodNotAllowed, "method_not_allowed", "This route does not accept "+c.Request.Method+".", "")
	})

	g := e.Group(s.basePath)
	g.GET("/healthz", s.healthz)
	g.GET("/readyz", s.readyz)
	if d.MetricsToken != "" {
		g.GET("/metrics", gin.WrapH(s.MetricsHandler()))
	}
	g.GET("/atlassian-connect.json", s.descriptor)

	// Lifecycle callbacks limit and log their bodies themselves, so that an
	// oversized or unauthenticated attempt is recorded in the event log.
	lc := d.DescriptorInfo.Lifecycle
	g.POST(lc.Installed, s.installed)
	g.POST(lc.Uninstalled, s.uninstalled)
	g.POST(lc.Enabled, s.lifecycleToken(connect.EventEnabled), s.enabledDisabled(connect.EventEnabled))
	g.POST(lc.Disabled, s.lifecycleToken(connect.EventDisabled), s.enabledDisabled(connect.EventDisabled))

	// The admin page (/admin, request tokens) and its API (/api/…, context
	// tokens) are mounted by package api/panel through Group, PageAuth and
	// ContextAuth.
	s.engine = e
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine exposes the gin engine so later features can add routes.
func (s *Server) Engine() *gin.Engine { return s.engine }

// Group returns a router group under the base path with the given
// middleware, for features that mount their own routes.
func (s *Server) Group(path string, h ...gin.HandlerFunc) *gin.RouterGroup {
	return s.engine.Group(s.basePath+path, h...)
}

// ContextAuth is the middleware for context-token API routes.
func (s *Server) ContextAuth() gin.HandlerFunc {
	return s.requireToken(connect.VerifyOptions{Kind: connect.ContextToken})
}

// PageAuth is the middleware for iframe page routes: request tokens whose
// qsh is bound to the request.
func (s *Server) PageAuth() gin.HandlerFunc {
	return s.requireToken(connect.VerifyOptions{Kind: connect.RequestToken})
}

// Registerer lets other components (token cache, Jira client, explainer)
// register their Prometheus collectors with this server's registry.
func (s *Server) Registerer() prometheus.Registerer { return s.metrics.reg }

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": s.Version})
}

func (s *Server) readyz(c *gin.Context) {
	if s.DB == nil {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
		return
	}
	if err := s.DB.Ping(c.Request.Context()); err != nil {
		s.Logger.Warn("readiness: database unreachable", slog.String("error", err.Error()))
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusServiceUnavailable, "database_unavailable", "The database is not reachable.", "Check DATABASE_URL and that PostgreSQL is up.")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) descriptor(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/json; charset=utf-8", s.Descriptor)
}

// requireToken verifies the request's JWT with the route's rules and
// stores the verified tenant in the context.
func (s *Server) requireToken(o connect.VerifyOptions) gin.HandlerFunc {
	return func(c *gin.Context) {
		tok, err := connect.TokenFromRequest(c.Request)
		if err != nil {
			s.abortAuth(c, err)
			return
		}
		v, err := s.RequestVerifier.Verify(c.Request.Context(), c.Request.Method, c.Request.RequestURI, tok, o)
		if err != nil {
			s.abortAuth(c, err)
			return
		}
		c.Set(ctxVerified, v) // the access log reads the clientKey from it
	}
}

// Verified returns the verified token of a request that passed requireToken.
func Verified(c *gin.Context) *connect.Verified {
	v, _ := c.Get(ctxVerified)
	vv, _ := v.(*connect.Verified)
	return vv
}

// Viewer returns the tenant and account of an authenticated request, or
// nil: the one a Forge route set with SetViewer, else the one a Connect
// token named (built on first use, then kept for the request). The admin
// panel's handlers read it and never ask which protocol authenticated the
// request.
func Viewer(c *gin.Context) *tenant.Viewer {
	if v, ok := c.Get(ctxViewer); ok {
		vv, _ := v.(*tenant.Viewer)
		return vv
	}
	cv := Verified(c)
	if cv == nil {
		return nil
	}
	v := &tenant.Viewer{Tenant: cv.Tenant, AccountID: cv.AccountID(), Kind: tenant.Connect}
	c.Set(ctxViewer, v)
	return v
}

// ViewerTenant is Viewer(c).Tenant without building a Viewer: the tenant of
// a request authenticated by a Connect token or set by SetViewer, or nil.
func ViewerTenant(c *gin.Context) *tenant.Tenant {
	if v, ok := c.Get(ctxViewer); ok {
		if vv, _ := v.(*tenant.Viewer); vv != nil {
			return vv.Tenant
		}
		return nil
	}
	if cv := Verified(c); cv != nil {
		return cv.Tenant
	}
	return nil
}

// SetViewer records the viewer of a request authenticated by other means
// than a Connect token (the Forge Remote routes, with a FIT).
func SetViewer(c *gin.Context, v *tenant.Viewer) { c.Set(ctxViewer, v) }
