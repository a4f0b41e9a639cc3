// Command appprof is a profiling harness for load tests, not a way to run
// the app: it builds Connect Doctor exactly as `connect-doctor serve` does
// (same environment, app.Build, App.HTTPServer) and adds net/http/pprof on
// a separate loopback listener, so that a CPU profile can be taken while
// cmd/loadgen drives it:
//
//	PPROF_ADDR=127.0.0.1:6061 <serve's environment> appprof &
//	loadgen --mode run ... &
//	go tool pprof -top 'http://127.0.0.1:6061/debug/pprof/profile?seconds=20'
//
// It also mounts two harness-only routes that answer exactly what GET
// /healthz answers, but behind the app's own JWT middleware, so the cost
// of authentication alone can be measured apart from the handlers:
//
//	GET /loadgen/page     api.Server.PageAuth (request token, qsh-bound)
//	GET /loadgen/context  api.Server.ContextAuth (context token)
//
//	loadgen --mode run --page-path /loadgen/page --context-path /loadgen/context ...
//
// The app itself never serves pprof or these routes.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
)

func main() {
	gin.SetMode(gin.ReleaseMode) // process-global: set by the program, never by the library
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "appprof: invalid configuration:", err)
		os.Exit(2)
	}
	pprofAddr := os.Getenv("PPROF_ADDR")
	if pprofAddr == "" {
		pprofAddr = "127.0.0.1:6061"
	}
	if h, _, err := net.SplitHostPort(pprofAddr); err != nil || !config.IsLoopback(h) {
		fmt.Fprintln(os.Stderr, "appprof: PPROF_ADDR must be a loopback host:port")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := app.Build(ctx, cfg, app.BuildOptions{Logger: log, Version: "appprof"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "appprof:", err)
		os.Exit(1)
	}
	defer app.Close()

	healthz := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok", "version": "appprof"}) }
	app.Server.Group("/loadgen", app.Server.PageAuth()).GET("/page", healthz)
	app.Server.Group("/loadgen", app.Server.ContextAuth()).GET("/context", healthz)

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	ps := &http.Server{Addr: pprofAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ps.ListenAndServe() }()
	defer ps.Close()

	srv := app.HTTPServer(net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "appprof: app on :%d, pprof on http://%s/debug/pprof/\n", cfg.Port, pprofAddr)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "appprof:", err)
			os.Exit(1)
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
}
