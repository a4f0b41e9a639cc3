package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// TestDevCommand starts `connect-doctor dev`, follows the printed admin URL
// and gets the simulated Jira page that embeds the app's admin panel, then
// the signed panel page itself.
func TestDevCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	dataDir := t.TempDir()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"dev", "--port", "0"}, stdio{out: out, err: errOut, ctx: ctx, ready: ready,
			getenv: func(k string) string {
				if k == "DATA_DIR" {
					return dataDir
				}
				return ""
			}})
	}()
	var adminURL string
	select {
	case adminURL = <-ready:
	case code := <-done:
		t.Fatalf("dev exited with %d: %s", code, errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("dev did not become ready: %s", errOut.String())
	}
	if !strings.Contains(out.String(), adminURL) {
		t.Fatalf("the admin URL is not printed:\n%s", out.String())
	}
	resp, err := http.Get(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<iframe") {
		t.Fatalf("admin host page: %d\n%s", resp.StatusCode, page)
	}
	// The iframe's signed URL must open the app's panel.
	i := strings.Index(string(page), `src="`)
	if i < 0 {
		t.Fatalf("no iframe src in %s", page)
	}
	src := string(page)[i+5:]
	src = strings.ReplaceAll(src[:strings.IndexByte(src, '"')], "&amp;", "&")
	resp, err = http.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Connect Doctor") {
		t.Fatalf("panel page %s: %d\n%s", src, resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("dev exited with %d", code)
		}
		if !strings.HasSuffix(out.String(), "Goodbye.\n") {
			t.Fatalf("dev did not say goodbye on shutdown:\n%s", out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not stop")
	}
}

// TestDevPort: dev listens on $PORT when it is set (0 picks a free port, as
// the README's first-screen test runs it), on 8080 otherwise, and refuses a
// PORT that is not a port.
func TestDevPort(t *testing.T) {
	tests := []struct {
		name, env string
		want      int
		wantErr   bool
	}{
		{"unset", "", 8080, false},
		{"set", "9191", 9191, false},
		{"zero picks a free port", "0", 0, false},
		{"not a number", "http", 0, true},
		{"negative", "-1", 0, true},
		{"out of range", "70000", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := devPort(tc.env)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("devPort(%q) = %d, %v; want %d, error %v", tc.env, got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "PORT") {
				t.Fatalf("error does not name PORT: %v", err)
			}
		})
	}
}
