package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect/jirasim"
)

// runDev starts the app on SQLite and an in-process Jira simulator, installs
// the app into the simulated site and prints where to open its admin panel.
func runDev(args []string, io stdio) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(io.err)
	port := fs.Int("port", 8080, "app port (0 picks a free one)")
	simPort := fs.Int("sim-port", 0, "simulated Jira site port (0 picks a free one)")
	seed := fs.Int64("seed", 1, "simulator seed (same ids and clientKey every run)")
	if err := fs.Parse(args); err != nil {
		return 2
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
	app, err := api.Build(ctx, cfg, api.BuildOptions{Logger: log, Version: version})
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

Press Ctrl-C to stop.
`, base, cfg.DataDir, sim.URL(), inst.ClientKey, inst.Scopes, admin.DisplayName,
		sim.AdminPageURL(cfg.AppKey, module, admin.AccountID), user.DisplayName,
		sim.AdminPageURL(cfg.AppKey, module, user.AccountID))
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
	sctx, cancel2 := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel2()
	_ = srv.Shutdown(sctx)
	return 0
}
