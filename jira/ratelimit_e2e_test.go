package jira_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/sim/jirasim"
	"github.com/connect-doctor/connect-doctor/sim/ratesim"
)

// TestE2ERateLimitReasons drives the gate against the simulator's points
// model, each reason forced on demand: the app JWT and the user token
// both stop at the first 429 of a quota and fail fast afterwards.
func TestE2ERateLimitReasons(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		method    string
		path      string
		then      string // path of the second call, same method
		wantScope jira.ScopeKind
	}{
		{"global quota", ratesim.ReasonGlobal, "GET", "/rest/api/3/myself", "/rest/api/3/serverInfo", jira.ScopeGlobal},
		{"tenant quota", ratesim.ReasonTenant, "GET", "/rest/api/3/myself", "/rest/api/3/serverInfo", jira.ScopeTenant},
		{"gateway 429", ratesim.ReasonGateway, "GET", "/rest/api/3/myself", "/rest/api/3/serverInfo", jira.ScopeTenant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := ratesim.New(ratesim.Options{})
			sim, err := jirasim.New(jirasim.Options{Seed: 4, RateLimits: model})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sim.Close)
			app := newE2EApp(t, "com.example.e2e", "READ", "WRITE", "ACT_AS_USER")
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if _, err := sim.InstallApp(ctx, app.srv.URL+"/atlassian-connect.json"); err != nil {
				t.Fatal(err)
			}
			tenant := app.tenant()
			lim := jira.NewLimiter(jira.LimiterOptions{})
			tokens := oauth.NewCache(&oauth.Exchanger{TokenURL: sim.AuthServerURL(), Timeout: 10 * time.Second}, oauth.CacheOptions{})
			client := jira.New(jira.Options{AppKey: "com.example.e2e", Tokens: tokens, RateLimit: lim,
				Retry: jira.RetryPolicy{MaxRetryAfter: time.Second}})
			model.Force(tc.reason, 1)
			_, err = client.AsApp(tenant).Call(t.Context(), tc.method, tc.path, nil)
			ae, ok := errors.AsType[*jira.APIError](err)
			if !ok || ae.StatusCode != 429 || ae.RateLimit == nil || ae.RateLimit.Scope != tc.wantScope {
				t.Fatalf("first call: %v (signal %+v), want a 429 of scope %s", err, ae, tc.wantScope)
			}
			before := model.Stats()
			_, err = client.AsUser(tenant, sim.User("admin").AccountID).Call(t.Context(), tc.method, tc.then, nil)
			if le, ok := errors.AsType[*jira.LimitedError](err); !ok || le.Scope != tc.wantScope {
				t.Fatalf("second call: %v, want refused locally for scope %s", err, tc.wantScope)
			}
			after := model.Stats()
			if after.Served[sim.ClientKey()] != before.Served[sim.ClientKey()] || len(after.Early) != 0 {
				t.Errorf("a request reached the site while the pause held: early %v", after.Early)
			}
		})
	}
}
