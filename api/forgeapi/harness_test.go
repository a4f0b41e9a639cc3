package forgeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// forgeApp is the whole app (as `connect-doctor serve` builds it) on a
// loopback port, configured against a simulated Forge site: its JWKS host
// and its api.atlassian.com gateway.
type forgeApp struct {
	app  *app.App
	base string
	site *forgesim.Site
	env  map[string]string
}

func gatewayHost(s *forgesim.Site) string { return strings.TrimPrefix(s.Gateway().URL(), "http://") }

// startForge starts the app against site. extra adds or overrides
// environment variables ("" removes one).
func startForge(t testing.TB, databaseURL string, site *forgesim.Site, extra map[string]string) *forgeApp {
	t.Helper()
	return startForgeClock(t, databaseURL, site, extra, nil)
}

// startForgeClock is startForge with the app's clock.
func startForgeClock(t testing.TB, databaseURL string, site *forgesim.Site, extra map[string]string, now func() time.Time) *forgeApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := map[string]string{
		"BASE_URL": base, "DATA_DIR": t.TempDir(), "DATABASE_URL": databaseURL,
		"ENCRYPTION_KEY": strings.Repeat("cd", 32), "ALLOWED_HOSTS": "127.0.0.1",
		"FORGE_APP_ID": site.AppID(), "FORGE_JWKS_URL": site.JWKSURL(), "FORGE_API_HOSTS": gatewayHost(site),
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, app.BuildOptions{Version: "test", Migrate: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := app.HTTPServer(ln.Addr().String())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); app.Close() })
	return &forgeApp{app: app, base: base, site: site, env: env}
}

func newSite(t testing.TB, o forgesim.SiteOptions) *forgesim.Site {
	t.Helper()
	if o.Seed == 0 {
		o.Seed = 8
	}
	// No redeliveries unless a test asks: a refused event must show as is.
	if o.Invoker.Sleep == nil {
		o.Invoker.Sleep = func(context.Context, time.Duration) error { return nil }
	}
	s := forgesim.NewSite(o)
	t.Cleanup(s.Close)
	return s
}

// eachDatabase runs f on SQLite and on PostgreSQL.
func eachDatabase(t *testing.T, f func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "") })
	t.Run("postgres", func(t *testing.T) { f(t, storagetest.PostgresURL(t)) })
}

func decode[T any](t testing.TB, resp *http.Response) T {
	t.Helper()
	var v T
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	return v
}

func errCode(t testing.TB, resp *http.Response) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message, Hint string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("no error envelope (%d): %s", resp.StatusCode, b)
	}
	return body.Error.Code
}

// post sends a raw request to the app.
func (f *forgeApp) do(t testing.TB, method, path string, h http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
