package panel_test

import (
	"github.com/connect-doctor/connect-doctor/sim/ratesim"

	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
)

// clock is a settable clock shared by the app and the simulator, so that
// tests can move time (rate limit, caches) without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is the app wired to a simulated Jira site with the app installed.
type env struct {
	t      testing.TB
	sim    *jirasim.Sim
	app    *app.App
	srv    *httptest.Server
	base   string
	clock  *clock
	secret string
}

const appKey = "connect-doctor"

type envOptions struct {
	settings map[string]string // extra app settings (CHECKS_PER_MINUTE, …)
	realTime bool              // use the wall clock (the browser test)
	rates    *ratesim.Model    // rate limits in front of the simulated site
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	clk := &clock{t: time.Now()}
	now := clk.Now
	if o.realTime {
		now = time.Now
	}
	sim, err := jirasim.New(jirasim.Options{Now: now, Seed: 6, RateLimits: o.rates})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	e := &env{t: t, sim: sim, clock: clk}
	e.srv = httptest.NewUnstartedServer(nil)
	e.base = "http://" + e.srv.Listener.Addr().String()
	site, _ := url.Parse(sim.URL())
	settings := map[string]string{
		"BASE_URL": e.base, "DATA_DIR": t.TempDir(), "ENCRYPTION_KEY": strings.Repeat("cd", 32),
		"CONNECT_INSTALL_KEYS_URL": sim.KeyServerURL(), "OAUTH_TOKEN_URL": sim.AuthServerURL(),
		"ALLOWED_HOSTS": site.Host, "AP_JS_URL": sim.URL() + "/atlassian-connect/all.js",
	}
	for k, v := range o.settings {
		settings[k] = v
	}
	cfg, err := config.Load(func(k string) string { return settings[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, app.BuildOptions{Version: "test", Now: now, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	e.app = app
	e.srv.Config.Handler = app.Server.Handler()
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	inst, err := sim.InstallApp(context.Background(), e.base+"/atlassian-connect.json")
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	e.secret = inst.SharedSecret
	return e
}

// token returns a context token for a role ("admin", "user").
func (e *env) token(role string) string {
	e.t.Helper()
	tok, err := e.sim.ContextToken(appKey, e.sim.User(role).AccountID)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d: %v: %s", r.status, err, r.body)
	}
}

// code returns the error envelope's code ("" when the body is not one).
func (r result) code() string {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Hint    string `json:"hint"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &env)
	return env.Error.Code
}

// call sends a request as role ("" for no token) and checks that no answer
// ever carries the shared secret.
func (e *env) call(role, method, path string, body any) result {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	if role != "" {
		req.Header.Set("Authorization", "JWT "+e.token(role))
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if e.secret != "" && bytes.Contains(raw, []byte(e.secret)) {
		e.t.Fatalf("%s %s: the shared secret reached the browser", method, path)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: raw}
}

// countRequests counts what the site received for method and path.
func (e *env) countRequests(method, path string) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func retryAfter(t testing.TB, r result) int {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", r.header.Get("Retry-After"), err)
	}
	return n
}
