package explain

import "testing"

func TestExplainRateLimit(t *testing.T) {
	tests := []struct {
		reason, scope string
		known         bool
	}{
		{"jira-quota-global-based", "global", true},
		{"jira-quota-tenant-based", "tenant", true},
		{"confluence-quota-global-based", "global", true},
		{"jira-burst-based", "endpoint", true},
		{"jira-per-issue-on-write", "issue", true},
		{"", "tenant", true}, // the gateway's 429
		{"jira-cost-based", "global", false},
		{"jira-max-concurrent-threads-across-all-instances-per-tenant-per-user", "tenant", false},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			a := ExplainRateLimit(tc.reason)
			if a.Scope != tc.scope || a.Known != tc.known || a.Action == "" || a.Summary == "" {
				t.Errorf("ExplainRateLimit(%q) = %+v, want scope %s known %v", tc.reason, a, tc.scope, tc.known)
			}
		})
	}
	if tb := loadRateLimits(); len(tb.Sources) == 0 || tb.Beta == "" || tb.Not403 == "" {
		t.Error("ratelimits.json lost its sources or notes")
	}
}
