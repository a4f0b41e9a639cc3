package api_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// TestSeveralInstancesSharePostgres runs three app instances (separate
// caches, verifiers and listeners, each on its own port) against one
// PostgreSQL database, as behind a load balancer. Installs, reinstalls
// (secret rotation) and uninstalls go to random instances; requests signed
// with the new secret must be accepted by every instance at once, requests
// with the old secret refused everywhere (after the change notification
// propagates), and no instance may answer 5xx.
func TestSeveralInstancesSharePostgres(t *testing.T) {
	dsn := storagetest.PostgresURL(t)
	fake := newFakeAtlassian(t)
	const public = "http://127.0.0.1:9" // the load balancer's URL, as Jira sees it
	var inst []*harness
	for range 3 {
		inst = append(inst, newHarnessWith(t, dsn, fake, public))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() *harness { return inst[rng.IntN(len(inst))] }
	page := "/admin?xdm_e=https%3A%2F%2Facme.atlassian.net"
	fiveXX := 0
	status := func(h *harness, secret string) int {
		r := h.do("GET", page, "JWT "+hsToken("ck-multi", secret, "GET", page), nil)
		if r.StatusCode >= 500 {
			fiveXX++
		}
		return r.StatusCode
	}
	// waitRefused polls until every instance refuses the secret, and
	// returns how long the change took to reach the slowest one.
	waitRefused := func(secret string, want int) time.Duration {
		start := time.Now()
		for _, h := range inst {
			for status(h, secret) != want {
				if time.Since(start) > 3*time.Second {
					t.Fatalf("instance %s still answers %d for an old/invalid secret after 3 s", h.addr, status(h, secret))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		return time.Since(start)
	}
	var worst time.Duration
	prev := ""
	for round := range 8 {
		secret := fmt.Sprintf("rotated-secret-round-%02d-0123456789", round)
		if r := pick().signedLifecycle("/installed", payload("ck-multi", secret, "installed"), nil); r.StatusCode != 204 {
			t.Fatalf("round %d: install answered %d", round, r.StatusCode)
		}
		// Old secret first, while the other instances still cache it: the
		// change notification must evict it everywhere.
		if prev != "" {
			if d := waitRefused(prev, 401); d > worst {
				worst = d
			}
		}
		// The new secret works on every instance immediately.
		for _, h := range inst {
			if got := status(h, secret); got != 200 {
				t.Fatalf("round %d: instance %s answered %d for the new secret", round, h.addr, got)
			}
		}
		prev = secret
	}
	// Uninstall through one instance: every instance refuses from then on.
	if r := pick().signedLifecycle("/uninstalled", payload("ck-multi", "", "uninstalled"), nil); r.StatusCode != 204 {
		t.Fatalf("uninstall answered %d", r.StatusCode)
	}
	if d := waitRefused(prev, 403); d > worst {
		worst = d
	}
	if fiveXX != 0 {
		t.Fatalf("%d answers were 5xx", fiveXX)
	}
	// The shared lifecycle log saw every event exactly once.
	var n int64
	inst[0].app.DB.Gorm.Raw("SELECT count(*) FROM lifecycle_events WHERE client_key = ? AND outcome = 'accepted'", "ck-multi").Scan(&n)
	if n != 9 {
		t.Fatalf("accepted lifecycle events = %d, want 9", n)
	}
	b, _ := json.Marshal(map[string]any{"instances": len(inst), "rounds": 8, "worstPropagation": worst.String()})
	t.Logf("multi-instance: %s", b)
}
