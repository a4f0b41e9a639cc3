package jirasim

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/scope"
)

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		status int
		check  func(t *testing.T, r result)
	}{
		{"rate limit", Fault{Kind: RateLimit, RetryAfter: 7 * time.Second, Count: 1}, 429, func(t *testing.T, r result) {
			if r.header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		}},
		{"unavailable", Fault{Kind: Unavailable, Count: 1}, 503, nil},
		{"firewall", Fault{Kind: FirewallBlock, Count: 1}, 403, func(t *testing.T, r result) {
			if r.header.Get("Server") != "cloudflare" || r.header.Get("CF-Ray") == "" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Errorf("headers = %v", r.header)
			}
			if !strings.Contains(r.body, "Sorry, you have been blocked") {
				t.Errorf("body = %s", r.body)
			}
		}},
		{"cached 401", Fault{Kind: CachedUnauthorized, Count: 1}, 401, func(t *testing.T, r result) {
			if r.header.Get("Age") == "" || r.header.Get("X-Cache") != "HIT" || r.header.Get("Via") == "" {
				t.Errorf("headers = %v", r.header)
			}
		}},
		{"IP allowlist", Fault{Kind: IPAllowlist, Count: 1}, 403, func(t *testing.T, r result) {
			if !strings.Contains(r.body, "IP allowlist") {
				t.Errorf("body = %s", r.body)
			}
		}},
		{"other app's fault", Fault{Kind: Unavailable, AppKey: "someone-else"}, 200, nil},
		{"this app's fault", Fault{Kind: Unavailable, AppKey: "test-app", Count: 1}, 503, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, clk, _, in := installed(t, nil, "READ")
			s.SetFault(tc.fault)
			r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			if tc.fault.Count == 1 {
				if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil); r.status != 200 {
					t.Errorf("after the fault's one response: %d", r.status)
				}
				if got := s.Requests(); got[len(got)-2].Fault != tc.fault.Kind.String() {
					t.Errorf("recorded fault = %q", got[len(got)-2].Fault)
				}
			}
		})
	}
}

func TestRateLimitCountsRetries(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ")
	s.ResetRequests()
	s.SetFault(Fault{Kind: RateLimit, Count: 2, RetryAfter: time.Second})
	var statuses []int
	for range 3 {
		statuses = append(statuses, asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/myself", nil).status)
	}
	if want := []int{429, 429, 200}; !equalInts(statuses, want) {
		t.Fatalf("statuses = %v, want %v", statuses, want)
	}
	if n := len(s.Requests()); n != 3 {
		t.Errorf("recorded %d requests", n)
	}
	if len(s.Faults()) != 0 {
		t.Error("fault not consumed")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKeyAndTokenServersDown(t *testing.T) {
	s, clk, a, in := installed(t, nil, "READ", "ACT_AS_USER")
	kid := s.InstallKeyID()
	if r := do(t, "GET", s.KeyServerURL()+"/"+kid, nil, nil); r.status != 200 || !strings.Contains(r.body, "BEGIN PUBLIC KEY") {
		t.Fatalf("key server: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.KeyServerURL()+"/no-such-kid", nil, nil); r.status != 404 {
		t.Errorf("unknown kid: %d", r.status)
	}
	s.SetFault(Fault{Kind: KeyServerDown})
	if r := do(t, "GET", s.KeyServerURL()+"/"+kid, nil, nil); r.status != 500 {
		t.Errorf("key server down: %d", r.status)
	}
	// The app cannot verify the reinstall: Jira reports the app's 401.
	if _, err := s.InstallApp(t.Context(), a.descriptorURL()); err == nil || !strings.Contains(err.Error(), "HTTP response code 401") {
		t.Errorf("install with the key server down: %v", err)
	}
	s.ClearFaults()
	s.SetFault(Fault{Kind: KeyServerDown, Drop: true, Count: 1})
	if _, err := http.Get(s.KeyServerURL() + "/" + kid); err == nil {
		t.Error("dropped connection answered")
	}

	s.SetFault(Fault{Kind: TokenServerDown, Count: 1})
	f := url.Values{"grant_type": {grantTypeJWTBearer}, "assertion": {assertion(s, in, clk.Now(), s.User("user").AccountID, nil)}}
	if r := tokenRequest(t, s, f); r.status != 503 {
		t.Errorf("token server down: %d %s", r.status, r.body)
	}
	if r := tokenRequest(t, s, f); r.status != 200 {
		t.Errorf("token server back: %d %s", r.status, r.body)
	}
}

func TestClockSkewOnTokenServer(t *testing.T) {
	s, clk, _, in := installed(t, nil, "READ", "ACT_AS_USER")
	// The site's clock runs 30 s behind the app: a 60 s assertion is then
	// 90 s in the future for the server.
	s.SetFault(Fault{Kind: ClockSkew, Skew: -30 * time.Second})
	r := tokenRequest(t, s, grant(assertion(s, in, clk.Now(), s.User("user").AccountID, nil)))
	if r.status != 400 || !strings.Contains(r.body, "was 90 seconds from now") {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestParseFaultKind(t *testing.T) {
	for k := ClockSkew; k <= TokenServerDown; k++ {
		got, err := ParseFaultKind(k.String())
		if err != nil || got != k {
			t.Errorf("round trip %v: %v %v", k, got, err)
		}
	}
	if _, err := ParseFaultKind("meteor"); err == nil {
		t.Error("unknown fault accepted")
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want Fault
		err  bool
	}{
		{"rate-limit,count=3,retry-after=10s", Fault{Kind: RateLimit, Count: 3, RetryAfter: 10 * time.Second}, false},
		{"clock-skew,skew=-90s,app=my-app", Fault{Kind: ClockSkew, Skew: -90 * time.Second, AppKey: "my-app"}, false},
		{"key-server-down,drop=true", Fault{Kind: KeyServerDown, Drop: true}, false},
		{"unavailable,status=502", Fault{Kind: Unavailable, Status: 502}, false},
		{"slow,delay=soon", Fault{}, true},
		{"slow,colour=red", Fault{}, true},
		{"slow,delay", Fault{}, true},
		{"earthquake", Fault{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseFault(tc.spec)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseFault = %+v, %v", got, err)
			}
		})
	}
}

func TestSetScopesNarrowsEnforcement(t *testing.T) {
	s, clk, _, in := installed(t, nil, "ADMIN")
	if err := s.SetScopes("test-app", scope.Set{scope.Read}); err != nil {
		t.Fatal(err)
	}
	if r := asApp(t, s, in, clk.Now(), "GET", "/rest/api/3/application-properties", nil); r.status != 403 {
		t.Fatalf("after narrowing to READ: %d", r.status)
	}
	if err := s.SetScopes("nope", nil); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("unknown app: %v", err)
	}
}
