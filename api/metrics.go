package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds the server's Prometheus collectors, on a registry of its
// own (never the global default), so several servers can live in one
// process (tests, the multi-instance harness).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	authFails *prometheus.CounterVec
	lifecycle *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "connect_doctor_http_request_duration_seconds", Help: "HTTP request latency by route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_jwt_verification_failures_total", Help: "Rejected JWTs by error code.",
		}, []string{"code"}),
		lifecycle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connect_doctor_lifecycle_events_total", Help: "Lifecycle callbacks by event and outcome.",
		}, []string{"event", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.authFails, m.lifecycle,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Registry exposes the registry so other components (token cache, Jira
// client, explainer) can register their collectors.
func (m *metrics) Registry() *prometheus.Registry { return m.reg }

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, metricMethod(method), strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) authFailure(code string) { m.authFails.WithLabelValues(code).Inc() }

func (m *metrics) lifecycleEvent(event, outcome string) {
	m.lifecycle.WithLabelValues(event, outcome).Inc()
}

// metricMethod bounds the method label: the methods of RFC 9110 keep
// their name, anything else a client makes up is "OTHER".
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// MetricsHandler serves the Prometheus exposition. With a token, a scrape
// must carry "Authorization: Bearer <token>" (compared in constant time);
// anything else gets 401.
func (s *Server) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	if s.MetricsToken == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + s.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"metrics_token_required","message":"/metrics needs the METRICS_TOKEN bearer token.","hint":"Send Authorization: Bearer <METRICS_TOKEN>."}}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}
