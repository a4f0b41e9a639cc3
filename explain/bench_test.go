package explain_test

import (
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
