package manifest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/forge/manifest"
)

func TestLoadDescriptorURL(t *testing.T) {
	const desc = `{"key":"k","baseUrl":"https://a.acme-apps.net"}`
	mux := http.NewServeMux()
	mux.HandleFunc("/atlassian-connect.json", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(desc)) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat(" ", 2048))) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		name, path, want string
		opts             manifest.SourceOptions
	}{
		{"ok", "/atlassian-connect.json", "", manifest.SourceOptions{}},
		{"404", "/missing", "404 Not Found", manifest.SourceOptions{}},
		{"too big", "/huge", "larger than 1024 bytes", manifest.SourceOptions{MaxBytes: 1024}},
		{"timeout", "/slow", "no answer within 50ms", manifest.SourceOptions{Timeout: 50 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Client = srv.Client()
			b, src, err := manifest.LoadDescriptor(context.Background(), srv.URL+tt.path, tt.opts)
			if tt.want == "" {
				if err != nil || string(b) != desc || src != srv.URL+tt.path {
					t.Fatalf("got %q from %s, %v", b, src, err)
				}
				return
			}
			if !errors.Is(err, manifest.ErrSource) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadDescriptorFiles(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) string {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	spring := write("spring/src/main/resources/atlassian-connect.json", `{"key":"spring"}`)
	write("spring/target/classes/atlassian-connect.json", `{"key":"copy"}`)
	write("spring/node_modules/x/atlassian-connect.json", `{"key":"dep"}`)
	write("two/a/atlassian-connect.json", `{}`)
	write("two/b/atlassian-connect.json5", `{}`)
	os.MkdirAll(filepath.Join(root, "none"), 0o755)
	tests := []struct {
		name, src, wantFile, wantErr string
	}{
		{"file", spring, spring, ""},
		{"spring checkout", filepath.Join(root, "spring"), spring, ""},
		{"two descriptors", filepath.Join(root, "two"), "", "2 descriptors"},
		{"none", filepath.Join(root, "none"), "", "no atlassian-connect.json"},
		{"missing", filepath.Join(root, "nope.json"), "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, file, err := manifest.LoadDescriptor(context.Background(), tt.src, manifest.SourceOptions{})
			if tt.wantErr != "" {
				if !errors.Is(err, manifest.ErrSource) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || file != tt.wantFile {
				t.Errorf("file %s, err %v; want %s", file, err, tt.wantFile)
			}
		})
	}
}
