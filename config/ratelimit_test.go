package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/config"
)

func TestRateLimitSettings(t *testing.T) {
	load := func(m map[string]string) (*config.Config, error) {
		return config.Load(func(k string) string { return m[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.RateLimits{PoolPoints: 65000, Share: "borrow", LeaseMax: 5000, LeaseSpan: 500 * time.Millisecond, LeaseIdle: 5 * time.Second, Tier: 1}
	if c.RateLimits != want {
		t.Errorf("defaults %+v, want %+v", c.RateLimits, want)
	}
	c, err = load(map[string]string{"JIRA_RATE_POOL_POINTS": "120000", "JIRA_RATE_SHARE": "First-Come", "JIRA_RATE_LEASE_MAX": "800",
		"JIRA_RATE_LEASE_SPAN": "2s", "JIRA_RATE_LEASE_IDLE": "30s", "JIRA_RATE_TIER": "2"})
	if err != nil {
		t.Fatal(err)
	}
	want = config.RateLimits{PoolPoints: 120000, Share: "first-come", LeaseMax: 800, LeaseSpan: 2 * time.Second, LeaseIdle: 30 * time.Second, Tier: 2}
	if c.RateLimits != want {
		t.Errorf("set %+v, want %+v", c.RateLimits, want)
	}
	if c, err := load(map[string]string{"JIRA_RATE_SHARE": " lend-ahead "}); err != nil {
		t.Errorf("JIRA_RATE_SHARE=lend-ahead: %v", err)
	} else if c.RateLimits.Share != "lend-ahead" {
		t.Errorf("JIRA_RATE_SHARE=lend-ahead: share %q", c.RateLimits.Share)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"pool zero":          {map[string]string{"JIRA_RATE_POOL_POINTS": "0"}, "JIRA_RATE_POOL_POINTS"},
		"pool not a number":  {map[string]string{"JIRA_RATE_POOL_POINTS": "65k"}, "JIRA_RATE_POOL_POINTS"},
		"unknown share":      {map[string]string{"JIRA_RATE_SHARE": "fair"}, "JIRA_RATE_SHARE"},
		"negative lease max": {map[string]string{"JIRA_RATE_LEASE_MAX": "-1"}, "JIRA_RATE_LEASE_MAX"},
		"span too short":     {map[string]string{"JIRA_RATE_LEASE_SPAN": "1ms"}, "JIRA_RATE_LEASE_SPAN"},
		"idle not duration":  {map[string]string{"JIRA_RATE_LEASE_IDLE": "5"}, "JIRA_RATE_LEASE_IDLE"},
		"tier 3":             {map[string]string{"JIRA_RATE_TIER": "3"}, "JIRA_RATE_TIER"},
	} {
		_, err := load(tc.env)
		var ce *config.Error
		if !errors.Is(err, config.ErrInvalid) || !errors.As(err, &ce) || ce.Var != tc.want || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want the error to name %s)", name, err, tc.want)
		}
	}
}
