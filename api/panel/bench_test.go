package panel_test

import (
	"net/http"
	"net/url"
	"testing"
)

// discard is a ResponseWriter that keeps the status and drops the body,
// so that a benchmark measures the app's handlers and middleware and not
// a recorder.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkServe is the app's own CPU per request on the routes the load
// test drives (cmd/loadgen), in process: no sockets, no HTTP parsing. The
// gap between healthz and the other two is what authentication and the
// handlers add.
func BenchmarkServe(b *testing.B) {
	e := newEnv(b, envOptions{realTime: true})
	h := e.app.Server.Handler()
	page, err := e.sim.ModuleURL(appKey, "connect-doctor-admin", e.sim.User("admin").AccountID)
	if err != nil {
		b.Fatal(err)
	}
	pu, _ := url.Parse(page)
	ctxTok, err := e.sim.ContextToken(appKey, e.sim.User("admin").AccountID)
	if err != nil {
		b.Fatal(err)
	}
	anonTok, err := e.sim.ContextToken(appKey, "") // as cmd/loadgen sends them
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, target, auth string
	}{
		{"healthz", "/healthz", ""},
		{"page", pu.RequestURI(), ""},
		{"installation", "/api/installation", "JWT " + ctxTok},
		{"installation-anonymous", "/api/installation", "JWT " + anonTok},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, e.base+tc.target, nil)
			req.RequestURI = tc.target
			req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 0
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("%s: status %d", tc.name, w.code)
				}
			}
		})
	}
}
