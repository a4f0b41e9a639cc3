package explain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/scope"
)

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{curlI401, curlIContinueRedirect, curlIProxy, curlV, "HTTP/1.1 401\n\n", "HTTP/2 200 \r\n\r\nHTTP/2 403\r\n", "< HTTP/2 403\n< a: b\n<\nbody", "HTTP/1.1 401 X\n x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := explain.ParseResponse(raw)
		if err == nil && (r.Status < 100 || r.Status > 999) {
			t.Fatalf("accepted status %d", r.Status)
		}
		_, _ = explain.ParseRequest(raw)
		_, _, _ = explain.ParseExchange(raw)
	})
}

// FuzzDiagnose feeds arbitrary headers, bodies, URLs and tokens to the
// engine: it must never panic, always rank its causes and keep every
// confidence in (0, 0.97].
func FuzzDiagnose(f *testing.F) {
	tok := mint(f, appClaims("GET", "/rest/api/3/myself"), testSecret)
	f.Add("GET", testBase+"/rest/api/3/myself", "JWT "+tok, 401, `{"message":"Client must be authenticated to access this resource.","status-code":401}`, `Bearer error="invalid_token"`, "")
	f.Add("DELETE", "/rest/api/2/issue/ABC-1?x=%zz", "Bearer "+tok, 403, `{"errorMessages":["Request not in an authorized API scope"]}`, "", "READ")
	f.Add("get", "https://api.atlassian.com/ex/jira/x/rest/api/3/search?jql=a+b&jwt="+tok, "Basic Og==", 404, "<html><title>x</title>", `Basic realm="x", Bearer`, "read write act_as_user")
	f.Add("POST", "http://h/wiki/rest/api/space", "eyJ.eyJ.", 429, "", `Bearer realm="a", error=`, "")
	f.Add("PUT", "", "Token  ", 502, `{"error":"invalid_grant","error_description":"user"}`, `"`, "ADMIN")
	f.Fuzz(func(t *testing.T, method, url, auth string, status int, body, challenge, scopesText string) {
		if status < 0 || status > 999 {
			status = 401
		}
		h := hdr("Authorization", auth)
		resp := jiraResp(status, body, "Www-Authenticate", challenge, "Age", "3")
		ctx := appCtx()
		ctx.PreviousSecrets = []string{testOldSecret}
		if s, err := explainScopes(scopesText); err == nil {
			ctx.DeclaredScopes = s
			ctx.Identity = explain.IdentityUser
		}
		d := engine.Diagnose(explain.Input{Request: explain.Request{Method: method, URL: url, Header: h, HasBody: len(body)%2 == 0}, Response: resp, Context: ctx})
		for i, c := range d.Causes {
			if c.Confidence <= 0 || c.Confidence > 0.97 {
				t.Fatalf("confidence %v for %s", c.Confidence, c.Code)
			}
			if _, ok := explain.LookupCode(c.Code); !ok {
				t.Fatalf("undocumented code %s", c.Code)
			}
			if i > 0 && c.Confidence > d.Causes[i-1].Confidence {
				t.Fatalf("not ranked")
			}
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		d.WriteText(&b, true)
		// Determinism: the same input gives the same diagnosis.
		d2 := engine.Diagnose(explain.Input{Request: explain.Request{Method: method, URL: url, Header: h, HasBody: len(body)%2 == 0}, Response: resp, Context: ctx})
		j1, _ := json.Marshal(d)
		j2, _ := json.Marshal(d2)
		if string(j1) != string(j2) {
			t.Fatalf("non-deterministic:\n%s\n%s", j1, j2)
		}
	})
}

func explainScopes(s string) (scope.Set, error) {
	if s == "" {
		return nil, errors.New("none")
	}
	return scope.ParseSet(s)
}
