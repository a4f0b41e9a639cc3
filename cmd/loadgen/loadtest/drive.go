package loadtest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Target is where requests go and what the app believes its address is.
type Target struct {
	// URL is scheme://host:port of the running app.
	URL string
	// AppBaseURL is the app's BASE_URL: the aud of install tokens; its
	// path prefixes every route and is removed before computing qsh.
	AppBaseURL string
}

// BasePath is the path of the app's BASE_URL, without a trailing slash.
func (t Target) BasePath() string {
	u, err := url.Parse(t.AppBaseURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// url returns the absolute URL for a route such as "/admin?x=1".
func (t Target) url(requestURI string) string {
	return strings.TrimSuffix(t.URL, "/") + requestURI
}

// NewTransport is the one transport shared by every worker: keep-alive,
// at most concurrency connections to the app, all of them kept idle
// between requests, no transparent decompression (requests carry a
// browser's Accept-Encoding themselves; bodies are read as they come),
// and a bound on the wait for response headers.
func NewTransport(concurrency int, headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          concurrency + 16,
		MaxIdleConnsPerHost:   concurrency + 16,
		MaxConnsPerHost:       concurrency + 16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// Request is one pre-built request of a kind (an index into the kinds of
// the run). HTTP is a template, never modified: each call sends a shallow
// copy carrying the worker's context.
type Request struct {
	Kind int
	HTTP *http.Request
}

// Picker chooses the next request. It is called from every worker at once
// with the worker's own random source, so it must be safe for concurrent
// use.
type Picker func(rng *rand.Rand) Request

// DriveOptions configure a timed closed-loop run.
type DriveOptions struct {
	Transport   http.RoundTripper
	Concurrency int
	// Warmup runs the same load unmeasured first (connections opened,
	// caches filled).
	Warmup   time.Duration
	Duration time.Duration
	Kinds    []string // names of Request.Kind values, for the report
	Pick     Picker
	// OnMeasure, if set, is called once when the measured window starts
	// and once when it ends (start=false), while the load is running.
	OnMeasure func(start bool)
	// Seed makes the workers' request choices reproducible.
	Seed uint64
	// Alternate, if set, replaces Pick: time is cut into Slot-long slots
	// from the start of the warm-up, and slot i draws its requests from
	// Alternate[i % len(Alternate)]. A request that starts in one slot and
	// ends in another is not counted (like one that straddles the end of
	// the warm-up), so each picker is measured over its own slots only;
	// RunResult.AlternateSeconds says how long that was. This compares two
	// workloads under the same machine conditions: drift in the machine's
	// speed over seconds or minutes hits both alike.
	Alternate []Picker
	Slot      time.Duration
}

// KindResult is the share of one kind of request.
type KindResult struct {
	Requests uint64  `json:"requests"`
	OK       uint64  `json:"ok"`
	PerSec   float64 `json:"ok_per_sec"`
	Latency  Summary `json:"latency"`
}

// RunResult is what a timed run measured: only requests that completed
// inside the measured window count.
type RunResult struct {
	Concurrency     int                   `json:"concurrency"`
	Seconds         float64               `json:"seconds"`
	Requests        uint64                `json:"requests"`
	OK              uint64                `json:"ok"`
	PerSec          float64               `json:"ok_per_sec"` // 2xx answers per second
	Status          map[string]uint64     `json:"non_2xx"`    // by status code
	TransportErrors map[string]uint64     `json:"transport_errors"`
	Latency         Summary               `json:"latency"`
	Kinds           map[string]KindResult `json:"kinds,omitempty"`
	// AlternateSeconds is, for an alternating run, the measured time
	// spent in the slots of each picker.
	AlternateSeconds []float64 `json:"alternate_seconds,omitempty"`
}

// Errors is the number of non-2xx answers plus transport errors.
func (r *RunResult) Errors() uint64 {
	var n uint64
	for _, c := range r.Status {
		n += c
	}
	for _, c := range r.TransportErrors {
		n += c
	}
	return n
}

// tally is one worker's record.
type tally struct {
	hist   []Histogram // per kind
	ok     []uint64
	status map[int]uint64
	errs   map[string]uint64
}

func newTally(kinds int) *tally {
	return &tally{hist: make([]Histogram, kinds), ok: make([]uint64, kinds), status: map[int]uint64{}, errs: map[string]uint64{}}
}

func (t *tally) record(kind int, lat time.Duration, status int, err error) {
	t.hist[kind].Record(lat)
	switch {
	case err != nil:
		t.errs[classify(err)]++
	case status >= 200 && status < 300:
		t.ok[kind]++
	default:
		t.status[status]++
	}
}

// result merges the workers' tallies.
func result(kinds []string, tallies []*tally, concurrency int, window time.Duration) *RunResult {
	r := &RunResult{Concurrency: concurrency, Seconds: window.Seconds(), Status: map[string]uint64{}, TransportErrors: map[string]uint64{}}
	var all Histogram
	per := make([]Histogram, len(kinds))
	okPer := make([]uint64, len(kinds))
	for _, t := range tallies {
		for k := range kinds {
			per[k].Merge(&t.hist[k])
			okPer[k] += t.ok[k]
		}
		for s, n := range t.status {
			r.Status[itoa(s)] += n
		}
		for e, n := range t.errs {
			r.TransportErrors[e] += n
		}
	}
	if len(kinds) > 1 {
		r.Kinds = map[string]KindResult{}
	}
	for k, name := range kinds {
		all.Merge(&per[k])
		r.OK += okPer[k]
		if r.Kinds != nil {
			r.Kinds[name] = KindResult{Requests: per[k].Count(), OK: okPer[k], PerSec: rate(okPer[k], window), Latency: per[k].Summary()}
		}
	}
	r.Requests = all.Count()
	r.PerSec = rate(r.OK, window)
	r.Latency = all.Summary()
	return r
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(int64(float64(n)/d.Seconds()*10)) / 10
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Drive runs Concurrency workers, each sending one request at a time on
// the shared transport (closed loop), for Warmup+Duration. It stops by
// itself; cancelling ctx stops it early. Requests still in flight at the
// end are not counted.
func Drive(ctx context.Context, o DriveOptions) *RunResult {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	alternating := len(o.Alternate) > 0 && o.Slot > 0
	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	slot := func(t time.Time) int64 { return int64(t.Sub(start) / o.Slot) }
	tallies := make([]*tally, o.Concurrency)
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		t := newTally(len(o.Kinds))
		tallies[w] = t
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(o.Seed, uint64(w)))
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				var req Request
				if alternating {
					req = o.Alternate[slot(t0)%int64(len(o.Alternate))](rng)
				} else {
					req = o.Pick(rng)
				}
				status, err := roundTrip(ctx, o.Transport, req.HTTP)
				t1 := time.Now()
				if t1.Before(measureFrom) || t1.After(end) || (alternating && slot(t0) != slot(t1)) {
					continue
				}
				if ctx.Err() != nil {
					return
				}
				t.record(req.Kind, t1.Sub(t0), status, err)
				if err != nil {
					// Do not spin on a refused connection.
					sleepCtx(ctx, 10*time.Millisecond)
				}
			}
		})
	}
	if o.OnMeasure != nil {
		wg.Go(func() {
			if sleepCtx(ctx, time.Until(measureFrom)) {
				o.OnMeasure(true)
			}
			if sleepCtx(ctx, time.Until(end)-50*time.Millisecond) {
				o.OnMeasure(false)
			}
		})
	}
	wg.Wait()
	window := o.Duration
	if now := time.Now(); now.Before(end) { // cancelled
		window = max(now.Sub(measureFrom), 0)
	}
	r := result(o.Kinds, tallies, o.Concurrency, window)
	if alternating {
		r.AlternateSeconds = slotTimes(measureFrom.Sub(start), window, o.Slot, len(o.Alternate))
	}
	return r
}

// slotTimes splits the measured window [from, from+window) (offsets from
// the start of the run) among n alternating pickers with slots of length
// slot, and returns each one's share in seconds.
func slotTimes(from, window, slot time.Duration, n int) []float64 {
	out := make([]float64, n)
	for t := from; t < from+window; {
		i := int64(t / slot)
		next := min(time.Duration(i+1)*slot, from+window)
		out[i%int64(n)] += (next - t).Seconds()
		t = next
	}
	return out
}

// roundTrip sends a copy of tmpl and reads the whole answer.
func roundTrip(ctx context.Context, rt http.RoundTripper, tmpl *http.Request) (int, error) {
	req := tmpl.WithContext(ctx)
	if tmpl.GetBody != nil {
		body, err := tmpl.GetBody()
		if err != nil {
			return 0, err
		}
		req.Body = body
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// classify names a transport error without echoing the URL (whose query
// may carry a token).
func classify(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "address not available (ephemeral ports exhausted?)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed early (EOF)"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// sortedKeys lists a map's keys in order (for stable text output).
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
