package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestKeyFetchLimitPerClientAddress: the per-source limit on install-key
// fetches counts the client address, which X-Forwarded-For gives only when
// the peer is a trusted proxy (TRUSTED_PROXIES). Behind a load balancer a
// flood from one client must not use up another client's fetches; without
// a trusted proxy, a flood that rotates X-Forwarded-For must not escape the
// limit.
func TestKeyFetchLimitPerClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		// fetches the second client's installs may make after the first
		// client's flood: at least (or at most) this many.
		wantSecondAtLeast, wantFloodAtMost int64
		rotateFlood                        bool
	}{
		{name: "behind a trusted proxy, clients are told apart", trusted: "127.0.0.1", wantSecondAtLeast: 1, wantFloodAtMost: 10},
		{name: "no trusted proxy, a rotating X-Forwarded-For is ignored", trusted: "", wantSecondAtLeast: 0, wantFloodAtMost: 10, rotateFlood: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := newFakeAtlassian(t)
			var fetches atomic.Int64
			counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				w.WriteHeader(http.StatusNotFound)
			}))
			t.Cleanup(counting.Close)
			h := newHarnessEnv(t, "", &fakeAtlassian{keys: counting, kid: base.kid, key: base.key}, "", map[string]string{"TRUSTED_PROXIES": tc.trusted})
			send := func(kid, client string) {
				tok := mintRS(attackerRSA(), map[string]any{"kid": kid}, map[string]any{"iss": "ck-xff", "aud": []string{h.base}})
				req, _ := http.NewRequest("POST", h.addr+"/installed", bytes.NewReader(mustJSON(payload("ck-xff", "xff-secret-0123456789abcdef0123456", "installed"))))
				req.Header.Set("Authorization", "JWT "+tok)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-For", client)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					t.Fatalf("an install with an unknown kid answered %d", resp.StatusCode)
				}
			}
			for i := range 40 {
				client := "203.0.113.1"
				if tc.rotateFlood {
					client = fmt.Sprintf("203.0.113.%d", i+1)
				}
				send(fmt.Sprintf("flood-kid-%d", i), client)
			}
			flood := fetches.Load()
			if flood > tc.wantFloodAtMost {
				t.Fatalf("40 installs with random kids made %d key fetches, want at most %d", flood, tc.wantFloodAtMost)
			}
			for i := range 3 {
				send(fmt.Sprintf("second-kid-%d", i), "198.51.100.7")
			}
			if second := fetches.Load() - flood; second < tc.wantSecondAtLeast || (tc.trusted == "" && second != 0) {
				t.Fatalf("a second client's installs made %d fetches after the flood (trusted proxies %q)", second, tc.trusted)
			}
		})
	}
}
