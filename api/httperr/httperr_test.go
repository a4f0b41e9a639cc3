package httperr_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
)

type coded struct {
	code, hint string
	status     int
}

func (c coded) Error() string { return "coded: " + c.code }
func (c coded) Code() string  { return c.code }
func (c coded) Hint() string  { return c.hint }
func (c coded) Status() int   { return c.status }

func TestFor(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code, hint string
		message    string
	}{
		{"coded 401 keeps the full text", fmt.Errorf("ctx: %w", coded{"fit_expired", "sync clocks", 401}), 401, "fit_expired", "sync clocks", "ctx: coded: fit_expired"},
		{"coded 503 names only the failure", fmt.Errorf("dial tcp 10.0.0.1:5432: %w", coded{"store_unavailable", "retry", 503}), 503, "store_unavailable", "retry", "coded: store_unavailable"},
		{"plain error is a 500 without its text", errors.New("secret detail"), 500, httperr.CodeInternal, "", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, d := httperr.For(tt.err)
			if status != tt.status || d.Code != tt.code || d.Hint != tt.hint || d.Message != tt.message {
				t.Fatalf("For = %d %+v", status, d)
			}
			if httperr.Status(tt.err) != tt.status {
				t.Fatalf("Status = %d", httperr.Status(tt.err))
			}
		})
	}
}

func TestHintOf(t *testing.T) {
	if got := httperr.HintOf(fmt.Errorf("wrapped: %w", coded{"x", "do this", 400})); got != "do this" {
		t.Fatalf("HintOf = %q", got)
	}
	if got := httperr.HintOf(errors.New("plain")); got != "" {
		t.Fatalf("HintOf(plain) = %q", got)
	}
}

func decode(t *testing.T, body string) httperr.Detail {
	t.Helper()
	var b httperr.Body
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("not an envelope: %v: %s", err, body)
	}
	return b.Error
}

func TestAbortCarriesTheRequestID(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.GET("/x", func(c *gin.Context) {
		c.Header(httperr.RequestIDHeader, "req-1")
		httperr.Abort(c, http.StatusBadRequest, "invalid_json", "bad", "send JSON")
	})
	r.GET("/y", func(c *gin.Context) { httperr.AbortErr(c, coded{"not_jira_admin", "ask an admin", 403}) })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if d := decode(t, rec.Body.String()); rec.Code != 400 || d.Code != "invalid_json" || d.Hint != "send JSON" || d.RequestID != "req-1" {
		t.Fatalf("Abort: %d %+v", rec.Code, d)
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/y", nil))
	if d := decode(t, rec.Body.String()); rec.Code != 403 || d.Code != "not_jira_admin" {
		t.Fatalf("AbortErr: %d %+v", rec.Code, d)
	}
}

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	httperr.Write(rec, coded{"fit_missing", "send the FIT", 401})
	d := decode(t, rec.Body.String())
	if rec.Code != 401 || d.Code != "fit_missing" || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") ||
		rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("Write: %d %+v %v", rec.Code, d, rec.Header())
	}
}
