package forge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// graphQLStub answers offlineUserAuthToken like the gateway: it wants the
// system token as Bearer, the site ARI and a user id.
type graphQLStub struct {
	srv      *httptest.Server
	calls    atomic.Int64
	system   string
	ttl      int64
	failWith string
}

func newGraphQLStub(t *testing.T, system string) *graphQLStub {
	g := &graphQLStub{system: system, ttl: 3600}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		var req struct {
			Query     string `json:"query"`
			Variables struct {
				Input struct {
					ContextIDs []string `json:"contextIds"`
					UserID     string   `json:"userId"`
				} `json:"input"`
			} `json:"variables"`
		}
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/graphql" || r.Header.Get("Authorization") != "Bearer "+g.system {
			w.WriteHeader(401)
			io.WriteString(w, `{"code":401,"message":"Unauthorized"}`)
			return
		}
		if json.Unmarshal(b, &req) != nil || !strings.Contains(req.Query, "offlineUserAuthToken(input: $input)") ||
			len(req.Variables.Input.ContextIDs) != 1 || req.Variables.Input.ContextIDs[0] != "ari:cloud:jira::site/cloud-1" {
			w.WriteHeader(400)
			return
		}
		if g.failWith != "" {
			fmt.Fprintf(w, `{"data":{"offlineUserAuthToken":{"success":false,"errors":[{"message":%q}],"authToken":null}}}`, g.failWith)
			return
		}
		fmt.Fprintf(w, `{"data":{"offlineUserAuthToken":{"success":true,"errors":null,"authToken":{"token":"offline-%s-%d","ttl":%d}}}}`,
			req.Variables.Input.UserID, g.calls.Load(), g.ttl)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func TestOfflineTokensCachedForTTL(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	system := forgesim.OAuthToken("system", now.Add(3*time.Hour))
	g := newGraphQLStub(t, system)
	o := forge.NewOfflineTokens(forge.OfflineOptions{Now: clock, Size: 2})
	req := func(acc string) forge.OfflineRequest {
		return forge.OfflineRequest{InstallationID: "inst", APIBaseURL: g.srv.URL + "/ex/jira/cloud-1", CloudID: "cloud-1",
			AccountID: acc, SystemToken: forge.NewToken(system)}
	}
	var wg sync.WaitGroup
	for range 20 { // concurrent first requests share one call
		wg.Go(func() {
			if tok, err := o.Token(context.Background(), req("alice")); err != nil || tok.Value() != "offline-alice-1" {
				t.Errorf("%v %v", tok.Value(), err)
			}
		})
	}
	wg.Wait()
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("%d GraphQL calls for 20 concurrent requests", n)
	}
	tok, _ := o.Token(context.Background(), req("alice"))
	if !tok.Expiry.Equal(now.Add(time.Hour)) || fmt.Sprint(tok) == tok.Value() {
		t.Fatalf("expiry %v / printed %v", tok.Expiry, tok)
	}
	mu.Lock()
	now = now.Add(59*time.Minute + 30*time.Second) // less than MinTTL left: fetch again
	mu.Unlock()
	if tok, _ := o.Token(context.Background(), req("alice")); tok.Value() != "offline-alice-2" {
		t.Fatalf("stale token reused: %s", tok.Value())
	}
	// Bounded: three users in a cache of two evicts the oldest.
	o.Token(context.Background(), req("bob"))
	o.Token(context.Background(), req("carol"))
	before := g.calls.Load()
	o.Token(context.Background(), req("alice"))
	if g.calls.Load() != before+1 {
		t.Fatal("the cache is not bounded")
	}
	// Forget drops one entry; OfflineBearer refreshes exactly once.
	b := &forge.OfflineBearer{Tokens: o, Request: req("alice")}
	first, _ := b.Bearer(context.Background())
	if !b.Refresh(first) || b.Refresh(first) {
		t.Fatal("OfflineBearer must refresh exactly once")
	}
	if second, _ := b.Bearer(context.Background()); second == first {
		t.Fatal("refresh did not fetch a new token")
	}
	if o.Calls() != g.calls.Load() {
		t.Fatalf("Calls %d, server %d", o.Calls(), g.calls.Load())
	}
}

func TestOfflineTokenFailures(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	system := forgesim.OAuthToken("system", now.Add(3*time.Hour))
	g := newGraphQLStub(t, system)
	base := g.srv.URL + "/ex/jira/cloud-1"
	tests := []struct {
		name     string
		req      forge.OfflineRequest
		failWith string
		want     error
		text     string
	}{
		{"no system token", forge.OfflineRequest{InstallationID: "i", APIBaseURL: base, CloudID: "cloud-1", AccountID: "a"}, "", forge.ErrForgeTokenAbsent, ""},
		{"expired system token", forge.OfflineRequest{InstallationID: "i", APIBaseURL: base, CloudID: "cloud-1", AccountID: "a",
			SystemToken: forge.DeliveredToken(forgesim.OAuthToken("system", now.Add(time.Hour)), now.Add(-forge.MinDeliveredValidity-time.Minute))}, "", forge.ErrForgeTokenExpired, ""},
		{"no user", forge.OfflineRequest{InstallationID: "i", APIBaseURL: base, CloudID: "cloud-1", SystemToken: forge.NewToken(system)}, "", forge.ErrOfflineToken, "no user"},
		{"gateway refuses the token", forge.OfflineRequest{InstallationID: "i", APIBaseURL: base, CloudID: "cloud-1", AccountID: "a",
			SystemToken: forge.NewToken(forgesim.OAuthToken("system", now.Add(time.Hour)))}, "", forge.ErrOfflineToken, "401"},
		{"GraphQL error message", forge.OfflineRequest{InstallationID: "i", APIBaseURL: base, CloudID: "cloud-1", AccountID: "a",
			SystemToken: forge.NewToken(system)}, "User is not allowed to use the app", forge.ErrOfflineToken, "not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g.failWith = tc.failWith
			o := forge.NewOfflineTokens(forge.OfflineOptions{Now: func() time.Time { return now }})
			_, err := o.Token(context.Background(), tc.req)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err %v, want %v containing %q", err, tc.want, tc.text)
			}
			if strings.Contains(err.Error(), system) {
				t.Fatal("the error carries the system token")
			}
		})
	}
}

func TestStaticBearer(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	live := forge.NewToken(forgesim.OAuthToken("user", now.Add(time.Hour)))
	if v, err := (forge.StaticBearer{Token: live, Now: clock}).Bearer(context.Background()); err != nil || v != live.Value() {
		t.Fatalf("%v", err)
	}
	if _, err := (forge.StaticBearer{Now: clock}).Bearer(context.Background()); forge.Code(err) != "forge_token_absent" {
		t.Fatalf("absent: %v", err)
	}
	old := forge.DeliveredToken(forgesim.OAuthToken("user", now.Add(time.Hour)), now.Add(-forge.MinDeliveredValidity-time.Second))
	if _, err := (forge.StaticBearer{Token: old, Now: clock}).Bearer(context.Background()); forge.Code(err) != "forge_token_expired" {
		t.Fatalf("expired: %v", err)
	}
	if (forge.StaticBearer{Token: live}).Refresh(live.Value()) {
		t.Fatal("a delivered token cannot be refreshed")
	}
}

func TestCheckAPIBaseURLLocalGateway(t *testing.T) {
	v, err := forge.NewVerifierWithKeys(forge.Config{AppID: forgesim.DefaultAppID, APIHosts: []string{"api.atlassian.com", "127.0.0.1:8443"}}, forge.StaticKeys{})
	if err != nil {
		t.Fatal(err)
	}
	for u, ok := range map[string]bool{
		"https://api.atlassian.com/ex/jira/abc":   true,
		"http://127.0.0.1:8443/ex/jira/abc":       true,
		"https://127.0.0.1:8443/ex/jira/abc":      true,
		"http://127.0.0.1:8444/ex/jira/abc":       false,
		"http://127.0.0.1/ex/jira/abc":            false,
		"https://api.atlassian.com:443/ex/jira/a": false,
		"http://api.atlassian.com/ex/jira/abc":    false,
	} {
		if err := v.CheckAPIBaseURL(u); (err == nil) != ok {
			t.Errorf("CheckAPIBaseURL(%q) = %v, want ok=%v", u, err, ok)
		}
	}
	for _, bad := range []string{"https://api.atlassian.com", "api.atlassian.com/ex", "user@host", ":80"} {
		_, _, err := forge.ConfigFromEnv(func(k string) string {
			return map[string]string{"FORGE_APP_ID": forgesim.DefaultAppID, "FORGE_API_HOSTS": bad}[k]
		})
		if !errors.Is(err, forge.ErrConfig) || !strings.Contains(err.Error(), "FORGE_API_HOSTS") {
			t.Errorf("FORGE_API_HOSTS=%q: %v", bad, err)
		}
	}
	_, _, err = forge.ConfigFromEnv(func(k string) string {
		return map[string]string{"FORGE_APP_ID": forgesim.DefaultAppID, "FORGE_JWKS_URL": "ftp://x"}[k]
	})
	if !strings.Contains(fmt.Sprint(err), "FORGE_JWKS_URL") {
		t.Errorf("FORGE_JWKS_URL not named: %v", err)
	}
}
