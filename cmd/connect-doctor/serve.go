package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/storage"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func loadConfig(io stdio) (*config.Config, bool) {
	cfg, err := config.Load(io.getenv)
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor: invalid configuration:")
		fmt.Fprintln(io.err, err)
		return nil, false
	}
	return cfg, true
}

func runServe(args []string, io stdio) int {
	fs := cmdFlags("serve")
	migrate := fs.Bool("migrate", false, "apply pending database migrations before serving")
	if err := parseNoArgs(fs, args); err != nil {
		return usageError(io, fs, err)
	}
	cfg, ok := loadConfig(io)
	if !ok {
		return 2
	}
	log := newLogger(io.err, cfg)
	ctx := io.ctx
	if ctx == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	app, err := app.Build(ctx, cfg, app.BuildOptions{Logger: log, Version: version, Migrate: *migrate})
	if err != nil {
		log.Error("start-up failed", slog.String("error", err.Error()))
		return 1
	}
	defer app.Close()
	return serveApp(ctx, app, net.JoinHostPort("", strconv.Itoa(cfg.Port)), log, io.ready)
}

// serveApp runs the HTTP server until ctx is cancelled, then shuts down
// gracefully. ready, if set, receives the bound address.
func serveApp(ctx context.Context, app *app.App, addr string, log *slog.Logger, ready chan<- string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("listen failed", slog.String("addr", addr), slog.String("error", err.Error()))
		return 1
	}
	srv := app.HTTPServer(addr)
	if maddr := app.Config.MetricsAddr; maddr != "" {
		mln, err := net.Listen("tcp", maddr)
		if err != nil {
			ln.Close()
			log.Error("metrics listen failed", slog.String("addr", maddr), slog.String("error", err.Error()))
			return 1
		}
		msrv := app.MetricsServer(maddr)
		log.Info("metrics listening", slog.String("addr", mln.Addr().String()))
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server failed", slog.String("error", err.Error()))
			}
		}()
		defer msrv.Close()
	}
	log.Info("connect-doctor listening", slog.String("addr", ln.Addr().String()), slog.String("base_url", app.Config.BaseURL),
		slog.String("database", string(app.DB.Dialect)), slog.String("version", version))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(app.Listener(ln)) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("server failed", slog.String("error", err.Error()))
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), app.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("graceful shutdown incomplete", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

func runMigrate(args []string, io stdio) int {
	fs := cmdFlags("migrate")
	if err := parseNoArgs(fs, args); err != nil {
		return usageError(io, fs, err)
	}
	cfg, ok := loadConfig(io)
	if !ok {
		return 2
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, storage.OpenOptions{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.DataDir + "/connect-doctor.db"})
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor migrate:", err)
		return 1
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		fmt.Fprintln(io.err, "connect-doctor migrate:", err)
		return 1
	}
	v, _, _ := db.SchemaVersion(ctx)
	if len(applied) == 0 {
		fmt.Fprintf(io.out, "%s schema is up to date (version %d)\n", db.Dialect, v)
	} else {
		fmt.Fprintf(io.out, "%s schema migrated to version %d (applied %v)\n", db.Dialect, v, applied)
	}
	return 0
}

func runVersion(args []string, io stdio) int {
	fs := cmdFlags("version")
	if err := parseNoArgs(fs, args); err != nil {
		return usageError(io, fs, err)
	}
	fmt.Fprintln(io.out, "connect-doctor", version)
	return 0
}
