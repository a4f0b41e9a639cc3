package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/connect-doctor/connect-doctor/jira"
)

func TestRateMetricsBoundedLabels(t *testing.T) {
	m := newRateMetrics()
	for i := range maxTenantLabels + 30 {
		m.Refused(&jira.LimitedError{Reason: jira.ReasonJiraGlobalQuota, Scope: jira.ScopeGlobal, Until: time.Now(), Tenant: fmt.Sprintf("t%d", i)})
	}
	m.Limited("t0", &jira.Signal{Reason: "some-new-reason-" + "x"}, jira.Pause{Scope: jira.ScopeTenant})
	if n := testutil.CollectAndCount(m.refused); n != maxTenantLabels+1 {
		t.Errorf("%d refused series, want %d tenants + other", n, maxTenantLabels+1)
	}
	if got := testutil.ToFloat64(m.refused.WithLabelValues(jira.ReasonJiraGlobalQuota, "global", "other")); got != 30 {
		t.Errorf("other = %v, want 30", got)
	}
	if got := testutil.ToFloat64(m.limited.WithLabelValues("other", "tenant", "t0")); got != 1 {
		t.Errorf("an unknown reason is not counted as other: %v", got)
	}
}
