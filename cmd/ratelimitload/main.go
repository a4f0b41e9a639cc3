// Command ratelimitload measures the rate-limit gate (issue 17) against the
// simulator's points model on loopback: --tenants tenants, one of them
// sending --noisy times the others' combined load, through --instances
// instances of the Jira client, each with its own jira.Limiter and
// jira.Budget sharing one ledger (PostgreSQL with --database-url, else an
// in-process ledger). The quota window is shortened (--window) so that a
// short run covers several resets. It reports the quiet tenants' success
// rate, requests the simulator saw inside a pause it had announced,
// repeated 429s per reason, points spent against the pool, the time a
// pause published by one instance takes to stop the others, and exits 1
// when a goal is missed.
//
//	ratelimitload --tenants 100 --noisy 20 --duration 20s --window 5s
//	ratelimitload --instances 3 --database-url postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/sim/ratesim"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Report is the outcome of a run.
type Report struct {
	Tenants, Instances int
	Window             string
	Pool               int64 // points per window
	QuietSent          int64
	QuietOK            int64
	QuietSuccess       float64          // QuietOK / QuietSent
	QuietMinSuccess    float64          // worst quiet tenant
	QuietBelow95       int              // quiet tenants under 95%
	QuietRefused       map[string]int64 // quiet tenants' failed calls by cause (a LimitedError's reason, a status)
	// QuietFailedAt: quiet tenants' failed calls by when they fell: the
	// window (0: the first, partial one) and the tenth of it.
	QuietFailedAt  map[string]int64
	NoisyAttempts  int64
	NoisyOK        int64
	Early          map[string]int64 // requests reaching the simulator inside an announced pause, per reason
	Repeat429      map[string]int64 // 429s after the first per reason and scope
	Limited        map[string]int64 // all 429s per reason
	Windows        int
	SpentVsPool    float64 // points charged by the simulator / (pool × windows run)
	MaxWindowSpend float64 // the worst single window's spend / pool
	PropagationMs  []float64
	Ledger         string
	LedgerCalls    LedgerStats
	ledgerStats    *ledgerCounters
}

// LedgerStats: the ledger round trips of all instances.
type LedgerStats struct {
	Leases, Returns        int64
	Errors                 int64 // failed leases: the budget then fails open for that call
	Wanted, Granted, Given int64 // points asked for, leased, returned
	MeanLeaseMs            float64
}

type ledgerCounters struct {
	leases, returns, errors, wanted, granted, given, nanos atomic.Int64
}

type countingLedger struct {
	jira.BudgetStore
	st *ledgerCounters
}

func (c *countingLedger) Lease(ctx context.Context, r jira.LeaseRequest) (int64, error) {
	t0 := time.Now()
	g, err := c.BudgetStore.Lease(ctx, r)
	c.st.nanos.Add(int64(time.Since(t0)))
	c.st.leases.Add(1)
	c.st.wanted.Add(r.Want)
	c.st.granted.Add(g)
	if err != nil {
		c.st.errors.Add(1)
	}
	return g, err
}

func (c *countingLedger) Return(ctx context.Context, w time.Time, tenant string, n int64) error {
	c.st.returns.Add(1)
	c.st.given.Add(n)
	return c.BudgetStore.Return(ctx, w, tenant, n)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ratelimitload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		tenants   = fs.Int("tenants", 100, "tenants, the first of them noisy")
		noisy     = fs.Float64("noisy", 20, "the noisy tenant's request rate as a multiple of all the others' combined")
		quietRate = fs.Float64("quiet-rate", 1, "requests per second of each quiet tenant")
		duration  = fs.Duration("duration", 20*time.Second, "length of the run")
		window    = fs.Duration("window", 5*time.Second, "quota window (Jira: 1h), shortened to see several resets")
		poolX     = fs.Float64("pool", 4, "pool per window as a multiple of the quiet tenants' combined need")
		instances = fs.Int("instances", 1, "client instances sharing the ledger")
		dbURL     = fs.String("database-url", "", "PostgreSQL URL for the shared ledger and pauses (default: an in-process ledger)")
		poll      = fs.Duration("poll", 200*time.Millisecond, "how often each instance polls for pauses set by the others")
		leaseSpan = fs.Duration("lease-span", 250*time.Millisecond, "a lease covers this much of the tenant's demand (JIRA_RATE_LEASE_SPAN)")
		leaseMax  = fs.Int64("lease-max", 5000, "largest lease in points (JIRA_RATE_LEASE_MAX)")
		leaseIdle = fs.Duration("lease-idle", 500*time.Millisecond, "an unused lease goes back to the ledger after this (JIRA_RATE_LEASE_IDLE)")
		notify    = fs.Bool("notify", true, "with --database-url: pauses reach the other instances by LISTEN/NOTIFY as well as by polling")
		asJSON    = fs.Bool("json", false, "print the report as JSON")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *tenants < 2 || *instances < 1 || *duration <= 0 || *window < time.Second || *quietRate <= 0 || *noisy <= 0 || *poolX <= 0 {
		fmt.Fprintln(stderr, "ratelimitload: --tenants ≥ 2, --instances ≥ 1, --window ≥ 1s and positive rates are required")
		return 2
	}
	const cost = 2 // GET /rest/api/3/issue/{key}: documented 2 points
	quietNeed := float64(*tenants-1) * *quietRate * cost * window.Seconds()
	pool := int64(quietNeed * *poolX)
	noisyRate := *noisy * float64(*tenants-1) * *quietRate

	model := ratesim.New(ratesim.Options{GlobalPool: pool, Window: *window, BurstCapacity: -1})
	srv := httptest.NewServer(model.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"key":"DOC-1","fields":{}}`)
	}), func(r *http.Request) string {
		id, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/t/"), "/")
		return id
	}, func(r *http.Request) string {
		_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/t/"), "/")
		return "/" + rest
	}))
	defer srv.Close()

	rep := Report{Tenants: *tenants, Instances: *instances, Window: window.String(), Pool: pool, Ledger: "memory", ledgerStats: &ledgerCounters{}}
	if *dbURL != "" {
		rep.Ledger = "postgres"
		var stores []*storage.RateStore
		for i := range *instances {
			db, err := storage.Open(ctx, storage.OpenOptions{DatabaseURL: *dbURL})
			if err != nil {
				fmt.Fprintln(stderr, "ratelimitload:", err)
				return 1
			}
			defer db.Close()
			if i == 0 {
				if _, err := db.Migrate(ctx); err != nil {
					fmt.Fprintln(stderr, "ratelimitload:", err)
					return 1
				}
			}
			// Each instance has its own connection pool, as separate
			// processes would.
			stores = append(stores, storage.NewRateStore(db, nil))
		}
		lo := leaseOpts{span: *leaseSpan, max: *leaseMax, idle: *leaseIdle}
		if *notify {
			lo.listen = func(ctx context.Context, sync func()) { storage.ListenRatePauses(ctx, *dbURL, sync, nil) }
		}
		return runWith(ctx, stdout, &rep, model, srv.URL, *tenants, *quietRate, noisyRate, *duration, *window, *poll, lo, *asJSON,
			*instances, func(i int) (jira.BudgetStore, jira.PauseStore) { return stores[i], stores[i] })
	}
	ledger, mem := jira.NewMemoryLedger(), newMemPauses()
	return runWith(ctx, stdout, &rep, model, srv.URL, *tenants, *quietRate, noisyRate, *duration, *window, *poll, leaseOpts{span: *leaseSpan, max: *leaseMax, idle: *leaseIdle}, *asJSON,
		*instances, func(int) (jira.BudgetStore, jira.PauseStore) { return ledger, mem })
}

type leaseOpts struct {
	span   time.Duration
	max    int64
	idle   time.Duration
	listen func(ctx context.Context, sync func()) // nil: polling only
}

type instance struct {
	client *jira.Client
	lim    *jira.Limiter
}

func runWith(ctx context.Context, stdout io.Writer, rep *Report, model *ratesim.Model, base string, tenants int,
	quietRate, noisyRate float64, duration, window, poll time.Duration, lo leaseOpts, asJSON bool, instances int, stores func(int) (jira.BudgetStore, jira.PauseStore)) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var insts []instance
	for i := range instances {
		ledger, ps := stores(i)
		ledger = &countingLedger{BudgetStore: ledger, st: rep.ledgerStats}
		b := jira.NewBudget(jira.BudgetOptions{Store: ledger, Points: rep.Pool, Window: window, LeaseMin: 4,
			LeaseSpan: lo.span, LeaseMax: lo.max, LeaseIdle: lo.idle})
		lim := jira.NewLimiter(jira.LimiterOptions{Window: window, Budget: b, Store: ps})
		go lim.Run(ctx, poll)
		if lo.listen != nil {
			go lo.listen(ctx, func() { _ = lim.Sync(ctx) })
		}
		c := jira.New(jira.Options{AppKey: "com.example.load", Version: "load", RateLimit: lim,
			HTTP:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
			Retry: jira.RetryPolicy{MaxAttempts: 1}})
		insts = append(insts, instance{client: c, lim: lim})
	}
	// A shared database may still hold a pause an earlier run forced (its
	// propagation check): wait it out, or this run's first window would
	// be refused whole.
	if err := insts[0].lim.Sync(ctx); err == nil {
		var until time.Time
		for _, p := range insts[0].lim.Pauses("") {
			if p.Until.After(until) {
				until = p.Until
			}
		}
		if d := time.Until(until); d > 0 && d <= 2*window+5*time.Second {
			select {
			case <-ctx.Done():
				return 1
			case <-time.After(d + 10*time.Millisecond):
			}
		}
	}
	ts := make([]*tenant.Tenant, tenants)
	for i := range ts {
		id := fmt.Sprintf("tenant-%03d", i)
		ts[i] = &tenant.Tenant{ClientKey: id, BaseURL: base + "/t/" + id, SharedSecret: "load-secret-" + id + "-0123456789abcdef", State: tenant.StateInstalled}
	}
	sent := make([]atomic.Int64, tenants)
	ok := make([]atomic.Int64, tenants)
	var wg sync.WaitGroup
	var refusedMu sync.Mutex
	rep.QuietRefused = map[string]int64{}
	rep.QuietFailedAt = map[string]int64{}
	start := time.Now()
	end := start.Add(duration)
	drive := func(ti int, rate float64) {
		defer wg.Done()
		interval := time.Duration(float64(time.Second) / rate)
		next := start.Add(time.Duration(ti%97) * interval / 97) // spread phases
		for n := 0; ; n++ {
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			if time.Now().After(end) {
				return
			}
			next = next.Add(interval)
			in := insts[(ti+n)%len(insts)]
			sent[ti].Add(1)
			resp, err := in.client.AsApp(ts[ti]).Call(ctx, "GET", "/rest/api/3/issue/DOC-1", nil)
			if err == nil && resp.Status == 200 {
				ok[ti].Add(1)
			} else if ti > 0 {
				why := "other"
				if le, isLimited := errors.AsType[*jira.LimitedError](err); isLimited {
					why = le.Reason
				} else if err == nil {
					why = fmt.Sprint(resp.Status)
				}
				at := time.Now()
				ws := at.Truncate(window)
				when := fmt.Sprintf("w%d/%d", int(ws.Sub(start.Truncate(window))/window), int(10*at.Sub(ws)/window))
				refusedMu.Lock()
				rep.QuietRefused[why]++
				rep.QuietFailedAt[when]++
				refusedMu.Unlock()
			}
		}
	}
	for i := 1; i < tenants; i++ {
		wg.Add(1)
		go drive(i, quietRate)
	}
	// The noisy tenant: several workers sharing its rate.
	workers := max(1, min(32, int(noisyRate/50)))
	for range workers {
		wg.Add(1)
		go drive(0, noisyRate/float64(workers))
	}
	wg.Wait()

	st := model.Stats()
	rep.NoisyAttempts, rep.NoisyOK = sent[0].Load(), ok[0].Load()
	rep.QuietMinSuccess = 1
	for i := 1; i < tenants; i++ {
		s, o := sent[i].Load(), ok[i].Load()
		rep.QuietSent += s
		rep.QuietOK += o
		if s > 0 {
			r := float64(o) / float64(s)
			rep.QuietMinSuccess = min(rep.QuietMinSuccess, r)
			if r < 0.95 {
				rep.QuietBelow95++
			}
		}
	}
	if rep.QuietSent > 0 {
		rep.QuietSuccess = float64(rep.QuietOK) / float64(rep.QuietSent)
	}
	rep.Early, rep.Repeat429 = st.Early, st.Repeat429
	rep.Limited = map[string]int64{}
	for _, m := range st.Limited {
		for r, n := range m {
			rep.Limited[r] += n
		}
	}
	ls := rep.ledgerStats
	rep.LedgerCalls = LedgerStats{Leases: ls.leases.Load(), Returns: ls.returns.Load(), Errors: ls.errors.Load(), Wanted: ls.wanted.Load(), Granted: ls.granted.Load(), Given: ls.given.Load()}
	if n := ls.leases.Load(); n > 0 {
		rep.LedgerCalls.MeanLeaseMs = float64(ls.nanos.Load()) / float64(n) / 1e6
	}
	total, worst, windows := model.WindowSpend()
	rep.Windows = windows
	if windows > 0 {
		rep.SpentVsPool = float64(total) / float64(rep.Pool*int64(windows))
		rep.MaxWindowSpend = float64(worst) / float64(rep.Pool)
	}

	// Propagation: a forced global 429 on instance 0; how long until each
	// other instance refuses on its own.
	if len(insts) > 1 {
		for range 3 {
			time.Sleep(window) // a fresh window, no pause in force
			model.Force(ratesim.ReasonGlobal, 1)
			// From before the call: instance 0 publishes the pause before
			// the call returns, so an instance may have it already then;
			// the figure includes the 429's round trip (an upper bound).
			t0 := time.Now()
			_, _ = insts[0].client.AsApp(ts[1]).Call(ctx, "GET", "/rest/api/3/issue/DOC-1", nil)
			for _, in := range insts[1:] {
				for time.Since(t0) < 5*time.Second {
					if _, err := in.lim.Admit(ctx, &jira.Call{Tenant: ts[2].ClientKey, Method: "GET", Path: "/rest/api/3/myself"}); errors.Is(err, jira.ErrRateLimited) {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			rep.PropagationMs = append(rep.PropagationMs, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	// A failed lease lets the call through unbudgeted (fail open): a run
	// with any is not a measurement of the budget.
	bad := rep.QuietSuccess < 0.95 || rep.QuietBelow95 > 0 || rep.LedgerCalls.Errors > 0 || sum(rep.Early) > 0 || sum(rep.Repeat429) > 0 || rep.MaxWindowSpend > 1.05
	if len(rep.PropagationMs) > 0 && slices.Max(rep.PropagationMs) > 1000 {
		bad = true
	}
	if bad {
		return 1
	}
	return 0
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "tenants %d (1 noisy), instances %d, ledger %s, window %s, pool %d points/window\n", r.Tenants, r.Instances, r.Ledger, r.Window, r.Pool)
	fmt.Fprintf(w, "quiet tenants: %d/%d ok (%.2f%%), worst tenant %.2f%%, %d tenants under 95%%\n", r.QuietOK, r.QuietSent, 100*r.QuietSuccess, 100*r.QuietMinSuccess, r.QuietBelow95)
	fmt.Fprintf(w, "quiet tenants' failures by cause: %v; by window/tenth: %v\n", r.QuietRefused, r.QuietFailedAt)
	fmt.Fprintf(w, "noisy tenant: %d/%d ok\n", r.NoisyOK, r.NoisyAttempts)
	fmt.Fprintf(w, "429s by reason %v; after the first per scope %v; requests inside an announced pause %v\n", r.Limited, r.Repeat429, r.Early)
	fmt.Fprintf(w, "spend: %.1f%% of the pool over %d windows (worst window %.1f%%)\n", 100*r.SpentVsPool, r.Windows, 100*r.MaxWindowSpend)
	l := r.LedgerCalls
	fmt.Fprintf(w, "ledger: %d leases (mean %.2f ms, %d failed), %d points asked, %d leased, %d returned in %d returns\n", l.Leases, l.MeanLeaseMs, l.Errors, l.Wanted, l.Granted, l.Given, l.Returns)
	if len(r.PropagationMs) > 0 {
		fmt.Fprintf(w, "pause propagation to the other instances: %v ms\n", r.PropagationMs)
	}
}

// memPauses is a PauseStore for instances in one process.
type memPauses struct {
	mu  sync.Mutex
	log []jira.Pause
}

func newMemPauses() *memPauses { return &memPauses{} }

func (m *memPauses) Publish(_ context.Context, p jira.Pause) error {
	m.mu.Lock()
	m.log = append(m.log, p)
	m.mu.Unlock()
	return nil
}

func (m *memPauses) Since(_ context.Context, cursor int64) ([]jira.Pause, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cursor >= int64(len(m.log)) {
		return nil, cursor, nil
	}
	return append([]jira.Pause(nil), m.log[cursor:]...), int64(len(m.log)), nil
}
