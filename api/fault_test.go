package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/api/panel"
	"github.com/connect-doctor/connect-doctor/app"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/storage/storagetest"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// Faults, end to end: the app built as in production, its dependencies
// (PostgreSQL, the install key server, the OAuth token server, Jira) made
// to fail, and the answers, timings and request counts measured.

// figure logs a measured figure in a form that is easy to grep in CI logs.
func figure(t *testing.T, name string, v any) {
	t.Helper()
	fmt.Printf("fault figure: %s = %v\n", name, v)
	t.Logf("fault figure: %s = %v", name, v)
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// keyServer serves the harness's site key for any kid with the prefix, and
// can hold requests (hold) until released or the request is abandoned.
type keyServer struct {
	prefix  string
	mu      sync.Mutex
	hold    chan struct{} // nil: answer at once
	entered chan string   // receives the kid of each held request
	fetches atomic.Int64
}

func (k *keyServer) setHold(on bool) chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if on {
		k.hold = make(chan struct{})
	} else {
		k.hold = nil
	}
	return k.hold
}

func newKeyServerHarness(t *testing.T, databaseURL string, ks *keyServer) *harness {
	t.Helper()
	site := newFakeAtlassian(t) // the harness's site key
	ks.entered = make(chan string, 16)
	fake := &fakeAtlassian{kid: ks.prefix + "1", key: site.key}
	fake.keys = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kid := strings.TrimPrefix(r.URL.Path, "/")
		if !strings.HasPrefix(kid, ks.prefix) {
			http.NotFound(w, r)
			return
		}
		ks.fetches.Add(1)
		ks.mu.Lock()
		hold := ks.hold
		ks.mu.Unlock()
		if hold != nil {
			select {
			case ks.entered <- kid:
			default:
			}
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		w.Write(rsaPublicPEM(site.key))
	}))
	t.Cleanup(fake.keys.Close)
	t.Cleanup(func() { ks.setHold(false) })
	return newHarnessWith(t, databaseURL, fake, "")
}

func tenantRows(t *testing.T, h *harness) int64 {
	t.Helper()
	var n int64
	if err := h.app.DB.Gorm.Model(&storage.TenantRow{}).Count(&n).Error; err != nil {
		t.Fatalf("count tenants: %v", err)
	}
	return n
}

// TestFaultPostgresStoppedDuringInstall stops a PostgreSQL server of the
// test's own while an install is being verified: the install is answered
// 503 with nothing stored, /readyz reports the outage, and once the server
// is back the next install succeeds without restarting the app.
func TestFaultPostgresStoppedDuringInstall(t *testing.T) {
	t.Parallel()
	cluster := storagetest.NewCluster(t)
	ks := &keyServer{prefix: "pg-fault-kid-"}
	h := newKeyServerHarness(t, cluster.URL(), ks)
	const before, during = "ck-before-outage", "ck-during-outage"
	const secret = "secret-installed-during-outage-0123456789"
	if r := h.signedLifecycle("/installed", payload(before, "first-tenant-secret-0123456789abcdef", "installed"), nil); r.StatusCode != 204 {
		t.Fatalf("install before the outage: %d %s", r.StatusCode, errorCode(t, r))
	}
	if r := h.do("GET", "/readyz", "", nil); r.StatusCode != 200 {
		t.Fatalf("readyz before the outage: %d", r.StatusCode)
	}

	// The install's key fetch (a new kid) is held; PostgreSQL stops while
	// it waits; then the key arrives and the app tries to store.
	hold := ks.setHold(true)
	h.fake.kid = ks.prefix + "2"
	body, auth := h.signLifecycle("/installed", payload(during, secret, "installed"), nil)
	type result struct {
		status int
		code   string
		retry  string
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", h.addr+"/installed", strings.NewReader(string(body)))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{status: -1, code: err.Error()}
			return
		}
		defer resp.Body.Close()
		var env httperr.Body
		_ = json.NewDecoder(resp.Body).Decode(&env)
		done <- result{resp.StatusCode, env.Error.Code, resp.Header.Get("Retry-After")}
	}()
	select {
	case <-ks.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the install never fetched its key")
	}
	cluster.Stop()
	ks.setHold(false)
	close(hold)
	got := <-done
	if got.status != 503 || got.code != "store_unavailable" || got.retry == "" {
		t.Fatalf("install while PostgreSQL stopped: %+v, want 503 store_unavailable with Retry-After", got)
	}

	// While down: readiness fails, installs and uncached tenants get 503
	// (never 401 or 500), quickly.
	var ready *http.Response
	d := timed(func() { ready = h.do("GET", "/readyz", "", nil) })
	if ready.StatusCode != 503 || errorCode(t, ready) != "database_unavailable" {
		t.Fatalf("readyz while down: %d", ready.StatusCode)
	}
	figure(t, "readyz answer while PostgreSQL is down", d.Round(time.Millisecond))
	var again *http.Response
	d = timed(func() { again = h.do("POST", "/installed", auth, body) })
	if again.StatusCode != 503 || errorCode(t, again) != "store_unavailable" {
		t.Fatalf("second install while down: %d", again.StatusCode)
	}
	figure(t, "install refused while PostgreSQL is down", d.Round(time.Millisecond))
	if d > 3*time.Second {
		t.Fatalf("install while down took %v", d)
	}
	page := "/admin?lic=none"
	if r := h.do("GET", page, "JWT "+hsToken("ck-not-cached", secret, "GET", page), nil); r.StatusCode != 503 || errorCode(t, r) != "store_unavailable" {
		t.Fatalf("token of an uncached tenant while down: %d, want 503 store_unavailable", r.StatusCode)
	}

	// Back up: the same app recovers on its own.
	cluster.Start()
	var recovered time.Duration
	start := time.Now()
	for {
		r := h.do("GET", "/readyz", "", nil)
		if r.StatusCode == 200 {
			recovered = time.Since(start)
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("readyz still %d 5 s after PostgreSQL came back", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	figure(t, "readyz 200 after PostgreSQL is back", recovered.Round(time.Millisecond))
	if n := tenantRows(t, h); n != 1 {
		t.Fatalf("%d tenant rows after the failed installs, want 1 (no partial row)", n)
	}
	if _, err := h.app.Store.Get(context.Background(), during); !errors.Is(err, connect.ErrUnknownTenant) {
		t.Fatalf("tenant of the failed install: %v", err)
	}
	if r := h.do("POST", "/installed", auth, body); r.StatusCode != 204 {
		t.Fatalf("first install after PostgreSQL is back: %d %s", r.StatusCode, errorCode(t, r))
	}
	if r := h.do("GET", page, "JWT "+hsToken(during, secret, "GET", page), nil); r.StatusCode != 200 {
		t.Fatalf("page of the tenant installed after the outage: %d", r.StatusCode)
	}
	evs, err := h.app.Store.Events(context.Background(), during, 10)
	if err != nil || len(evs) == 0 || evs[0].Outcome != storage.OutcomeAccepted {
		t.Fatalf("lifecycle log after recovery: %+v %v", evs, err)
	}
}

// TestFaultInstallKeyServer: with the install key server answering 500 or
// dropping connections an install with a new kid is refused 503 at once;
// a hanging key server is given up after the fetch timeout; a kid fetched
// before keeps working throughout.
func TestFaultInstallKeyServer(t *testing.T) {
	t.Parallel()
	t.Run("down", func(t *testing.T) {
		s := startWithSim(t, storagetest.PostgresURL(t))
		ctx := context.Background()
		for _, f := range []jirasim.Fault{{Kind: jirasim.KeyServerDown}, {Kind: jirasim.KeyServerDown, Drop: true}} {
			s.sim.ClearFaults()
			first := installSim(t, s) // fetches and caches the current kid
			s.sim.SetFault(f)
			// Cached kid: the reinstall goes through and rotates the secret.
			re, err := s.sim.InstallApp(ctx, s.base+"/atlassian-connect.json")
			if err != nil {
				t.Fatalf("%s (drop=%v): reinstall with a cached kid: %v", f.Kind, f.Drop, err)
			}
			if stored, _ := s.app.Store.Get(ctx, re.ClientKey); stored.SharedSecret != re.SharedSecret || re.SharedSecret == first.SharedSecret {
				t.Fatal("the reinstall with a cached key did not store the rotated secret")
			}
			// New kid: refused 503, quickly, and nothing changes.
			s.sim.RotateInstallKey()
			var ierr error
			d := timed(func() { _, ierr = s.sim.InstallApp(ctx, s.base+"/atlassian-connect.json") })
			var ie *jirasim.InstallError
			if !errors.As(ierr, &ie) || ie.Status != 503 {
				t.Fatalf("%s (drop=%v): install with a new kid: %v, want the app to answer 503", f.Kind, f.Drop, ierr)
			}
			figure(t, fmt.Sprintf("install refused, key server %s (drop=%v)", f.Kind, f.Drop), d.Round(time.Millisecond))
			if d > time.Second {
				t.Fatalf("refusal took %v", d)
			}
			if stored, _ := s.app.Store.Get(ctx, re.ClientKey); stored.SharedSecret != re.SharedSecret {
				t.Fatal("a refused install changed the stored secret")
			}
		}
		s.sim.ClearFaults()
		if _, err := s.sim.InstallApp(ctx, s.base+"/atlassian-connect.json"); err != nil {
			t.Fatalf("install after the key server is back: %v", err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		ks := &keyServer{prefix: "slow-kid-"}
		h := newKeyServerHarness(t, storagetest.PostgresURL(t), ks)
		if r := h.signedLifecycle("/installed", payload("ck-slow", "slow-key-server-secret-0123456789", "installed"), nil); r.StatusCode != 204 {
			t.Fatalf("install: %d", r.StatusCode)
		}
		ks.setHold(true) // the key server now accepts connections and never answers
		// Cached kid: unaffected.
		var r *http.Response
		d := timed(func() {
			r = h.signedLifecycle("/installed", payload("ck-slow", "slow-key-server-secret-2-0123456789", "installed"), nil)
		})
		if r.StatusCode != 204 || d > time.Second {
			t.Fatalf("reinstall with a cached kid while the key server hangs: %d in %v", r.StatusCode, d)
		}
		h.fake.kid = ks.prefix + "2"
		d = timed(func() {
			r = h.signedLifecycle("/installed", payload("ck-slow", "slow-key-server-secret-3-0123456789", "installed"), nil)
		})
		figure(t, "install refused, key server hanging (production fetch timeout)", d.Round(10*time.Millisecond))
		if r.StatusCode != 503 || errorCode(t, r) != "key_server_unavailable" || r.Header.Get("Retry-After") == "" {
			t.Fatalf("install with a new kid while the key server hangs: %d", r.StatusCode)
		}
		if d > 6500*time.Millisecond {
			t.Fatalf("install refused after %v; the fetch timeout is 5 s", d)
		}
		if tn, _ := h.app.Store.Get(context.Background(), "ck-slow"); tn.SharedSecret != "slow-key-server-secret-2-0123456789" {
			t.Fatal("the refused install changed the stored secret")
		}
	})
}

// simTenant returns the stored tenant of the simulator's site.
func (s *simApp) tenant(t *testing.T) *tenant.Tenant {
	t.Helper()
	tn, err := s.app.Store.Get(context.Background(), s.sim.ClientKey())
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// check runs POST /api/checks with a context token the site mints for
// role, and decodes the result.
func (s *simApp) check(t *testing.T, role, as, method, path string) (int, panel.CheckResult, string) {
	t.Helper()
	tok, err := s.sim.ContextToken("connect-doctor", s.sim.User(role).AccountID)
	if err != nil {
		t.Fatal(err)
	}
	return s.checkWith(t, tok, as, method, path)
}

func (s *simApp) checkWith(t *testing.T, token, as, method, path string) (int, panel.CheckResult, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/api/checks", strings.NewReader(string(mustJSON(map[string]any{"method": method, "path": path, "as": as}))))
	req.Header.Set("Authorization", "JWT "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	var res panel.CheckResult
	_ = json.Unmarshal(raw, &res)
	return resp.StatusCode, res, string(raw)
}

func causeCodes(d explain.Diagnosis) []string {
	var out []string
	for _, c := range d.Causes {
		out = append(out, c.Code)
	}
	return out
}

func causeEvidence(d explain.Diagnosis, code string) string {
	for _, c := range d.Causes {
		if c.Code == code {
			return strings.Join(c.Evidence, " | ")
		}
	}
	return ""
}

func installSim(t *testing.T, s *simApp) *jirasim.Installation {
	t.Helper()
	inst, err := s.sim.InstallApp(context.Background(), s.base+"/atlassian-connect.json")
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestFaultTokenServer: with the OAuth token server down (503 or dropped
// connections), calls as a user fail at once with a typed error and no
// request to Jira, the check names token_exchange_failed, and calls as the
// app keep working. A hanging token server is given up after the exchange
// timeout.
func TestFaultTokenServer(t *testing.T) {
	t.Parallel()
	t.Run("down", func(t *testing.T) {
		s := startWithSim(t, storagetest.PostgresURL(t))
		installSim(t, s)
		tn := s.tenant(t)
		user := s.sim.User("user").AccountID
		for _, f := range []jirasim.Fault{{Kind: jirasim.TokenServerDown}, {Kind: jirasim.TokenServerDown, Drop: true}} {
			s.sim.ClearFaults()
			s.sim.SetFault(f)
			s.sim.ResetRequests()
			var err error
			d := timed(func() {
				_, err = s.app.Jira.AsUser(tn, user).Call(context.Background(), "GET", "/rest/api/3/myself", nil)
			})
			var oe *oauth.Error
			if !errors.Is(err, jira.ErrToken) || !errors.As(err, &oe) {
				t.Fatalf("%s (drop=%v): user call error %v, want jira.ErrToken wrapping *oauth.Error", f.Kind, f.Drop, err)
			}
			wantNet := f.Drop
			if errors.Is(err, oauth.ErrNetwork) != wantNet || (!wantNet && oe.StatusCode != 503) {
				t.Fatalf("%s (drop=%v): oauth error %+v", f.Kind, f.Drop, oe)
			}
			figure(t, fmt.Sprintf("user call failed, token server down (drop=%v)", f.Drop), d.Round(time.Millisecond))
			if d > time.Second {
				t.Fatalf("user call took %v to fail", d)
			}
			if n := len(s.sim.Requests()); n != 0 {
				t.Fatalf("%d requests reached Jira without a user token", n)
			}
			// Through the admin panel: the check reports the failed
			// exchange and the diagnosis names it.
			status, res, raw := s.check(t, "user", "user", "GET", "/rest/api/3/myself")
			if status != 200 || res.Failure == nil || res.Failure.Code != "token_exchange_failed" || res.Response.Status != 0 {
				t.Fatalf("user check: %d %s", status, raw)
			}
			codes := causeCodes(res.Diagnosis)
			if !slices.Contains(codes, explain.TokenExchangeFailed) && !slices.Contains(codes, explain.NetworkError) {
				t.Fatalf("diagnosis of the failed exchange: %v", codes)
			}
			ev := causeEvidence(res.Diagnosis, codes[0])
			if !strings.Contains(ev, "token exchange") {
				t.Fatalf("diagnosis evidence does not name the token exchange: %q", ev)
			}
			t.Logf("drop=%v: diagnosis %v: %s", f.Drop, codes, ev)
			// Calls as the app do not need the token server.
			if _, err := s.app.Jira.AsApp(tn).Call(context.Background(), "GET", "/rest/api/3/myself", nil); err != nil {
				t.Fatalf("app call while the token server is down: %v", err)
			}
			if status, res, raw := s.check(t, "admin", "app", "GET", "/rest/api/3/myself"); status != 200 || res.Response.Status != 200 {
				t.Fatalf("app check while the token server is down: %d %s", status, raw)
			}
		}
	})
	t.Run("slow", func(t *testing.T) {
		// A token endpoint that accepts the connection and never answers.
		release := make(chan struct{})
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(hang.Close)
		t.Cleanup(func() { close(release) })
		s := startWithSimEnv(t, storagetest.PostgresURL(t), map[string]string{"OAUTH_TOKEN_URL": hang.URL})
		installSim(t, s)
		tn := s.tenant(t)
		var err error
		d := timed(func() {
			_, err = s.app.Jira.AsUser(tn, s.sim.User("user").AccountID).Call(context.Background(), "GET", "/rest/api/3/myself", nil)
		})
		figure(t, "user call failed, token server hanging (oauth.DefaultExchangeTimeout)", d.Round(10*time.Millisecond))
		if !errors.Is(err, jira.ErrToken) || !errors.Is(err, oauth.ErrNetwork) {
			t.Fatalf("user call error %v, want jira.ErrToken and oauth.ErrNetwork", err)
		}
		if d > oauth.DefaultExchangeTimeout+2*time.Second {
			t.Fatalf("user call failed after %v", d)
		}
		if _, err := s.app.Jira.AsApp(tn).Call(context.Background(), "GET", "/rest/api/3/myself", nil); err != nil {
			t.Fatalf("app call while the token server hangs: %v", err)
		}
	})
}

// startWithSimEnv is startWithSim with settings overridden.
func startWithSimEnv(t *testing.T, databaseURL string, override map[string]string) *simApp {
	t.Helper()
	sim, err := jirasim.New(jirasim.Options{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	env := map[string]string{
		"BASE_URL": base, "DATA_DIR": t.TempDir(), "DATABASE_URL": databaseURL,
		"ENCRYPTION_KEY": strings.Repeat("cd", 32), "CONNECT_INSTALL_KEYS_URL": sim.KeyServerURL(),
		"OAUTH_TOKEN_URL": sim.AuthServerURL(), "ALLOWED_HOSTS": strings.TrimPrefix(sim.URL(), "http://"),
	}
	for k, v := range override {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, app.BuildOptions{Version: "test", Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := app.HTTPServer(ln.Addr().String())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); app.Close() })
	return &simApp{app: app, sim: sim, base: base}
}

// TestFault429Storm: Jira answers every request 429 with Retry-After: 1.
// The app's client waits what Jira asks between attempts, gives up after
// its attempt budget, and the number of requests Jira sees is exactly
// calls × attempts; a Retry-After beyond the cap is not waited for; the
// panel's checks never retry.
func TestFault429Storm(t *testing.T) {
	t.Parallel()
	s := startWithSim(t, storagetest.PostgresURL(t))
	installSim(t, s)
	tn := s.tenant(t)
	ctx := context.Background()
	// Warm the admin-permission cache, so the panel check below sends one
	// request only.
	if status, res, raw := s.check(t, "admin", "app", "GET", "/rest/api/3/myself"); status != 200 || res.Response.Status != 200 {
		t.Fatalf("check before the storm: %d %s", status, raw)
	}

	s.sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, RetryAfter: time.Second})
	s.sim.ResetRequests()
	const calls, attempts = 6, 4 // attempts: jira.RetryPolicy's default MaxAttempts
	var wg sync.WaitGroup
	errs := make([]error, calls)
	statuses := make([]int, calls)
	d := timed(func() {
		for i := range calls {
			wg.Go(func() {
				resp, err := s.app.Jira.AsApp(tn).Call(ctx, "GET", fmt.Sprintf("/rest/api/3/myself?call=%d", i), nil)
				errs[i] = err
				if resp != nil {
					statuses[i] = resp.Status
				}
			})
		}
		wg.Wait()
	})
	// The rate-limit gate (issue 17): the burst 429 pauses GET
	// /rest/api/3/myself on this tenant, so calls either end with Jira's
	// 429 (retries exhausted) or are refused locally, nothing sent.
	refused := 0
	for i, err := range errs {
		if le, ok := errors.AsType[*jira.LimitedError](err); ok {
			if le.Reason != "jira-burst-based" || le.Scope != jira.ScopeEndpoint {
				t.Fatalf("call %d refused for %s/%s", i, le.Reason, le.Scope)
			}
			refused++
			continue
		}
		var ae *jira.APIError
		if !errors.As(err, &ae) || statuses[i] != 429 || ae.Attempts > attempts || ae.RetryAfter != time.Second || ae.RateLimit == nil || ae.RateLimit.Scope != jira.ScopeEndpoint {
			t.Fatalf("call %d: status %d, error %v (%+v)", i, statuses[i], err, ae)
		}
	}
	reqs := s.sim.Requests()
	figure(t, fmt.Sprintf("429 storm: %d concurrent calls, Retry-After 1 s", calls), fmt.Sprintf("%d requests in %v, %d calls refused locally", len(reqs), d.Round(10*time.Millisecond), refused))
	// Every call that was not refused locally sent at least one request;
	// how many of the first wave get out before the first 429 pauses the
	// endpoint depends on scheduling, so the lower bound counts them.
	if sent := calls - refused; sent == 0 || len(reqs) < sent || len(reqs) >= calls*attempts {
		t.Fatalf("Jira received %d requests from %d calls not refused locally, want at least one per such call and fewer than %d calls × %d attempts", len(reqs), sent, calls, attempts)
	}
	// Retry-After honoured: consecutive attempts of one call are ≥ 1 s apart.
	byCall := map[string][]time.Time{}
	for _, r := range reqs {
		if r.Status != 429 {
			t.Fatalf("request answered %d during the storm", r.Status)
		}
		byCall[r.RawQuery] = append(byCall[r.RawQuery], r.Time)
	}
	minGap := time.Hour
	for _, ts := range byCall {
		for j := 1; j < len(ts); j++ {
			minGap = min(minGap, ts[j].Sub(ts[j-1]))
		}
	}
	figure(t, "429 storm: shortest gap between attempts of one call", minGap.Round(time.Millisecond))
	if minGap < 950*time.Millisecond {
		t.Fatalf("a retry came %v after a 429 with Retry-After: 1", minGap)
	}
	if d > 5*time.Second {
		t.Fatalf("the storm took %v; at most (attempts-1) × Retry-After (+30%% jitter)", d)
	}

	// Retry-After beyond the cap (30 s): no waiting, one request.
	s.sim.ClearFaults()
	s.sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, RetryAfter: 2 * time.Minute})
	s.sim.ResetRequests()
	var err error
	// Another endpoint: the storm's burst pause covers only /myself.
	d = timed(func() { _, err = s.app.Jira.AsApp(tn).Call(ctx, "GET", "/rest/api/3/serverInfo", nil) })
	var ae *jira.APIError
	if !errors.As(err, &ae) || ae.Cause != jira.CauseRetryAfterCap || ae.RetryAfter != 2*time.Minute || len(s.sim.Requests()) != 1 || d > time.Second {
		t.Fatalf("Retry-After 120 s: %v, %d requests in %v", err, len(s.sim.Requests()), d)
	}

	// A short burst: two 429s, then success on the third attempt.
	s.sim.ClearFaults()
	s.sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, RetryAfter: time.Second, Count: 2})
	s.sim.ResetRequests()
	var resp *jira.Response
	// A third endpoint: the 120 s burst pause above covers /serverInfo.
	d = timed(func() { resp, err = s.app.Jira.AsApp(tn).Call(ctx, "GET", "/rest/api/3/project/search", nil) })
	if err != nil || resp.Status != 200 || resp.Attempts != 3 || len(s.sim.Requests()) != 3 || d < 2*time.Second || d > 4*time.Second {
		t.Fatalf("burst of two 429s: %v, attempts %v, %d requests in %v", err, resp, len(s.sim.Requests()), d)
	}
	figure(t, "two 429s then 200", d.Round(10*time.Millisecond))

	// The panel's checks show Jira's first answer: one request, diagnosed.
	// The admin check is warmed again first: the install's tenant
	// notification (pg_notify, delivered asynchronously) forgets cached
	// permission answers, and under load it can arrive after the warm-up
	// at the top.
	s.sim.ClearFaults()
	if status, res, raw := s.check(t, "admin", "app", "GET", "/rest/api/3/myself"); status != 200 || res.Response.Status != 200 {
		t.Fatalf("check after the storm: %d %s", status, raw)
	}
	s.sim.SetFault(jirasim.Fault{Kind: jirasim.RateLimit, RetryAfter: time.Second})
	s.sim.ResetRequests()
	status, res, raw := s.check(t, "admin", "app", "GET", "/rest/api/3/myself")
	if status != 200 || res.Response.Status != 429 || len(s.sim.Requests()) != 1 {
		t.Fatalf("check during the storm: %d, %d requests: %s", status, len(s.sim.Requests()), raw)
	}
	if top, ok := res.Diagnosis.Top(); !ok || top.Code != explain.RateLimited {
		t.Fatalf("diagnosis during the storm: %v", causeCodes(res.Diagnosis))
	}
}

// TestFaultClockSkew moves the site's clock ±2 minutes.
//
// +2 min: the site's page tokens are issued in the app's future; the app
// refuses them 401 not_yet_valid and the explainer, given the refused
// exchange, names token_not_yet_valid with the iat evidence. The
// JWT-bearer assertion (exp = iat + 50 s) is expired by the site's clock:
// user checks fail with token_exchange_failed and the diagnosis names
// token_expired with the skew as evidence. App JWTs (3 min) still work.
//
// −2 min: page tokens are accepted (exp is still a minute ahead); the
// assertion's exp is 170 s ahead by the site's clock, refused as "too far
// in the future", which the diagnosis names token_not_yet_valid (this
// machine's clock ahead of the server's). App JWTs still work.
func TestFaultClockSkew(t *testing.T) {
	t.Parallel()
	s := startWithSim(t, storagetest.PostgresURL(t))
	inst := installSim(t, s)
	admin := s.sim.User("admin").AccountID
	// Warm the admin cache (checks as the app need it).
	if status, _, raw := s.check(t, "admin", "app", "GET", "/rest/api/3/myself"); status != 200 {
		t.Fatalf("check before the skew: %d %s", status, raw)
	}
	// Tokens minted with the site's secret at the app's (true) time, for
	// calling the panel API while the site's own tokens are skewed.
	ctxTok := func() string {
		now := time.Now()
		return mintHS(hsHeader, map[string]any{"iss": inst.ClientKey, "sub": admin, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"qsh": connect.ContextQSH, "context": map[string]any{"user": map[string]any{"accountId": admin}}}, []byte(inst.SharedSecret))
	}

	t.Run("site ahead", func(t *testing.T) {
		s.sim.ClearFaults()
		s.sim.SetFault(jirasim.Fault{Kind: jirasim.ClockSkew, Skew: 2 * time.Minute})
		u, err := s.sim.ModuleURL("connect-doctor", "connect-doctor-admin", admin)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var appBody httperr.Body
		_ = json.NewDecoder(resp.Body).Decode(&appBody)
		resp.Body.Close()
		if resp.StatusCode != 401 || appBody.Error.Code != "not_yet_valid" || !strings.Contains(appBody.Error.Hint, "clock") {
			t.Fatalf("page signed 2 min in the future: %d %+v", resp.StatusCode, appBody.Error)
		}
		// The explainer, given that exchange, names the skew.
		raw, _ := json.Marshal(appBody)
		req, _ := http.NewRequest("POST", s.base+"/api/explain", strings.NewReader(string(mustJSON(map[string]any{
			"request":  map[string]any{"method": "GET", "url": u},
			"response": map[string]any{"status": 401, "headers": map[string]string{"Content-Type": "application/json", "WWW-Authenticate": resp.Header.Get("WWW-Authenticate")}, "body": string(raw)},
		}))))
		req.Header.Set("Authorization", "JWT "+ctxTok())
		req.Header.Set("Content-Type", "application/json")
		er, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var d explain.Diagnosis
		_ = json.NewDecoder(er.Body).Decode(&d)
		er.Body.Close()
		ev := causeEvidence(d, explain.TokenNotYetValid)
		if er.StatusCode != 200 || !strings.Contains(ev, "iat") || !strings.Contains(ev, "in the future") {
			t.Fatalf("explain the skewed page: %d %v evidence %q", er.StatusCode, causeCodes(d), ev)
		}
		t.Logf("explainer: %v: %s", causeCodes(d), ev)
		// User token: the assertion is expired by the site's clock.
		status, res, rawRes := s.checkWith(t, ctxTok(), "user", "GET", "/rest/api/3/myself")
		skew := causeEvidence(res.Diagnosis, explain.TokenExpired)
		if status != 200 || res.Failure == nil || res.Failure.Code != "token_exchange_failed" ||
			!strings.Contains(skew, "clock runs behind") || !strings.Contains(skew, "Assertion has expired") {
			t.Fatalf("user check, site 2 min ahead: %d %s", status, rawRes)
		}
		t.Logf("user check: %v: %s", causeCodes(res.Diagnosis), skew)
		// App JWTs live 3 minutes: still accepted.
		if status, res, rawRes := s.checkWith(t, ctxTok(), "app", "GET", "/rest/api/3/myself"); status != 200 || res.Response.Status != 200 {
			t.Fatalf("app check, site 2 min ahead: %d %s", status, rawRes)
		}
	})

	t.Run("site behind", func(t *testing.T) {
		s.sim.ClearFaults()
		s.sim.SetFault(jirasim.Fault{Kind: jirasim.ClockSkew, Skew: -2 * time.Minute})
		if got := s.page(t, admin); got != 200 {
			t.Fatalf("page signed 2 min in the past: %d, want 200 (exp is still ahead)", got)
		}
		status, res, rawRes := s.checkWith(t, ctxTok(), "user", "GET", "/rest/api/3/myself")
		skew := causeEvidence(res.Diagnosis, explain.TokenNotYetValid)
		if status != 200 || res.Failure == nil || res.Failure.Code != "token_exchange_failed" ||
			!strings.Contains(skew, "ahead of the authorization server") || !strings.Contains(skew, "too far in the future") {
			t.Fatalf("user check, site 2 min behind: %d %s", status, rawRes)
		}
		t.Logf("user check: %v: %s", causeCodes(res.Diagnosis), skew)
		if status, res, rawRes := s.checkWith(t, ctxTok(), "app", "GET", "/rest/api/3/myself"); status != 200 || res.Response.Status != 200 {
			t.Fatalf("app check, site 2 min behind: %d %s", status, rawRes)
		}
	})
}
