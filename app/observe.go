package app

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connect-doctor/connect-doctor/explain"
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
