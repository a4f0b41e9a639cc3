package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func noEnv(string) string { return "" }

func TestBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"-nope"}, nil, "flag provided but not defined"},
		{"bad fault", []string{"-fault", "earthquake"}, nil, `unknown fault "earthquake"`},
		{"bad scopes", []string{"-scopes", "READ,SUPERUSER"}, nil, "unknown Connect scope"},
		{"bad env", nil, map[string]string{"JIRASIM_PORT": "eighty"}, "JIRASIM_PORT"},
		{"bad log level", []string{"-log-level", "loud"}, nil, "-log-level"},
		{"missing users file", []string{"-users", "/no/such/file.json"}, nil, "-users"},
		{"stray argument", []string{"serve"}, nil, "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb syncBuffer
			getenv := func(k string) string { return tc.env[k] }
			if code := run(t.Context(), tc.args, &out, &errb, getenv); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.want)
			}
		})
	}
}

func TestRunInstallsAndServes(t *testing.T) {
	// A minimal app: serves a descriptor, accepts every callback.
	var app *httptest.Server
	app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/atlassian-connect.json" {
			_ = json.NewEncoder(w).Encode(map[string]any{
				"key": "cli-app", "name": "CLI App", "baseUrl": app.URL, "authentication": map[string]string{"type": "jwt"},
				"lifecycle": map[string]string{"installed": "/installed"}, "apiMigrations": map[string]bool{"signed-install": true},
				"scopes":  []string{"ADMIN"},
				"modules": map[string]any{"adminPages": []map[string]any{{"key": "panel", "url": "/panel", "name": map[string]string{"value": "Panel"}}}},
			})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()

	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-install", app.URL + "/atlassian-connect.json", "-fault", "rate-limit,count=1", "-scopes", "read"},
			&out, &errb, func(k string) string {
				if k == "JIRASIM_SEED" {
					return "42"
				}
				return ""
			})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no ready line; stdout: %s stderr: %s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	text := out.String()
	for _, want := range []string{"CONNECT_INSTALL_KEYS_URL=http://127.0.0.1:", "AP_JS_URL=", "Installed cli-app (scopes READ", `admin page "panel" as admin: http://127.0.0.1:`} {
		if !strings.Contains(text, want) {
			t.Errorf("stdout lacks %q:\n%s", want, text)
		}
	}
	site := regexp.MustCompile(`site \(baseUrl\)\s+(\S+)`).FindStringSubmatch(text)
	if site == nil {
		t.Fatalf("no site URL in %s", text)
	}
	// The fault given on the command line answers the first request.
	for i, want := range []int{429, 200} {
		resp, err := http.Get(site[1] + "/rest/api/3/serverInfo")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	admin := regexp.MustCompile(`as admin: (\S+)`).FindStringSubmatch(text)
	resp, err := http.Get(admin[1])
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("admin page: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d; stderr: %s", code, errb.String())
	}
}

// TestHelpAndVersion: -h and --help print the usage on stdout and exit 0;
// --version prints the version.
func TestHelpAndVersion(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{{"-h", "usage: jira-sim [flags]\n"}, {"--help", "usage: jira-sim [flags]\n"}, {"--version", "jira-sim dev\n"}} {
		t.Run(tt.arg, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), []string{tt.arg}, &out, &errb, func(string) string { return "" })
			if code != 0 || errb.Len() != 0 || !strings.HasPrefix(out.String(), tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out.String(), errb.String(), tt.want)
			}
		})
	}
}
