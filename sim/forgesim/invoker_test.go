package forgesim_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// received is one request a test remote got.
type received struct {
	Method string
	Path   string
	Header http.Header
	Body   map[string]any
}

// remote is an httptest remote that records requests and answers with the
// next status of a script (200 once the script runs out).
type remote struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	script []int
	hang   time.Duration
}

func newRemote(t *testing.T, script ...int) *remote {
	r := &remote{script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Method, req.URL.Path, req.Header.Clone(), body})
		status := 200
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		hang := r.hang
		r.mu.Unlock()
		if status == 0 { // hang until the client gives up
			select {
			case <-req.Context().Done():
			case <-time.After(hang):
			}
			return
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *remote) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

type fixture struct {
	c    *clock
	key  *rsa.PrivateKey
	site *forgesim.Site
	// sleeps records the delays the invoker asked for.
	sleeps *[]time.Duration
}

func newFixture(t *testing.T, scopes []string, opts forgesim.InvokerOptions) fixture {
	t.Helper()
	c := newClock()
	var mu sync.Mutex
	sleeps := &[]time.Duration{}
	opts.Sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		*sleeps = append(*sleeps, d)
		mu.Unlock()
		c.Add(d)
		return nil
	}
	k := key(t)
	site := forgesim.NewSite(forgesim.SiteOptions{CloudID: cloudA, SiteURL: "https://acme.atlassian.net", InstallationID: instA,
		Scopes: scopes, Now: c.Now, Seed: 3, Key: k, KID: "k0", Invoker: opts})
	t.Cleanup(site.Close)
	return fixture{c: c, key: k, site: site, sleeps: sleeps}
}

// fitClaims verifies a received FIT with the site's key and returns it.
func (f fixture) fitClaims(t *testing.T, h http.Header) jwt.MapClaims {
	t.Helper()
	return f.fitClaimsOpts(t, h, jwt.WithTimeFunc(f.c.Now))
}

// fitClaimsOpts verifies signature, alg, iss and aud with extra parser
// options (retried deliveries are checked without the clock, which the
// retry delays moved on).
func (f fixture) fitClaimsOpts(t *testing.T, h http.Header, extra ...jwt.ParserOption) jwt.MapClaims {
	t.Helper()
	raw, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		t.Fatalf("no bearer FIT: %q", h.Get("Authorization"))
	}
	var cl jwt.MapClaims
	opts := append([]jwt.ParserOption{jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(forgesim.Issuer), jwt.WithAudience(f.site.AppID())}, extra...)
	_, err := jwt.NewParser(opts...).ParseWithClaims(raw, &cl, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != "k0" {
			t.Errorf("kid %v", tok.Header["kid"])
		}
		return &f.key.PublicKey, nil
	})
	if err != nil {
		t.Fatalf("FIT does not verify: %v", err)
	}
	return cl
}

func TestInvokeLifecycleEvent(t *testing.T) {
	f := newFixture(t, nil, forgesim.InvokerOptions{})
	r := newRemote(t)
	resp, err := f.site.Install(context.Background(), r.srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("install: %v %v", resp, err)
	}
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	g := got[0]
	if g.Method != "POST" || g.Path != forgesim.LifecyclePath || g.Header.Get("Content-Type") != "application/json" ||
		g.Header.Get(forgesim.HeaderTraceID) == "" || g.Header.Get(forgesim.HeaderSpanID) == "" {
		t.Errorf("request %s %s %v", g.Method, g.Path, g.Header)
	}
	if g.Header.Get(forgesim.HeaderUserToken) != "" {
		t.Error("a trigger received a user token")
	}
	cl := f.fitClaims(t, g.Header)
	app := cl["app"].(map[string]any)
	if app["installationId"] != instA || app["apiBaseUrl"] != f.site.APIBaseURL() || app["module"].(map[string]any)["type"] != "core:endpoint" || cl["principal"] != nil || cl["context"] != nil {
		t.Errorf("FIT claims %v", cl)
	}
	if g.Body["eventType"] != forgesim.EventInstalled || g.Body["id"] != instA || g.Body["context"] != forgesim.SiteARI(cloudA) ||
		g.Body["app"].(map[string]any)["id"] != f.site.AppID() || g.Body["retryContext"] != nil {
		t.Errorf("body %v", g.Body)
	}
	// The system token works at the gateway, as the app (admin check).
	sys := g.Header.Get(forgesim.HeaderSystemToken)
	st, body := call(t, "GET", f.site.APIBaseURL()+"/rest/api/3/mypermissions?permissions=ADMINISTER", sys, nil)
	if st != 200 || !strings.Contains(body, `"havePermission":true`) {
		t.Errorf("admin check with the system token: %d %s", st, body)
	}
}

func TestInvokeRetries(t *testing.T) {
	cases := []struct {
		name    string
		script  []int
		opts    forgesim.InvokerOptions
		nested  bool
		wantN   int
		reasons []string // retryReason of deliveries 2..n
		final   int
		wantErr bool
	}{
		{name: "500 then 401 then 200", script: []int{500, 401, 200}, wantN: 3, reasons: []string{forgesim.RetryInvalidRemote, forgesim.RetryInvalidFIT}, final: 200},
		{name: "redirect counts as failure", script: []int{302, 204}, wantN: 2, reasons: []string{forgesim.RetryInvalidRemote}, final: 204},
		{name: "gives up after four retries", script: []int{503, 503, 503, 503, 503, 503}, wantN: 5, reasons: []string{forgesim.RetryInvalidRemote, forgesim.RetryInvalidRemote, forgesim.RetryInvalidRemote, forgesim.RetryInvalidRemote}, final: 503},
		{name: "timeout", script: []int{0, 200}, opts: forgesim.InvokerOptions{Timeout: 50 * time.Millisecond}, wantN: 2, reasons: []string{forgesim.RetryTimeout}, final: 200},
		{name: "timeout on every try", script: []int{0, 0}, opts: forgesim.InvokerOptions{Timeout: 30 * time.Millisecond, Retries: 1}, wantN: 2, reasons: []string{forgesim.RetryTimeout}, wantErr: true},
		{name: "nested payload", script: []int{500, 200}, opts: forgesim.InvokerOptions{NestPayload: true}, nested: true, wantN: 2, reasons: []string{forgesim.RetryInvalidRemote}, final: 200},
		{name: "no retries", script: []int{500}, opts: forgesim.InvokerOptions{Retries: -1}, wantN: 1, final: 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, tc.opts)
			r := newRemote(t, tc.script...)
			r.hang = time.Second
			resp, err := f.site.Install(context.Background(), r.srv.URL)
			if tc.wantErr != (err != nil) {
				t.Fatalf("err %v", err)
			}
			if !tc.wantErr && resp.StatusCode != tc.final {
				t.Errorf("final status %d, want %d", resp.StatusCode, tc.final)
			}
			got := r.requests()
			if len(got) != tc.wantN || len(f.site.Invoker().Deliveries()) != tc.wantN {
				t.Fatalf("%d deliveries (%d logged), want %d", len(got), len(f.site.Invoker().Deliveries()), tc.wantN)
			}
			if len(*f.sleeps) != tc.wantN-1 {
				t.Errorf("slept %v", *f.sleeps)
			}
			for _, d := range *f.sleeps {
				if d != forgesim.EventRetryDelay {
					t.Errorf("retry delay %v", d)
				}
			}
			jtis := map[any]bool{}
			for i, g := range got {
				jtis[f.fitClaimsOpts(t, g.Header, jwt.WithoutClaimsValidation())["jti"]] = true
				body := g.Body
				if tc.nested {
					body, _ = g.Body["payload"].(map[string]any)
				}
				if body["id"] != instA {
					t.Errorf("delivery %d body %v", i+1, g.Body)
				}
				rc, _ := body["retryContext"].(map[string]any)
				if i == 0 {
					if rc != nil {
						t.Errorf("first delivery has retryContext %v", rc)
					}
					continue
				}
				if rc == nil || rc["retryCount"] != float64(i) || rc["retryReason"] != tc.reasons[i-1] {
					t.Errorf("delivery %d retryContext %v, want count %d reason %s", i+1, rc, i, tc.reasons[i-1])
				}
				if v, ok := rc["retryData"]; !ok || v != nil {
					t.Errorf("retryData %v", rc)
				}
			}
			if len(jtis) != tc.wantN {
				t.Errorf("retries reuse a FIT: %d distinct jti", len(jtis))
			}
		})
	}
}

func TestInvokeTokensByKind(t *testing.T) {
	cases := []struct {
		name             string
		scopes           []string
		spec             forgesim.InvocationSpec
		wantSys, wantUsr bool
		wantPrincipal    bool
	}{
		{name: "ui call with both tokens", spec: forgesim.InvocationSpec{Kind: forgesim.KindUI, AccountID: user1, Method: "GET", WithSystemToken: true, WithUserToken: true}, wantSys: true, wantUsr: true, wantPrincipal: true},
		{name: "ui call, user token only", spec: forgesim.InvocationSpec{Kind: forgesim.KindUI, AccountID: user1, WithUserToken: true}, wantUsr: true, wantPrincipal: true},
		{name: "ui call without read:app-user-token", scopes: []string{"read:app-system-token", "read:jira-user"}, spec: forgesim.InvocationSpec{Kind: forgesim.KindUI, AccountID: user1, WithSystemToken: true, WithUserToken: true}, wantSys: true, wantPrincipal: true},
		{name: "ui call without read:app-system-token", scopes: []string{"read:app-user-token", "read:jira-user"}, spec: forgesim.InvocationSpec{Kind: forgesim.KindUI, AccountID: user1, WithSystemToken: true, WithUserToken: true}, wantUsr: true, wantPrincipal: true},
		{name: "trigger never gets a user token", spec: forgesim.InvocationSpec{AccountID: user1, WithSystemToken: true, WithUserToken: true}, wantSys: true},
		{name: "scheduled trigger never gets a user token", spec: forgesim.InvocationSpec{Kind: forgesim.KindScheduled, AccountID: user1, WithSystemToken: true, WithUserToken: true}, wantSys: true},
		{name: "endpoint without auth", spec: forgesim.InvocationSpec{Kind: forgesim.KindUI, AccountID: user1}, wantPrincipal: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.scopes, forgesim.InvokerOptions{})
			r := newRemote(t)
			tc.spec.InstallationID = instA
			tc.spec.Header = http.Header{"X-Custom": {"1"}}
			if _, err := f.site.Invoker().Invoke(context.Background(), r.srv.URL, "/forge/api/installation", tc.spec); err != nil {
				t.Fatal(err)
			}
			g := r.requests()[0]
			if (g.Header.Get(forgesim.HeaderSystemToken) != "") != tc.wantSys || (g.Header.Get(forgesim.HeaderUserToken) != "") != tc.wantUsr {
				t.Errorf("system %v user %v", g.Header.Get(forgesim.HeaderSystemToken) != "", g.Header.Get(forgesim.HeaderUserToken) != "")
			}
			if want := tc.spec.Method; want != "" && g.Method != want {
				t.Errorf("method %s", g.Method)
			}
			cl := f.fitClaims(t, g.Header)
			if (cl["principal"] == user1) != tc.wantPrincipal {
				t.Errorf("principal %v", cl["principal"])
			}
			if tc.spec.Kind == forgesim.KindUI {
				ctx, _ := cl["context"].(map[string]any)
				if ctx["cloudId"] != cloudA || ctx["siteUrl"] != "https://acme.atlassian.net" || g.Header.Get("X-Custom") != "1" {
					t.Errorf("ui FIT context %v, headers %v", ctx, g.Header)
				}
			}
			if tc.wantUsr {
				st, body := call(t, "GET", f.site.APIBaseURL()+"/rest/api/3/myself", g.Header.Get(forgesim.HeaderUserToken), nil)
				if st != 200 || !strings.Contains(body, user1) {
					t.Errorf("user token: %d %s", st, body)
				}
			}
		})
	}
}

func TestRequestRemoteSendsFITOnly(t *testing.T) {
	f := newFixture(t, nil, forgesim.InvokerOptions{})
	r := newRemote(t)
	resp, err := f.site.RequestRemote(context.Background(), r.srv.URL, "/forge/api/checks", "post", map[string]string{"path": "/rest/api/3/myself"}, user1)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	g := r.requests()[0]
	for _, h := range []string{forgesim.HeaderSystemToken, forgesim.HeaderUserToken, forgesim.HeaderTraceID} {
		if g.Header.Get(h) != "" {
			t.Errorf("requestRemote sent %s", h)
		}
	}
	cl := f.fitClaims(t, g.Header)
	if g.Method != "POST" || cl["principal"] != user1 || g.Body["path"] != "/rest/api/3/myself" {
		t.Errorf("%s %v %v", g.Method, cl, g.Body)
	}
}

func TestSiteLifecycle(t *testing.T) {
	f := newFixture(t, []string{"read:app-system-token", "read:jira-user"}, forgesim.InvokerOptions{})
	r := newRemote(t)
	ctx := context.Background()
	if _, err := f.site.Scheduled(ctx, r.srv.URL); err != nil {
		t.Fatal(err)
	}
	if _, err := f.site.Upgrade(ctx, r.srv.URL, []string{"read:app-system-token", "read:jira-user", "read:jira-work"}, forgesim.WithAccountID(user1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.site.UI(ctx, r.srv.URL, "GET", "/forge/api/installation", user1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.site.PreUninstall(ctx, r.srv.URL); err != nil {
		t.Fatal(err)
	}
	got := r.requests()
	if len(got) != 4 || got[0].Path != forgesim.ScheduledPath || got[1].Path != forgesim.LifecyclePath || got[3].Path != forgesim.PreUninstallPath {
		t.Fatalf("requests %v", got)
	}
	up := got[1].Body
	perms, _ := up["permissions"].(map[string]any)
	if up["eventType"] != forgesim.EventUpgraded || up["upgraderAccountId"] != user1 || len(perms["scopes"].([]any)) != 3 {
		t.Errorf("upgraded body %v", up)
	}
	if got[0].Header.Get(forgesim.HeaderSystemToken) == "" || got[0].Body["installationId"] != instA {
		t.Errorf("scheduled %v %v", got[0].Header, got[0].Body)
	}
	if got[2].Header.Get(forgesim.HeaderUserToken) != "" {
		t.Error("a UI call got a user token without read:app-user-token")
	}
	if in, _ := f.site.Gateway().Installation(instA); !in.Uninstalled || len(in.Scopes) != 3 {
		t.Errorf("installation after pre-uninstall %+v", in)
	}
	if tok, _ := f.site.Gateway().SystemToken(instA); tok != "" {
		t.Error("tokens are still issued after uninstall")
	}
}

func TestEventShapes(t *testing.T) {
	e := forgesim.InstalledEvent(instA, forgesim.DefaultAppID, cloudA, "https://acme.atlassian.net", forgesim.WithBareAppID(), forgesim.WithoutEventType(),
		forgesim.WithAccountID(user1), forgesim.WithAppVersion("2.0.0"), forgesim.WithEnvironmentID(forgesim.DefaultEnvironmentID))
	b, _ := json.Marshal(e)
	want := `{"app":{"id":"11111111-2222-3333-4444-555555555555","version":"2.0.0"},"environment":{"id":"` + forgesim.DefaultEnvironmentID + `"},"id":"` + instA + `","installerAccountId":"` + user1 + `"}`
	if string(b) != want {
		t.Errorf("installed\n got %s\nwant %s", b, want)
	}
	u := forgesim.UpgradedEvent(instA, forgesim.DefaultAppID, cloudA, "", nil)
	b, _ = json.Marshal(u)
	if !strings.Contains(string(b), `"permissions":{"external":{},"scopes":[]}`) || !strings.Contains(string(b), `"eventType":"avi:forge:upgraded:app"`) {
		t.Errorf("upgraded %s", b)
	}
}

// TestFITsPassTheForgeVerifier checks the invoker's FITs against the
// project's verifier, fetching keys from the site's JWKS host.
func TestFITsPassTheForgeVerifier(t *testing.T) {
	f := newFixture(t, nil, forgesim.InvokerOptions{})
	v, err := forge.NewVerifier(forge.Config{AppID: f.site.AppID(), JWKSURL: f.site.JWKSURL(), Now: f.c.Now, HTTPClient: f.site.KeyHost().Client()})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var codes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, err := v.VerifyRequest(r)
		mu.Lock()
		codes = append(codes, forge.Code(err))
		mu.Unlock()
		if err != nil {
			httperr.Write(w, err)
			return
		}
		if cl.InstallationID() != instA || cl.CloudID() != cloudA {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if resp, err := f.site.Install(ctx, srv.URL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("install: %v %v", resp, err)
	}
	if resp, err := f.site.UI(ctx, srv.URL, "GET", "/forge/api/installation", user1, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ui: %v %v", resp, err)
	}
	if resp, err := f.site.RequestRemote(ctx, srv.URL, "/forge/api/installation", "GET", nil, user1); err != nil || resp.StatusCode != 200 {
		t.Fatalf("requestRemote: %v %v", resp, err)
	}
	// A development installation is refused by a production backend.
	dev := forgesim.NewSite(forgesim.SiteOptions{CloudID: cloudA, InstallationID: instA, Environment: "DEVELOPMENT", Now: f.c.Now, Key: f.key, KID: "k0",
		Invoker: forgesim.InvokerOptions{Retries: -1}})
	defer dev.Close()
	if resp, err := dev.Install(ctx, srv.URL); err != nil || resp.StatusCode != 401 {
		t.Fatalf("dev install: %v %v", resp, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(codes) != 4 || codes[0] != "" || codes[3] != "fit_dev_environment" {
		t.Errorf("verifier codes %q", codes)
	}
}
