package keyset

import (
	"context"
	"crypto/rsa"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is a Fetch that counts its calls and answers from a map
// (Whole: every key; otherwise the kid asked for, or Unknown).
type fakeServer struct {
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fail    error
	whole   bool
	calls   atomic.Int64
	release chan struct{} // when set, each fetch waits for it
}

func (f *fakeServer) fetch(ctx context.Context, kid string) (map[string]*rsa.PublicKey, error) {
	f.calls.Add(1)
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	if f.whole {
		m := make(map[string]*rsa.PublicKey, len(f.keys))
		for k, v := range f.keys {
			m[k] = v
		}
		return m, nil
	}
	if k, ok := f.keys[kid]; ok {
		return map[string]*rsa.PublicKey{kid: k}, nil
	}
	return nil, Unknown(errors.New("server: no such kid"))
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func pub(n int64) *rsa.PublicKey { return &rsa.PublicKey{N: big.NewInt(n), E: 65537} }

var errDown = errors.New("server down")

func TestStatic(t *testing.T) {
	s := Static{"a": pub(1)}
	if k, err := s.Key(context.Background(), "a"); err != nil || k.N.Int64() != 1 {
		t.Fatalf("known kid: %v %v", k, err)
	}
	_, err := s.Key(context.Background(), "b")
	var ke *Error
	if !errors.Is(err, ErrUnknownKID) || !errors.As(err, &ke) || ke.Reason != NotFound || ke.KID != "b" {
		t.Fatalf("unknown kid: %v", err)
	}
}

// TestRemote walks one Remote through a script of calls and checks each
// answer and the number of fetches so far.
func TestRemote(t *testing.T) {
	type step struct {
		advance time.Duration
		setup   func(f *fakeServer)
		kid     string
		wantKey int64  // 0: an error
		wantErr error  // matched with errors.Is
		reason  Reason // when wantErr is a keyset error
		fetches int64
	}
	tests := []struct {
		name  string
		opts  RemoteOptions
		whole bool
		steps []step
	}{
		{"per kid: cached, unknown remembered for NegativeTTL", RemoteOptions{NegativeTTL: time.Minute}, false, []step{
			{kid: "a", wantKey: 1, fetches: 1},
			{kid: "a", wantKey: 1, fetches: 1},
			{kid: "x", wantErr: ErrUnknownKID, fetches: 2},
			{kid: "x", wantErr: ErrUnknownKID, reason: Recent, fetches: 2},
			{advance: time.Minute, kid: "x", wantErr: ErrUnknownKID, fetches: 3},
		}},
		{"per kid: a failed fetch is retried at once", RemoteOptions{NegativeTTL: time.Minute}, false, []step{
			{setup: func(f *fakeServer) { f.fail = errDown }, kid: "a", wantErr: errDown, fetches: 1},
			{setup: func(f *fakeServer) { f.fail = nil }, kid: "a", wantKey: 1, fetches: 2},
		}},
		{"whole set: one fetch serves every kid, cooldown for unknown kids", RemoteOptions{MinInterval: 10 * time.Second}, true, []step{
			{kid: "a", wantKey: 1, fetches: 1},
			{kid: "b", wantKey: 2, fetches: 1},
			{kid: "x", wantErr: ErrUnknownKID, reason: NotFound, fetches: 1},
			{advance: 10 * time.Second, kid: "x", wantErr: ErrUnknownKID, reason: NotFound, fetches: 2},
			{setup: func(f *fakeServer) { f.keys["x"] = pub(9) }, kid: "x", wantErr: ErrUnknownKID, fetches: 2},
			{advance: 10 * time.Second, kid: "x", wantKey: 9, fetches: 3},
		}},
		{"whole set: a failure is answered until the cooldown ends", RemoteOptions{MinInterval: 10 * time.Second}, true, []step{
			{setup: func(f *fakeServer) { f.fail = errDown }, kid: "a", wantErr: errDown, fetches: 1},
			{kid: "a", wantErr: errDown, reason: Recent, fetches: 1},
			{setup: func(f *fakeServer) { f.fail = nil }, advance: 10 * time.Second, kid: "a", wantKey: 1, fetches: 2},
		}},
		{"whole set: stale keys served while the refresh fails", RemoteOptions{MinInterval: 10 * time.Second, MaxAge: time.Minute}, true, []step{
			{kid: "a", wantKey: 1, fetches: 1},
			{setup: func(f *fakeServer) { f.fail = errDown }, advance: 2 * time.Minute, kid: "a", wantKey: 1, fetches: 2},
			{kid: "a", wantKey: 1, fetches: 2},
			{kid: "b", wantKey: 2, fetches: 2},
			{kid: "x", wantErr: errDown, reason: Recent, fetches: 2},
		}},
		{"rate limit refuses a fetch, not a cached key", RemoteOptions{Allow: func(context.Context) bool { return false }}, false, []step{
			{kid: "a", wantErr: ErrUnknownKID, reason: Limited, fetches: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{keys: map[string]*rsa.PublicKey{"a": pub(1), "b": pub(2)}, whole: tt.whole}
			c := &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
			o := tt.opts
			o.Fetch, o.Whole, o.Now = f.fetch, tt.whole, c.now
			r := NewRemote(o)
			for i, s := range tt.steps {
				c.advance(s.advance)
				if s.setup != nil {
					f.mu.Lock()
					s.setup(f)
					f.mu.Unlock()
				}
				k, err := r.Key(context.Background(), s.kid)
				switch {
				case s.wantKey != 0 && (err != nil || k.N.Int64() != s.wantKey):
					t.Fatalf("step %d: key %v err %v, want key %d", i, k, err, s.wantKey)
				case s.wantKey == 0 && !errors.Is(err, s.wantErr):
					t.Fatalf("step %d: err %v, want %v", i, err, s.wantErr)
				}
				if s.reason != 0 {
					var ke *Error
					if !errors.As(err, &ke) || ke.Reason != s.reason {
						t.Fatalf("step %d: err %v, want reason %d", i, err, s.reason)
					}
				}
				if got := f.calls.Load(); got != s.fetches || r.Fetches() != got {
					t.Fatalf("step %d: %d fetches (counted %d), want %d", i, got, r.Fetches(), s.fetches)
				}
			}
		})
	}
}

// TestRemoteSharedFetch: callers arriving while a fetch runs share it, and
// a caller that gives up neither cancels it nor waits for it.
func TestRemoteSharedFetch(t *testing.T) {
	f := &fakeServer{keys: map[string]*rsa.PublicKey{"a": pub(1)}, release: make(chan struct{})}
	r := NewRemote(RemoteOptions{Fetch: f.fetch, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Key(ctx, "a"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := r.Key(context.Background(), "a")
			errs <- err
		})
	}
	close(f.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 shared by every caller", n)
	}
}

// TestRemoteBusy: with every fetch slot taken, a new fetch gives up when
// its timeout ends.
func TestRemoteBusy(t *testing.T) {
	release, holding := make(chan struct{}), make(chan struct{})
	defer close(release)
	// A fetch that holds its slot, whatever its context says.
	hold := func(context.Context, string) (map[string]*rsa.PublicKey, error) {
		close(holding)
		<-release
		return nil, errDown
	}
	r := NewRemote(RemoteOptions{Fetch: hold, MaxConcurrent: 1, Timeout: 100 * time.Millisecond})
	go r.Key(context.Background(), "slow")
	<-holding
	_, err := r.Key(context.Background(), "other")
	var ke *Error
	if !errors.As(err, &ke) || ke.Reason != Busy || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want Busy", err)
	}
}

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	l := NewLimiter(2, 3, c.now)
	a, b := WithSource(context.Background(), "a"), WithSource(context.Background(), "b")
	got := []bool{l.Allow(a), l.Allow(a), l.Allow(a), l.Allow(b), l.Allow(b)}
	want := []bool{true, true, false, true, false} // a: 2 per source; b: the third global token
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allow #%d = %v, want %v (all %v)", i, got[i], want[i], got)
		}
	}
	c.advance(time.Minute)
	if !l.Allow(a) {
		t.Fatal("the buckets did not refill after a minute")
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write([]byte(strings.Repeat("x", 101)))
		case "/missing":
			http.NotFound(w, r)
		default:
			w.Write([]byte(r.Header.Get("Accept")))
		}
	}))
	defer srv.Close()
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
		wantErr    error
	}{
		{"ok, Accept sent", "/ok", 200, "application/json", nil},
		{"over the limit", "/big", 200, "", ErrTooLarge},
		{"not found, body dropped", "/missing", 404, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := Get(context.Background(), srv.Client(), srv.URL+tt.path, 100, "application/json")
			if status != tt.wantStatus || string(body) != tt.wantBody || !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %d %q %v", status, body, err)
			}
		})
	}
}
