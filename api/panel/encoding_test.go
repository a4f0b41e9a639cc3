package panel

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestAcceptsGzip(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		want   bool
	}{
		{"absent", nil, false},
		{"empty", []string{""}, false},
		{"identity only", []string{"identity"}, false},
		{"chromium", []string{"gzip, deflate, br, zstd"}, true},
		{"firefox", []string{"gzip, deflate, br"}, true},
		{"go client", []string{"gzip"}, true},
		{"upper case", []string{"GZIP"}, true},
		{"legacy x-gzip", []string{"x-gzip"}, true},
		{"weight", []string{"br;q=1.0, gzip;q=0.8"}, true},
		{"spaces around weight", []string{"gzip ; q = 0.5"}, true},
		{"refused", []string{"gzip;q=0"}, false},
		{"refused with zeros", []string{"gzip;q=0.000"}, false},
		{"malformed weight", []string{"gzip;q=high"}, false},
		{"weight above one", []string{"gzip;q=2"}, false},
		{"star", []string{"*"}, true},
		{"star refused", []string{"*;q=0"}, false},
		{"star but gzip refused", []string{"*, gzip;q=0"}, false},
		{"gzip refused then allowed", []string{"gzip;q=0, gzip"}, true},
		{"several header lines", []string{"br", "gzip"}, true},
		{"gzip as a substring", []string{"notgzip, gzipx"}, false},
		{"other parameter", []string{"gzip;level=9"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := acceptsGzip(tc.values); got != tc.want {
				t.Fatalf("acceptsGzip(%q) = %v, want %v", tc.values, got, tc.want)
			}
		})
	}
}

func TestEncodedBodyNegotiates(t *testing.T) {
	gin.SetMode(gin.TestMode)
	page := []byte(strings.Repeat("<section>admin panel</section>\n", 200))
	tiny := []byte("ok")
	cases := []struct {
		name           string
		body           []byte
		acceptEncoding string
		wantGzip       bool
		wantVary       bool
	}{
		{"browser gets gzip", page, "gzip, deflate, br", true, true},
		{"no Accept-Encoding gets plain", page, "", false, true},
		{"gzip refused gets plain", page, "gzip;q=0, br", false, true},
		{"incompressible body is never encoded", tiny, "gzip", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEncodedBody(tc.body)
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodGet, "/admin", nil)
			if tc.acceptEncoding != "" {
				c.Request.Header.Set("Accept-Encoding", tc.acceptEncoding)
			}
			e.write(c, "text/html; charset=utf-8")
			res := w.Result()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if got := res.Header.Get("Vary") == "Accept-Encoding"; got != tc.wantVary {
				t.Fatalf("Vary %q", res.Header.Get("Vary"))
			}
			raw := w.Body.Bytes()
			if res.Header.Get("Content-Length") != strconv.Itoa(len(raw)) {
				t.Fatalf("Content-Length %q for %d bytes", res.Header.Get("Content-Length"), len(raw))
			}
			got := raw
			if enc := res.Header.Get("Content-Encoding"); (enc == "gzip") != tc.wantGzip {
				t.Fatalf("Content-Encoding %q", enc)
			} else if enc == "gzip" {
				if len(raw) >= len(tc.body) {
					t.Fatalf("compressed %d bytes into %d", len(tc.body), len(raw))
				}
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, tc.body) {
				t.Fatalf("body differs after decoding: %d bytes, want %d", len(got), len(tc.body))
			}
		})
	}
}
