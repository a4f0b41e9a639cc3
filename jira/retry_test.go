package jira

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func status(code int, headers ...string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, `{"errorMessages":["status `+http.StatusText(code)+`"],"errors":{}}`)
	}
}

// sequence answers the n-th request with steps[n-1] (the last one repeats).
func sequence(steps ...func(http.ResponseWriter, *http.Request, int)) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		steps[min(n, len(steps))-1](w, r, n)
	}
}

var ok200 = func(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, `{"ok":true}`) }

func TestRetry(t *testing.T) {
	httpDate := fixedNow.Add(7 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name      string
		method    string
		body      string
		policy    RetryPolicy
		respond   func(http.ResponseWriter, *http.Request, int)
		wantCode  int // final status
		wantSent  int
		wantWaits []time.Duration
		wantCause string
		wantRA    time.Duration
	}{
		{name: "429 Retry-After 1 then 200", method: "GET",
			respond:  sequence(status(429, "Retry-After", "1"), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{time.Second}},
		{name: "429 with an HTTP-date Retry-After", method: "GET",
			respond:  sequence(status(429, "Retry-After", httpDate), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "429 to a POST is not retried", method: "POST", body: `{"a":1}`,
			respond:  sequence(status(429, "Retry-After", "2"), ok200),
			wantCode: 429, wantSent: 1, wantCause: CauseNotIdempotent429, wantRA: 2 * time.Second},
		{name: "429 to a PUT is retried", method: "PUT", body: `{"a":1}`,
			respond:  sequence(status(429, "Retry-After", "2"), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{2 * time.Second}},
		{name: "Retry-After 0 is waited as 1 s", method: "GET",
			respond:  sequence(status(429, "Retry-After", "0"), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{time.Second}},
		{name: "429 without Retry-After backs off exponentially from 2 s (x0.7 with no jitter)", method: "GET",
			policy:   RetryPolicy{MaxAttempts: 4},
			respond:  sequence(status(429), status(429), status(429), ok200),
			wantCode: 200, wantSent: 4, wantWaits: []time.Duration{1400 * time.Millisecond, 2800 * time.Millisecond, 5600 * time.Millisecond}},
		{name: "429 backoff is capped", method: "GET",
			policy:   RetryPolicy{MaxAttempts: 4, RateLimitBase: 10 * time.Second, RateLimitMaxDelay: 15 * time.Second},
			respond:  sequence(status(429), status(429), status(429), ok200),
			wantCode: 200, wantSent: 4, wantWaits: []time.Duration{7 * time.Second, 10500 * time.Millisecond, 10500 * time.Millisecond}},
		{name: "429 without Retry-After waits for X-RateLimit-Reset", method: "GET",
			respond:  sequence(status(429, "X-RateLimit-Reset", fixedNow.Add(5*time.Second).UTC().Format(time.RFC3339)), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{5 * time.Second}},
		{name: "429 beyond the cap gives up at once", method: "GET",
			policy:   RetryPolicy{MaxRetryAfter: 10 * time.Second},
			respond:  status(429, "Retry-After", "120"),
			wantCode: 429, wantSent: 1, wantCause: CauseRetryAfterCap, wantRA: 120 * time.Second},
		{name: "429 for ever: retries exhausted", method: "GET",
			policy:   RetryPolicy{MaxAttempts: 3},
			respond:  status(429, "Retry-After", "1"),
			wantCode: 429, wantSent: 3, wantWaits: []time.Duration{time.Second, time.Second}, wantCause: CauseExhausted, wantRA: time.Second},
		{name: "503 with Retry-After is retried for POST", method: "POST", body: "{}",
			respond:  sequence(status(503, "Retry-After", "3"), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "503 without Retry-After: GET backs off", method: "GET",
			respond:  sequence(status(503), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{250 * time.Millisecond}},
		{name: "POST not retried on 500", method: "POST", body: `{"fields":{}}`,
			respond:  sequence(status(500), ok200),
			wantCode: 500, wantSent: 1, wantCause: CauseNotIdempotent},
		{name: "POST not retried on 503 without Retry-After", method: "POST", body: `{}`,
			respond:  sequence(status(503), ok200),
			wantCode: 503, wantSent: 1, wantCause: CauseNotIdempotent},
		{name: "PUT retried on 502 with its body", method: "PUT", body: `{"fields":{"summary":"s"}}`,
			respond:  sequence(status(502), ok200),
			wantCode: 200, wantSent: 2, wantWaits: []time.Duration{250 * time.Millisecond}},
		{name: "DELETE retried on 504", method: "DELETE",
			respond:  sequence(status(504), status(504), ok200),
			wantCode: 200, wantSent: 3, wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{name: "501 never retried", method: "GET",
			respond:  status(501),
			wantCode: 501, wantSent: 1, wantCause: CauseNotRetryable},
		{name: "403 never retried", method: "GET",
			respond:  status(403),
			wantCode: 403, wantSent: 1, wantCause: CauseNotRetryable},
		{name: "backoff is capped", method: "GET",
			policy:   RetryPolicy{BaseDelay: 4 * time.Second, MaxDelay: 5 * time.Second, MaxAttempts: 4},
			respond:  sequence(status(500), status(500), status(500), ok200),
			wantCode: 200, wantSent: 4, wantWaits: []time.Duration{2 * time.Second, 2500 * time.Millisecond, 2500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJira(t, "")
			f.respond = tt.respond
			c, rec := newTestClient(f, nil, tt.policy)
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			resp, err := c.AsApp(f.tenant).Call(t.Context(), tt.method, "/rest/api/3/issue/TEST-1", body)
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.Status != tt.wantCode {
				t.Errorf("status %d, want %d", resp.Status, tt.wantCode)
			}
			seen := f.seen()
			if len(seen) != tt.wantSent || resp.Attempts != tt.wantSent {
				t.Errorf("server saw %d requests, Response.Attempts %d, want %d", len(seen), resp.Attempts, tt.wantSent)
			}
			for i, s := range seen {
				if s.Body != tt.body {
					t.Errorf("attempt %d body %q, want %q (not rewound?)", i+1, s.Body, tt.body)
				}
				if i > 0 && s.Token == seen[i-1].Token && rec.Waits()[i-1] >= time.Second {
					t.Errorf("attempt %d reused the previous JWT", i+1)
				}
			}
			if got := rec.Waits(); !equalDurations(got, tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
			if tt.wantCode/100 == 2 {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			ae, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("err %T %v is not *APIError", err, err)
			}
			if ae.StatusCode != tt.wantCode || ae.Cause != tt.wantCause || ae.RetryAfter != tt.wantRA ||
				ae.Attempts != tt.wantSent || ae.Identity != IdentityApp || ae.Method != tt.method || ae.Path != "/rest/api/3/issue/TEST-1" {
				t.Errorf("APIError %+v", ae)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryMintsAFreshJWTPerAttempt(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = sequence(status(429, "Retry-After", "5"), ok200)
	c, _ := newTestClient(f, nil, RetryPolicy{})
	if _, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil); err != nil {
		t.Fatal(err)
	}
	s := f.seen()
	if len(s) != 2 || s[0].Token == s[1].Token || s[1].Iat-s[0].Iat != 5 {
		t.Errorf("tokens not re-minted per attempt: iat %d → %d", s[0].Iat, s[1].Iat)
	}
}

func TestBackoffJitter(t *testing.T) {
	p := RetryPolicy{BaseDelay: time.Second, MaxDelay: 8 * time.Second,
		Jitter: func(d time.Duration) time.Duration { return d - 1 }}.withDefaults()
	want := []time.Duration{time.Second - 1, 2*time.Second - 1, 4*time.Second - 1, 8*time.Second - 1, 8*time.Second - 1}
	for i, w := range want {
		if got := p.backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	// The default jitter stays in range.
	d := RetryPolicy{}.withDefaults()
	for range 100 {
		if b := d.backoff(1); b < 250*time.Millisecond || b >= 500*time.Millisecond {
			t.Fatalf("default backoff(1) = %v outside [250ms, 500ms)", b)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{"", 0, false},
		{fixedNow.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{fixedNow.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{fixedNow.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, fixedNow)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// flakyTransport fails the first failures round trips with a network error.
type flakyTransport struct {
	failures int32
	calls    atomic.Int32
	next     http.RoundTripper
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.calls.Add(1) <= f.failures {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return f.next.RoundTrip(r)
}

func TestRetryNetworkErrors(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		failures  int32
		wantErr   bool
		wantCalls int32
	}{
		{"GET retried after a network error", "GET", 2, false, 3},
		{"GET gives up when retries are exhausted", "GET", 10, true, 4},
		{"POST not retried after a network error", "POST", 1, true, 1},
		{"PUT retried", "PUT", 1, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeJira(t, "")
			rec := &sleepRecorder{now: fixedNow}
			f.now = rec.Now
			flaky := &flakyTransport{failures: tt.failures, next: f.srv.Client().Transport}
			c := New(Options{HTTP: &http.Client{Transport: flaky}, AppKey: testAppKey, Now: rec.Now,
				Retry: RetryPolicy{Sleep: rec.Sleep, Jitter: func(time.Duration) time.Duration { return 0 }}})
			var body []byte
			if tt.method != http.MethodGet {
				body = []byte(`{}`)
			}
			_, err := c.AsApp(f.tenant).Call(t.Context(), tt.method, "/rest/api/3/issue/TEST-1", body)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				var op *net.OpError
				if !errors.As(err, &op) {
					t.Errorf("network error not wrapped: %v", err)
				}
			}
			if got := flaky.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d round trips, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestRetryRespectsContext(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = status(429, "Retry-After", "5")
	ctx, cancel := context.WithCancel(t.Context())
	c := New(Options{HTTP: f.srv.Client(), AppKey: testAppKey, Now: f.now,
		Retry: RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error {
			cancel() // the caller gives up while we wait
			<-ctx.Done()
			return ctx.Err()
		}}})
	_, err := c.AsApp(f.tenant).Call(ctx, "GET", "/rest/api/3/myself", nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := len(f.seen()); n != 1 {
		t.Errorf("%d requests after cancellation", n)
	}
}

func TestDefaultSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx = %v", err)
	}
	if err := sleepCtx(t.Context(), 0); err != nil {
		t.Errorf("sleepCtx(0) = %v", err)
	}
}

func TestRetryNeedsRewindableBody(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = sequence(status(429, "Retry-After", "1"), ok200)
	c, _ := newTestClient(f, nil, RetryPolicy{})
	req, _ := http.NewRequest("PUT", "/rest/api/3/issue/A-1", io.NopCloser(strings.NewReader(`{"x":1}`)))
	_, err := c.AsApp(f.tenant).Do(req)
	ae, ok := errors.AsType[*APIError](err)
	if !ok || ae.Cause != CauseNoRewind || len(f.seen()) != 1 {
		t.Errorf("err = %v, requests %d", err, len(f.seen()))
	}
}
