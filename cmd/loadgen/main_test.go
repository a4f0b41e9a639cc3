package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/cmd/loadgen/loadtest"
	"github.com/connect-doctor/connect-doctor/config"
)

// freeAddr reserves a loopback port for loadgen's key server, which the
// app must know before it starts.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testApp is the real app served on a loopback port.
type testApp struct {
	http *httptest.Server
	app  *app.App
}

const testMetricsToken = "loadgen-metrics-token-0123456789"

func startApp(t testing.TB, keysAddr string) *httptest.Server { return startAppB(t, keysAddr).http }

// startAppB builds the real app (app.Build) on SQLite, trusting install
// keys from keysAddr, and serves it on a loopback port.
func startAppB(t testing.TB, keysAddr string) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	env := map[string]string{
		"BASE_URL": base, "DATA_DIR": t.TempDir(), "CONNECT_INSTALL_KEYS_URL": "http://" + keysAddr, "LOG_LEVEL": "warn",
		"METRICS_TOKEN": testMetricsToken,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, app.BuildOptions{Version: "loadgen-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	srv.Config.Handler = app.Server.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &testApp{http: srv, app: app}
}

func runJSON(t *testing.T, args ...string) (*loadtest.Report, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--json"), &out, &errb)
	var rep loadtest.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, output is not a JSON report: %v\n%s\n%s", code, err, out.String(), errb.String())
	}
	return &rep, code, errb.String()
}

// TestSmokeAgainstInProcessApp installs tenants, then runs the
// authenticated and baseline phases as separate invocations (the run
// re-derives the tenants from the printed seed), all against the real
// app: every request must succeed.
func TestSmokeAgainstInProcessApp(t *testing.T) {
	keys := freeAddr(t)
	app := startApp(t, keys)
	common := []string{"--metrics-token", testMetricsToken, "--target", app.URL, "--tenants", "6", "--concurrency", "4", "--warmup", "50ms", "--settle", "20ms"}

	inst, code, logs := runJSON(t, append(common, "--mode", "install", "--keys-listen", keys)...)
	if code != 0 || inst.Install == nil || inst.Install.Installed != 6 || inst.Install.Errors() != 0 {
		t.Fatalf("install: exit %d, %+v\n%s", code, inst.Install, logs)
	}
	if !strings.Contains(logs, "CONNECT_INSTALL_KEYS_URL=http://"+keys) {
		t.Fatalf("the key server address is not printed:\n%s", logs)
	}

	rep, code, logs := runJSON(t, append(common, "--mode", "run", "--seed", inst.Seed, "--duration", "400ms")...)
	if code != 0 || rep.Run == nil || rep.Run.Errors() != 0 {
		t.Fatalf("run: exit %d, %+v\n%s", code, rep.Run, logs)
	}
	for _, k := range loadtest.AuthKinds {
		if rep.Run.Kinds[k].OK == 0 {
			t.Fatalf("no successful %s requests: %+v", k, rep.Run.Kinds)
		}
	}
	if a := rep.Run.App; len(a.Samples) != 4 || a.Leak == nil || a.Samples[1].Goroutines == 0 {
		t.Fatalf("app samples from /metrics: %+v", a)
	}

	base, code, _ := runJSON(t, append(common, "--mode", "baseline", "--duration", "300ms")...)
	if code != 0 || base.Baseline == nil || base.Baseline.OK == 0 || base.Baseline.Errors() != 0 {
		t.Fatalf("baseline: exit %d, %+v", code, base.Baseline)
	}

	// Compare: both workloads over the same connections in alternating
	// slots, each measured over its own slots.
	cmp, code, logs := runJSON(t, append(common, "--mode", "compare", "--seed", inst.Seed, "--duration", "800ms", "--slot", "200ms")...)
	if code != 0 || cmp.Compare == nil || cmp.Compare.Errors() != 0 {
		t.Fatalf("compare: exit %d, %+v\n%s", code, cmp.Compare, logs)
	}
	if c := cmp.Compare; c.AuthPerSec <= 0 || c.BaselinePerSec <= 0 || c.AuthSeconds < 0.3 || c.BaseSeconds < 0.3 ||
		c.Ratio != math.Round(c.AuthPerSec/c.BaselinePerSec*1000)/1000 || c.Kinds["healthz"].OK == 0 || c.Kinds["page"].OK == 0 {
		t.Fatalf("compare report: %+v kinds %+v", c, c.Kinds)
	}

	// Tenants the app never saw: every authenticated request fails, and
	// the exit code says so.
	bad, code, _ := runJSON(t, append(common, "--mode", "run", "--seed", strings.Repeat("0f", 16), "--duration", "200ms")...)
	if code != 1 || bad.Run.OK != 0 || bad.Run.Status["401"] == 0 {
		t.Fatalf("unknown tenants: exit %d, %+v", code, bad.Run)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote target", []string{"--target", "http://example.com"}, "only loopback"},
		{"target with a path", []string{"--target", "http://127.0.0.1:1/app"}, "--base-url"},
		{"run without seed", []string{"--mode", "run"}, "--seed"},
		{"compare without seed", []string{"--mode", "compare"}, "--seed"},
		{"slot too long", []string{"--mode", "compare", "--duration", "4s", "--slot", "2s"}, "--slot"},
		{"slot too short", []string{"--mode", "compare", "--slot", "10ms"}, "--slot"},
		{"bad mode", []string{"--mode", "soak"}, "--mode"},
		{"bad seed", []string{"--seed", "xyz"}, "32 hex"},
		{"zero concurrency", []string{"--concurrency", "0"}, "--concurrency"},
		{"share out of range", []string{"--context-share", "1.5"}, "--context-share"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}

// TestHelpAndVersion: -h and --help print the usage on stdout and exit 0;
// --version prints the version.
func TestHelpAndVersion(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{{"-h", "usage: loadgen [flags]\n"}, {"--help", "usage: loadgen [flags]\n"}, {"--version", "loadgen dev\n"}} {
		t.Run(tt.arg, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{tt.arg}, &out, &errb)
			if code != 0 || errb.Len() != 0 || !strings.HasPrefix(out.String(), tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out.String(), errb.String(), tt.want)
			}
		})
	}
}
