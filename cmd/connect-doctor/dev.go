package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/forge/customui"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
)

// devPort is dev's default port: $PORT when set (0 picks a free one, as
// --port 0 does), else 8080.
func devPort(env string) (int, error) {
	if env == "" {
		return config.DefaultPort, nil
	}
	p, err := strconv.Atoi(env)
	if err != nil || p < 0 || p > 65535 {
		return 0, fmt.Errorf("PORT=%q: must be a port number between 0 and 65535 (0 picks a free one; unset it for %d)", env, config.DefaultPort)
	}
	return p, nil
}

// runDev starts the app on SQLite and an in-process Jira simulator, installs
// the app into the simulated site and prints where to open its admin panel.
// With --forge it also runs the simulated Forge platform for the same site
// (JWKS host, api.atlassian.com gateway, invoker), delivers the Forge
// installed event for the Connect installation's installationId (so the two
// are linked into one tenant) and prints how to call the panel API the way
// requestRemote and invokeRemote do.
func runDev(args []string, io stdio) int {
	fs := cmdFlags("dev")
	defPort, err := devPort(io.getenv("PORT"))
	if err != nil {
		return usageError(io, fs, err)
	}
	port := fs.Int("port", defPort, "app port, $PORT when set (0 picks a free one)")
	simPort := fs.Int("sim-port", 0, "simulated Jira site port (0 picks a free one)")
	seed := fs.Int64("seed", 1, "simulator seed (same ids and clientKey every run)")
	withForge := fs.Bool("forge", false, "also run the Forge Remote path: simulated JWKS host, API gateway and Forge invoker")
	if err := parseNoArgs(fs, args); err != nil {
		return usageError(io, fs, err)
	}
	ctx := io.ctx
	if ctx == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(io.err, "connect-doctor dev: cannot listen on port %d: %v (try --port 0)\n", *port, err)
		return 1
	}
	appPort := ln.Addr().(*net.TCPAddr).Port
	base := fmt.Sprintf("http://127.0.0.1:%d", appPort)

	sim, err := jirasim.New(jirasim.Options{Seed: *seed, SiteAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(*simPort))})
	if err != nil {
		ln.Close()
		fmt.Fprintln(io.err, "connect-doctor dev: simulator:", err)
		return 1
	}
	defer sim.Close()
	simHost := sim.URL()[len("http://"):]

	env := map[string]string{
		"PORT": strconv.Itoa(appPort), "BASE_URL": base,
		"CONNECT_INSTALL_KEYS_URL": sim.KeyServerURL(), "OAUTH_TOKEN_URL": sim.AuthServerURL(),
		"AP_JS_URL": sim.URL() + "/atlassian-connect/all.js", "ALLOWED_HOSTS": simHost,
	}
	var site *forgesim.Site
	if *withForge {
		site = forgesim.NewSite(forgesim.SiteOptions{CloudID: sim.CloudID(), SiteURL: sim.URL(), Seed: *seed})
		defer site.Close()
		env["FORGE_APP_ID"], env["FORGE_JWKS_URL"] = site.AppID(), site.JWKSURL()
		env["FORGE_API_HOSTS"] = strings.TrimPrefix(site.Gateway().URL(), "http://")
		env["FORGE_ALLOWED_ENVIRONMENTS"], env["FORGE_ALLOW_STAGING"] = "PRODUCTION", ""
	}
	getenv := func(k string) string {
		if k == "DATABASE_URL" || k == "ENCRYPTION_KEY" {
			return "" // dev mode always uses SQLite under DATA_DIR
		}
		if v, ok := env[k]; ok {
			return v
		}
		return io.getenv(k)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		ln.Close()
		fmt.Fprintln(io.err, "connect-doctor dev: invalid configuration:\n", err)
		return 2
	}
	log := newLogger(io.err, cfg)
	app, err := app.Build(ctx, cfg, app.BuildOptions{Logger: log, Version: version})
	if err != nil {
		ln.Close()
		log.Error("start-up failed", slog.String("error", err.Error()))
		return 1
	}
	defer app.Close()
	srv := app.HTTPServer(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	inst, err := sim.InstallApp(ictx, base+"/atlassian-connect.json")
	cancel()
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor dev: installing into the simulator failed:", err)
		srv.Close()
		return 1
	}
	module := "connect-doctor-admin"
	if m, ok := app.Server.DescriptorInfo.AdminPage(); ok {
		module = m.Key
	}
	admin, user := sim.User("admin"), sim.User("user")
	fmt.Fprintf(io.out, `
Connect Doctor is running with a simulated Jira Cloud site.

  app                 %s   (SQLite under %s)
  simulated Jira      %s   (clientKey %s)
  installed scopes    %s

Open the admin panel as the site administrator (%s):
  %s

As a regular user (%s), to see the admin-only refusal:
  %s
`, base, cfg.DataDir, sim.URL(), inst.ClientKey, inst.Scopes, admin.DisplayName,
		sim.AdminPageURL(cfg.AppKey, module, admin.AccountID), user.DisplayName,
		sim.AdminPageURL(cfg.AppKey, module, user.AccountID))
	if site != nil {
		host, err := devForge(ctx, io, site, base, cfg.DataDir, inst.InstallationID, admin, user)
		if err != nil {
			fmt.Fprintln(io.err, "connect-doctor dev --forge:", err)
			srv.Close()
			return 1
		}
		defer host.Close()
	}
	fmt.Fprintln(io.out, "\nPress Ctrl-C to stop.")
	if io.ready != nil {
		io.ready <- sim.AdminPageURL(cfg.AppKey, module, admin.AccountID)
	}

	select {
	case err := <-errc:
		if err != nil && err != http.ErrServerClosed {
			log.Error("server failed", slog.String("error", err.Error()))
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	fmt.Fprintln(io.out, "\nStopping the app and the simulated site…")
	sctx, cancel2 := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel2()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintf(io.out, "Stopped, but some requests were cut off (%v). Goodbye.\n", err)
		return 1
	}
	fmt.Fprintf(io.out, "Stopped. The data stays in %s for the next run. Goodbye.\n", cfg.DataDir)
	return 0
}

// devForge installs the app through the simulated Forge platform for the
// Connect installation's installationId (a Forge installed event with the
// system token, as a lifecycle trigger delivers it), starts the simulated
// Jira admin page that embeds the panel as Forge Custom UI (the committed
// bundle, every API call an invokeRemote through the simulated Forge), and
// prints the URLs a person opens. The long material (settings, FITs, curl
// commands calling the panel API as Forge does) goes to a file under
// dataDir, readable by the owner only, whose name is printed. The FITs live
// one hour (real ones live 25 s) so that they can be pasted; they are
// signed by the simulator's key, which only this process trusts. The caller
// closes the returned host.
func devForge(ctx context.Context, io stdio, site *forgesim.Site, base, dataDir, installationID string, admin, user jirasim.User) (*forgesim.CustomUIHost, error) {
	gw := site.Gateway()
	gw.SetAdmin(admin.AccountID, true)
	gw.AddUser(admin.AccountID, admin.DisplayName)
	gw.AddUser(user.AccountID, user.DisplayName)
	gw.Install(forgesim.InstallationSpec{InstallationID: installationID, AppID: site.AppID(), CloudID: site.CloudID(), Scopes: forgesim.DefaultScopes()})
	m := *site.Minter()
	m.InstallationID = installationID
	iv := forgesim.NewInvoker(forgesim.InvokerOptions{Minter: &m, Gateway: gw})
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := iv.Invoke(ictx, base, forgesim.LifecyclePath, forgesim.InvocationSpec{InstallationID: installationID,
		Event: forgesim.InstalledEvent(installationID, site.AppID(), site.CloudID(), site.SiteURL()), WithSystemToken: true})
	if err != nil {
		return nil, fmt.Errorf("Forge installed event: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Forge installed event answered %d", resp.StatusCode)
	}
	// The resolver endpoint of the generated manifest enables both tokens.
	host := forgesim.NewCustomUIHost(forgesim.CustomUIOptions{Site: site, Resource: customui.Resource(), RemoteURL: base,
		SystemToken: true, UserToken: true, InstallationID: installationID})
	uiFIT := func(acc string) string {
		return m.MustMint(forgesim.WithLifetime(time.Hour), forgesim.WithPrincipal(acc),
			forgesim.WithClaim("app.module.type", "jira:adminPage"), forgesim.WithClaim("app.module.key", "doctor-admin"),
			forgesim.WithClaim("context", map[string]any{"cloudId": site.CloudID(), "siteUrl": site.SiteURL(), "moduleKey": "doctor-admin"}))
	}
	sys, _ := gw.SystemToken(installationID)
	usr, _ := gw.UserToken(installationID, admin.AccountID)
	check := `{"method":"GET","path":"/rest/api/3/myself","as":"user"}`
	var long strings.Builder
	fmt.Fprintf(&long, `Connect Doctor dev --forge: settings and commands (the tokens below are valid for one hour).

Forge Remote (simulated Forge platform for the same site):

  FORGE_APP_ID        %s
  FORGE_JWKS_URL      %s
  FORGE_API_HOSTS     %s   (the simulated api.atlassian.com)
  installation        %s
                      installed via POST %s/forge/lifecycle, linked to the Connect tenant above

Open the panel as Forge Custom UI (the simulated Jira admin page; every call is an invokeRemote):
  as %s: %s
  as %s: %s

requestRemote as %s (FIT only, no OAuth headers; checks as a user use an offline token):
  curl -s -H 'Authorization: Bearer %s' %s/forge/api/installation

invokeRemote as %s (FIT + x-forge-oauth-system + x-forge-oauth-user):
  curl -s -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer %s' -H 'x-forge-oauth-system: %s' -H 'x-forge-oauth-user: %s' -d '%s' %s/forge/api/checks

requestRemote as %s (not a Jira administrator):
  curl -s -H 'Authorization: Bearer %s' %s/forge/api/checks

The FITs above are valid for one hour; the same JSON API answers at /api/… for the Connect iframe.
`, site.AppID(), site.JWKSURL(), strings.TrimPrefix(gw.URL(), "http://"), installationID, base,
		admin.DisplayName, host.AdminPageURL(admin.AccountID), user.DisplayName, host.AdminPageURL(user.AccountID),
		admin.DisplayName, uiFIT(admin.AccountID), base,
		admin.DisplayName, uiFIT(admin.AccountID), sys, usr, check, base,
		user.DisplayName, uiFIT(user.AccountID), base)
	file := filepath.Join(dataDir, "dev-forge.txt")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, []byte(long.String()), 0o600); err != nil {
		host.Close()
		return nil, fmt.Errorf("writing %s: %w", file, err)
	}
	fmt.Fprintf(io.out, `
Forge Remote, simulated for the same site (installation %s, linked to the tenant above).
Open the panel as Forge Custom UI (every call is an invokeRemote):
  as %s: %s
  as %s: %s

Settings, tokens and curl commands for the panel API as requestRemote and invokeRemote:
  %s
`, installationID, admin.DisplayName, host.AdminPageURL(admin.AccountID), user.DisplayName, host.AdminPageURL(user.AccountID), file)
	return host, nil
}
