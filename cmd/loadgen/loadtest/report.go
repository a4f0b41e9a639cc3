package loadtest

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report for people: one block per phase.
func WriteText(w io.Writer, r *Report) {
	fmt.Fprintf(w, "target %s  tenants %d  concurrency %d  cpus %d  seed %s\n", r.Target, r.Tenants, r.Concurrency, r.CPUs, r.Seed)
	if in := r.Install; in != nil {
		fmt.Fprintf(w, "\ninstall   %d/%d installed in %.2fs (concurrency %d): %.1f installs/s  errors %d\n",
			in.Installed, in.Tenants, in.Seconds, in.Concurrency, in.PerSec, in.Errors())
		fmt.Fprintf(w, "          latency %s\n", latency(in.Latency))
		fmt.Fprintf(w, "          RS256 signing (untimed) %.2fs\n", in.SignSeconds)
		writeErrors(w, in.Status, in.TransportErrors)
		writeHost(w, in.Host)
		if in.App.PeakRSSBytes > 0 {
			fmt.Fprintf(w, "          app peak RSS (VmHWM) %s\n", mib(float64(in.App.PeakRSSBytes)))
		}
	}
	writePhase(w, "run", r.Run)
	writePhase(w, "baseline", r.Baseline)
	if r.Ratio > 0 {
		fmt.Fprintf(w, "\nratio     authenticated/baseline = %.3f (%.1f / %.1f req/s)\n", r.Ratio, r.Run.PerSec, r.Baseline.PerSec)
		if ra, rb := r.Run.App.CPUMicrosPerReq, r.Baseline.App.CPUMicrosPerReq; ra > 0 && rb > 0 {
			fmt.Fprintf(w, "          app CPU per request %.1f µs vs %.1f µs (+%.1f µs for verification and the handlers)\n", ra, rb, ra-rb)
		}
	}
	if c := r.Compare; c != nil {
		writePhase(w, "compare", c.PhaseReport)
		fmt.Fprintf(w, "\ncompare   alternating %.1fs slots: authenticated %.1f req/s over %.1fs, baseline %.1f req/s over %.1fs\n",
			c.SlotSeconds, c.AuthPerSec, c.AuthSeconds, c.BaselinePerSec, c.BaseSeconds)
		fmt.Fprintf(w, "ratio     authenticated/baseline = %.3f\n", c.Ratio)
	}
	fmt.Fprintf(w, "\nerrors    %d\n", r.Errors())
}

func writePhase(w io.Writer, name string, p *PhaseReport) {
	if p == nil {
		return
	}
	fmt.Fprintf(w, "\n%-9s %d connections, %.1fs: %d requests, %d ok, %.1f req/s  errors %d\n",
		name, p.Concurrency, p.Seconds, p.Requests, p.OK, p.PerSec, p.Errors())
	fmt.Fprintf(w, "          latency %s\n", latency(p.Latency))
	for _, k := range sortedKeys(p.Kinds) {
		kr := p.Kinds[k]
		fmt.Fprintf(w, "          %-8s %d ok, %.1f req/s, latency %s\n", k, kr.OK, kr.PerSec, latency(kr.Latency))
	}
	writeErrors(w, p.Status, p.TransportErrors)
	writeHost(w, p.Host)
	a := p.App
	if a.CPUCores > 0 {
		fmt.Fprintf(w, "          app CPU %.2f cores, %.1f µs per request\n", a.CPUCores, a.CPUMicrosPerReq)
	}
	if len(a.Samples) > 0 {
		var parts []string
		for _, s := range a.Samples {
			if s.Err != "" {
				parts = append(parts, s.Label+": "+s.Err)
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %.0f/%s", s.Label, s.Goroutines, mib(s.RSSBytes)))
		}
		fmt.Fprintf(w, "          app goroutines/RSS: %s\n", strings.Join(parts, ", "))
	}
	if a.PeakRSSBytes > 0 {
		fmt.Fprintf(w, "          app peak RSS (VmHWM) %s\n", mib(float64(a.PeakRSSBytes)))
	}
	if l := a.Leak; l != nil {
		verdict := "FLAT"
		if !l.Flat {
			verdict = "NOT FLAT"
		}
		fmt.Fprintf(w, "          leak check: %s (%s)\n", verdict, l.Why)
	}
}

func writeErrors(w io.Writer, status, transport map[string]uint64) {
	if len(status) > 0 {
		var parts []string
		for _, k := range sortedKeys(status) {
			parts = append(parts, fmt.Sprintf("%s×%d", k, status[k]))
		}
		fmt.Fprintf(w, "          non-2xx: %s\n", strings.Join(parts, " "))
	}
	if len(transport) > 0 {
		var parts []string
		for _, k := range sortedKeys(transport) {
			parts = append(parts, fmt.Sprintf("%q×%d", k, transport[k]))
		}
		fmt.Fprintf(w, "          transport errors: %s\n", strings.Join(parts, " "))
	}
}

func writeHost(w io.Writer, h HostReport) {
	fmt.Fprintf(w, "          load average %s → %s; loadgen used %.2f cores\n", h.LoadAvgStart, h.LoadAvgEnd, h.LoadgenCPUCore)
}

func latency(s Summary) string {
	return fmt.Sprintf("p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms  mean %.2fms", s.P50MS, s.P90MS, s.P99MS, s.MaxMS, s.MeanMS)
}

func mib(b float64) string { return fmt.Sprintf("%.1fMiB", b/(1<<20)) }
