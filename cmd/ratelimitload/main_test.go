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
	if code != 0 {
		t.Errorf("exit %d: %+v", code, r)
	}
	if r.QuietSent == 0 || r.NoisyAttempts <= r.QuietSent || r.QuietSuccess < 0.95 {
		t.Errorf("quiet %d/%d, noisy %d: %+v", r.QuietOK, r.QuietSent, r.NoisyAttempts, r)
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
