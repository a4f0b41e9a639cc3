package explain_test

import (
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/explain"
)

// BenchmarkDiagnose: one diagnosis of a Connect JWT 401, including the JWT
// decode, the time checks, the qsh recompute and the signature check.
func BenchmarkDiagnose(b *testing.B) {
	uri := "/rest/api/3/search/jql?jql=project%20%3D%20ABC&maxResults=50"
	in := explain.Input{
		Request:  explain.Request{Method: "GET", URL: testBase + uri, Header: hdr("Authorization", "JWT "+mint(b, appClaims("GET", uri), testSecret))},
		Response: jiraResp(401, ""),
		Context:  appCtx(),
	}
	b.ReportAllocs()
	for b.Loop() {
		d := engine.Diagnose(in)
		if len(d.Causes) == 0 {
			b.Fatal("no causes")
		}
	}
}

// BenchmarkDiagnoseQSHMismatch adds the search for the mistake behind a
// qsh mismatch.
func BenchmarkDiagnoseQSHMismatch(b *testing.B) {
	uri := "/rest/api/3/search/jql?jql=project%20%3D%20ABC&maxResults=50"
	c := with(appClaims("GET", uri), "qsh", connect.QSH("GET&/rest/api/3/search/jql&jql=project%20%3D%20ABC&maxResults=51"))
	in := explain.Input{
		Request:  explain.Request{Method: "GET", URL: testBase + uri, Header: hdr("Authorization", "JWT "+mint(b, c, testSecret))},
		Response: jiraResp(401, ""),
		Context:  appCtx(),
	}
	b.ReportAllocs()
	for b.Loop() {
		engine.Diagnose(in)
	}
}

// BenchmarkDiagnoseServiceRules: a non-Atlassian answer that goes through
// service identification and every rule file (GitHub SAML enforcement).
func BenchmarkDiagnoseServiceRules(b *testing.B) {
	in := explain.Input{
		Request: explain.Request{Method: "GET", URL: "https://api.github.com/orgs/acme/repos?per_page=100", Header: hdr("Authorization", "token ghp_0123456789abcdef0123456789abcdef0123", "Accept", "application/vnd.github+json")},
		Response: explain.Response{Status: 403, Header: hdr("Content-Type", "application/json; charset=utf-8", "X-Github-Request-Id", "C2D4:1A2B:3C4D5E:6F7A8B:674DF0B4", "X-Github-Sso", "required; url=https://github.com/orgs/acme/sso?authorization_request=x"),
			Body: []byte(`{"message":"Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.","documentation_url":"https://docs.github.com/articles/authenticating-to-a-github-organization-with-saml-single-sign-on/"}`)},
	}
	b.ReportAllocs()
	for b.Loop() {
		d := engine.Diagnose(in)
		if top, _ := d.Top(); top.Code != explain.SSOAuthorizationRequired {
			b.Fatal(top.Code)
		}
	}
}

// BenchmarkDiagnoseCorpus: one op diagnoses every case of the real-world
// corpus once; the custom metric µs/diagnosis is the mean per case.
func BenchmarkDiagnoseCorpus(b *testing.B) {
	cases := loadCorpus(b)
	ins := make([]explain.Input, 0, len(cases))
	for _, c := range cases {
		in, err := caseInput(c)
		if err != nil {
			b.Fatal(err)
		}
		ins = append(ins, in)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, in := range ins {
			engine.Diagnose(in)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n*len(ins)), "µs/diagnosis")
}

// BenchmarkDiagnoseLargeHTML: a 403 whose body is a 60 KB HTML page (a
// proxy's or WAF's block page), the worst case for the body rules.
func BenchmarkDiagnoseLargeHTML(b *testing.B) {
	page := "<!DOCTYPE html><html><head><title>Access denied</title></head><body>" +
		strings.Repeat("<div class=\"row\"><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p></div>\n", 560) +
		"<p>Sorry, you have been blocked</p></body></html>"
	in := explain.Input{
		Request:  explain.Request{Method: "GET", URL: "https://acme.example.com/api/items", Header: hdr("Authorization", "Bearer abc.def.ghi")},
		Response: explain.Response{Status: 403, Header: hdr("Content-Type", "text/html; charset=UTF-8"), Body: []byte(page)},
	}
	b.ReportAllocs()
	for b.Loop() {
		engine.Diagnose(in)
	}
}
