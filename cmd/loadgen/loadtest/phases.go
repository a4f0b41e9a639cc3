package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// Modes of a load run.
const (
	ModeInstall  = "install"
	ModeRun      = "run"
	ModeBaseline = "baseline"
	ModeAll      = "all" // install, run, baseline
	// ModeCompare drives the authenticated mix and the baseline in
	// alternating slots over the same connections (DriveOptions.Alternate)
	// and reports their ratio.
	ModeCompare = "compare"
)

// DefaultSlot is the length of a compare-mode slot.
const DefaultSlot = 2 * time.Second

// Config is one invocation of the load generator.
type Config struct {
	Target             Target
	Mode               string
	AppKey             string
	Seed               Seed
	Tenants            int
	Concurrency        int
	InstallConcurrency int // 0: Concurrency
	Duration           time.Duration
	Warmup             time.Duration
	ContextShare       float64
	TokensPerTenant    int
	// TokenTTL is the tokens' lifetime; 0 means Jira's (3 min for pages,
	// 15 min for context tokens) or, if longer, the whole run plus a
	// minute. When the run outlives it the pool is re-signed in the
	// background every TokenTTL/3.
	TokenTTL    time.Duration
	ContextUser bool
	// PagePath and ContextPath override the routes of the two kinds.
	PagePath, ContextPath string
	Timeout               time.Duration // wait for response headers
	// SampleEvery samples /metrics during the measured window besides its
	// start and end (0: only those).
	SampleEvery time.Duration
	// MetricsURL of the app ("" : <target>/metrics; "-": none).
	MetricsURL string
	// MetricsToken is the app's METRICS_TOKEN ("": none).
	MetricsToken string
	// AppPID, if set, is the app's process id on this machine: its peak
	// RSS (VmHWM) is read from /proc.
	AppPID int
	// Settle is the pause after a timed phase, with the connections
	// closed, before the idle-after sample; 0 means 1 s.
	Settle time.Duration
	Signer *InstallSigner // required for install
	// Slot is the compare mode's slot length (0: DefaultSlot).
	Slot time.Duration
}

// Report is everything one invocation measured.
type Report struct {
	Target      string         `json:"target"`
	Mode        string         `json:"mode"`
	Seed        string         `json:"seed"`
	Tenants     int            `json:"tenants"`
	Concurrency int            `json:"concurrency"`
	CPUs        int            `json:"cpus"`
	Install     *InstallReport `json:"install,omitempty"`
	Run         *PhaseReport   `json:"run,omitempty"`
	Baseline    *PhaseReport   `json:"baseline,omitempty"`
	// Ratio is run/baseline 2xx throughput when both ran.
	Ratio float64 `json:"ratio,omitempty"`
	// Compare is the compare mode's result.
	Compare *CompareReport `json:"compare,omitempty"`
}

// CompareReport is an alternating run: the authenticated mix and the
// baseline each measured over their own slots.
type CompareReport struct {
	*PhaseReport
	SlotSeconds    float64 `json:"slot_seconds"`
	AuthSeconds    float64 `json:"auth_seconds"`
	BaseSeconds    float64 `json:"baseline_seconds"`
	AuthPerSec     float64 `json:"auth_ok_per_sec"`
	BaselinePerSec float64 `json:"baseline_ok_per_sec"`
	Ratio          float64 `json:"ratio"` // AuthPerSec / BaselinePerSec
}

// Errors counts every failed request of every phase.
func (r *Report) Errors() uint64 {
	var n uint64
	if r.Install != nil {
		n += r.Install.Errors()
	}
	for _, p := range []*PhaseReport{r.Run, r.Baseline} {
		if p != nil {
			n += p.Errors()
		}
	}
	if r.Compare != nil {
		n += r.Compare.Errors()
	}
	return n
}

// InstallReport is the install phase with the host's state.
type InstallReport struct {
	*InstallResult
	Host HostReport `json:"host"`
	App  AppReport  `json:"app"`
}

// PhaseReport is a timed phase with the app's and host's state.
type PhaseReport struct {
	*RunResult
	Host HostReport `json:"host"`
	App  AppReport  `json:"app"`
}

// HostReport is the machine's state around a phase. The app and the load
// generator share it, so the load average says how contended a figure is.
type HostReport struct {
	LoadAvgStart   string  `json:"loadavg_start"`
	LoadAvgEnd     string  `json:"loadavg_end"`
	LoadgenCPUCore float64 `json:"loadgen_cpu_cores"` // this process's CPU time / wall time
}

// AppReport is the app's side: gauges from /metrics over the phase, its
// CPU use (cores, and CPU time per 2xx answer), peak RSS, and the leak
// check's verdict.
type AppReport struct {
	Samples         []AppSample `json:"samples,omitempty"`
	CPUCores        float64     `json:"cpu_cores,omitempty"`
	CPUMicrosPerReq float64     `json:"cpu_us_per_request,omitempty"`
	PeakRSSBytes    int64       `json:"peak_rss_bytes,omitempty"` // VmHWM
	Leak            *LeakCheck  `json:"leak_check,omitempty"`
}

// LeakCheck compares the app's gauges at the start and end of the
// measured window (both under the same load) and idle before and after.
type LeakCheck struct {
	GoroutinesStart      float64 `json:"goroutines_start"`
	GoroutinesEnd        float64 `json:"goroutines_end"`
	GoroutinesIdleBefore float64 `json:"goroutines_idle_before"`
	GoroutinesIdleAfter  float64 `json:"goroutines_idle_after"`
	RSSStart             float64 `json:"rss_start_bytes"`
	RSSEnd               float64 `json:"rss_end_bytes"`
	RSSFirstHalfMax      float64 `json:"rss_first_half_max_bytes"`
	HeapStart            float64 `json:"heap_inuse_start_bytes"`
	HeapEnd              float64 `json:"heap_inuse_end_bytes"`
	Flat                 bool    `json:"flat"`
	Why                  string  `json:"why"`
}

// Run performs the configured phases, writing progress lines to progress.
func Run(ctx context.Context, c Config, progress io.Writer) (*Report, error) {
	if c.Concurrency < 1 {
		return nil, errors.New("concurrency must be at least 1")
	}
	if c.InstallConcurrency < 1 {
		c.InstallConcurrency = c.Concurrency
	}
	if c.Seed == nil {
		c.Seed = NewSeed()
	}
	if c.Settle <= 0 {
		c.Settle = time.Second
	}
	rep := &Report{Target: c.Target.URL, Mode: c.Mode, Seed: c.Seed.String(), Tenants: c.Tenants, Concurrency: c.Concurrency, CPUs: runtime.NumCPU()}
	tenants := c.Seed.Tenants(c.Tenants)
	tr := NewTransport(max(c.Concurrency, c.InstallConcurrency), c.Timeout)
	defer tr.CloseIdleConnections()
	var sampler *Sampler
	switch c.MetricsURL {
	case "-":
	case "":
		sampler = NewSampler(c.Target.url(c.Target.BasePath() + "/metrics"))
	default:
		sampler = NewSampler(c.MetricsURL)
	}
	if sampler != nil {
		sampler.Token = c.MetricsToken
	}
	doInstall := c.Mode == ModeInstall || c.Mode == ModeAll
	doRun := c.Mode == ModeRun || c.Mode == ModeAll
	doBase := c.Mode == ModeBaseline || c.Mode == ModeAll
	doCompare := c.Mode == ModeCompare
	if !doInstall && !doRun && !doBase && !doCompare {
		return nil, fmt.Errorf("mode %q: use install, run, baseline, all or compare", c.Mode)
	}
	if doInstall {
		if c.Signer == nil {
			return nil, errors.New("the install phase needs an install signer")
		}
		fmt.Fprintf(progress, "install: %d tenants, concurrency %d, seed %s\n", c.Tenants, c.InstallConcurrency, c.Seed)
		h := startHost()
		res, err := Install(ctx, InstallOptions{Transport: tr, Target: c.Target, Signer: c.Signer, AppKey: c.AppKey,
			Tenants: tenants, Concurrency: c.InstallConcurrency})
		if err != nil {
			return rep, err
		}
		rep.Install = &InstallReport{InstallResult: res, Host: h.end()}
		if c.AppPID > 0 {
			rep.Install.App.PeakRSSBytes, _, _ = ProcMemory(c.AppPID)
		}
	}
	if doRun || doCompare {
		ttl := func(jira time.Duration) time.Duration {
			if c.TokenTTL > 0 {
				return c.TokenTTL
			}
			return max(jira, c.Warmup+c.Duration+time.Minute)
		}
		plan := &AuthPlan{Target: c.Target, Tenants: tenants, PerTenant: c.TokensPerTenant, ContextShare: c.ContextShare,
			PageTTL: ttl(JiraPageTokenTTL), ContextTTL: ttl(JiraContextTokenTTL), ContextUser: c.ContextUser,
			PagePath: c.PagePath, ContextPath: c.ContextPath}
		t0 := time.Now()
		err := plan.Sign(t0)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(progress, "run: %d tenants × %d tokens × 2 kinds signed in %v; %d connections for %v (+%v warm-up)\n",
			len(tenants), max(c.TokensPerTenant, 1), time.Since(t0).Round(time.Millisecond), c.Concurrency, c.Duration, c.Warmup)
		rctx, stop := context.WithCancel(ctx)
		if short := min(plan.PageTTL, plan.ContextTTL); short < c.Warmup+c.Duration+time.Minute {
			go plan.Refresh(rctx, short/3, time.Now, func(err error) { fmt.Fprintln(progress, "re-signing tokens:", err) })
		}
		if doCompare {
			rep.Compare, err = compare(rctx, c, tr, sampler, plan)
		} else {
			rep.Run = phase(rctx, c, tr, sampler, DriveOptions{Kinds: AuthKinds, Pick: plan.Pick})
		}
		stop()
		if err != nil {
			return rep, err
		}
	}
	if doBase {
		pick, err := BaselinePicker(c.Target)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(progress, "baseline: GET %s/healthz, %d connections for %v (+%v warm-up)\n", c.Target.BasePath(), c.Concurrency, c.Duration, c.Warmup)
		rep.Baseline = phase(ctx, c, tr, sampler, DriveOptions{Kinds: BaselineKinds, Pick: pick})
	}
	if rep.Run != nil && rep.Baseline != nil && rep.Baseline.PerSec > 0 {
		rep.Ratio = math.Round(rep.Run.PerSec/rep.Baseline.PerSec*1000) / 1000
	}
	return rep, ctx.Err()
}

// CompareKinds are the kinds of a compare run: the authenticated mix's,
// then the baseline's.
var CompareKinds = append(append([]string{}, AuthKinds...), BaselineKinds...)

// compare runs the authenticated mix and the baseline in alternating
// slots and derives each one's throughput over its own slots.
func compare(ctx context.Context, c Config, tr *http.Transport, sampler *Sampler, plan *AuthPlan) (*CompareReport, error) {
	base, err := BaselinePicker(c.Target)
	if err != nil {
		return nil, err
	}
	baseKind := len(AuthKinds)
	slot := c.Slot
	if slot <= 0 {
		slot = DefaultSlot
	}
	alt := []Picker{plan.Pick, func(rng *rand.Rand) Request {
		r := base(rng)
		r.Kind = baseKind
		return r
	}}
	pr := phase(ctx, c, tr, sampler, DriveOptions{Kinds: CompareKinds, Alternate: alt, Slot: slot})
	cr := &CompareReport{PhaseReport: pr, SlotSeconds: slot.Seconds()}
	if len(pr.AlternateSeconds) == 2 {
		cr.AuthSeconds, cr.BaseSeconds = round3(pr.AlternateSeconds[0]), round3(pr.AlternateSeconds[1])
	}
	var authOK uint64
	for _, k := range AuthKinds {
		authOK += pr.Kinds[k].OK
	}
	baseOK := pr.Kinds[BaselineKinds[0]].OK
	if cr.AuthSeconds > 0 && cr.BaseSeconds > 0 {
		cr.AuthPerSec = math.Round(float64(authOK)/cr.AuthSeconds*10) / 10
		cr.BaselinePerSec = math.Round(float64(baseOK)/cr.BaseSeconds*10) / 10
	}
	if cr.BaselinePerSec > 0 {
		cr.Ratio = round3(cr.AuthPerSec / cr.BaselinePerSec)
	}
	return cr, nil
}

// phase runs one timed closed-loop phase with sampling around it. d names
// the workload (Kinds and Pick, or Alternate and Slot); the rest of the
// drive options come from c.
func phase(ctx context.Context, c Config, tr *http.Transport, sampler *Sampler, d DriveOptions) *PhaseReport {
	var (
		mu      sync.Mutex
		samples []AppSample
		sampWG  sync.WaitGroup
		stopper = make(chan struct{})
	)
	add := func(label string) {
		if sampler == nil {
			return
		}
		s := sampler.Sample(ctx, label)
		mu.Lock()
		samples = append(samples, s)
		mu.Unlock()
	}
	add("idle-before")
	h := startHost()
	d.Transport, d.Concurrency, d.Warmup, d.Duration = tr, c.Concurrency, c.Warmup, c.Duration
	d.Seed = uint64(time.Now().UnixNano())
	d.OnMeasure = func(start bool) {
		if !start {
			close(stopper)
			sampWG.Wait()
			add("end")
			return
		}
		add("start")
		if c.SampleEvery > 0 {
			sampWG.Go(func() {
				t := time.NewTicker(c.SampleEvery)
				defer t.Stop()
				for {
					select {
					case <-stopper:
						return
					case <-t.C:
						add("during")
					}
				}
			})
		}
	}
	res := Drive(ctx, d)
	host := h.end()
	tr.CloseIdleConnections()
	if sleepCtx(ctx, c.Settle) { // let the server's connection goroutines exit
		add("idle-after")
	}
	pr := &PhaseReport{RunResult: res, Host: host}
	pr.App.Samples = samples
	if c.AppPID > 0 {
		pr.App.PeakRSSBytes, _, _ = ProcMemory(c.AppPID)
	}
	analyse(&pr.App, res)
	return pr
}

// analyse derives CPU use and the leak verdict from the samples.
func analyse(a *AppReport, res *RunResult) {
	get := func(label string) *AppSample {
		for i := range a.Samples {
			if a.Samples[i].Label == label && a.Samples[i].Err == "" {
				return &a.Samples[i]
			}
		}
		return nil
	}
	start, end := get("start"), get("end")
	if start == nil || end == nil || end.AtSeconds <= start.AtSeconds {
		return
	}
	cpu := end.CPUSeconds - start.CPUSeconds
	a.CPUCores = round3(cpu / (end.AtSeconds - start.AtSeconds))
	if res.PerSec > 0 {
		a.CPUMicrosPerReq = round3(cpu / (res.PerSec * (end.AtSeconds - start.AtSeconds)) * 1e6)
	}
	l := &LeakCheck{GoroutinesStart: start.Goroutines, GoroutinesEnd: end.Goroutines, RSSStart: start.RSSBytes, RSSEnd: end.RSSBytes,
		HeapStart: start.HeapInuse, HeapEnd: end.HeapInuse, RSSFirstHalfMax: start.RSSBytes}
	mid := (start.AtSeconds + end.AtSeconds) / 2
	for _, s := range a.Samples {
		if s.Err == "" && s.Label == "during" && s.AtSeconds <= mid {
			l.RSSFirstHalfMax = max(l.RSSFirstHalfMax, s.RSSBytes)
		}
	}
	before, after := get("idle-before"), get("idle-after")
	if before != nil && after != nil {
		l.GoroutinesIdleBefore, l.GoroutinesIdleAfter = before.Goroutines, after.Goroutines
	}
	var why []string
	// Only growth is a leak: the start sample may still hold goroutines of
	// the warm-up (connections being set up) that are gone later.
	if d := l.GoroutinesEnd - l.GoroutinesStart; d > math.Max(10, 0.05*l.GoroutinesStart) {
		why = append(why, fmt.Sprintf("goroutines grew by %.0f under constant load", d))
	}
	if before != nil && after != nil && l.GoroutinesIdleAfter > l.GoroutinesIdleBefore+10 {
		why = append(why, fmt.Sprintf("%.0f more goroutines once idle again", l.GoroutinesIdleAfter-l.GoroutinesIdleBefore))
	}
	if l.RSSEnd > 1.10*l.RSSFirstHalfMax+8<<20 {
		why = append(why, fmt.Sprintf("RSS grew to %.1f MiB from a first-half peak of %.1f MiB", l.RSSEnd/(1<<20), l.RSSFirstHalfMax/(1<<20)))
	}
	if l.HeapEnd > 1.5*l.HeapStart+16<<20 {
		why = append(why, fmt.Sprintf("heap in use grew from %.1f to %.1f MiB", l.HeapStart/(1<<20), l.HeapEnd/(1<<20)))
	}
	l.Flat = len(why) == 0
	if l.Flat {
		l.Why = "goroutines and memory flat under constant load; goroutines back to idle level afterwards"
	} else {
		l.Why = fmt.Sprint(why)
	}
	a.Leak = l
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// hostWatch measures the host around a phase.
type hostWatch struct {
	load string
	cpu  time.Duration
	t    time.Time
}

func startHost() hostWatch { return hostWatch{load: LoadAverage(), cpu: SelfCPU(), t: time.Now()} }

func (h hostWatch) end() HostReport {
	wall := time.Since(h.t)
	return HostReport{LoadAvgStart: h.load, LoadAvgEnd: LoadAverage(), LoadgenCPUCore: round3((SelfCPU() - h.cpu).Seconds() / wall.Seconds())}
}
