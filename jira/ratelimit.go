package jira

// Rate-limit signals: what a Jira (or api.atlassian.com gateway) answer says
// about the 2026 points-based limits, read from RateLimit-Reason,
// Retry-After, X-RateLimit-*, RateLimit / RateLimit-Policy and their Beta-
// forms (docs/rate-limits.md in the shared docs, §3). Parsing is tolerant:
// the headers come in mixed beta/enforced forms, in any order, with fields
// missing; anything unreadable is ignored rather than guessed.

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Documented RateLimit-Reason values.
const (
	ReasonJiraGlobalQuota       = "jira-quota-global-based"
	ReasonJiraTenantQuota       = "jira-quota-tenant-based"
	ReasonJiraBurst             = "jira-burst-based"
	ReasonJiraPerIssue          = "jira-per-issue-on-write"
	ReasonConfluenceGlobalQuota = "confluence-quota-global-based"
	ReasonConfluenceTenantQuota = "confluence-quota-tenant-based"
	// ReasonGateway names a 429 without RateLimit-Reason (the
	// api.atlassian.com gateway answers X-Failure-Category instead).
	ReasonGateway = "gateway"
)

// ScopeKind is what a rate limit blocks.
type ScopeKind uint8

// Scopes, widest first.
const (
	ScopeNone     ScopeKind = iota
	ScopeGlobal             // the app's pool: every tenant
	ScopeTenant             // one tenant (Tier 2 quota, or an unknown per-tenant reason)
	ScopeEndpoint           // one tenant × method × endpoint path (burst)
	ScopeIssue              // writes to one issue of one tenant
)

func (k ScopeKind) String() string {
	switch k {
	case ScopeGlobal:
		return "global"
	case ScopeTenant:
		return "tenant"
	case ScopeEndpoint:
		return "endpoint"
	case ScopeIssue:
		return "issue"
	}
	return "none"
}

// ScopeOfReason classifies a RateLimit-Reason. Quota reasons name their
// pool; burst and per-issue name theirs; an empty reason is the gateway's
// 429, held per tenant; an unknown reason is treated as a quota (§7):
// per tenant when it says so, otherwise the app's whole pool.
func ScopeOfReason(reason string) ScopeKind {
	r := strings.ToLower(strings.TrimSpace(reason))
	switch {
	case r == "" || r == ReasonGateway:
		return ScopeTenant
	case strings.Contains(r, "per-issue"):
		return ScopeIssue
	case strings.Contains(r, "burst"):
		return ScopeEndpoint
	case strings.Contains(r, "tenant"):
		return ScopeTenant
	}
	return ScopeGlobal
}

// QuotaPolicy is one entry of RateLimit-Policy / RateLimit (with or
// without the Beta- prefix): "<name>";q=<quota>;w=<window>;r=<left>;t=<reset>.
// Fields absent from the header are -1.
type QuotaPolicy struct {
	Name      string
	Quota     int64 // q
	Window    int64 // w, seconds
	Remaining int64 // r
	Reset     int64 // t, seconds to reset
	Beta      bool  // sent as Beta-… (informational, not enforced)
}

// Signal is everything rate-limit related in one response.
type Signal struct {
	Status int
	Reason string // RateLimit-Reason (or X-Beta-RateLimit-Reason when Beta); ReasonGateway for a 429 without one
	Scope  ScopeKind
	// RetryAfter is Retry-After (seconds or HTTP date); HasRetryAfter says
	// whether it was sent. Beta-Retry-After never sets it.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Reset is X-RateLimit-Reset (ISO 8601, with or without seconds), zero
	// when absent or unreadable.
	Reset time.Time
	// Limit and Remaining are X-RateLimit-Limit / -Remaining, -1 when absent.
	Limit, Remaining int64
	NearLimit        bool
	FailureCategory  string // X-Failure-Category (gateway)
	Policies         []QuotaPolicy
	// Beta is set when the only limit information is the Beta- form: Jira
	// says where it would limit, but does not.
	Beta bool
}

// Limited reports whether the answer is an enforced rate limit.
func (s *Signal) Limited() bool { return s.Status == http.StatusTooManyRequests }

// Until is when the blocked scope opens again: Retry-After, else
// X-RateLimit-Reset, else the smallest t of a policy at r=0; zero when the
// answer does not say.
func (s *Signal) Until(now time.Time) time.Time {
	if s.HasRetryAfter {
		return now.Add(max(s.RetryAfter, time.Second))
	}
	if !s.Reset.IsZero() && s.Reset.After(now) {
		return s.Reset
	}
	var best int64 = -1
	for _, p := range s.Policies {
		if !p.Beta && p.Remaining == 0 && p.Reset >= 0 && (best < 0 || p.Reset < best) {
			best = p.Reset
		}
	}
	if best >= 0 {
		return now.Add(time.Duration(max(best, 1)) * time.Second)
	}
	return time.Time{}
}

// ParseSignal reads the rate-limit headers of one response.
func ParseSignal(status int, h http.Header, now time.Time) Signal {
	s := Signal{Status: status, Limit: -1, Remaining: -1}
	s.Reason = strings.TrimSpace(h.Get("RateLimit-Reason"))
	if s.Reason == "" {
		if b := strings.TrimSpace(h.Get("X-Beta-RateLimit-Reason")); b != "" && status != http.StatusTooManyRequests {
			s.Reason, s.Beta = b, true
		}
	}
	if ra, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		s.RetryAfter, s.HasRetryAfter = ra, true
	}
	s.Reset = parseResetTime(h.Get("X-RateLimit-Reset"))
	if s.Reset.IsZero() && status != http.StatusTooManyRequests {
		s.Reset = parseResetTime(h.Get("X-Beta-RateLimit-Reset"))
	}
	s.Limit = parseCount(h.Get("X-RateLimit-Limit"))
	s.Remaining = parseCount(h.Get("X-RateLimit-Remaining"))
	s.NearLimit = strings.EqualFold(strings.TrimSpace(h.Get("X-RateLimit-NearLimit")), "true")
	s.FailureCategory = strings.TrimSpace(h.Get("X-Failure-Category"))
	for _, name := range [...]string{"RateLimit-Policy", "RateLimit", "Beta-RateLimit-Policy", "Beta-RateLimit"} {
		beta := strings.HasPrefix(name, "Beta-")
		for _, v := range h.Values(name) {
			s.Policies = mergePolicies(s.Policies, parsePolicies(v, beta))
		}
	}
	if status == http.StatusTooManyRequests {
		if s.Reason == "" {
			s.Reason = ReasonGateway
		}
		s.Scope = ScopeOfReason(s.Reason)
	}
	return s
}

// parseResetTime reads X-RateLimit-Reset: ISO 8601 with seconds
// (2026-01-01T01:01:01Z), without (2026-03-26T16:00Z), or with an offset.
func parseResetTime(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

func parseCount(v string) int64 {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// parsePolicies reads one header value: comma-separated items
// "<name>";k=v;k=v. The name may be quoted or bare; unknown keys and
// malformed numbers are ignored.
func parsePolicies(v string, beta bool) []QuotaPolicy {
	var out []QuotaPolicy
	for item := range strings.SplitSeq(v, ",") {
		parts := strings.Split(item, ";")
		name := strings.Trim(strings.TrimSpace(parts[0]), `"`)
		if name == "" || len(name) > 64 {
			continue
		}
		p := QuotaPolicy{Name: name, Quota: -1, Window: -1, Remaining: -1, Reset: -1, Beta: beta}
		for _, kv := range parts[1:] {
			k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "q":
				p.Quota = n
			case "w":
				p.Window = n
			case "r":
				p.Remaining = n
			case "t":
				p.Reset = n
			}
		}
		out = append(out, p)
	}
	return out
}

// mergePolicies folds add into ps by (name, beta): RateLimit-Policy gives
// q and w, RateLimit gives r and t for the same name.
func mergePolicies(ps, add []QuotaPolicy) []QuotaPolicy {
next:
	for _, a := range add {
		for i := range ps {
			p := &ps[i]
			if p.Name == a.Name && p.Beta == a.Beta {
				if a.Quota >= 0 {
					p.Quota = a.Quota
				}
				if a.Window >= 0 {
					p.Window = a.Window
				}
				if a.Remaining >= 0 {
					p.Remaining = a.Remaining
				}
				if a.Reset >= 0 {
					p.Reset = a.Reset
				}
				continue next
			}
		}
		ps = append(ps, a)
	}
	return ps
}

// Policy returns the enforced policy named name, else its Beta form.
func (s *Signal) Policy(name string) (QuotaPolicy, bool) {
	var beta *QuotaPolicy
	for i := range s.Policies {
		p := &s.Policies[i]
		if p.Name != name {
			continue
		}
		if !p.Beta {
			return *p, true
		}
		beta = p
	}
	if beta != nil {
		return *beta, true
	}
	return QuotaPolicy{}, false
}
