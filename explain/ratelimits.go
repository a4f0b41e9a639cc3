package explain

import (
	_ "embed"
	"encoding/json"
	"strings"
)

// What each 429 RateLimit-Reason means and what to do (issue 17). The
// knowledge lives in ratelimits.json with its sources; this file only looks
// it up. It is kept apart from the 401/403 scoring on purpose.

//go:embed ratelimits.json
var rateLimitData []byte

// RateLimitAdvice explains one 429 reason.
type RateLimitAdvice struct {
	Reason  string `json:"reason"`
	Scope   string `json:"scope"` // global, tenant, endpoint, issue
	Summary string `json:"summary"`
	Action  string `json:"action"`
	Known   bool   `json:"known"`
}

type rateLimitTable struct {
	Sources []string          `json:"sources"`
	Reasons []RateLimitAdvice `json:"reasons"`
	Unknown RateLimitAdvice   `json:"unknown"`
	Beta    string            `json:"beta"`
	Not403  string            `json:"not403"`
}

func loadRateLimits() rateLimitTable {
	var t rateLimitTable
	if err := json.Unmarshal(rateLimitData, &t); err != nil {
		panic("explain: ratelimits.json: " + err.Error()) // embedded at build time; a test loads it
	}
	return t
}

// ExplainRateLimit returns the advice for a 429's RateLimit-Reason ("" or
// "gateway" for the gateway's 429 without one). An unknown reason gets the
// quota advice, scoped per tenant when its name says so.
func ExplainRateLimit(reason string) RateLimitAdvice {
	t := loadRateLimits()
	r := strings.ToLower(strings.TrimSpace(reason))
	if r == "" {
		r = "gateway"
	}
	for _, a := range t.Reasons {
		if a.Reason == r {
			a.Known = true
			return a
		}
	}
	a := t.Unknown
	a.Reason, a.Scope = reason, "global"
	if strings.Contains(r, "tenant") {
		a.Scope = "tenant"
	}
	return a
}
