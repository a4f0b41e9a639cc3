package forgeapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/forgeapi"
	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestPreUninstallRepeated: Forge's preUninstall call (manifest reference,
// pre-uninstall trigger: "The invocation will have a timeout of 55
// seconds"; non-blocking) may come again; the second call answers 200 and
// changes nothing.
func TestPreUninstallRepeated(t *testing.T) {
	eachDatabase(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		site := newSite(t, forgesim.SiteOptions{})
		f := startForge(t, dbURL, site, nil)
		if resp, err := site.Install(ctx, f.base); err != nil || resp.StatusCode != 200 {
			t.Fatalf("install %v %v", resp, err)
		}
		first := decode[forgeapi.EventAnswer](t, must200(t)(site.PreUninstall(ctx, f.base)))
		before, err := f.app.ForgeStore.Get(ctx, site.InstallationID())
		if err != nil || first.Status != "uninstalled" || first.Repeated || before.State != tenant.StateUninstalled || before.HasSystemToken {
			t.Fatalf("first call %+v, row %+v %v", first, before, err)
		}
		second := decode[forgeapi.EventAnswer](t, must200(t)(site.PreUninstall(ctx, f.base)))
		after, _ := f.app.ForgeStore.Get(ctx, site.InstallationID())
		if second.Status != "already_uninstalled" || !second.Repeated || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("second call %+v, row %+v → %+v", second, before, after)
		}
	})
}

func must200(t *testing.T) func(*http.Response, error) *http.Response {
	return func(resp *http.Response, err error) *http.Response {
		t.Helper()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v %s", resp, err, readAll(resp))
		}
		return resp
	}
}

// slowStore is a Store whose MarkUninstalled records its context and, when
// block is set, waits for the context to end (a database that hangs).
type slowStore struct {
	forgeapi.Store // nil: other methods are not called
	block          bool
	mu             sync.Mutex
	deadline       time.Time
	hasDeadline    bool
	calledAt       time.Time
	ctxErr         error
}

func (s *slowStore) Get(context.Context, string) (*storage.ForgeInstallation, error) {
	return nil, storage.ErrUnknownInstallation
}

func (s *slowStore) MarkUninstalled(ctx context.Context, _ string) (bool, error) {
	s.mu.Lock()
	s.calledAt = time.Now()
	s.deadline, s.hasDeadline = ctx.Deadline()
	s.mu.Unlock()
	if !s.block {
		return true, nil
	}
	<-ctx.Done()
	s.mu.Lock()
	s.ctxErr = ctx.Err()
	s.mu.Unlock()
	return false, ctx.Err()
}

type noAPI struct{}

func (noAPI) RegisterAPI(*gin.RouterGroup) {}

// TestPreUninstallIsBounded: the pre-uninstall work runs under a deadline
// below Forge's 55 s (default 50 s, configurable, never 55 s or more), and a
// store that hangs gets a 503 answer once the deadline passes, not a
// connection held past Forge's timeout.
func TestPreUninstallIsBounded(t *testing.T) {
	site := newSite(t, forgesim.SiteOptions{})
	v, err := forge.NewVerifier(forge.Config{AppID: site.AppID(), JWKSURL: site.JWKSURL(), APIHosts: []string{gatewayHost(site)}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(t *testing.T, st *slowStore, timeout time.Duration) *httptest.ResponseRecorder {
		gin.SetMode(gin.TestMode)
		r := gin.New()
		forgeapi.New(forgeapi.Deps{Verifier: v, Store: st, PreUninstallTimeout: timeout}).Register(r, noAPI{})
		fit := site.Minter().MustMint(forgesim.WithClaim("app.module", map[string]any{"type": "core:endpoint", "key": "doctor-uninstall"}))
		req := httptest.NewRequest("POST", forgesim.PreUninstallPath, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+fit)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name      string
		configure time.Duration
		want      time.Duration
	}{
		{"default", 0, forgeapi.DefaultPreUninstallTimeout},
		{"configured", 20 * time.Second, 20 * time.Second},
		{"at Forge's limit: clamped", 55 * time.Second, forgeapi.DefaultPreUninstallTimeout},
		{"above Forge's limit: clamped", time.Minute, forgeapi.DefaultPreUninstallTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &slowStore{}
			if rec := post(t, st, tc.configure); rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			budget := st.deadline.Sub(st.calledAt)
			if !st.hasDeadline || budget > tc.want || budget < tc.want-10*time.Second || budget >= forgeapi.PreUninstallLimit {
				t.Errorf("store ran with deadline %v (set %v), want at most %v", budget, st.hasDeadline, tc.want)
			}
		})
	}
	t.Run("hanging store", func(t *testing.T) {
		st := &slowStore{block: true}
		rec := post(t, st, 20*time.Millisecond)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"store_unavailable"`) {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if st.ctxErr != context.DeadlineExceeded {
			t.Errorf("store saw %v, want the deadline", st.ctxErr)
		}
	})
}
