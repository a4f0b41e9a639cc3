package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/cmd/loadgen/loadtest"
)

// BenchmarkRoutes measures the app's own cost per request, in process
// (handler chain only: no sockets, no load generator competing for the
// CPU), for the bare route, the JWT middleware alone in front of the same
// body (harness-only routes, as in appprof), and the real authenticated
// routes. The difference between the rows is where the time goes:
//
//	go test -run '^$' -bench Routes -benchtime 2s -count 3 ./cmd/loadgen
func BenchmarkRoutes(b *testing.B) {
	keys := freeAddr(b)
	signer, err := loadtest.NewInstallSigner()
	if err != nil {
		b.Fatal(err)
	}
	ks := &http.Server{Addr: keys, Handler: signer}
	go ks.ListenAndServe()
	defer ks.Close()
	srv := startAppB(b, keys)
	healthz := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok", "version": "loadgen-test"}) }
	s := srv.app.Server
	s.Group("/loadgen", s.PageAuth()).GET("/page", healthz)
	s.Group("/loadgen", s.ContextAuth()).GET("/context", healthz)

	tenants := loadtest.NewSeed().Tenants(100)
	target := loadtest.Target{URL: srv.http.URL, AppBaseURL: srv.http.URL}
	time.Sleep(50 * time.Millisecond) // key server up
	inst, err := loadtest.Install(context.Background(), loadtest.InstallOptions{Transport: http.DefaultTransport, Target: target, Signer: signer,
		AppKey: "connect-doctor", Tenants: tenants, Concurrency: 4})
	if err != nil || inst.Installed != uint64(len(tenants)) {
		b.Fatalf("install: %+v %v", inst, err)
	}
	h := s.Handler()
	plan := func(page, ctx string) *loadtest.AuthPlan {
		p := &loadtest.AuthPlan{Target: target, Tenants: tenants, PerTenant: 1, PageTTL: time.Hour, ContextTTL: time.Hour, PagePath: page, ContextPath: ctx}
		if err := p.Sign(time.Now()); err != nil {
			b.Fatal(err)
		}
		return p
	}
	real, harness := plan("", ""), plan("/loadgen/page", "/loadgen/context")
	base, _ := loadtest.BaselinePicker(target)
	cases := []struct {
		name  string
		pick  loadtest.Picker
		share float64
		plan  *loadtest.AuthPlan
	}{
		{name: "healthz", pick: base},
		{name: "auth-only-page", plan: harness, share: 0},
		{name: "auth-only-context", plan: harness, share: 1},
		{name: "admin-page", plan: real, share: 0},
		{name: "api-installation", plan: real, share: 1},
	}
	for _, c := range cases {
		pick := c.pick
		if c.plan != nil {
			c.plan.ContextShare = c.share
			pick = c.plan.Pick
		}
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				req := pick(rng).HTTP.WithContext(context.Background())
				req.RequestURI = req.URL.RequestURI() // as the server sets it
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", req.URL.Path, w.Code, w.Body.String())
				}
			}
		})
	}
}
