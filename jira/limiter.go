package jira

// The rate-limit gate: the client asks it before every attempt (Admit) and
// tells it every answer (Done). Limiter is the implementation: it holds the
// pauses the 429s imposed (per scope: the app's pool, a tenant, a tenant ×
// method × endpoint, writes to one issue), the pacing after a burst 429,
// the points budget (budget.go), and shares pauses with other instances
// through a PauseStore.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRateLimited is wrapped by every *LimitedError.
var ErrRateLimited = errors.New("jira: rate limited")

// LimitedError is a call refused locally, before anything was sent: a
// pause covering it holds until Until, imposed for Reason (a
// RateLimit-Reason, ReasonGateway, or ReasonBudget when the local fair
// share of the points budget is spent).
type LimitedError struct {
	Reason string
	Scope  ScopeKind
	Until  time.Time
	Tenant string
	// Key describes the blocked scope ("global", the tenant, "GET
	// /rest/api/3/issue/{id}", "issue ABC-1").
	Key string
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("jira: rate limited locally, nothing sent: %s scope %s paused until %s (%s)",
		e.Scope, e.Key, e.Until.UTC().Format(time.RFC3339), e.Reason)
}

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *LimitedError) Unwrap() error { return ErrRateLimited }

// ReasonBudget: the tenant's share of the points budget is spent.
const ReasonBudget = "local-budget-share"

// Call describes one attempt for the gate.
type Call struct {
	Tenant   string // clientKey
	Identity string
	Method   string
	Path     string // escaped path relative to the tenant base
	Query    string
	points   int64     // estimate charged at Admit
	sent     time.Time // when Admit let it go: the quota window Jira counts it in
}

// Gate is what the client consults around each attempt. Admit returns a
// wait to pace the call (0: send now) or an error to refuse it (nothing is
// sent). Done learns from the answer (resp nil on a transport error) and
// returns the parsed signal.
type Gate interface {
	Admit(ctx context.Context, c *Call) (time.Duration, error)
	Done(c *Call, resp *http.Response) (Signal, time.Time)
}

// Pause is one scope closed until Until.
type Pause struct {
	Scope    ScopeKind
	Tenant   string // empty for ScopeGlobal
	Method   string // ScopeEndpoint
	Endpoint string // ScopeEndpoint: normalised path template
	Issue    string // ScopeIssue: the issue id or key
	Reason   string
	Until    time.Time
}

// scopeKey identifies a scope in the maps without building strings.
type scopeKey struct {
	kind         ScopeKind
	tenant, a, b string
}

func (p Pause) key() scopeKey {
	switch p.Scope {
	case ScopeEndpoint:
		return scopeKey{ScopeEndpoint, p.Tenant, p.Method, p.Endpoint}
	case ScopeIssue:
		return scopeKey{ScopeIssue, p.Tenant, p.Issue, ""}
	}
	return scopeKey{kind: p.Scope, tenant: p.Tenant}
}

// Key is the scope's identity, stable across instances.
func (p Pause) Key() string {
	switch p.Scope {
	case ScopeGlobal:
		return "global"
	case ScopeTenant:
		return "tenant|" + p.Tenant
	case ScopeEndpoint:
		return "endpoint|" + p.Tenant + "|" + p.Method + " " + p.Endpoint
	case ScopeIssue:
		return "issue|" + p.Tenant + "|" + p.Issue
	}
	return "none"
}

func (p Pause) label() string {
	switch p.Scope {
	case ScopeGlobal:
		return "global"
	case ScopeTenant:
		return p.Tenant
	case ScopeEndpoint:
		return p.Method + " " + p.Endpoint
	case ScopeIssue:
		return "issue " + p.Issue
	}
	return ""
}

// PauseStore shares pauses between instances (storage.RateStore).
// Publish is called when this instance sets a pause; Since returns pauses
// set after the cursor (by any instance) and the new cursor.
type PauseStore interface {
	Publish(ctx context.Context, p Pause) error
	Since(ctx context.Context, cursor int64) ([]Pause, int64, error)
}

// Observer is told about limits, for metrics and logs. Calls are
// synchronous; keep them cheap.
type Observer interface {
	// Limited: Jira (or the gateway) answered 429 for this call.
	Limited(tenant string, s *Signal, p Pause)
	// Refused: the gate refused a call locally (nothing sent).
	Refused(e *LimitedError)
}

// LimiterOptions configure a Limiter; zero fields take the defaults.
type LimiterOptions struct {
	Now func() time.Time
	// Window is the quota window (default 1 h: Jira resets at the top of
	// each UTC hour). A quota 429 without any timing pauses until the
	// window's end.
	Window time.Duration
	// GatewayPause is the pause after a 429 that says neither when nor why
	// (default 2 s; the retrier's own backoff grows past it).
	GatewayPause time.Duration
	// PaceFactor scales the burst rate after a burst 429: the endpoint is
	// then paced at X-RateLimit-Limit × PaceFactor per second (default 0.8),
	// or the documented steady rate when the header is missing.
	PaceFactor float64
	// MaxPaceWait: a paced call that would wait longer is refused
	// (default 1 s).
	MaxPaceWait time.Duration
	// PaceFor is how long pacing lasts after the last burst 429 (default 1 min).
	PaceFor time.Duration
	// IssueSpacing spaces writes to an issue after a per-issue 429
	// (default 100 ms: 20 writes per 2 s).
	IssueSpacing time.Duration
	// Endpoint normalises a path to the endpoint a burst bucket covers
	// (default EndpointTemplate).
	Endpoint func(method, path string) string
	Budget   *Budget    // nil: no points budget
	Store    PauseStore // nil: pauses stay in this instance
	Observer Observer   // nil: none
}

// Limiter implements Gate. It is safe for concurrent use.
type Limiter struct {
	o      LimiterOptions
	mu     sync.RWMutex
	pauses map[scopeKey]Pause
	paces  map[scopeKey]*pacer
	fine   atomic.Int64 // pauses+paces below the tenant level: 0 skips endpoint work
	latest map[string]Signal
	cursor int64
	pollMu sync.Mutex
	tally  tally
}

type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	until    time.Time
}

// NewLimiter returns a Limiter.
func NewLimiter(o LimiterOptions) *Limiter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Window <= 0 {
		o.Window = time.Hour
	}
	if o.GatewayPause <= 0 {
		o.GatewayPause = 2 * time.Second
	}
	if o.PaceFactor <= 0 || o.PaceFactor > 1 {
		o.PaceFactor = 0.8
	}
	if o.MaxPaceWait <= 0 {
		o.MaxPaceWait = time.Second
	}
	if o.PaceFor <= 0 {
		o.PaceFor = time.Minute
	}
	if o.IssueSpacing <= 0 {
		o.IssueSpacing = 100 * time.Millisecond
	}
	if o.Endpoint == nil {
		o.Endpoint = EndpointTemplate
	}
	return &Limiter{o: o, pauses: map[scopeKey]Pause{}, paces: map[scopeKey]*pacer{}, latest: map[string]Signal{}}
}

// Admit refuses a call a pause covers, paces a call to an endpoint that
// answered burst 429s, and charges the points budget.
func (l *Limiter) Admit(ctx context.Context, c *Call) (time.Duration, error) {
	now := l.o.Now()
	c.sent = now
	l.mu.RLock()
	if p, ok := l.pauses[scopeKey{kind: ScopeGlobal}]; ok && now.Before(p.Until) {
		l.mu.RUnlock()
		return 0, l.refuse(c, p)
	}
	if len(l.pauses) > 0 {
		if p, ok := l.pauses[scopeKey{kind: ScopeTenant, tenant: c.Tenant}]; ok && now.Before(p.Until) {
			l.mu.RUnlock()
			return 0, l.refuse(c, p)
		}
	}
	var wait time.Duration
	if l.fine.Load() > 0 {
		ep := l.o.Endpoint(c.Method, c.Path)
		key := scopeKey{ScopeEndpoint, c.Tenant, c.Method, ep}
		if p, ok := l.pauses[key]; ok && now.Before(p.Until) {
			l.mu.RUnlock()
			return 0, l.refuse(c, p)
		}
		pc := l.paces[key]
		var ipc *pacer
		if issue := IssueOf(c.Method, c.Path); issue != "" {
			ikey := scopeKey{ScopeIssue, c.Tenant, issue, ""}
			if p, ok := l.pauses[ikey]; ok && now.Before(p.Until) {
				l.mu.RUnlock()
				return 0, l.refuse(c, p)
			}
			ipc = l.paces[ikey]
		}
		l.mu.RUnlock()
		for _, p := range [...]*pacer{pc, ipc} {
			if p == nil {
				continue
			}
			w, ok := p.take(now, l.o.MaxPaceWait)
			if !ok {
				pause := Pause{Scope: ScopeEndpoint, Tenant: c.Tenant, Method: c.Method, Endpoint: ep, Reason: ReasonJiraBurst, Until: now.Add(w)}
				if p == ipc {
					pause = Pause{Scope: ScopeIssue, Tenant: c.Tenant, Issue: IssueOf(c.Method, c.Path), Reason: ReasonJiraPerIssue, Until: now.Add(w)}
				}
				return 0, l.refuse(c, pause)
			}
			wait = max(wait, w)
		}
	} else {
		l.mu.RUnlock()
	}
	if b := l.o.Budget; b != nil {
		c.points = EstimatePoints(c.Method, c.Path, c.Query)
		if err := b.take(ctx, c.Tenant, c.points, now); err != nil {
			if le, ok := errors.AsType[*LimitedError](err); ok && l.o.Observer != nil {
				l.o.Observer.Refused(le)
			}
			return 0, err
		}
	}
	return wait, nil
}

func (l *Limiter) refuse(c *Call, p Pause) error {
	e := &LimitedError{Reason: p.Reason, Scope: p.Scope, Until: p.Until, Tenant: c.Tenant, Key: p.label()}
	if l.o.Observer != nil {
		l.o.Observer.Refused(e)
	}
	return e
}

// take reserves the pacer's next slot: the wait before sending, or false
// when it is further than maxWait away (the wait is then returned).
func (p *pacer) take(now time.Time, maxWait time.Duration) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.After(p.until) {
		return 0, true
	}
	at := p.next
	if at.Before(now) {
		at = now
	}
	w := at.Sub(now)
	if w > maxWait {
		return w, false
	}
	p.next = at.Add(p.interval)
	return w, true
}

// Done learns from one answer: a 429 pauses its scope (and publishes the
// pause), quota headers on any answer correct the budget. It returns the
// signal and, for a 429, when the paused scope reopens.
func (l *Limiter) Done(c *Call, resp *http.Response) (Signal, time.Time) {
	if resp == nil {
		return Signal{}, time.Time{}
	}
	now := l.o.Now()
	if resp.StatusCode != http.StatusTooManyRequests {
		pts := c.points
		if pts == 0 {
			pts = EstimatePoints(c.Method, c.Path, c.Query)
		}
		l.tally.add(now, l.o.Window, c.Tenant, c.Method+" "+l.o.Endpoint(c.Method, c.Path), pts)
	}
	s := ParseSignal(resp.StatusCode, resp.Header, now)
	if b := l.o.Budget; b != nil {
		for _, p := range s.Policies {
			if p.Quota > 0 && p.Remaining >= 0 && (p.Name == "global-app-quota" || p.Name == "tenant-app-quota") {
				sent := c.sent
				if sent.IsZero() {
					sent = now
				}
				b.Observe(c.Tenant, p.Name == "tenant-app-quota", p.Quota, p.Remaining, sent)
			}
		}
	}
	if len(s.Policies) > 0 {
		l.mu.Lock()
		l.latest[c.Tenant] = s
		if len(l.latest) > 10000 {
			clear(l.latest)
		}
		l.mu.Unlock()
	}
	if !s.Limited() {
		// A quota policy at r=0 on an ordinary answer: the next call would
		// be refused; pause now (enforced form only).
		for _, p := range s.Policies {
			if !p.Beta && p.Remaining == 0 && p.Reset > 0 {
				scope := ScopeGlobal
				if strings.Contains(p.Name, "tenant") {
					scope = ScopeTenant
				} else if !strings.Contains(p.Name, "global") {
					continue
				}
				l.set(Pause{Scope: scope, Tenant: tenantOf(scope, c.Tenant), Reason: p.Name, Until: now.Add(time.Duration(p.Reset) * time.Second)}, true)
			}
		}
		return s, time.Time{}
	}
	p := Pause{Scope: s.Scope, Reason: s.Reason, Tenant: tenantOf(s.Scope, c.Tenant)}
	until := s.Until(now)
	switch s.Scope {
	case ScopeGlobal, ScopeTenant:
		if until.IsZero() {
			if s.Reason == ReasonGateway {
				until = now.Add(l.o.GatewayPause)
			} else {
				until = now.Truncate(l.o.Window).Add(l.o.Window) // the next reset
			}
		}
	case ScopeEndpoint:
		p.Method, p.Endpoint = c.Method, l.o.Endpoint(c.Method, c.Path)
		if until.IsZero() {
			until = now.Add(time.Second)
		}
		rate := float64(steadyRate(c.Method))
		if s.Limit > 0 && s.Limit < 100000 {
			rate = float64(s.Limit)
		}
		l.pace(p.key(), time.Duration(float64(time.Second)/(rate*l.o.PaceFactor)), until, now)
	case ScopeIssue:
		p.Issue = IssueOf(c.Method, c.Path)
		if p.Issue == "" {
			p.Scope, p.Method, p.Endpoint = ScopeEndpoint, c.Method, l.o.Endpoint(c.Method, c.Path)
		}
		if until.IsZero() {
			until = now.Add(2 * time.Second)
		}
		l.pace(p.key(), l.o.IssueSpacing, until, now)
	}
	p.Until = until
	l.gc()
	l.set(p, true)
	if l.o.Observer != nil {
		l.o.Observer.Limited(c.Tenant, &s, p)
	}
	return s, until
}

func tenantOf(scope ScopeKind, tenant string) string {
	if scope == ScopeGlobal {
		return ""
	}
	return tenant
}

// steadyRate is the documented default burst rate of a method (per s).
func steadyRate(method string) int {
	if method == http.MethodPut || method == http.MethodDelete {
		return 50
	}
	return 100
}

func (l *Limiter) pace(key scopeKey, interval time.Duration, start, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pc, ok := l.paces[key]
	if !ok {
		pc = &pacer{}
		l.paces[key] = pc
		l.fine.Add(1)
	}
	pc.mu.Lock()
	pc.interval = interval
	pc.next = start
	pc.until = now.Add(l.o.PaceFor)
	pc.mu.Unlock()
}

// set records a pause (keeping the later end) and publishes it when it is
// this instance's own.
func (l *Limiter) set(p Pause, own bool) {
	key := p.key()
	l.mu.Lock()
	old, ok := l.pauses[key]
	if ok && !old.Until.Before(p.Until) {
		l.mu.Unlock()
		return
	}
	l.pauses[key] = p
	if !ok && p.Scope >= ScopeEndpoint {
		l.fine.Add(1)
	}
	l.mu.Unlock()
	if own && l.o.Store != nil && p.Scope <= ScopeTenant {
		// Only pauses wider than one endpoint are shared: burst and
		// per-issue pauses last about a second, less than propagation.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.o.Store.Publish(ctx, p)
	}
}

// Sync reads pauses other instances set since the last Sync. Run it every
// few hundred milliseconds (Run does).
func (l *Limiter) Sync(ctx context.Context) error {
	if l.o.Store == nil {
		return nil
	}
	l.pollMu.Lock()
	defer l.pollMu.Unlock()
	ps, cur, err := l.o.Store.Since(ctx, l.cursor)
	if err != nil {
		return err
	}
	l.cursor = cur
	for _, p := range ps {
		l.set(p, false)
	}
	l.gc()
	return nil
}

// Run calls Sync (and the budget's Flush) every interval until ctx ends.
func (l *Limiter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = l.Sync(ctx)
			if l.o.Budget != nil {
				_ = l.o.Budget.Flush(ctx)
			}
		}
	}
}

// gc drops expired pauses and pacers.
func (l *Limiter) gc() {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, p := range l.pauses {
		if !now.Before(p.Until) {
			delete(l.pauses, k)
			if p.Scope >= ScopeEndpoint {
				l.fine.Add(-1)
			}
		}
	}
	for k, pc := range l.paces {
		pc.mu.Lock()
		done := now.After(pc.until)
		pc.mu.Unlock()
		if done {
			delete(l.paces, k)
			l.fine.Add(-1)
		}
	}
}

// Pauses returns the pauses in force that cover tenant (the global one
// included), for the panel.
func (l *Limiter) Pauses(tenant string) []Pause {
	now := l.o.Now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []Pause
	for _, p := range l.pauses {
		if now.Before(p.Until) && (p.Scope == ScopeGlobal || p.Tenant == tenant) {
			out = append(out, p)
		}
	}
	return out
}

// LastSignal returns the latest quota headers (RateLimit, RateLimit-Policy
// or their Beta forms) seen for tenant.
func (l *Limiter) LastSignal(tenant string) (Signal, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s, ok := l.latest[tenant]
	return s, ok
}
