package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/storage/storagetest"
)

// TestServeStartUpErrors: what a person sees when serve cannot start.
// A configuration error is one line per cause, naming the variable; a
// PostgreSQL database with pending migrations names both ways to apply
// them, and `serve --migrate` then starts.
func TestServeStartUpErrors(t *testing.T) {
	t.Run("bad PORT only", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"serve"}, stdio{out: &out, err: &errb, getenv: func(k string) string { return map[string]string{"PORT": "-1"}[k] }})
		want := "connect-doctor: invalid configuration:\nconfig: PORT=\"-1\": must be a port number between 1 and 65535 (unset it for 8080)\n"
		if code != 2 || errb.String() != want {
			t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errb.String(), want)
		}
	})
	t.Run("pending migrations on PostgreSQL", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": storagetest.PostgresURL(t), "ENCRYPTION_KEY": strings.Repeat("11", 32), "PORT": freePort(t)}
		var out bytes.Buffer
		errb := &syncBuffer{}
		code := run([]string{"serve"}, stdio{out: &out, err: errb, getenv: func(k string) string { return env[k] }})
		if code != 1 || !strings.Contains(errb.String(), "connect-doctor serve --migrate") || !strings.Contains(errb.String(), "connect-doctor migrate") {
			t.Fatalf("exit %d, stderr:\n%s\nwant 1 naming `serve --migrate` and `migrate`", code, errb.String())
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done, ready := make(chan int, 1), make(chan string, 1)
		go func() {
			done <- run([]string{"serve", "--migrate"}, stdio{out: &out, err: &syncBuffer{}, ctx: ctx, ready: ready, getenv: func(k string) string { return env[k] }})
		}()
		select {
		case <-ready:
		case code := <-done:
			t.Fatalf("serve --migrate exited %d", code)
		case <-time.After(60 * time.Second):
			t.Fatal("serve --migrate did not start")
		}
		var hc bytes.Buffer
		if code := run([]string{"healthcheck"}, stdio{out: &hc, err: &hc, getenv: func(k string) string { return env[k] }}); code != 0 {
			t.Fatalf("healthcheck against the migrated server: exit %d: %s", code, hc.String())
		}
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("serve --migrate exited %d", code)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve --migrate did not stop when its context ended")
		}
	})
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
