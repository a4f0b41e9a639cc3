package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDriveCountsStatusesAndConnections drives a server that answers 500
// to one path: the report splits 2xx and non-2xx per kind, and the shared
// transport keeps at most one connection per worker.
func TestDriveCountsStatusesAndConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	good, _ := http.NewRequest("GET", srv.URL+"/good", nil)
	bad, _ := http.NewRequest("GET", srv.URL+"/bad", nil)
	tr := NewTransport(4, time.Second)
	defer tr.CloseIdleConnections()
	var measured atomic.Int32
	res := Drive(context.Background(), DriveOptions{
		Transport: tr, Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond, Kinds: []string{"good", "bad"},
		Pick: func(rng *rand.Rand) Request {
			if rng.IntN(4) == 0 {
				return Request{Kind: 1, HTTP: bad}
			}
			return Request{Kind: 0, HTTP: good}
		},
		OnMeasure: func(bool) { measured.Add(1) },
	})
	if res.OK == 0 || res.Status["500"] == 0 || res.Requests != res.OK+res.Status["500"] {
		t.Fatalf("requests %d ok %d 500s %d", res.Requests, res.OK, res.Status["500"])
	}
	if res.Kinds["bad"].OK != 0 || res.Kinds["good"].OK != res.OK || res.Errors() != res.Status["500"] {
		t.Fatalf("kinds %+v", res.Kinds)
	}
	if len(res.TransportErrors) != 0 || res.Seconds != 0.3 || res.PerSec <= 0 {
		t.Fatalf("transport errors %v, seconds %v, rate %v", res.TransportErrors, res.Seconds, res.PerSec)
	}
	// Hundreds of requests over a handful of connections prove reuse; the
	// transport may dial one spare while a connection is being returned to
	// its idle pool, so allow up to twice the workers.
	if n := conns.Load(); n > 8 || int64(res.Requests) < 10*n {
		t.Fatalf("%d connections for 4 workers and %d requests: keep-alive not reused", n, res.Requests)
	}
	if measured.Load() != 2 {
		t.Fatalf("OnMeasure called %d times", measured.Load())
	}
}

func TestDriveTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	req, _ := http.NewRequest("GET", url+"/healthz?jwt=secret-token", nil)
	res := Drive(context.Background(), DriveOptions{
		Transport: NewTransport(2, time.Second), Concurrency: 2, Duration: 100 * time.Millisecond, Kinds: []string{"x"},
		Pick: func(*rand.Rand) Request { return Request{HTTP: req} },
	})
	if res.OK != 0 || res.TransportErrors["connection refused"] == 0 {
		t.Fatalf("transport errors %v", res.TransportErrors)
	}
	for k := range res.TransportErrors {
		if strings.Contains(k, "secret-token") {
			t.Fatalf("error text echoes the URL: %q", k)
		}
	}
}

func TestInstallPostsSignedCallbacks(t *testing.T) {
	s := testSigner(t)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct{ ClientKey, SharedSecret string }
		if r.URL.Path != "/installed" || !strings.HasPrefix(r.Header.Get("Authorization"), "JWT ey") ||
			json.NewDecoder(r.Body).Decode(&p) != nil || p.SharedSecret == "" {
			http.Error(w, "bad", 400)
			return
		}
		if strings.HasSuffix(p.ClientKey, "00003") {
			http.Error(w, "store down", 503)
			return
		}
		got.Add(1)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	res, err := Install(context.Background(), InstallOptions{
		Transport: NewTransport(3, time.Second), Target: Target{URL: srv.URL, AppBaseURL: srv.URL}, Signer: s, AppKey: "connect-doctor",
		Tenants: NewSeed().Tenants(10), Concurrency: 3, Chunk: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Installed != 9 || got.Load() != 9 || res.Status["503"] != 1 || res.Errors() != 1 || res.Latency.Count != 10 {
		t.Fatalf("installed %d (server saw %d), statuses %v", res.Installed, got.Load(), res.Status)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_memstats_heap_inuse_bytes 1.2e+07
process_cpu_seconds_total 3.5
process_resident_memory_bytes 3.3554432e+07
connect_doctor_http_requests_total{method="GET",route="/healthz",status="200"} 7
`
	var s AppSample
	if err := ParseMetrics(strings.NewReader(text), &s); err != nil {
		t.Fatal(err)
	}
	if s.Goroutines != 42 || s.RSSBytes != 32<<20 || s.HeapInuse != 12e6 || s.CPUSeconds != 3.5 {
		t.Fatalf("parsed %+v", s)
	}
	if err := ParseMetrics(strings.NewReader("go_goroutines 1\n"), &s); err == nil {
		t.Fatal("missing gauges not reported")
	}
	if err := ParseMetrics(strings.NewReader(strings.Replace(text, "42", "forty", 1)), &s); err == nil {
		t.Fatal("bad number accepted")
	}
}

func TestParseProcStatus(t *testing.T) {
	hwm, rss, err := parseProcStatus(strings.NewReader("Name:\tconnect-doctor\nVmPeak:\t 900 kB\nVmHWM:\t   46080 kB\nVmRSS:\t   40960 kB\n"))
	if err != nil || hwm != 45<<20 || rss != 40<<20 {
		t.Fatalf("hwm %d rss %d err %v", hwm, rss, err)
	}
	if _, _, err := parseProcStatus(strings.NewReader("Name: x\n")); err == nil {
		t.Fatal("missing VmHWM accepted")
	}
}

func TestAnalyseLeak(t *testing.T) {
	flat := []AppSample{
		{Label: "idle-before", Goroutines: 10, RSSBytes: 30 << 20},
		{Label: "start", AtSeconds: 2, Goroutines: 140, RSSBytes: 40 << 20, HeapInuse: 10 << 20, CPUSeconds: 1},
		{Label: "during", AtSeconds: 100, Goroutines: 141, RSSBytes: 44 << 20, HeapInuse: 11 << 20},
		{Label: "end", AtSeconds: 302, Goroutines: 139, RSSBytes: 45 << 20, HeapInuse: 10 << 20, CPUSeconds: 301},
		{Label: "idle-after", Goroutines: 11, RSSBytes: 45 << 20},
	}
	a := AppReport{Samples: flat}
	analyse(&a, &RunResult{PerSec: 1000})
	if a.Leak == nil || !a.Leak.Flat || a.CPUCores != 1 || a.CPUMicrosPerReq != 1000 {
		t.Fatalf("flat run judged %+v, cores %v, µs %v", a.Leak, a.CPUCores, a.CPUMicrosPerReq)
	}
	leaky := append([]AppSample(nil), flat...)
	leaky[3].Goroutines = 900
	leaky[4].Goroutines = 770
	leaky[3].RSSBytes = 200 << 20
	a = AppReport{Samples: leaky}
	analyse(&a, &RunResult{PerSec: 1000})
	if a.Leak.Flat || !strings.Contains(a.Leak.Why, "goroutines grew") || !strings.Contains(a.Leak.Why, "RSS grew") {
		t.Fatalf("leaky run judged %+v", a.Leak)
	}
	// Fewer goroutines at the end than at the start (warm-up connections
	// gone) is not a leak.
	settled := append([]AppSample(nil), flat...)
	settled[1].Goroutines = 160
	a = AppReport{Samples: settled}
	analyse(&a, &RunResult{PerSec: 1000})
	if !a.Leak.Flat {
		t.Fatalf("a run whose goroutines fell from 160 to 139 judged %+v", a.Leak)
	}
}

func TestWriteText(t *testing.T) {
	r := &Report{Target: "http://127.0.0.1:1", Tenants: 2, Concurrency: 1,
		Run:      &PhaseReport{RunResult: &RunResult{PerSec: 80, OK: 80, Requests: 81, Status: map[string]uint64{"401": 1}}},
		Baseline: &PhaseReport{RunResult: &RunResult{PerSec: 100, OK: 100, Requests: 100}}, Ratio: 0.8}
	var b bytes.Buffer
	WriteText(&b, r)
	for _, want := range []string{"ratio     authenticated/baseline = 0.800", "non-2xx: 401×1", "errors    1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSlotTimes(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name               string
		from, window, slot time.Duration
		n                  int
		want               []float64
	}{
		{"aligned", 0, 4 * ms * 1000, 1000 * ms, 2, []float64{2, 2}},
		{"warm-up ends mid-slot", 500 * ms, 2000 * ms, 1000 * ms, 2, []float64{1, 1}},
		{"odd number of slots", 0, 3000 * ms, 1000 * ms, 2, []float64{2, 1}},
		{"three pickers", 0, 4500 * ms, 1000 * ms, 3, []float64{2, 1.5, 1}},
		{"empty window", 0, 0, time.Second, 2, []float64{0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := slotTimes(tc.from, tc.window, tc.slot, tc.n)
			for i := range tc.want {
				if d := got[i] - tc.want[i]; d > 1e-9 || d < -1e-9 {
					t.Fatalf("slotTimes = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestDriveAlternates drives two workloads in alternating slots against a
// server where one is about twice as slow: each kind is sent only in its
// own slots, requests that straddle a slot boundary are not counted, and
// the per-slot throughputs reflect the difference.
func TestDriveAlternates(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(4 * time.Millisecond)
		} else {
			time.Sleep(2 * time.Millisecond)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	slow, _ := http.NewRequest("GET", srv.URL+"/slow", nil)
	fast, _ := http.NewRequest("GET", srv.URL+"/fast", nil)
	tr := NewTransport(4, time.Second)
	defer tr.CloseIdleConnections()
	start := time.Now()
	var wrongSlot atomic.Int32
	slotOf := func() int { return int(time.Since(start)/(100*time.Millisecond)) % 2 }
	res := Drive(context.Background(), DriveOptions{
		Transport: tr, Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 800 * time.Millisecond,
		Kinds: []string{"slow", "fast"}, Slot: 100 * time.Millisecond,
		Alternate: []Picker{
			func(*rand.Rand) Request {
				if slotOf() != 0 {
					wrongSlot.Add(1)
				}
				return Request{Kind: 0, HTTP: slow}
			},
			func(*rand.Rand) Request {
				if slotOf() != 1 {
					wrongSlot.Add(1)
				}
				return Request{Kind: 1, HTTP: fast}
			},
		},
	})
	if wrongSlot.Load() > 2 { // start is taken a moment before Drive's own
		t.Fatalf("%d picks outside their slots", wrongSlot.Load())
	}
	if len(res.AlternateSeconds) != 2 || res.AlternateSeconds[0]+res.AlternateSeconds[1] < 0.799 || res.AlternateSeconds[0] < 0.35 {
		t.Fatalf("slot seconds %v", res.AlternateSeconds)
	}
	slowRate := float64(res.Kinds["slow"].OK) / res.AlternateSeconds[0]
	fastRate := float64(res.Kinds["fast"].OK) / res.AlternateSeconds[1]
	if res.Errors() != 0 || slowRate == 0 || fastRate < 1.3*slowRate {
		t.Fatalf("errors %d; slow %.0f/s, fast %.0f/s: the difference is lost", res.Errors(), slowRate, fastRate)
	}
	if res.Kinds["slow"].Latency.P50MS < 3.5 {
		t.Fatalf("slow kind p50 %.2f ms: requests were counted under the wrong kind", res.Kinds["slow"].Latency.P50MS)
	}
}
