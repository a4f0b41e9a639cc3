// Command loadgen loads a running Connect Doctor app (`connect-doctor
// serve`) the way many Jira sites would: it serves its own install key,
// installs --tenants tenants with RS256-signed callbacks, then drives
// pre-signed page (GET /admin, request token) and context (GET
// /api/installation, context token) requests from --concurrency
// keep-alive connections for --duration, or GET /healthz the same way as
// the baseline, and prints throughput, latency percentiles and error
// counts. --mode compare drives both in alternating --slot slots over the
// same connections and reports their ratio, so that drift in a shared
// machine's speed hits both alike. Start the app with
// CONNECT_INSTALL_KEYS_URL=http://<--keys-listen>. Only loopback targets
// are accepted.
//
//	loadgen --target http://127.0.0.1:8080 --tenants 1000 --concurrency 64 --duration 20s --mode all
//	loadgen --target http://127.0.0.1:8080 --tenants 1000 --seed <seed> --mode compare --duration 60s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/connect-doctor/connect-doctor/internal/cliflag"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/connect-doctor/connect-doctor/cmd/loadgen/loadtest"
	"github.com/connect-doctor/connect-doctor/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the program; exit codes: 0 no errors, 1 some requests failed or
// a phase could not run, 2 bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var (
		target      = fs.String("target", "http://127.0.0.1:8080", "URL of the running app (loopback only)")
		baseURL     = fs.String("base-url", "", "the app's BASE_URL: aud of install tokens, and its path prefixes routes (default: --target)")
		appKey      = fs.String("app-key", config.DefaultAppKey, "the app's APP_KEY, sent as the install payload's key")
		mode        = fs.String("mode", loadtest.ModeAll, "install | run | baseline | all (install, run, baseline) | compare (run and baseline in alternating slots, over the same connections)")
		slot        = fs.Duration("slot", loadtest.DefaultSlot, "compare mode: length of each slot (the authenticated mix and the baseline take turns)")
		tenants     = fs.Int("tenants", 100, "number of tenants to install, and to spread requests over")
		conc        = fs.Int("concurrency", 64, "concurrent connections (one request in flight on each)")
		instConc    = fs.Int("install-concurrency", 0, "concurrent installs (default: --concurrency)")
		duration    = fs.Duration("duration", 20*time.Second, "measured time of the run and baseline phases")
		warmup      = fs.Duration("warmup", 2*time.Second, "unmeasured load before each timed phase")
		ctxShare    = fs.Float64("context-share", 0.5, "fraction of requests that are context-token API calls (the rest are page loads)")
		perTenant   = fs.Int("tokens-per-tenant", 2, "pre-signed tokens of each kind per tenant")
		tokenTTL    = fs.Duration("token-ttl", 0, "token lifetime (default: Jira's 3 min / 15 min, or the whole run + 1 min if longer); shorter lifetimes are re-signed in the background")
		ctxUser     = fs.Bool("context-user", false, "put a viewer (sub) in context tokens; /api/installation then asks the tenant's Jira whether the viewer is an admin, an outgoing call")
		pagePath    = fs.String("page-path", loadtest.DefaultPagePath, "route of the page requests (request token, qsh over the path and Jira's iframe query)")
		ctxPath     = fs.String("context-path", loadtest.DefaultContextPath, "route of the context-token requests")
		seedHex     = fs.String("seed", "", "32 hex characters naming the tenant population (clientKeys and secrets); required for --mode run/baseline-only runs against tenants installed earlier; default random")
		keysListen  = fs.String("keys-listen", "127.0.0.1:9777", "address of the install key server (the app's CONNECT_INSTALL_KEYS_URL is http://<this>)")
		timeout     = fs.Duration("timeout", 10*time.Second, "wait for response headers before counting a timeout")
		sampleEvery = fs.Duration("sample-every", 0, "also sample the app's /metrics at this interval during each timed phase")
		metricsURL  = fs.String("metrics-url", "", "the app's Prometheus endpoint (default <target>/metrics, which the app serves only with METRICS_TOKEN; or its METRICS_ADDR listener; \"-\": none)")
		metricsTok  = fs.String("metrics-token", os.Getenv("METRICS_TOKEN"), "bearer token for /metrics (default $METRICS_TOKEN)")
		settle      = fs.Duration("settle", time.Second, "pause after each timed phase, connections closed, before the idle-after /metrics sample")
		appPID      = fs.Int("app-pid", 0, "the app's process id, to read its peak RSS (VmHWM) from /proc")
		asJSON      = fs.Bool("json", false, "print the report as JSON")
		cpuProfile  = fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file (its cost shares the machine with the app)")
	)
	prog := cliflag.Program{Name: "loadgen", Usage: "[flags]", Version: version,
		About: "Installs tenants into a running Connect Doctor and drives authenticated and baseline load at it\n(see cmd/loadgen/run.sh and docs/performance.md)."}
	if code, done := cliflag.Parse(prog, fs, args, stdout, stderr); done {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "loadgen: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return bad("--target %q: want an absolute http(s) URL such as http://127.0.0.1:8080", *target)
	}
	if !config.IsLoopback(u.Hostname()) {
		return bad("--target %q: only loopback targets (127.0.0.1, ::1, localhost) are loaded", *target)
	}
	if u.Path != "" && u.Path != "/" {
		return bad("--target %q: give scheme://host:port only; a base path comes from --base-url", *target)
	}
	if *baseURL == "" {
		*baseURL = *target
	}
	if b, err := url.Parse(*baseURL); err != nil || b.Host == "" {
		return bad("--base-url %q: want the app's BASE_URL", *baseURL)
	}
	switch *mode {
	case loadtest.ModeInstall, loadtest.ModeRun, loadtest.ModeBaseline, loadtest.ModeAll, loadtest.ModeCompare:
	default:
		return bad("--mode %q: use install, run, baseline, all or compare", *mode)
	}
	if *mode == loadtest.ModeCompare && (*slot < 100*time.Millisecond || *slot > *duration/4) {
		return bad("--slot %v: want at least 100ms and at most a quarter of --duration (%v), so that both workloads get several turns", *slot, *duration)
	}
	if *tenants < 1 && *mode != loadtest.ModeBaseline {
		return bad("--tenants must be at least 1")
	}
	if *conc < 1 || *conc > 4096 {
		return bad("--concurrency must be between 1 and 4096")
	}
	if *duration <= 0 || *warmup < 0 {
		return bad("--duration must be positive and --warmup not negative")
	}
	for _, p := range []string{*pagePath, *ctxPath} {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") {
			return bad("route %q: want a path such as /admin (no query)", p)
		}
	}
	if *ctxShare < 0 || *ctxShare > 1 {
		return bad("--context-share must be between 0 and 1")
	}
	cfg := loadtest.Config{
		Target: loadtest.Target{URL: strings.TrimSuffix(*target, "/"), AppBaseURL: strings.TrimSuffix(*baseURL, "/")},
		Mode:   *mode, AppKey: *appKey, Tenants: *tenants, Concurrency: *conc, InstallConcurrency: *instConc,
		Duration: *duration, Warmup: *warmup, ContextShare: *ctxShare, TokensPerTenant: *perTenant, TokenTTL: *tokenTTL,
		ContextUser: *ctxUser, Timeout: *timeout, SampleEvery: *sampleEvery, MetricsURL: *metricsURL, MetricsToken: *metricsTok, AppPID: *appPID,
		Settle: *settle, PagePath: *pagePath, ContextPath: *ctxPath, Slot: *slot,
	}
	if *seedHex != "" {
		if cfg.Seed, err = loadtest.ParseSeed(*seedHex); err != nil {
			return bad("--seed: %v", err)
		}
	} else if *mode == loadtest.ModeRun || *mode == loadtest.ModeCompare {
		return bad("--mode %s signs for tenants installed earlier: pass the --seed the install phase printed", *mode)
	}
	if *mode == loadtest.ModeInstall || *mode == loadtest.ModeAll {
		signer, err := loadtest.NewInstallSigner()
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		ln, err := net.Listen("tcp", *keysListen)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: install key server on %s: %v\n", *keysListen, err)
			return 1
		}
		ks := &http.Server{Handler: signer, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = ks.Serve(ln) }()
		defer ks.Close()
		fmt.Fprintf(stderr, "install key server on http://%s (kid %s): the app needs CONNECT_INSTALL_KEYS_URL=http://%s\n", ln.Addr(), signer.KID, ln.Addr())
		cfg.Signer = signer
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return bad("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return bad("--cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := loadtest.Run(ctx, cfg, stderr)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			loadtest.WriteText(stdout, rep)
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "loadgen: interrupted")
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	case rep.Errors() > 0:
		return 1
	}
	return 0
}
