package explain_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/connect-doctor/connect-doctor/explain"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// A Connect app signed its token for the path without the query string;
// Jira answered 401. The engine recomputes the qsh, finds the mistake and
// says how to fix it.
func ExampleEngine_Diagnose() {
	// HS256, secret "shared-secret-xyz", iss my-app-key, qsh of "GET&/rest/api/3/myself&".
	const tok = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJteS1hcHAta2V5IiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAxODAsInFzaCI6ImM3OTBlODYzY2VjZGRiZjEzNjlkNWUwNThkNWY3MWQ5ZDE5NzQxYTQ5N2E2ZTQ2ODEzNTE5MDkxMDk3NTk1MTMiLCJhdWQiOlsiY2xpZW50LWtleS0xMjMiXX0.YuBJDIu0zNbRuMe5NFOq5QHf0qwQ-VcFSv7oZq_UMGw"
	e := explain.New(catalog.Default())
	d := e.Diagnose(explain.Input{
		Request: explain.Request{
			Method: "GET",
			URL:    "https://acme.atlassian.net/rest/api/3/myself?expand=groups",
			Header: http.Header{"Authorization": {"JWT " + tok}},
		},
		Response: explain.Response{Status: 401},
		Context: explain.Context{
			AppKey:       "my-app-key",
			SharedSecret: "shared-secret-xyz",
			Now:          time.Unix(1700000060, 0),
		},
	})
	top, _ := d.Top()
	fmt.Println(d.Verdict, top.Code, top.Confidence)
	for _, e := range top.Evidence {
		fmt.Println("-", e)
	}
	// Output:
	// authentication qsh_mismatch 0.96
	// - qsh in token: c790e863cecd…; expected for GET /rest/api/3/myself: 48f9d5513f1e…
	// - canonical request we computed: GET&/rest/api/3/myself&expand=groups
	// - the token's qsh matches the canonical request "GET&/rest/api/3/myself&": the query string was left out of the hash
}

func ExampleCodes() {
	for _, c := range explain.Codes()[:3] {
		fmt.Printf("%s (%s): %s\n", c.Code, c.Class, c.Title)
	}
	// Output:
	// auth_header_missing (authentication): No credentials were sent
	// auth_scheme_invalid (authentication): Wrong or missing Authorization scheme
	// token_malformed (authentication): The token is malformed
}
