package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connect-doctor/connect-doctor/jira"
)

// series returns each series of name as "label=value,…" → value.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			k := ""
			for _, l := range m.GetLabel() {
				k += l.GetName() + "=" + l.GetValue() + ","
			}
			out[k] = m.GetCounter().GetValue()
		}
	}
	return out
}

func TestRateMetricsBoundedLabels(t *testing.T) {
	m := newRateMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.limited, m.refused)
	for i := range maxTenantLabels + 30 {
		m.Refused(&jira.LimitedError{Reason: jira.ReasonJiraGlobalQuota, Scope: jira.ScopeGlobal, Until: time.Now(), Tenant: fmt.Sprintf("t%d", i)})
	}
	m.Limited("t0", &jira.Signal{Reason: "some-new-reason"}, jira.Pause{Scope: jira.ScopeTenant})
	refused := series(t, reg, "connect_doctor_jira_rate_refused_total")
	if len(refused) != maxTenantLabels+1 {
		t.Errorf("%d refused series, want %d tenants + other", len(refused), maxTenantLabels+1)
	}
	if got := refused["reason="+jira.ReasonJiraGlobalQuota+",scope=global,tenant=other,"]; got != 30 {
		t.Errorf("other = %v, want 30 (%v)", got, refused)
	}
	if got := series(t, reg, "connect_doctor_jira_rate_limited_total")["reason=other,scope=tenant,tenant=t0,"]; got != 1 {
		t.Errorf("an unknown reason is not counted as other: %v", got)
	}
}
