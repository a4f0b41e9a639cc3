package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestRunSmall(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"--tenants", "6", "--noisy", "20", "--quiet-rate", "4", "--duration", "2s", "--window", "1s",
		"--instances", "2", "--poll", "50ms", "--json"}, &out, &errb)
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out.String(), errb.String())
	}
	// A smoke test of the program on a loaded CI machine: it runs, reports,
	// and holds the noisy tenant back more than the quiet ones. The fairness
	// figures themselves (quiet >= 95 %) are measured by running the program
	// (docs/rate-limits.md), not by a timed unit test; the exit code says
	// whether a run met them, so it is not asserted here.
	_ = code
	if r.QuietSent == 0 || r.NoisyAttempts <= r.QuietSent {
		t.Errorf("quiet %d/%d, noisy %d: %+v", r.QuietOK, r.QuietSent, r.NoisyAttempts, r)
	}
	if noisy := float64(r.NoisyOK) / float64(r.NoisyAttempts); r.QuietSuccess <= noisy {
		t.Errorf("quiet tenants got %.2f of their requests through, the noisy one %.2f: no fairness", r.QuietSuccess, noisy)
	}
	if r.NoisyOK >= r.NoisyAttempts {
		t.Errorf("the noisy tenant was never held back: %d/%d", r.NoisyOK, r.NoisyAttempts)
	}
	if len(r.PropagationMs) != 3 {
		t.Errorf("propagation %v", r.PropagationMs)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--tenants", "1"}, {"--window", "10ms"}, {"--nope"}} {
		var out, errb bytes.Buffer
		if code := run(t.Context(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
