package jira

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// limitedClient is newTestClient with a Limiter as its gate.
func limitedClient(f *fakeJira, policy RetryPolicy) (*Client, *sleepRecorder, *Limiter) {
	rec := &sleepRecorder{now: fixedNow}
	f.now = rec.Now
	policy.Sleep = rec.Sleep
	policy.Jitter = func(time.Duration) time.Duration { return 0 }
	lim := NewLimiter(LimiterOptions{Now: rec.Now})
	c := New(Options{HTTP: f.srv.Client(), AppKey: testAppKey, Now: rec.Now, Retry: policy, RateLimit: lim})
	return c, rec, lim
}

func TestLimiterByReason(t *testing.T) {
	reset := fixedNow.Add(90 * time.Second).UTC().Format(time.RFC3339)
	tests := []struct {
		name        string
		first       func(http.ResponseWriter, *http.Request, int)
		firstMethod string
		firstPath   string
		// then: a second call and whether it must be refused locally
		method, path string
		wantRefused  bool
		wantReason   string
		wantScope    ScopeKind
		wantUntil    time.Duration // from fixedNow, when refused
	}{
		{name: "global quota pauses every call of the tenant",
			first:       status(429, "Retry-After", "1847", "RateLimit-Reason", ReasonJiraGlobalQuota, "X-RateLimit-Reset", "2026-03-01T12:30:47Z"),
			firstMethod: "GET", firstPath: "/rest/api/3/myself",
			method: "POST", path: "/rest/api/3/issue", wantRefused: true,
			wantReason: ReasonJiraGlobalQuota, wantScope: ScopeGlobal, wantUntil: 1847 * time.Second},
		{name: "tenant quota pauses the tenant",
			first:       status(429, "Retry-After", "600", "RateLimit-Reason", ReasonJiraTenantQuota),
			firstMethod: "GET", firstPath: "/rest/api/3/myself",
			method: "GET", path: "/rest/api/3/project", wantRefused: true,
			wantReason: ReasonJiraTenantQuota, wantScope: ScopeTenant, wantUntil: 600 * time.Second},
		{name: "confluence quota reason is a global quota",
			first:       status(429, "Retry-After", "100", "RateLimit-Reason", ReasonConfluenceGlobalQuota),
			firstMethod: "GET", firstPath: "/rest/api/3/myself",
			method: "GET", path: "/rest/api/3/project", wantRefused: true,
			wantReason: ReasonConfluenceGlobalQuota, wantScope: ScopeGlobal, wantUntil: 100 * time.Second},
		{name: "quota without timing headers pauses until the top of the hour",
			first:       status(429, "RateLimit-Reason", ReasonJiraGlobalQuota),
			firstMethod: "POST", firstPath: "/rest/api/3/issue",
			method: "GET", path: "/rest/api/3/project", wantRefused: true,
			wantReason: ReasonJiraGlobalQuota, wantScope: ScopeGlobal, wantUntil: time.Hour},
		{name: "burst blocks the same endpoint with another issue id",
			first:       status(429, "Retry-After", "60", "RateLimit-Reason", ReasonJiraBurst, "X-RateLimit-Limit", "350"),
			firstMethod: "POST", firstPath: "/rest/api/3/issue/ABC-1/comment",
			method: "POST", path: "/rest/api/3/issue/XYZ-99/comment", wantRefused: true,
			wantReason: ReasonJiraBurst, wantScope: ScopeEndpoint, wantUntil: 60 * time.Second},
		{name: "burst leaves other endpoints alone",
			first:       status(429, "Retry-After", "60", "RateLimit-Reason", ReasonJiraBurst),
			firstMethod: "POST", firstPath: "/rest/api/3/issue/ABC-1/comment",
			method: "GET", path: "/rest/api/3/issue/ABC-1/comment"},
		{name: "per-issue write limit spaces writes to that issue",
			first:       status(429, "Retry-After", "2", "RateLimit-Reason", ReasonJiraPerIssue),
			firstMethod: "POST", firstPath: "/rest/api/3/issue/ABC-1/comment",
			method: "PUT", path: "/rest/api/3/issue/ABC-1", wantRefused: true,
			wantReason: ReasonJiraPerIssue, wantScope: ScopeIssue, wantUntil: 2 * time.Second},
		{name: "per-issue limit leaves other issues alone",
			first:       status(429, "Retry-After", "2", "RateLimit-Reason", ReasonJiraPerIssue),
			firstMethod: "POST", firstPath: "/rest/api/3/issue/ABC-1/comment",
			method: "PUT", path: "/rest/api/3/issue/ABC-2"},
		{name: "per-issue limit leaves reads of the issue alone",
			first:       status(429, "Retry-After", "2", "RateLimit-Reason", ReasonJiraPerIssue),
			firstMethod: "POST", firstPath: "/rest/api/3/issue/ABC-1/comment",
			method: "GET", path: "/rest/api/3/issue/ABC-1"},
		{name: "gateway 429 without Retry-After pauses the tenant until X-RateLimit-Reset",
			first:       status(429, "X-Failure-Category", "FAILURE_CLIENT_RATE_LIMITED", "X-Ratelimit-Limit", "360000", "X-Ratelimit-Remaining", "0", "X-RateLimit-Reset", reset),
			firstMethod: "POST", firstPath: "/rest/api/3/issue",
			method: "GET", path: "/rest/api/3/myself", wantRefused: true,
			wantReason: ReasonGateway, wantScope: ScopeTenant, wantUntil: 90 * time.Second},
		{name: "beta headers on a 200 never pause",
			first:       status(200, "Beta-RateLimit", `"global-app-quota";r=0;t=50`, "Beta-Retry-After", "50", "X-Beta-RateLimit-Reason", ReasonJiraGlobalQuota),
			firstMethod: "GET", firstPath: "/rest/api/3/myself",
			method: "GET", path: "/rest/api/3/myself"},
		{name: "enforced RateLimit r=0 on a 200 pauses before the 429",
			first:       status(200, "RateLimit-Policy", `"global-app-quota";q=65000;w=3600`, "RateLimit", `"global-app-quota";r=0;t=50`),
			firstMethod: "GET", firstPath: "/rest/api/3/myself",
			method: "GET", path: "/rest/api/3/myself", wantRefused: true,
			wantReason: "global-app-quota", wantScope: ScopeGlobal, wantUntil: 50 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeJira(t, "")
			f.respond = sequence(tc.first, ok200)
			c, _, _ := limitedClient(f, RetryPolicy{MaxAttempts: 1})
			d := c.AsApp(f.tenant)
			_, _ = d.Call(t.Context(), tc.firstMethod, tc.firstPath, nil)
			sent := len(f.seen())
			var body []byte
			if tc.method != "GET" {
				body = []byte(`{}`)
			}
			_, err := d.Call(t.Context(), tc.method, tc.path, body)
			le, refused := errors.AsType[*LimitedError](err)
			if refused != tc.wantRefused {
				t.Fatalf("refused = %v (err %v), want %v", refused, err, tc.wantRefused)
			}
			if !refused {
				if len(f.seen()) != sent+1 {
					t.Errorf("second call not sent")
				}
				return
			}
			if len(f.seen()) != sent {
				t.Errorf("a refused call reached Jira")
			}
			if !errors.Is(err, ErrRateLimited) || le.Reason != tc.wantReason || le.Scope != tc.wantScope {
				t.Errorf("refusal %+v, want reason %s scope %s", le, tc.wantReason, tc.wantScope)
			}
			if got := le.Until.Sub(fixedNow); got != tc.wantUntil {
				t.Errorf("until now+%s, want now+%s", got, tc.wantUntil)
			}
		})
	}
}

// TestLimiterScopes checks which tenants a pause covers, without HTTP.
func TestLimiterScopes(t *testing.T) {
	now := fixedNow
	l := NewLimiter(LimiterOptions{Now: func() time.Time { return now }})
	answer := func(reason string) *http.Response {
		rec := httptest.NewRecorder()
		rec.Header().Set("RateLimit-Reason", reason)
		rec.Header().Set("Retry-After", "30")
		rec.WriteHeader(429)
		return rec.Result()
	}
	call := func(tenant string) *Call { return &Call{Tenant: tenant, Method: "GET", Path: "/rest/api/3/myself"} }
	l.Done(call("a"), answer(ReasonJiraTenantQuota))
	if _, err := l.Admit(t.Context(), call("a")); err == nil {
		t.Error("tenant a not paused after its tenant-quota 429")
	}
	if _, err := l.Admit(t.Context(), call("b")); err != nil {
		t.Errorf("tenant b paused by a's tenant quota: %v", err)
	}
	l.Done(call("a"), answer(ReasonJiraGlobalQuota))
	if _, err := l.Admit(t.Context(), call("b")); err == nil {
		t.Error("tenant b not paused by the global quota")
	}
	now = now.Add(31 * time.Second)
	if _, err := l.Admit(t.Context(), call("b")); err != nil {
		t.Errorf("pause outlived Retry-After: %v", err)
	}
}

// TestLimiterBurstPacing: after a burst 429 the endpoint is paced at
// X-RateLimit-Limit × PaceFactor; a call further out than MaxPaceWait is
// refused.
func TestLimiterBurstPacing(t *testing.T) {
	now := fixedNow
	l := NewLimiter(LimiterOptions{Now: func() time.Time { return now }, PaceFactor: 0.5, MaxPaceWait: 100 * time.Millisecond})
	rec := httptest.NewRecorder()
	rec.Header().Set("RateLimit-Reason", ReasonJiraBurst)
	rec.Header().Set("Retry-After", "1")
	rec.Header().Set("X-RateLimit-Limit", "20")
	rec.WriteHeader(429)
	c := &Call{Tenant: "a", Method: "GET", Path: "/rest/api/3/issue/A-1"}
	l.Done(c, rec.Result())
	now = now.Add(time.Second)
	var waits []time.Duration
	for range 2 {
		w, err := l.Admit(t.Context(), &Call{Tenant: "a", Method: "GET", Path: "/rest/api/3/issue/B-2"})
		if err != nil {
			t.Fatalf("paced call refused: %v", err)
		}
		waits = append(waits, w)
	}
	// 20/s × 0.5 = one call per 100 ms.
	if want := []time.Duration{0, 100 * time.Millisecond}; waits[0] != want[0] || waits[1] != want[1] {
		t.Errorf("waits %v, want 0, 100ms, …", waits)
	}
	if _, err := l.Admit(t.Context(), &Call{Tenant: "a", Method: "GET", Path: "/rest/api/3/issue/C-3"}); !errors.Is(err, ErrRateLimited) {
		t.Errorf("call beyond MaxPaceWait: %v, want refused", err)
	}
}

func TestRetryAfterPauseThenRetrySucceeds(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = sequence(status(429, "Retry-After", "3", "RateLimit-Reason", ReasonJiraTenantQuota), ok200)
	c, rec, _ := limitedClient(f, RetryPolicy{})
	if _, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil); err != nil {
		t.Fatalf("retry after the pause: %v", err)
	}
	if len(rec.waits) != 1 || rec.waits[0] != 3*time.Second || len(f.seen()) != 2 {
		t.Errorf("waits %v, sent %d; want one 3s wait and 2 requests", rec.waits, len(f.seen()))
	}
}
