package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetricsForOperators drives installs, a refused token, checks as the
// app and as a user through the panel against the simulator, and reads the
// Prometheus exposition.
func TestMetricsForOperators(t *testing.T) {
	s := startWithSimEnv(t, "", map[string]string{"METRICS_TOKEN": testMetricsToken})
	ctx := context.Background()
	if _, err := s.sim.InstallApp(ctx, s.base+"/atlassian-connect.json"); err != nil {
		t.Fatal(err)
	}
	admin := s.sim.User("admin").AccountID
	post := func(body string) int {
		tok, _ := s.sim.ContextToken("connect-doctor", admin)
		req, _ := http.NewRequest("POST", s.base+"/api/checks", strings.NewReader(body))
		req.Header.Set("Authorization", "JWT "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(`{"method":"GET","path":"/rest/api/2/permissions","as":"app"}`); c != 200 {
		t.Fatalf("check as app: %d", c)
	}
	if c := post(`{"method":"GET","path":"/rest/api/3/myself","as":"user"}`); c != 200 {
		t.Fatalf("check as user: %d", c)
	}
	if c := post(`{"method":"GET","path":"/rest/api/3/myself","as":"user"}`); c != 200 {
		t.Fatalf("second check as user: %d", c)
	}
	// A refused token.
	req, _ := http.NewRequest("GET", s.base+"/api/installation", nil)
	req.Header.Set("Authorization", "Bearer x")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("bearer on the API: %d", resp.StatusCode)
	}
	mreq, _ := http.NewRequest("GET", s.base+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+testMetricsToken)
	resp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`connect_doctor_lifecycle_events_total{event="installed",outcome="accepted"} 1`,
		`connect_doctor_jwt_verification_failures_total{code="auth_scheme_invalid"} 1`,
		`connect_doctor_jira_calls_total{identity="app",status="403"} 1`,
		`connect_doctor_jira_calls_total{identity="user",status="200"} 2`,
		`connect_doctor_explainer_verdicts_total{cause="scope_missing",verdict="authorization"} 1`,
		`connect_doctor_token_exchanges_total 1`,
		`connect_doctor_token_cache_hits_total 1`,
		`connect_doctor_http_requests_total{method="POST",route="/api/checks",status="200"} 3`,
		`connect_doctor_http_request_duration_seconds_bucket{route="/api/checks"`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", grepLines(string(body), "connect_doctor_"))
	}
}

const testMetricsToken = "metrics-token-0123456789abcdef"

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
