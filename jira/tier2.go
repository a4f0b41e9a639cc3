package jira

// Tier 2 quotas: one hourly quota per tenant by edition and user count,
// from the table in jira/tiers (shared with the simulator).

import "github.com/connect-doctor/connect-doctor/jira/tiers"

// Edition is a Jira Cloud plan.
type Edition = tiers.Edition

// The editions of the Tier 2 table.
const (
	EditionFree       = tiers.Free
	EditionStandard   = tiers.Standard
	EditionPremium    = tiers.Premium
	EditionEnterprise = tiers.Enterprise
)

// ParseEdition reads an edition name (any case); unknown names are Free,
// the smallest quota.
func ParseEdition(s string) Edition { return tiers.Parse(s) }

// Tier2Quota is the hourly Tier 2 quota of a tenant on edition e with
// users users (Free 65,000; Standard 100,000 + 10 per user; Premium
// 130,000 + 20 per user; Enterprise 150,000 + 30 per user; paid editions
// capped at 500,000).
func Tier2Quota(e Edition, users int) int64 { return tiers.Quota(e, users) }
