package connect_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
)

// TestInstallKeysBoundedFetches counts requests to an httptest key server
// that knows no kid (issue 16 item 7): unknown kids are negatively cached,
// each source is rate-limited, and concurrent fetches are bounded.
func TestInstallKeysBoundedFetches(t *testing.T) {
	var fetches, inFlight, maxInFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tests := []struct {
		name      string
		run       func(k *connect.InstallKeys)
		maxFetch  int64
		wantFetch int64 // exact when >= 0
	}{
		{"one unknown kid ten times", func(k *connect.InstallKeys) {
			for range 10 {
				_, err := k.Key(connect.WithSource(context.Background(), "198.51.100.1"), "unknown-kid")
				if !errors.Is(err, connect.ErrUnknownKID) {
					t.Fatalf("err %v", err)
				}
			}
		}, 1, 1},
		{"forty random kids from one source", func(k *connect.InstallKeys) {
			for i := range 40 {
				k.Key(connect.WithSource(context.Background(), "198.51.100.2"), fmt.Sprintf("kid-%d", i))
			}
		}, 10, 10},
		{"forty random kids from forty sources (global limit)", func(k *connect.InstallKeys) {
			for i := range 80 {
				k.Key(connect.WithSource(context.Background(), fmt.Sprintf("198.51.100.%d", i)), fmt.Sprintf("kid-g-%d", i))
			}
		}, 60, 60},
		{"concurrent fetches bounded", func(k *connect.InstallKeys) {
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k.Key(connect.WithSource(context.Background(), fmt.Sprintf("203.0.113.%d", i)), fmt.Sprintf("kid-c-%d", i))
				}()
			}
			wg.Wait()
		}, 40, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fetches.Store(0)
			maxInFlight.Store(0)
			k := connect.NewInstallKeys(connect.InstallKeysOptions{BaseURL: srv.URL, Now: clock})
			tt.run(k)
			got := fetches.Load()
			if got > tt.maxFetch || (tt.wantFetch >= 0 && got != tt.wantFetch) || k.Fetches() != got {
				t.Fatalf("%d fetches (counted %d), want at most %d", got, k.Fetches(), tt.maxFetch)
			}
			if m := maxInFlight.Load(); m > 4 {
				t.Fatalf("%d fetches in flight at once, want at most 4", m)
			}
		})
	}
	// The negative cache expires: a kid published since is fetched again.
	fetches.Store(0)
	k := connect.NewInstallKeys(connect.InstallKeysOptions{BaseURL: srv.URL, Now: clock})
	ctx := connect.WithSource(context.Background(), "192.0.2.1")
	k.Key(ctx, "late-kid")
	mu.Lock()
	now = now.Add(6 * time.Minute)
	mu.Unlock()
	k.Key(ctx, "late-kid")
	if got := fetches.Load(); got != 2 {
		t.Fatalf("after the negative TTL: %d fetches, want 2", got)
	}
}
