package jira

import (
	"net/http"
	"testing"
	"time"
)

// FuzzParseSignal: any rate-limit header values parse without panicking,
// and a 429's pause, when there is one, never ends before now + 1 s when
// Retry-After was given.
func FuzzParseSignal(f *testing.F) {
	seeds := [][5]string{
		{"jira-quota-global-based", "1847", "2025-10-08T15:00:00Z", `"global-app-quota";q=65000;w=3600`, `"global-app-quota";r=0;t=50`},
		{"jira-burst-based", "1", "2026-01-01T01:01:01Z", "", `"global-app-quota";t=200,"jira-burst-based";r=90;t=1`},
		{"", "", "2026-03-26T16:00Z", `"tenant-app-quota";q=100100;w=3600`, ""},
		{"jira-per-issue-on-write", "0", "", "", `"x";r=-1;t=abc`},
		{"confluence-quota-tenant-based", "Wed, 21 Oct 2026 07:28:00 GMT", "garbage", `;;;,,,"";q=`, `"a";r=1,"a";t=2`},
	}
	for _, s := range seeds {
		f.Add(429, s[0], s[1], s[2], s[3], s[4])
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, reason, retryAfter, reset, policy, state string) {
		h := http.Header{}
		h.Set("RateLimit-Reason", reason)
		h.Set("Retry-After", retryAfter)
		h.Set("X-RateLimit-Reset", reset)
		h.Add("RateLimit-Policy", policy)
		h.Add("Beta-RateLimit", state)
		h.Add("RateLimit", state)
		s := ParseSignal(status, h, now)
		if status == http.StatusTooManyRequests && (s.Reason == "" || s.Scope == ScopeNone) {
			t.Fatalf("a 429 without reason or scope: %+v", s)
		}
		if u := s.Until(now); s.HasRetryAfter && u.Before(now.Add(time.Second)) {
			t.Fatalf("pause ends %v, before Retry-After's 1 s minimum", u)
		}
		for _, p := range s.Policies {
			if p.Name == "" {
				t.Fatalf("unnamed policy from %q / %q", policy, state)
			}
		}
	})
}
