package jira

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAPIErrorCarriesDiagnostics(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = func(w http.ResponseWriter, _ *http.Request, _ int) {
		h := w.Header()
		h.Set("Content-Type", "text/html")
		h.Set("Server", "cloudflare")
		h.Set("CF-Ray", "8a1b2c3d4e5f-AMS")
		h.Set("X-Cache", "HIT")
		h.Set("Age", "42")
		h.Set("Via", "1.1 varnish")
		h.Set("X-Arequestid", "req-1")
		h.Set("Set-Cookie", "session=secret") // not diagnostic: dropped
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "<html><body>Access denied by WAF "+strings.Repeat("x", 500)+"</body></html>")
	}
	c := New(Options{HTTP: f.srv.Client(), AppKey: testAppKey, Now: f.now, MaxResponseBody: 100})
	resp, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/permissions?x=1", nil)
	ae, ok := errors.AsType[*APIError](err)
	if !ok {
		t.Fatalf("err %v", err)
	}
	want := map[string]string{"Server": "cloudflare", "Cf-Ray": "8a1b2c3d4e5f-AMS", "X-Cache": "HIT", "Age": "42", "Via": "1.1 varnish", "X-Arequestid": "req-1", "Content-Type": "text/html"}
	for k, v := range want {
		if got := ae.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if ae.Header.Get("Set-Cookie") != "" {
		t.Error("Set-Cookie kept")
	}
	if len(ae.Body) != 100 || !ae.BodyTruncated || string(resp.Body) != string(ae.Body) {
		t.Errorf("body %d bytes, truncated %v", len(ae.Body), ae.BodyTruncated)
	}
	if ae.Path != "/rest/api/3/permissions" || ae.Query != "x=1" || ae.StatusCode != 403 || ae.Attempts != 1 || ae.ClientKey != f.tenant.ClientKey {
		t.Errorf("APIError %+v", ae)
	}
	if ae.Message() != "" {
		t.Errorf("HTML body gave message %q", ae.Message())
	}
	if msg := ae.Error(); !strings.Contains(msg, "GET /rest/api/3/permissions as app") || !strings.Contains(msg, "HTTP 403 Forbidden") {
		t.Errorf("Error() = %q", msg)
	}
}

func TestAPIErrorMessage(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"errorMessages", `{"errorMessages":["You do not have permission to perform this action."],"errors":{}}`, "You do not have permission to perform this action."},
		{"field errors", `{"errorMessages":[],"errors":{"summary":"Field 'summary' cannot be set."}}`, "summary: Field 'summary' cannot be set."},
		{"message", `{"message":"Client must be authenticated to access this resource.","status-code":401}`, "Client must be authenticated to access this resource."},
		{"plain text", "Request not in an authorized API scope\n", "Request not in an authorized API scope"},
		{"html", "<html>denied</html>", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &APIError{StatusCode: 403, Method: "GET", Path: "/rest/x", Identity: IdentityApp, Body: []byte(tt.body)}
			if got := e.Message(); got != tt.want {
				t.Errorf("Message() = %q, want %q", got, tt.want)
			}
			if tt.want != "" && !strings.HasSuffix(e.Error(), tt.want) {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
}

func TestSuccessBodyIsCapped(t *testing.T) {
	f := newFakeJira(t, "")
	f.respond = func(w http.ResponseWriter, _ *http.Request, _ int) { io.WriteString(w, strings.Repeat("y", 1000)) }
	c := New(Options{HTTP: f.srv.Client(), AppKey: testAppKey, Now: f.now, MaxResponseBody: 999})
	if _, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("1000 bytes under a 999 cap: %v", err)
	}
	c = New(Options{HTTP: f.srv.Client(), AppKey: testAppKey, Now: f.now, MaxResponseBody: 1000})
	resp, err := c.AsApp(f.tenant).Call(t.Context(), "GET", "/rest/api/3/myself", nil)
	if err != nil || len(resp.Body) != 1000 {
		t.Errorf("1000 bytes under a 1000 cap: %v", err)
	}
}
