package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AppSample is a reading of the app's own gauges from its Prometheus
// /metrics, taken at a labelled moment of the run.
type AppSample struct {
	Label      string  `json:"label"`
	AtSeconds  float64 `json:"at_seconds"` // since the sampler started
	Goroutines float64 `json:"go_goroutines"`
	RSSBytes   float64 `json:"process_resident_memory_bytes"`
	HeapInuse  float64 `json:"go_memstats_heap_inuse_bytes"`
	CPUSeconds float64 `json:"process_cpu_seconds_total"`
	Err        string  `json:"error,omitempty"`
}

// Sampler reads /metrics with its own client (not the load's transport).
type Sampler struct {
	URL    string // e.g. http://127.0.0.1:8080/metrics
	Token  string // the app's METRICS_TOKEN, sent as a bearer token when set
	Client *http.Client
	start  time.Time
}

// NewSampler builds a sampler for the app's metrics URL.
func NewSampler(metricsURL string) *Sampler {
	return &Sampler{URL: metricsURL, Client: &http.Client{Timeout: 5 * time.Second}, start: time.Now()}
}

// metricNames maps the gauges read to their fields.
var metricNames = map[string]func(*AppSample) *float64{
	"go_goroutines":                 func(s *AppSample) *float64 { return &s.Goroutines },
	"process_resident_memory_bytes": func(s *AppSample) *float64 { return &s.RSSBytes },
	"go_memstats_heap_inuse_bytes":  func(s *AppSample) *float64 { return &s.HeapInuse },
	"process_cpu_seconds_total":     func(s *AppSample) *float64 { return &s.CPUSeconds },
}

// Sample scrapes the gauges now; a failure is recorded in Err.
func (s *Sampler) Sample(ctx context.Context, label string) AppSample {
	out := AppSample{Label: label, AtSeconds: time.Since(s.start).Round(time.Millisecond).Seconds()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		out.Err = err.Error()
		return out
	}
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		out.Err = classify(err)
		return out
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		out.Err = fmt.Sprintf("/metrics answered %d", resp.StatusCode)
		return out
	}
	if err := ParseMetrics(resp.Body, &out); err != nil {
		out.Err = err.Error()
	}
	return out
}

// ParseMetrics reads the gauges AppSample holds from Prometheus text
// exposition format. A gauge missing from the text is an error.
func ParseMetrics(r io.Reader, out *AppSample) error {
	found := map[string]bool{}
	sc := bufio.NewScanner(io.LimitReader(r, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		field, wanted := metricNames[name]
		if !wanted {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return fmt.Errorf("metric %s: %q is not a number", name, value)
		}
		*field(out) = v
		found[name] = true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for name := range metricNames {
		if !found[name] {
			return fmt.Errorf("metric %s not exposed", name)
		}
	}
	return nil
}

// ProcMemory reads a process's peak and current resident set size (VmHWM
// and VmRSS, in bytes) from /proc/<pid>/status.
func ProcMemory(pid int) (hwm, rss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseProcStatus(f)
}

func parseProcStatus(r io.Reader) (hwm, rss int64, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", k, err)
		}
		if k == "VmHWM" {
			hwm = n * 1024
		} else {
			rss = n * 1024
		}
	}
	if hwm == 0 {
		return 0, 0, fmt.Errorf("no VmHWM line")
	}
	return hwm, rss, sc.Err()
}

// LoadAverage is /proc/loadavg's first three fields ("" if unreadable).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// SelfCPU is the CPU time (user+system) this process has used so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
