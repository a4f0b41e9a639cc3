package panel

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestLimitBody(t *testing.T) {
	gin.SetMode(gin.TestMode)
	cases := []struct {
		name          string
		body          io.Reader
		contentLength int64 // -1: unknown (chunked)
		wantStatus    int
		wantRead      int
		wantReadErr   bool
	}{
		{"no body passes untouched", http.NoBody, 0, http.StatusOK, 0, false},
		{"body within the limit", strings.NewReader("0123456789"), 10, http.StatusOK, 10, false},
		{"declared length over the limit", strings.NewReader(strings.Repeat("x", 11)), 11, http.StatusRequestEntityTooLarge, 0, false},
		{"undeclared length over the limit", strings.NewReader(strings.Repeat("x", 64)), -1, http.StatusOK, 10, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			var read int
			var readErr error
			r.POST("/x", LimitBody(10), func(c *gin.Context) {
				b, err := io.ReadAll(c.Request.Body)
				read, readErr = len(b), err
				c.Status(http.StatusOK)
			})
			req := httptest.NewRequest(http.MethodPost, "/x", tc.body)
			req.ContentLength = tc.contentLength
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			if tc.wantStatus == http.StatusRequestEntityTooLarge {
				if !strings.Contains(w.Body.String(), `"code":"body_too_large"`) {
					t.Fatalf("envelope %s", w.Body)
				}
				return
			}
			if read != tc.wantRead || (readErr != nil) != tc.wantReadErr {
				t.Fatalf("read %d bytes, err %v; want %d bytes, error %v", read, readErr, tc.wantRead, tc.wantReadErr)
			}
		})
	}
}
