package jira

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy controls retries; zero fields take the defaults shown.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, first one included
	// (default 4). 1 disables retries.
	MaxAttempts int
	// BaseDelay is the first backoff interval; it doubles per retry
	// (default 500 ms).
	BaseDelay time.Duration
	// MaxDelay caps one backoff interval (default 10 s).
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After honoured (default 30 s);
	// when Jira asks for more the client gives up with an *APIError whose
	// RetryAfter says how long Jira asked for.
	MaxRetryAfter time.Duration
	// Jitter returns a random duration in [0, d); nil uses math/rand/v2.
	// A backoff interval d becomes d/2 + Jitter(d/2).
	Jitter func(d time.Duration) time.Duration
	// Sleep waits d or until ctx is done; nil uses a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// RateLimitBase and RateLimitMaxDelay shape the backoff after a 429
	// that gives neither Retry-After nor X-RateLimit-Reset: it starts at
	// RateLimitBase (default 2 s) and doubles up to RateLimitMaxDelay
	// (default 30 s), each wait scaled by a factor in [0.7, 1.3).
	RateLimitBase, RateLimitMaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 10 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 30 * time.Second
	}
	if p.Jitter == nil {
		p.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d)
		}
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.RateLimitBase <= 0 {
		p.RateLimitBase = 2 * time.Second
	}
	if p.RateLimitMaxDelay <= 0 {
		p.RateLimitMaxDelay = 30 * time.Second
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// backoff returns the jittered wait before retry number n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	return d/2 + p.Jitter(d/2)
}

// rateLimitWait is the wait before retrying a 429 (rate-limits.md §4):
// Retry-After is the minimum (at least 1 s), plus up to 30% jitter; else
// until the scope reopens (X-RateLimit-Reset, or the gate's pause), plus
// jitter; else an exponential backoff from RateLimitBase with a factor in
// [0.7, 1.3), capped at RateLimitMaxDelay.
func (p RetryPolicy) rateLimitWait(n int, ra time.Duration, hasRA bool, reopen time.Duration) time.Duration {
	if hasRA {
		base := max(ra, time.Second, reopen)
		return base + p.Jitter(base*3/10)
	}
	if reopen > 0 {
		return reopen + p.Jitter(reopen*3/10)
	}
	d := p.RateLimitBase
	for i := 1; i < n && d < p.RateLimitMaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.RateLimitMaxDelay)
	return d*7/10 + p.Jitter(d*6/10)
}

// attemptInfo travels in the request context from the Doer through the
// decorators, which run one after another on the caller's goroutine.
type attemptInfo struct {
	sent      int    // requests handed to the transport
	refreshed bool   // the bearer decorator refreshed the token after a 401
	cause     string // why the retry decorator stopped
	gate      Gate   // the rate-limit gate, nil for none
	call      *Call  // the call as the gate sees it
	signal    *Signal
}

type attemptKey struct{}

// infoFrom returns the request's attemptInfo, or a throwaway one when a
// decorator is used on its own.
func infoFrom(req *http.Request) *attemptInfo {
	if i, ok := req.Context().Value(attemptKey{}).(*attemptInfo); ok {
		return i
	}
	return &attemptInfo{}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > 1<<31 {
			secs = 1 << 31
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retrier is the RoundTripper decorator that retries: 429 always, 503 with
// Retry-After always, other 5xx (not 501/505) and network errors only for
// idempotent methods. Retry-After is honoured up to MaxRetryAfter; otherwise
// it backs off exponentially with jitter. Each retry goes through the
// decorators below it again, so the app JWT is minted afresh.
type retrier struct {
	next   http.RoundTripper
	policy RetryPolicy // with defaults
	now    func() time.Time
	log    *slog.Logger
}

func (r *retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	info := infoFrom(req)
	hasBody := req.Body != nil && req.Body != http.NoBody
	for attempt := 1; ; attempt++ {
		out := req
		if attempt > 1 && hasBody {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("jira: rewinding the request body: %w", err)
			}
			out = req.Clone(ctx)
			out.Body = body
		}
		var reopen time.Duration
		if info.gate != nil {
			pace, err := info.gate.Admit(ctx, info.call)
			if err != nil {
				closeBody(out)
				return nil, err
			}
			if pace > 0 {
				if err := r.policy.Sleep(ctx, pace); err != nil {
					closeBody(out)
					return nil, fmt.Errorf("jira: pacing %s: %w", pace, err)
				}
			}
		}
		resp, err := r.next.RoundTrip(out)
		if info.gate != nil && err == nil {
			now := r.now()
			sig, until := info.gate.Done(info.call, resp)
			if sig.Limited() {
				info.signal = &sig
				reopen = max(until.Sub(now), 0)
			}
		}

		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || localRefusal(err) {
				return nil, err
			}
			if !idempotent(req.Method) {
				return nil, fmt.Errorf("%s: %w", CauseNotIdempotent, err)
			}
			if attempt >= r.policy.MaxAttempts {
				return nil, fmt.Errorf("%s after %d attempts: %w", CauseExhausted, attempt, err)
			}
			if hasBody && req.GetBody == nil {
				return nil, fmt.Errorf("%s: %w", CauseNoRewind, err)
			}
			wait = r.policy.backoff(attempt)
		default:
			ra, hasRA := parseRetryAfter(resp.Header.Get("Retry-After"), r.now())
			retry, cause := r.shouldRetry(req.Method, resp.StatusCode, hasRA)
			if !retry {
				info.cause = cause
				return resp, nil
			}
			if attempt >= r.policy.MaxAttempts {
				info.cause = CauseExhausted
				return resp, nil
			}
			if hasBody && req.GetBody == nil {
				info.cause = CauseNoRewind
				return resp, nil
			}
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				if reopen == 0 && !hasRA {
					if s := ParseSignal(resp.StatusCode, resp.Header, r.now()); !s.Reset.IsZero() {
						reopen = max(s.Reset.Sub(r.now()), 0)
					}
				}
				if max(ra, reopen) > r.policy.MaxRetryAfter {
					info.cause = CauseRetryAfterCap
					return resp, nil
				}
				wait = r.policy.rateLimitWait(attempt, ra, hasRA, reopen)
			case hasRA:
				if ra > r.policy.MaxRetryAfter {
					info.cause = CauseRetryAfterCap
					return resp, nil
				}
				wait = ra
			default:
				wait = r.policy.backoff(attempt)
			}
			drain(resp)
		}
		r.log.DebugContext(ctx, "jira: retrying", "method", req.Method, "path", req.URL.EscapedPath(),
			"attempt", attempt, "wait", wait, "error", errString(err), "status", statusOf(resp))
		if err := r.policy.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("jira: waiting %s to retry: %w", wait, err)
		}
	}
}

func (r *retrier) shouldRetry(method string, status int, hasRetryAfter bool) (bool, string) {
	switch {
	case status < 400:
		return false, ""
	case status == http.StatusTooManyRequests:
		// Only idempotent requests are retried automatically (Atlassian's
		// rate-limiting guide): a write may have been counted.
		if idempotent(method) {
			return true, ""
		}
		return false, CauseNotIdempotent429
	case status == http.StatusServiceUnavailable && hasRetryAfter:
		return true, ""
	case status >= 500 && status != http.StatusNotImplemented && status != http.StatusHTTPVersionNotSupported:
		if idempotent(method) {
			return true, ""
		}
		return false, CauseNotIdempotent
	}
	return false, CauseNotRetryable
}

// localRefusal reports errors raised before anything reached Jira by our
// own decorators (no token, path refused): retrying cannot help.
func localRefusal(err error) bool {
	for _, e := range []error{ErrToken, ErrPathNotAllowed, ErrTenant, ErrConfig, ErrRateLimited} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}
