package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	connectdoctor "github.com/connect-doctor/connect-doctor"
	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/internal/redact"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/storage"
)

// App is a fully wired Connect Doctor instance: database, stores,
// verifiers and HTTP server. cmd/connect-doctor, the dev mode and the
// end-to-end tests build it the same way.
type App struct {
	Config  *config.Config
	DB      *storage.DB
	Store   *storage.TenantStore
	Tenants *storage.TenantCache
	Keys    *connect.InstallKeys
	Server  *api.Server
	Logger  *slog.Logger
	// The admin panel's collaborators.
	Catalog *catalog.Catalog
	Checks  *storage.CheckStore
	Tokens  *oauth.Cache
	Jira    *jira.Client
	Panel   *panel.Panel
	// Forge Remote (nil when FORGE_APP_ID is unset).
	Forge      *forgeapi.Server
	ForgeStore *storage.ForgeStore
	// RateLimits is the rate-limit gate of every Jira call (pauses, budget).
	RateLimits *jira.Limiter
	stop       context.CancelFunc
}

// BuildOptions are the process-level inputs besides the configuration.
type BuildOptions struct {
	Logger  *slog.Logger
	Version string
	Now     func() time.Time
	// HTTPClient is used for outgoing calls (install keys). nil: default.
	HTTPClient *http.Client
	// Migrate applies pending migrations at start-up. SQLite dev mode
	// always migrates; PostgreSQL expects `connect-doctor migrate`.
	Migrate bool
}

// ErrSchemaOutdated means the database has pending migrations; Build's
// error wraps it with the versions and the two ways to apply them.
var ErrSchemaOutdated = errors.New("database schema is not up to date")

// Build wires an App from the configuration.
func Build(ctx context.Context, cfg *config.Config, o BuildOptions) (*App, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	raw, desc, err := connect.RenderDescriptor(connectdoctor.DescriptorTemplate(), connect.DescriptorSettings{
		BaseURL: cfg.BaseURL, Key: cfg.AppKey, Scopes: cfg.Scopes,
	})
	if err != nil {
		return nil, err
	}
	db, err := storage.Open(ctx, storage.OpenOptions{DatabaseURL: cfg.DatabaseURL, SQLitePath: filepath.Join(cfg.DataDir, "connect-doctor.db"), Logger: log})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*App, error) { db.Close(); return nil, err }
	if db.Dialect == storage.SQLite || o.Migrate {
		if applied, err := db.Migrate(ctx); err != nil {
			return fail(err)
		} else if len(applied) > 0 {
			log.Info("migrations applied", slog.Any("versions", applied))
		}
	}
	if current, pending, err := db.SchemaVersion(ctx); err != nil {
		return fail(fmt.Errorf("reading schema version: %w", err))
	} else if pending {
		return fail(fmt.Errorf("%w (at version %d, migrations pending): apply them with `connect-doctor migrate`, or start with `connect-doctor serve --migrate`", ErrSchemaOutdated, current))
	}
	key := cfg.EncryptionKey
	if key == nil {
		k, created, err := storage.DevEncryptionKey(cfg.DataDir)
		if err != nil {
			return fail(fmt.Errorf("dev encryption key: %w", err))
		}
		if created {
			log.Warn("ENCRYPTION_KEY is not set: generated a development key; set ENCRYPTION_KEY in production",
				slog.String("file", filepath.Join(cfg.DataDir, "encryption.key")))
		}
		key = k
	}
	sealer, err := storage.NewSealer(key, cfg.PreviousKeys...)
	if err != nil {
		return fail(err)
	}
	store := storage.NewTenantStore(db, sealer, o.Now)
	// Tenants are cached for a minute: writes evict them at once (locally,
	// and on PostgreSQL through pg_notify on every instance), and a bad
	// signature forces a fresh read, so the TTL only bounds how long a
	// missed notification (a lost LISTEN connection) can matter.
	cache := storage.NewTenantCache(store, 10000, time.Minute)
	keys := connect.NewInstallKeys(connect.InstallKeysOptions{BaseURL: cfg.InstallKeysURL, HTTPClient: o.HTTPClient})
	cat := catalog.Default()
	if cfg.CatalogFile != "" {
		if cat, err = catalog.LoadFile(cfg.CatalogFile); err != nil {
			return fail(fmt.Errorf("CATALOG_FILE: %w", err))
		}
	}
	// A user call waits for the token exchange: fail fast (5 s) when the
	// authorization server hangs rather than holding the request.
	tokens := oauth.NewCache(&oauth.Exchanger{HTTP: o.HTTPClient, TokenURL: cfg.OAuthTokenURL, Now: o.Now, Timeout: 5 * time.Second},
		oauth.CacheOptions{Now: o.Now, ExchangeTimeout: 5 * time.Second})
	om := newOutgoingMetrics(tokens)
	var base http.RoundTripper
	if o.HTTPClient != nil {
		base = o.HTTPClient.Transport
	}
	// Forge Remote: two FIT verifiers sharing one key set cache. Events
	// and triggers get a fresh FIT per delivery, so their jti must not
	// repeat (replay cache); requestRemote FITs are cached and reused by
	// the browser, so /forge/api accepts a repeated jti until exp.
	var fitAPI, fitEvents *forge.Verifier
	var forgeCheck func(string) error
	if cfg.ForgeEnabled {
		fc := cfg.Forge
		fc.Now, fc.HTTPClient = o.Now, o.HTTPClient
		fc.KeySets = forge.NewKeySets(forge.KeySetOptions{HTTPClient: o.HTTPClient, Now: o.Now})
		if fitAPI, err = forge.NewVerifier(fc); err != nil {
			return fail(fmt.Errorf("forge: %w", err))
		}
		fc.ReplayCache = true
		if fitEvents, err = forge.NewVerifier(fc); err != nil {
			return fail(fmt.Errorf("forge: %w", err))
		}
		forgeCheck = fitAPI.CheckAPIBaseURL
	}
	// The rate-limit gate (issue 17): pauses by RateLimit-Reason and the
	// points budget, shared with every instance through the database.
	rm := newRateMetrics()
	rates := storage.NewRateStore(db, o.Now)
	rl := cfg.RateLimits
	limiter := jira.NewLimiter(jira.LimiterOptions{Now: o.Now, Store: rates, Observer: rm,
		Budget: jira.NewBudget(jira.BudgetOptions{Store: rates, Now: o.Now, Points: rl.PoolPoints,
			Policy:   jira.SharePolicy{FirstCome: rl.Share == "first-come", NoBorrow: rl.Share == "equal", LendAhead: rl.Share == "lend-ahead"},
			LeaseMax: rl.LeaseMax, LeaseSpan: rl.LeaseSpan, LeaseIdle: rl.LeaseIdle, Tier2: rl.Tier == 2})})
	jiraOpts := jira.Options{HTTP: &http.Client{Transport: om.transport(base)}, AppKey: cfg.AppKey, Version: o.Version, Tokens: tokens, Now: o.Now, Logger: log,
		PermissionTTL: time.Minute, ForgeBaseCheck: forgeCheck, RateLimit: limiter}
	jc := jira.New(jiraOpts)
	// Checks show what Jira answered first: no retries.
	checkOpts := jiraOpts
	checkOpts.Retry = jira.RetryPolicy{MaxAttempts: 1}
	checker := jira.New(checkOpts)
	invalidate := func(clientKey string) {
		cache.Invalidate(clientKey)
		tokens.EvictTenant(clientKey)
		jc.ForgetPermissions(clientKey)
	}
	checks := storage.NewCheckStore(db, cfg.CheckHistoryLimit, o.Now)
	ledger := storage.NewTokenLedger(db, o.Now)
	srv := api.New(api.Deps{
		Descriptor: raw, DescriptorInfo: desc, Store: store, Invalidate: invalidate, DB: db, TrustedProxies: cfg.TrustedProxies,
		InstallVerifier: connect.NewInstallVerifier(keys, connect.InstallVerifierOptions{BaseURL: cfg.BaseURL, Now: o.Now}),
		UsedTokens:      ledger,
		RequestVerifier: connect.NewRequestVerifier(cache, connect.RequestVerifierOptions{AppKey: cfg.AppKey, BasePath: connect.BasePath(cfg.BaseURL), Now: o.Now}),
		AllowedHosts:    cfg.AllowedHosts, Logger: log, Now: o.Now, Version: o.Version, APJSURL: cfg.APJSURL,
		MetricsToken: cfg.MetricsToken,
	})
	var caller panel.Caller = panel.JiraCaller{Client: checker}
	var admin panel.AdminChecker = jc
	var fapi *forgeapi.Server
	var fstore *storage.ForgeStore
	var forgeExplain func(context.Context, *explain.Context)
	if cfg.ForgeEnabled {
		fstore = storage.NewForgeStore(db, sealer, o.Now)
		fapi = forgeapi.New(forgeapi.Deps{Verifier: fitAPI, EventVerifier: fitEvents, Store: fstore, Events: store, Admin: jc,
			Offline:    forge.NewOfflineTokens(forge.OfflineOptions{HTTPClient: o.HTTPClient, Now: o.Now}),
			Invalidate: invalidate, Logger: log, Now: o.Now, ConnectAdmin: jc, ConnectTenant: store.Get,
			License: cfg.ForgeLicense, PreUninstallTimeout: cfg.ForgePreUninstallTimeout, UsedTokens: ledger,
			ConnectKey: cfg.AppKey})
		// The panel's handlers serve both protocols: on /forge/api the
		// viewer (tenant.Viewer, read with api.Viewer) comes from the FIT
		// and Jira is called through the gateway.
		caller = forgeapi.Caller{Connect: caller, Forge: fapi, Client: checker}
		admin = forgeapi.AdminChecker{Connect: jc, Forge: fapi}
		forgeExplain = fapi.ExplainContext
	}
	pn, err := panel.New(panel.Deps{
		Catalog: cat, Engine: explain.New(cat), Jira: caller, Admin: admin, History: checks,
		AppKey: cfg.AppKey, Version: o.Version, APJSURL: cfg.APJSURL, Logger: log, Now: o.Now,
		ChecksPerMinute: cfg.ChecksPerMinute, AccountChecksPerMinute: cfg.AccountChecksPerMinute, OnDiagnosis: om.diagnosis, ForgeExplain: forgeExplain, Quota: limiter,
		AllowedHosts: cfg.AllowedHosts,
	})
	if err != nil {
		return fail(fmt.Errorf("admin panel: %w", err))
	}
	pn.Register(srv)
	if fapi != nil {
		fapi.Register(srv, pn)
	}
	srv.Registerer().MustRegister(om.collectors()...)
	srv.Registerer().MustRegister(rm.limited, rm.refused)
	app := &App{Config: cfg, DB: db, Store: store, Tenants: cache, Keys: keys, Server: srv, Logger: log, stop: func() {},
		Catalog: cat, Checks: checks, Tokens: tokens, Jira: jc, Panel: pn, Forge: fapi, ForgeStore: fstore}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	app.stop = cancel
	if db.Dialect == storage.Postgres {
		// Other instances sharing the database announce tenant writes;
		// drop our cached copies (tenant, user tokens, permissions) when
		// they do.
		go storage.ListenTenantChanges(bg, cfg.DatabaseURL, tenantInvalidator{invalidate, cache.Purge}, log)
	}
	go purgeLoop(bg, db, ledger, cfg.UninstalledRetention, cfg.LifecycleLogRetention, o.Now, log)
	// Pauses other instances set reach this one within the poll interval,
	// and on PostgreSQL at once by notification.
	go limiter.Run(bg, 250*time.Millisecond)
	if db.Dialect == storage.Postgres {
		go storage.ListenRatePauses(bg, cfg.DatabaseURL, func() { _ = limiter.Sync(bg) }, log)
	}
	app.RateLimits = limiter
	// Rows stored by older versions held Jira's answers with personal
	// fields: bring them to the current rule (idempotent, once per start).
	go func() {
		rd := redact.New()
		n, err := checks.Rewrite(bg, func(r *storage.CheckRow) bool { return panel.RedactRow(rd, r) })
		switch {
		case err != nil && bg.Err() == nil:
			log.Warn("redacting stored checks failed", slog.String("error", err.Error()))
		case n > 0:
			log.Info("redacted personal data in stored checks", slog.Int("rows", n))
		}
	}()
	return app, nil
}

// tenantInvalidator adapts the app's invalidation to storage.Invalidator.
type tenantInvalidator struct {
	one func(clientKey string)
	all func()
}

func (t tenantInvalidator) Invalidate(clientKey string) { t.one(clientKey) }
func (t tenantInvalidator) Purge()                      { t.all() }

// purgeLoop deletes, hourly, the check history (personal data) of tenants
// uninstalled for longer than the retention period, lifecycle log rows
// older than theirs, and expired single-use tokens.
func purgeLoop(ctx context.Context, db *storage.DB, ledger *storage.TokenLedger, retention, logRetention time.Duration, now func() time.Time, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if n, err := storage.PruneLifecycleEvents(ctx, db, now().Add(-logRetention)); err != nil && ctx.Err() == nil {
			log.Warn("pruning the lifecycle log failed", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Info("pruned the lifecycle log", slog.Int64("rows", n))
		}
		if _, err := ledger.Prune(ctx, now()); err != nil && ctx.Err() == nil {
			log.Warn("pruning used install tokens failed", slog.String("error", err.Error()))
		}
		n, err := storage.PurgeUninstalled(ctx, db, now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("purging uninstalled tenants' history failed", slog.String("error", err.Error()))
		case n > 0:
			log.Info("purged check history of uninstalled tenants", slog.Int64("rows", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close stops background work and releases the database.
func (a *App) Close() error {
	a.stop()
	return a.DB.Close()
}

// Listener wraps the public listener as `connect-doctor serve` does:
// requests with ambiguous framing (Content-Length with Transfer-Encoding,
// obs-fold…) are refused with 400 and their connection closed.
func (a *App) Listener(ln net.Listener) net.Listener { return api.FramingGuard(ln) }

// MetricsServer returns the *http.Server of the separate metrics listener
// (METRICS_ADDR): GET /metrics only, behind METRICS_TOKEN when it is set.
func (a *App) MetricsServer(addr string) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Server.MetricsHandler())
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 8 << 10}
}

// HTTPServer returns an *http.Server for the app with production timeouts.
func (a *App) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           a.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
