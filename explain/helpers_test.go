package explain_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

const (
	testSecret    = "a-tenant-shared-secret-that-is-long-enough-0123456789"
	testOldSecret = "the-secret-from-before-the-reinstall-0123456789abcdef"
	testAppKey    = "com.example.doctor"
	testClientKey = "2f1c5a0e-8a8b-4c4e-9f11-1d2e3f4a5b6c"
	testBase      = "https://acme.atlassian.net"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

var engine = explain.New(catalog.Default())

// appClaims are the claims of a correct app JWT for method and uri.
type claims = map[string]any

func appClaims(method, uri string) claims {
	return claims{
		"iss": testAppKey,
		"iat": testNow.Add(-10 * time.Second).Unix(),
		"exp": testNow.Add(170 * time.Second).Unix(),
		"qsh": connect.RequestQSH(method, uri, ""),
		"aud": []string{testClientKey},
	}
}

func mint(t testing.TB, c claims, secret string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(c)).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func with(c claims, kv ...any) claims {
	out := claims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// jiraHeaders are the headers Jira Cloud's edge puts on every answer.
func jiraHeaders(kv ...string) http.Header {
	h := hdr("Server", "AtlassianEdge", "Content-Type", "application/json;charset=UTF-8",
		"Atl-Traceid", "6f0e1b7c2a9d4e3f", "X-Arequestid", "0f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8",
		"Date", testNow.Format(http.TimeFormat))
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func appCtx() explain.Context {
	return explain.Context{TenantBaseURL: testBase, AppKey: testAppKey, ClientKey: testClientKey, SharedSecret: testSecret, Now: testNow}
}

func findCause(d explain.Diagnosis, code string) (explain.Cause, int) {
	for i, c := range d.Causes {
		if c.Code == code {
			return c, i
		}
	}
	return explain.Cause{}, -1
}

func evidenceHas(c explain.Cause, sub string) bool {
	for _, e := range c.Evidence {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

func dump(d explain.Diagnosis) string {
	var b strings.Builder
	d.WriteText(&b, false)
	return b.String()
}
