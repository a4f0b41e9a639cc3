package jira

// Tier 2 quotas: one hourly quota per tenant by edition and user count.
// Source: https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
// (2026; ../shared/docs/rate-limits.md §2). The simulator (sim/ratesim)
// enforces the same table.

import "strings"

// Edition is a Jira Cloud plan.
type Edition string

// The editions of the Tier 2 table.
const (
	EditionFree       Edition = "free"
	EditionStandard   Edition = "standard"
	EditionPremium    Edition = "premium"
	EditionEnterprise Edition = "enterprise"
)

// Tier2Cap caps the quota of paid editions.
const Tier2Cap = 500000

// tier2 is the documented table: points per hour = base + perUser × users.
func tier2(e Edition) (base, perUser int64, paid bool) {
	switch e {
	case EditionStandard:
		return 100000, 10, true
	case EditionPremium:
		return 130000, 20, true
	case EditionEnterprise:
		return 150000, 30, true
	}
	return 65000, 0, false
}

// ParseEdition reads an edition name (any case); unknown names are Free,
// the smallest quota.
func ParseEdition(s string) Edition {
	switch e := Edition(strings.ToLower(strings.TrimSpace(s))); e {
	case EditionStandard, EditionPremium, EditionEnterprise:
		return e
	}
	return EditionFree
}

// Tier2Quota is the hourly Tier 2 quota of a tenant on edition e with
// users users: Free 65,000; Standard 100,000 + 10 per user; Premium
// 130,000 + 20 per user; Enterprise 150,000 + 30 per user; paid editions
// capped at 500,000.
func Tier2Quota(e Edition, users int) int64 {
	base, per, paid := tier2(e)
	q := base + per*int64(max(users, 0))
	if paid {
		q = min(q, Tier2Cap)
	}
	return q
}
