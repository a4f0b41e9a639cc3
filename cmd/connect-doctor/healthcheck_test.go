package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHealthcheck: exit 0 only when /readyz (under BASE_URL's path, on
// 127.0.0.1:$PORT) answers 200; 1 for 503, a redirect or nothing listening;
// 2 for a PORT that is not one.
func TestHealthcheck(t *testing.T) {
	var readyStatus atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/doctor/readyz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(readyStatus.Load())) })
	mux.HandleFunc("/moved/readyz", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/doctor/readyz", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		status   int
		wantCode int
		wantErr  string
	}{
		{"ready under the base path", map[string]string{"PORT": port, "BASE_URL": "https://doctor.example.com/doctor"}, nil, 200, 0, ""},
		{"not ready", map[string]string{"PORT": port, "BASE_URL": "https://doctor.example.com/doctor"}, nil, 503, 1, "answered 503"},
		{"wrong base path is not healthy", map[string]string{"PORT": port}, nil, 200, 1, "answered 404"},
		{"a redirect is not healthy", nil, []string{"--url", srv.URL + "/moved/readyz"}, 200, 1, "answered 302"},
		{"nothing listening", map[string]string{"PORT": closedPort}, []string{"--timeout", "2s"}, 200, 1, "unhealthy"},
		{"bad PORT", map[string]string{"PORT": "eighty"}, nil, 200, 2, `PORT="eighty"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readyStatus.Store(int32(tt.status))
			var out, errb bytes.Buffer
			code := run(append([]string{"healthcheck"}, tt.args...), stdio{out: &out, err: &errb, getenv: func(k string) string { return tt.env[k] }})
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("exit %d stderr %q; want %d and %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
			if code == 0 && !strings.Contains(out.String(), "healthy") {
				t.Fatalf("stdout %q", out.String())
			}
		})
	}
}
