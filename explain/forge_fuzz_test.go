package explain_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// FuzzDiagnoseForge drives the Forge path: any request, response and
// granted-scope list must give documented, ranked, deterministic causes.
func FuzzDiagnoseForge(f *testing.F) {
	k, err := testKey()
	if err != nil {
		f.Fatal(err)
	}
	m := &forgesim.Minter{Key: k, KID: "forge/prod-1", Now: func() time.Time { return testNow }}
	fitTok := m.MustMint(forgesim.WithClaim("app.environment.type", "DEVELOPMENT"))
	f.Add("POST", remoteBase+"/forge/lifecycle", "Bearer "+fitTok, 401, `{"error":{"code":"fit_dev_environment","message":"x"}}`, "")
	f.Add("GET", gatewayBase+"/rest/api/3/myself", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln", 403, bodyGrantsEmpty, "read:app-user-token read:jira-work")
	f.Add("GET", gatewayBase+"/rest/agile/1.0/board", "Bearer x", 401, bodyScopeMismatch, "read:connect-jira")
	f.Add("GET", testBase+"/rest/api/3/myself", "Bearer eyJ.eyJ.", 401, `{"message":"Failed to parse Connect Session Auth Token"}`, "")
	f.Add("PUT", "/forge/api/x", "", 0, "Access to the resource was denied due to missing scope grants. Your app was granted the following scopes: [a, ].\n * [", " , ")
	f.Fuzz(func(t *testing.T, method, url, auth string, status int, body, granted string) {
		if status < 0 || status > 999 {
			status = 401
		}
		ctx := forgeCtx()
		if granted != "" {
			ctx.GrantedScopes = strings.Fields(granted)
		}
		ctx.ForgeInvocation = http.Header{"Authorization": {"Bearer " + fitTok}}
		in := explain.Input{Request: explain.Request{Method: method, URL: url, Header: hdr("Authorization", auth)}, Response: gatewayResp(status, body), Context: ctx}
		d := engine.Diagnose(in)
		for i, c := range d.Causes {
			if _, ok := explain.LookupCode(c.Code); !ok || c.Confidence <= 0 || c.Confidence > 0.97 {
				t.Fatalf("cause %s %.2f", c.Code, c.Confidence)
			}
			if i > 0 && c.Confidence > d.Causes[i-1].Confidence {
				t.Fatal("not ranked")
			}
		}
		j1, _ := json.Marshal(d)
		j2, _ := json.Marshal(engine.Diagnose(in))
		if string(j1) != string(j2) {
			t.Fatal("non-deterministic")
		}
	})
}
