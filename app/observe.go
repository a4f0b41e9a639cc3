package app

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/oauth"
)

// outgoingMetrics counts the app's calls to Jira and the panel's verdicts.
type outgoingMetrics struct {
	tokens    *oauth.Cache
	jiraCalls *prometheus.CounterVec
	verdicts  *prometheus.CounterVec
}

// newOutgoingMetrics builds the collectors; register them with
// collectors() once the server's registry exists.
func newOutgoingMetrics(tokens *oauth.Cache) *outgoingMetrics {
	m := &outgoingMetrics{tokens: tokens,
		jiraCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_jira_calls_total",
			Help: "HTTP calls to Jira (each attempt) by identity (app: Connect JWT, user: Connect bearer, forge: bearer through the api.atlassian.com gateway) and status (or \"error\").",
		}, []string{"identity", "status"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_explainer_verdicts_total",
			Help: "Diagnoses produced by the admin panel, by verdict and top cause code.",
		}, []string{"verdict", "cause"}),
	}
	return m
}

func (m *outgoingMetrics) collectors() []prometheus.Collector {
	tokens := m.tokens
	stat := func(name, help string, f func(oauth.CacheStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(tokens.Stats()) })
	}
	return []prometheus.Collector{m.jiraCalls, m.verdicts,
		stat("connect_doctor_token_cache_hits_total", "User access tokens served from the cache.", func(s oauth.CacheStats) float64 { return float64(s.Hits) }),
		stat("connect_doctor_token_cache_misses_total", "User access token lookups that missed the cache.", func(s oauth.CacheStats) float64 { return float64(s.Misses) }),
		stat("connect_doctor_token_exchanges_total", "JWT-bearer token exchanges performed.", func(s oauth.CacheStats) float64 { return float64(s.Exchanges) }),
		stat("connect_doctor_token_exchange_errors_total", "JWT-bearer token exchanges that failed.", func(s oauth.CacheStats) float64 { return float64(s.ExchangeErrors) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "connect_doctor_token_cache_entries", Help: "User access tokens cached."},
			func() float64 { return float64(tokens.Stats().Len) }),
	}
}

// transport wraps the base transport of the Jira client: it sees every
// attempt after signing, so the Authorization scheme tells the identity.
func (m *outgoingMetrics) transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		id := "other"
		switch scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.ToLower(scheme) {
		case "jwt":
			id = "app"
		case "bearer":
			id = "user"
			if strings.HasPrefix(r.URL.Path, "/ex/") {
				id = "forge" // system or user token through the gateway
			}
		}
		resp, err := base.RoundTrip(r)
		status := "error"
		if err == nil {
			status = strconv.Itoa(resp.StatusCode)
		}
		m.jiraCalls.WithLabelValues(id, status).Inc()
		return resp, err
	})
}

func (m *outgoingMetrics) diagnosis(d explain.Diagnosis) {
	cause := "none"
	if len(d.Causes) > 0 {
		cause = d.Causes[0].Code
	}
	m.verdicts.WithLabelValues(d.Verdict, cause).Inc()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// maxTenantLabels bounds the tenant label of the rate-limit metrics: the
// first tenants seen get their own series, the rest share "other".
const maxTenantLabels = 50

// rateMetrics is the jira.Observer of the rate-limit gate: 429s Jira
// answered and calls refused locally, by reason, scope and (bounded)
// tenant.
type rateMetrics struct {
	limited *prometheus.CounterVec
	refused *prometheus.CounterVec
	mu      sync.Mutex
	tenants map[string]bool
}

func newRateMetrics() *rateMetrics {
	return &rateMetrics{tenants: map[string]bool{},
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_jira_rate_limited_total",
			Help: "429 answers from Jira or the gateway by RateLimit-Reason (\"gateway\" when none), the scope it pauses, and tenant (the first 50, then \"other\").",
		}, []string{"reason", "scope", "tenant"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_jira_rate_refused_total",
			Help: "Calls refused locally, nothing sent, because a pause covered them or the tenant's budget share was spent, by reason, scope and tenant (bounded as above).",
		}, []string{"reason", "scope", "tenant"}),
	}
}

// reasonLabel keeps the reason label bounded: documented reasons as
// they are, anything else "other".
func reasonLabel(r string) string {
	switch r {
	case jira.ReasonJiraGlobalQuota, jira.ReasonJiraTenantQuota, jira.ReasonJiraBurst, jira.ReasonJiraPerIssue,
		jira.ReasonConfluenceGlobalQuota, jira.ReasonConfluenceTenantQuota, jira.ReasonGateway, jira.ReasonBudget,
		"global-app-quota", "tenant-app-quota":
		return r
	}
	return "other"
}

func (m *rateMetrics) tenantLabel(t string) string {
	if t == "" {
		return "none"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tenants[t] {
		return t
	}
	if len(m.tenants) < maxTenantLabels {
		m.tenants[t] = true
		return t
	}
	return "other"
}

// Limited implements jira.Observer.
func (m *rateMetrics) Limited(tenant string, s *jira.Signal, p jira.Pause) {
	m.limited.WithLabelValues(reasonLabel(s.Reason), p.Scope.String(), m.tenantLabel(tenant)).Inc()
}

// Refused implements jira.Observer.
func (m *rateMetrics) Refused(e *jira.LimitedError) {
	m.refused.WithLabelValues(reasonLabel(e.Reason), e.Scope.String(), m.tenantLabel(e.Tenant)).Inc()
}
