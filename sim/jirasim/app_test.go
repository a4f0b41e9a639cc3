package jirasim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

// testApp is a tiny Connect app: it serves a descriptor, verifies the
// signed install/uninstall callbacks against the simulator's key server
// (a minimal RS256 verification) and the enabled/disabled callbacks with
// the shared secret, and records what it saw.
type testApp struct {
	t        *testing.T
	srv      *httptest.Server
	keyURL   string
	basePath string
	key      string
	scopes   []string

	mu          sync.Mutex
	installFail int         // status to answer installed with, 0 = 204
	adminHTML   string      // the admin module's page, when set
	seen        chan string // bodies POSTed to /app/seen by the module page
	events      []appEvent
	secret      string
	clientKey   string
}

type appEvent struct {
	Event   string
	Alg     string
	Kid     string
	Claims  connect.Claims
	Payload lifecyclePayload
	Err     error
}

func newTestApp(t *testing.T, sim *Sim, key string, scopes ...string) *testApp {
	t.Helper()
	a := &testApp{t: t, keyURL: sim.KeyServerURL(), basePath: "/app", key: key, scopes: scopes}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app/atlassian-connect.json", a.descriptor)
	for _, ev := range []string{"installed", "uninstalled", "enabled", "disabled"} {
		mux.HandleFunc("POST /app/"+ev, a.lifecycle(ev))
	}
	a.seen = make(chan string, 4)
	mux.HandleFunc("GET /app/admin", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		page := a.adminHTML
		a.mu.Unlock()
		if page == "" {
			page = "<html><body>admin</body></html>"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("POST /app/seen", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case a.seen <- string(b):
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *testApp) baseURL() string       { return a.srv.URL + a.basePath }
func (a *testApp) descriptorURL() string { return a.baseURL() + "/atlassian-connect.json" }

func (a *testApp) descriptor(w http.ResponseWriter, r *http.Request) {
	d := map[string]any{
		"key": a.key, "name": "Test App " + a.key, "baseUrl": a.baseURL(),
		"authentication": map[string]string{"type": "jwt"},
		"lifecycle":      map[string]string{"installed": "/installed", "uninstalled": "/uninstalled", "enabled": "/enabled", "disabled": "/disabled"},
		"apiMigrations":  map[string]bool{"signed-install": true, "context-qsh": true},
		"scopes":         a.scopes,
		"modules": map[string]any{"adminPages": []map[string]any{
			{"key": "doctor-admin", "url": "/admin?tab=overview", "name": map[string]string{"value": "Connect Doctor"}},
		}},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(d)
}

// fetchKey is the minimal install-key lookup: GET <keyserver>/<kid>.
func (a *testApp) fetchKey(kid string) (*rsa.PublicKey, error) {
	resp, err := http.Get(a.keyURL + "/" + url.PathEscape(kid))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key server: HTTP %d", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not RSA")
	}
	return rk, nil
}

func (a *testApp) lifecycle(event string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := appEvent{Event: event}
		_ = json.Unmarshal(body, &ev.Payload)
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "JWT ")
		if !ok {
			ev.Err = errors.New("no JWT")
		}
		signed := event == "installed" || event == "uninstalled"
		a.mu.Lock()
		secret := a.secret
		a.mu.Unlock()
		if ev.Err == nil {
			methods := []string{"HS256"}
			if signed {
				methods = []string{"RS256"}
			}
			t, err := jwt.NewParser(jwt.WithValidMethods(methods), jwt.WithExpirationRequired()).ParseWithClaims(tok, &ev.Claims,
				func(t *jwt.Token) (any, error) {
					ev.Alg = t.Method.Alg()
					if signed {
						ev.Kid, _ = t.Header["kid"].(string)
						return a.fetchKey(ev.Kid)
					}
					return []byte(secret), nil
				})
			_ = t
			ev.Err = err
			if err == nil && ev.Claims.QSH != connect.RequestQSH(r.Method, r.RequestURI, a.basePath) {
				ev.Err = errors.New("qsh mismatch")
			}
			if err == nil && signed {
				if len(ev.Claims.Audience) == 0 || ev.Claims.Audience[0] != a.baseURL() {
					ev.Err = fmt.Errorf("aud %v", ev.Claims.Audience)
				}
				if ev.Claims.Issuer != ev.Payload.ClientKey {
					ev.Err = errors.New("iss is not the payload clientKey")
				}
			}
		}
		a.mu.Lock()
		a.events = append(a.events, ev)
		fail := a.installFail
		if ev.Err == nil && event == "installed" && fail == 0 {
			a.secret = ev.Payload.SharedSecret
			a.clientKey = ev.Payload.ClientKey
		}
		a.mu.Unlock()
		switch {
		case ev.Err != nil:
			http.Error(w, ev.Err.Error(), http.StatusUnauthorized)
		case event == "installed" && fail != 0:
			w.WriteHeader(fail)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}
}

func (a *testApp) eventsOf(name string) []appEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []appEvent
	for _, e := range a.events {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// fixedClock is a settable clock for the simulator.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newSim starts a simulator on a fixed clock; tests share seed 7 so the
// RSA key is generated once per process.
func newSim(t *testing.T, mod func(*Options)) (*Sim, *fixedClock) {
	t.Helper()
	clk := &fixedClock{t: time.Now().Truncate(time.Second)}
	o := Options{Seed: 7, Now: clk.Now}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, clk
}

// installed starts a simulator and installs a test app with scopes.
func installed(t *testing.T, mod func(*Options), scopes ...string) (*Sim, *fixedClock, *testApp, *Installation) {
	t.Helper()
	s, clk := newSim(t, mod)
	a := newTestApp(t, s, "test-app", scopes...)
	in, err := s.InstallApp(t.Context(), a.descriptorURL())
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	return s, clk, a, in
}

// appToken signs an app JWT for a request as Jira expects it.
func appToken(in *Installation, now time.Time, method, uri string, mod func(*connect.Claims)) string {
	c := connect.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    in.AppKey,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
			Audience:  jwt.ClaimStrings{in.ClientKey},
		},
		QSH: connect.RequestQSH(method, uri, ""),
	}
	secret := in.SharedSecret
	if mod != nil {
		mod(&c)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		panic(err)
	}
	return tok
}

type result struct {
	status int
	header http.Header
	body   string
}

func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	return m
}

func do(t *testing.T, method, u string, body io.Reader, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// asApp calls the site as the app with a correctly signed JWT.
func asApp(t *testing.T, s *Sim, in *Installation, now time.Time, method, uri string, body io.Reader) result {
	t.Helper()
	h := map[string]string{"Authorization": "JWT " + appToken(in, now, method, uri, nil), "Accept": "application/json"}
	if body != nil {
		h["Content-Type"] = "application/json"
	}
	return do(t, method, s.URL()+uri, body, h)
}
