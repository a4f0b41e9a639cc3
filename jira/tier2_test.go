package jira

import "testing"

func TestTier2Quota(t *testing.T) {
	tests := []struct {
		name    string
		edition Edition
		users   int
		want    int64
	}{
		{"free ignores users", EditionFree, 5000, 65000},
		{"standard 2000 users (the doc's example)", EditionStandard, 2000, 120000},
		{"premium 1000 users", EditionPremium, 1000, 150000},
		{"enterprise 15000 users capped (the doc's example)", EditionEnterprise, 15000, 500000},
		{"enterprise no users", EditionEnterprise, 0, 150000},
		{"negative users count as none", EditionStandard, -3, 100000},
		{"unknown edition is free", Edition("gold"), 100, 65000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Tier2Quota(tc.edition, tc.users); got != tc.want {
				t.Errorf("Tier2Quota(%s, %d) = %d, want %d", tc.edition, tc.users, got, tc.want)
			}
		})
	}
	for in, want := range map[string]Edition{" Premium ": EditionPremium, "ENTERPRISE": EditionEnterprise, "": EditionFree, "beta": EditionFree} {
		if got := ParseEdition(in); got != want {
			t.Errorf("ParseEdition(%q) = %s, want %s", in, got, want)
		}
	}
}
