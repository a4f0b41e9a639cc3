package explain_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/explain"
)

// TestOldCaptureJudgedByItsDate: a pasted exchange whose Date is days
// away from the caller's clock is an old capture; its token times are
// judged by that Date, while a clock minutes off is still reported as skew.
func TestOldCaptureJudgedByItsDate(t *testing.T) {
	uri := "/rest/api/3/myself"
	tok := mint(t, appClaims("GET", uri), testSecret) // valid at testNow for 170 s
	tests := []struct {
		name        string
		now         time.Time
		wantExpired bool
	}{
		{"captured three years ago", testNow.Add(3 * 365 * 24 * time.Hour), false},
		{"clock ten minutes ahead of the server", testNow.Add(10 * time.Minute), true},
		{"same moment", testNow, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := jiraResp(401, "")
			resp.Header.Set("Date", testNow.UTC().Format(http.TimeFormat))
			ctx := appCtx()
			ctx.Now = tc.now
			d := engine.Diagnose(explain.Input{Request: explain.Request{Method: "GET", URL: testBase + uri, Header: hdr("Authorization", "JWT "+tok)}, Response: resp, Context: ctx})
			got := false
			for _, c := range d.Causes {
				if c.Code == explain.TokenExpired {
					got = true
				}
			}
			if got != tc.wantExpired {
				t.Fatalf("token_expired reported = %v, want %v\n%s", got, tc.wantExpired, d.Summary)
			}
		})
	}
}
