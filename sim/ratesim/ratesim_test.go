package ratesim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, o Options) (*Model, *httptest.Server) {
	t.Helper()
	m := New(o)
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/search/jql") {
			io.WriteString(w, `{"issues":[{},{},{},{}]}`)
			return
		}
		io.WriteString(w, `{"key":"A-1"}`)
	}), func(r *http.Request) string { return r.Header.Get("X-Tenant") }, nil)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return m, srv
}

func do(t *testing.T, srv *httptest.Server, tenant, method, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	req.Header.Set("X-Tenant", tenant)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestModel(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	clock := func() time.Time { return at }
	tests := []struct {
		name    string
		opts    Options
		calls   int    // calls made before the checked one
		method  string // of every call
		path    string
		tenant2 bool // the checked call is from another tenant
		status  int
		headers map[string]string // exact values ("" = must be absent)
	}{
		{name: "global pool exhausted: documented 429 headers", opts: Options{GlobalPool: 4},
			calls: 2, method: "GET", path: "/rest/api/3/issue/A-1", tenant2: true, status: 429,
			headers: map[string]string{"RateLimit-Reason": ReasonGlobal, "Retry-After": "1800", "X-RateLimit-Limit": "4",
				"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-03-02T11:00:00Z", "X-RateLimit-NearLimit": "true"}},
		{name: "tier 2 quota blocks only its tenant", opts: Options{Tier2: true, Plans: map[string]Plan{"t1": {Edition: Free}}},
			calls: 0, method: "GET", path: "/rest/api/3/myself", tenant2: true, status: 200,
			headers: map[string]string{"RateLimit-Policy": `"tenant-app-quota";q=65000;w=3600`, "RateLimit": `"tenant-app-quota";t=1800`}},
		{name: "burst bucket", opts: Options{BurstCapacity: 3, BurstRate: map[string]float64{"POST": 1}},
			calls: 3, method: "POST", path: "/rest/api/3/issue", status: 429,
			headers: map[string]string{"RateLimit-Reason": ReasonBurst, "Retry-After": "1", "X-RateLimit-Limit": "1"}},
		{name: "per-issue writes: 20 per 2 s", opts: Options{BurstCapacity: -1},
			calls: 20, method: "PUT", path: "/rest/api/3/issue/A-1", status: 429,
			headers: map[string]string{"RateLimit-Reason": ReasonPerIssue, "Retry-After": "2"}},
		{name: "beta: over the pool but not enforced", opts: Options{GlobalPool: 2, Beta: true},
			calls: 3, method: "GET", path: "/rest/api/3/issue/A-1", status: 200,
			headers: map[string]string{"Beta-RateLimit-Policy": `"global-app-quota";q=2;w=3600`, "Beta-RateLimit": `"global-app-quota";r=0;t=1800`,
				"Beta-Retry-After": "1800", "X-Beta-RateLimit-Reason": ReasonGlobal, "RateLimit-Policy": ""}},
		{name: "mixed beta and enforced", opts: Options{GlobalPool: 10, Mixed: true},
			calls: 4, method: "GET", path: "/rest/api/3/issue/A-1", status: 200,
			headers: map[string]string{"RateLimit-Policy": `"global-app-quota";q=10;w=3600`, "Beta-RateLimit": `"global-app-quota";r=0;t=1800`}},
		{name: "gateway 429: no Retry-After, no reason", opts: Options{GlobalPool: 2, Gateway: true},
			calls: 1, method: "GET", path: "/rest/api/3/issue/A-1", status: 429,
			headers: map[string]string{"X-Failure-Category": "FAILURE_CLIENT_RATE_LIMITED", "X-Ratelimit-Limit": "360000", "Retry-After": "", "RateLimit-Reason": ""}},
		{name: "search costs 1 + objects", opts: Options{GlobalPool: 5},
			calls: 1, method: "GET", path: "/rest/api/3/search/jql", status: 429,
			headers: map[string]string{"RateLimit-Reason": ReasonGlobal}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = clock
			_, srv := serve(t, tc.opts)
			for range tc.calls {
				do(t, srv, "t1", tc.method, tc.path)
			}
			tenant := "t1"
			if tc.tenant2 {
				tenant = "t2"
			}
			resp := do(t, srv, tenant, tc.method, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (headers %v)", resp.StatusCode, tc.status, resp.Header)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestTenantQuota(t *testing.T) {
	for _, tc := range []struct {
		e     Edition
		users int
		want  int64
	}{{Free, 10, 65000}, {Standard, 2000, 120000}, {Enterprise, 15000, 500000}, {Premium, 100, 132000}} {
		if got := TenantQuota(tc.e, tc.users); got != tc.want {
			t.Errorf("TenantQuota(%s, %d) = %d, want %d", tc.e, tc.users, got, tc.want)
		}
	}
}

func TestForceAndCounters(t *testing.T) {
	m, srv := serve(t, Options{})
	m.Force(ReasonTenant, 2)
	for range 3 {
		do(t, srv, "t1", "GET", "/rest/api/3/myself")
	}
	s := m.Stats()
	if s.Limited["t1"][ReasonTenant] != 2 || s.Served["t1"] != 1 {
		t.Errorf("limited %v served %v, want 2 forced 429s then one answer", s.Limited, s.Served)
	}
	// The second forced 429 arrived before the first one's Retry-After:
	// an early request and a repeated 429.
	if s.Early[ReasonTenant] != 2 || s.Repeat429[ReasonTenant] != 1 {
		t.Errorf("early %v repeat %v", s.Early, s.Repeat429)
	}
}
