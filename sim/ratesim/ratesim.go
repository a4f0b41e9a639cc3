// Package ratesim enforces Atlassian Cloud's 2026 points-based rate limits
// in front of a simulated Jira site or the api.atlassian.com gateway
// (rate-limits.md in the shared docs, §2, §3 and §6): the app's global
// hourly pool, Tier 2 tenant quotas by edition and user count, token-bucket
// burst limits per tenant × method × endpoint, per-issue write windows (20
// per 2 s, 100 per 30 s), and the documented point costs. It answers with
// the real headers: RateLimit-Reason, Retry-After, X-RateLimit-*, the
// RateLimit / RateLimit-Policy structured fields (r only above 80% use),
// their Beta- forms, the mixed beta/enforced form, and the gateway 429
// without Retry-After. Force makes any one of them happen on demand.
//
// Like the simulators it sits in front of, it never imports the app's
// packages, only the leaf table jira/tiers (Tier 2 quotas), which the
// client reads too. It also counts what a well-behaved client must avoid: requests
// arriving for a scope before the time a 429 told the client to come back,
// and 429s after the first one per reason and scope.
package ratesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/connect-doctor/connect-doctor/jira/tiers"
)

// Reasons, literal (§3).
const (
	ReasonGlobal   = "jira-quota-global-based"
	ReasonTenant   = "jira-quota-tenant-based"
	ReasonBurst    = "jira-burst-based"
	ReasonPerIssue = "jira-per-issue-on-write"
	// ReasonGateway is the gateway's 429: no RateLimit-Reason, no Retry-After.
	ReasonGateway = "gateway"
)

// Edition names a Jira plan for the Tier 2 quota table, which is
// jira/tiers (tier2.tsv): the client and the simulator use one table.
type Edition = tiers.Edition

// Editions (§2).
const (
	Free       = tiers.Free
	Standard   = tiers.Standard
	Premium    = tiers.Premium
	Enterprise = tiers.Enterprise
)

// TenantQuota is the Tier 2 hourly quota of an edition with users users
// (tiers.Quota).
func TenantQuota(e Edition, users int) int64 { return tiers.Quota(e, users) }

// Plan is a tenant's edition and user count.
type Plan struct {
	Edition Edition
	Users   int
}

// Options configure a Model; zero fields take the documented values.
type Options struct {
	Now    func() time.Time
	Window time.Duration // quota window (default 1 h, aligned to the UTC hour)
	// GlobalPool is the app's points per window (Tier 1, default 65,000);
	// negative disables it.
	GlobalPool int64
	// Tier2 gives each tenant its own quota from Plans (default Free)
	// instead of the global pool.
	Tier2 bool
	Plans map[string]Plan
	// BurstRate is tokens per second per method (default GET/POST 100,
	// PUT/DELETE 50); BurstCapacity the bucket size (default 100).
	// Negative BurstCapacity disables burst limits.
	BurstRate     map[string]float64
	BurstCapacity float64
	// Beta: quotas are reported with the Beta- prefix and not enforced.
	Beta bool
	// Mixed: RateLimit-Policy unprefixed, RateLimit with the Beta- prefix
	// (the mixed form partners report).
	Mixed bool
	// Gateway: quota 429s come as the api.atlassian.com gateway sends them:
	// X-Failure-Category, X-Ratelimit-Limit 360000, no Retry-After, no
	// RateLimit-Reason.
	Gateway bool
	// OmitNearLimit leaves X-RateLimit-NearLimit out of 429s (JRACLOUD-83791).
	OmitNearLimit bool
}

// Stats is what the model saw.
type Stats struct {
	Served      map[string]int64            // per tenant: answered by the site
	Limited     map[string]map[string]int64 // per tenant, per reason: 429s
	Points      int64                       // charged to the pool this window
	PoolPoints  int64                       // the pool size
	Early       map[string]int64            // per reason: requests arriving in a scope before the time a 429 gave
	Repeat429   map[string]int64            // per reason: 429s after the first one per scope and window
	Scopes429   map[string]int64            // per reason: scopes that got a 429
	TenantSpent map[string]int64
}

// Model is the rate limiter. Safe for concurrent use.
type Model struct {
	o  Options
	mu sync.Mutex

	window   time.Time
	pool     int64
	spent    map[string]int64 // per tenant, this window
	buckets  map[string]*bucket
	issues   map[string][]time.Time
	blocked  map[string]time.Time // scope key → time the client was told to come back
	seen429  map[string]bool      // scope key|window → a 429 was given
	forced   map[string]int
	served   map[string]int64
	limited  map[string]map[string]int64
	early    map[string]int64
	repeat   map[string]int64
	scopes   map[string]int64
	poolSize int64
	history  []int64 // points charged in each finished window
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a Model.
func New(o Options) *Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Window <= 0 {
		o.Window = time.Hour
	}
	if o.GlobalPool == 0 {
		o.GlobalPool = 65000
	}
	if o.BurstCapacity == 0 {
		o.BurstCapacity = 100
	}
	m := &Model{o: o, spent: map[string]int64{}, buckets: map[string]*bucket{}, issues: map[string][]time.Time{},
		blocked: map[string]time.Time{}, seen429: map[string]bool{}, forced: map[string]int{},
		served: map[string]int64{}, limited: map[string]map[string]int64{}, early: map[string]int64{},
		repeat: map[string]int64{}, scopes: map[string]int64{}, poolSize: o.GlobalPool}
	return m
}

// Force makes the next count requests answer 429 for reason (one of the
// Reason constants), whatever the counters say.
func (m *Model) Force(reason string, count int) {
	m.mu.Lock()
	m.forced[reason] += count
	m.mu.Unlock()
}

// Stats returns a snapshot.
func (m *Model) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{Served: map[string]int64{}, Limited: map[string]map[string]int64{}, Early: map[string]int64{},
		Repeat429: map[string]int64{}, Scopes429: map[string]int64{}, TenantSpent: map[string]int64{},
		Points: m.pool, PoolPoints: m.poolSize}
	for k, v := range m.served {
		s.Served[k] = v
	}
	for k, v := range m.limited {
		s.Limited[k] = map[string]int64{}
		for r, n := range v {
			s.Limited[k][r] = n
		}
	}
	for k, v := range m.early {
		s.Early[k] = v
	}
	for k, v := range m.repeat {
		s.Repeat429[k] = v
	}
	for k, v := range m.scopes {
		s.Scopes429[k] = v
	}
	for k, v := range m.spent {
		s.TenantSpent[k] = v
	}
	return s
}

// WindowSpend returns the points charged over the finished windows except
// the first (a run starts mid-window), the most charged in any window
// (the current one included), and the number of windows summed.
func (m *Model) WindowSpend() (total, worst int64, windows int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	worst = m.pool
	for i, p := range m.history {
		worst = max(worst, p)
		if i > 0 {
			total += p
			windows++
		}
	}
	return total, worst, windows
}

// Wrap puts the model in front of next. tenantOf names the tenant of a
// request (a site, or a cloudId on the gateway); path is the REST path the
// limits are computed on (nil: r.URL.Path).
func (m *Model) Wrap(next http.Handler, tenantOf func(*http.Request) string, pathOf func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := tenantOf(r)
		path := r.URL.Path
		if pathOf != nil {
			path = pathOf(r)
		}
		if !strings.Contains(path, "/rest/") {
			next.ServeHTTP(w, r)
			return
		}
		if deny := m.admit(tenant, r.Method, path); deny != nil {
			m.write429(w, deny)
			return
		}
		rec := &recorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		m.charge(tenant, r.Method, path, rec)
	})
}

type denial struct {
	reason string
	until  time.Time
	limit  int64
	pool   bool // a quota (structured headers apply)
}

func (m *Model) roll(now time.Time) {
	if w := now.Truncate(m.o.Window); !w.Equal(m.window) {
		if !m.window.IsZero() {
			m.history = append(m.history, m.pool)
		}
		m.window, m.pool = w, 0
		clear(m.spent)
		clear(m.seen429)
	}
}

func (m *Model) quota(tenant string) (int64, string) {
	if m.o.Tier2 {
		p := m.o.Plans[tenant]
		return TenantQuota(p.Edition, p.Users), ReasonTenant
	}
	return m.o.GlobalPool, ReasonGlobal
}

// scopeKey names the scope a reason blocks, as the client should key it.
func scopeKey(reason, tenant, method, endpoint, issue string) string {
	switch reason {
	case ReasonGlobal:
		return "global"
	case ReasonBurst:
		return "burst|" + tenant + "|" + method + " " + endpoint
	case ReasonPerIssue:
		return "issue|" + tenant + "|" + issue
	}
	return "tenant|" + tenant
}

func (m *Model) admit(tenant, method, path string) *denial {
	now := m.o.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(now)
	endpoint := template(path)
	issue := issueOf(method, path)
	// Early arrivals: a scope whose 429 said "not before".
	for _, k := range []string{"global", "tenant|" + tenant, "burst|" + tenant + "|" + method + " " + endpoint, "issue|" + tenant + "|" + issue} {
		if until, ok := m.blocked[k]; ok && now.Before(until) {
			if issue == "" && strings.HasPrefix(k, "issue|") {
				continue
			}
			m.early[reasonOfKey(k, m.o.Tier2)]++
		}
	}
	d := m.decide(now, tenant, method, path, endpoint, issue)
	if d == nil {
		return nil
	}
	key := scopeKey(d.reason, tenant, method, endpoint, issue)
	if d.reason == ReasonGateway {
		key = "tenant|" + tenant
	}
	if until, ok := m.blocked[key]; !ok || until.Before(d.until) {
		m.blocked[key] = d.until
	}
	seenKey := key + "|" + d.reason
	if m.seen429[seenKey] {
		m.repeat[d.reason]++
	} else {
		m.seen429[seenKey] = true
		m.scopes[d.reason]++
	}
	if m.limited[tenant] == nil {
		m.limited[tenant] = map[string]int64{}
	}
	m.limited[tenant][d.reason]++
	return d
}

func reasonOfKey(k string, _ bool) string {
	switch {
	case k == "global":
		return ReasonGlobal
	case strings.HasPrefix(k, "burst|"):
		return ReasonBurst
	case strings.HasPrefix(k, "issue|"):
		return ReasonPerIssue
	}
	return ReasonTenant
}

func (m *Model) decide(now time.Time, tenant, method, path, endpoint, issue string) *denial {
	reset := m.window.Add(m.o.Window)
	for _, r := range []string{ReasonGlobal, ReasonTenant, ReasonBurst, ReasonPerIssue, ReasonGateway} {
		if m.forced[r] > 0 {
			m.forced[r]--
			until := now.Add(time.Second)
			if r == ReasonGlobal || r == ReasonTenant || r == ReasonGateway {
				until = reset
			}
			return &denial{reason: r, until: until, limit: m.o.GlobalPool, pool: r == ReasonGlobal || r == ReasonTenant}
		}
	}
	q, reason := m.quota(tenant)
	used := m.pool
	if m.o.Tier2 {
		used = m.spent[tenant]
	}
	if q > 0 && used >= q && !m.o.Beta {
		if m.o.Gateway {
			return &denial{reason: ReasonGateway, until: reset, limit: 360000}
		}
		return &denial{reason: reason, until: reset, limit: q, pool: true}
	}
	if m.o.BurstCapacity > 0 {
		rate := m.burstRate(method, endpoint)
		k := tenant + "|" + method + " " + endpoint
		b, ok := m.buckets[k]
		if !ok {
			b = &bucket{tokens: m.o.BurstCapacity, at: now}
			m.buckets[k] = b
		}
		b.tokens = min(m.o.BurstCapacity, b.tokens+now.Sub(b.at).Seconds()*rate)
		b.at = now
		if b.tokens < 1 {
			wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
			return &denial{reason: ReasonBurst, until: now.Add(max(wait, time.Second).Truncate(time.Second)), limit: int64(rate)}
		}
		b.tokens--
	}
	if issue != "" {
		k := tenant + "|" + issue
		ts := m.issues[k]
		cut := 0
		for cut < len(ts) && now.Sub(ts[cut]) >= 30*time.Second {
			cut++
		}
		ts = ts[cut:]
		in2 := 0
		for _, t := range ts {
			if now.Sub(t) < 2*time.Second {
				in2++
			}
		}
		if in2 >= 20 || len(ts) >= 100 {
			until := ts[len(ts)-20].Add(2 * time.Second)
			if len(ts) >= 100 {
				until = ts[len(ts)-100].Add(30 * time.Second)
			}
			m.issues[k] = ts
			return &denial{reason: ReasonPerIssue, until: until, limit: 20}
		}
		m.issues[k] = append(ts, now)
	}
	return nil
}

func (m *Model) burstRate(method, endpoint string) float64 {
	if r, ok := m.o.BurstRate[method+" "+endpoint]; ok {
		return r
	}
	if r, ok := m.o.BurstRate[method]; ok {
		return r
	}
	if method == http.MethodGet && strings.HasSuffix(endpoint, "/issue/{id}") {
		return 150 // the documented override
	}
	if method == http.MethodPut || method == http.MethodDelete {
		return 50
	}
	return 100
}

// charge adds the answer's cost and writes the quota headers.
func (m *Model) charge(tenant, method, path string, rec *recorder) {
	cost := Cost(method, path, rec.buf.Bytes())
	m.mu.Lock()
	m.roll(m.o.Now())
	m.pool += cost
	m.spent[tenant] += cost
	m.served[tenant]++
	m.mu.Unlock()
	m.quotaHeaders(rec.Header(), tenant, m.o.Now())
	rec.flush()
}

// Cost is the documented point cost of an answered request: writes 1;
// reads 1 plus, per object returned, 1 (core objects) or 2 (users, groups,
// roles, permissions). Objects are counted in the JSON answer: the
// elements of a top-level array or of its issues/values/users/
// members/comments/worklogs list, else one object.
func Cost(method, path string, body []byte) int64 {
	switch method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPost:
		if !strings.HasSuffix(path, "/search") && !strings.HasSuffix(path, "/jql") && !strings.HasSuffix(path, "/bulkfetch") {
			return 1
		}
	default:
		return 1
	}
	per := int64(1)
	for _, w := range []string{"/user", "/group", "/role", "/permission", "/myself"} {
		if strings.Contains(path, w) {
			per = 2
			break
		}
	}
	return 1 + countObjects(body)*per
}

func countObjects(body []byte) int64 {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return 0
	}
	if body[0] == '[' {
		var a []json.RawMessage
		if json.Unmarshal(body, &a) == nil {
			return int64(len(a))
		}
		return 1
	}
	var o map[string]json.RawMessage
	if json.Unmarshal(body, &o) != nil {
		return 1
	}
	for _, k := range []string{"issues", "values", "users", "members", "comments", "worklogs", "results"} {
		if raw, ok := o[k]; ok {
			var a []json.RawMessage
			if json.Unmarshal(raw, &a) == nil {
				return int64(len(a))
			}
		}
	}
	return 1
}

// recorder buffers the answer so its cost is known before the quota
// headers are written.
type recorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code }
func (r *recorder) Write(p []byte) (int, error) {
	return r.buf.Write(p)
}

func (r *recorder) flush() {
	r.ResponseWriter.WriteHeader(r.status)
	_, _ = r.ResponseWriter.Write(r.buf.Bytes())
}

// quotaHeaders writes RateLimit-Policy / RateLimit for an ordinary answer.
func (m *Model) quotaHeaders(h http.Header, tenant string, now time.Time) {
	m.mu.Lock()
	q, _ := m.quota(tenant)
	used := m.pool
	name := "global-app-quota"
	if m.o.Tier2 {
		used, name = m.spent[tenant], "tenant-app-quota"
	}
	reset := m.window.Add(m.o.Window)
	m.mu.Unlock()
	if q <= 0 {
		return
	}
	policyName, stateName := "RateLimit-Policy", "RateLimit"
	if m.o.Beta {
		policyName, stateName = "Beta-RateLimit-Policy", "Beta-RateLimit"
	}
	if m.o.Mixed {
		policyName, stateName = "RateLimit-Policy", "Beta-RateLimit"
	}
	h.Add(policyName, fmt.Sprintf(`"%s";q=%d;w=%d`, name, q, int64(m.o.Window/time.Second)))
	t := int64(max(reset.Sub(now), 0) / time.Second)
	if used*5 >= q*4 { // r only above 80% use
		h.Add(stateName, fmt.Sprintf(`"%s";r=%d;t=%d`, name, max(q-used, 0), t))
	} else {
		h.Add(stateName, fmt.Sprintf(`"%s";t=%d`, name, t))
	}
	if m.o.Beta && used >= q {
		h.Set("Beta-Retry-After", strconv.FormatInt(max(t, 1), 10))
		h.Set("X-Beta-RateLimit-Reason", m.reasonName())
		h.Set("X-Beta-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04Z"))
	}
}

func (m *Model) reasonName() string {
	if m.o.Tier2 {
		return ReasonTenant
	}
	return ReasonGlobal
}

func (m *Model) write429(w http.ResponseWriter, d *denial) {
	now := m.o.Now()
	h := w.Header()
	secs := int64(max(d.until.Sub(now)+time.Second-1, time.Second) / time.Second)
	if d.reason == ReasonGateway {
		h.Set("X-Failure-Category", "FAILURE_CLIENT_RATE_LIMITED")
		h.Set("X-Ratelimit-Limit", "360000")
		h.Set("X-Ratelimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", d.until.UTC().Format(time.RFC3339))
	} else {
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		h.Set("X-RateLimit-Limit", strconv.FormatInt(d.limit, 10))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", d.until.UTC().Format(time.RFC3339))
		h.Set("RateLimit-Reason", d.reason)
		if d.pool && !m.o.OmitNearLimit {
			h.Set("X-RateLimit-NearLimit", "true")
		}
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"errorMessages":["The request has been rate-limited. Please try again later."],"errors":{},"status":429}`))
}

// template maps identifier segments (any with a digit) to {id}.
func template(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if i == 3 && strings.HasPrefix(path, "/rest/") {
			continue // the API version
		}
		if strings.ContainsAny(s, "0123456789") {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// issueOf is the issue a write goes to (/rest/api/{v}/issue/{key}…).
func issueOf(method, path string) string {
	if method == http.MethodGet || method == http.MethodHead {
		return ""
	}
	_, rest, ok := strings.Cut(path, "/issue/")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	if !strings.ContainsAny(key, "0123456789") {
		return ""
	}
	return key
}
