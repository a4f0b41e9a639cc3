package forgesim_test

import (
	"testing"

	"github.com/connect-doctor/connect-doctor/sim/forgesim"
)

// TestClientKeyProperty: the reserved property answers per installation —
// absent (404) by default, a value, malformed, an outage — only to a token
// of that installation's site; other Connect property paths stay
// Connect-only operations.
func TestClientKeyProperty(t *testing.T) {
	g := newGateway(t, newClock(), forgesim.DefaultScopes())
	sysA, _ := g.SystemToken(instA)
	prop := "/rest/atlassian-connect/1/addons/connect-doctor/properties/" + forgesim.ConnectClientKeyProperty
	cases := []struct {
		name   string
		set    *forgesim.ClientKeyProperty
		method string
		path   string
		status int
		body   string
	}{
		{"absent by default", nil, "GET", "/ex/jira/" + cloudA + prop, 404, `{"message":"Property with key not found.","statusCode":404}`},
		{"string value", ptr(forgesim.ClientKeyValue("ck-a")), "GET", "/ex/jira/" + cloudA + prop, 200,
			`{"key":"` + forgesim.ConnectClientKeyProperty + `","value":"ck-a"}`},
		{"object value", ptr(forgesim.ClientKeyObject("ck-a")), "GET", "/ex/jira/" + cloudA + prop, 200,
			`{"key":"` + forgesim.ConnectClientKeyProperty + `","value":{"clientKey":"ck-a"}}`},
		{"malformed", ptr(forgesim.ClientKeyMalformed()), "GET", "/ex/jira/" + cloudA + prop, 200,
			`{"key":"` + forgesim.ConnectClientKeyProperty + `","value":42}`},
		{"outage", ptr(forgesim.ClientKeyOutage()), "GET", "/ex/jira/" + cloudA + prop, 503, `{"code":503,"message":"Service Unavailable"}`},
		{"read-only", ptr(forgesim.ClientKeyValue("ck-a")), "PUT", "/ex/jira/" + cloudA + prop, 405, ""},
		{"another site's path refuses the token", ptr(forgesim.ClientKeyValue("ck-a")), "GET", "/ex/jira/" + cloudB + prop, 401, `{"code":401,"message":"Unauthorized"}`},
		{"another property is Connect-only", nil, "GET", "/ex/jira/" + cloudA + "/rest/atlassian-connect/1/addons/connect-doctor/properties/other", 401, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.set != nil {
				g.SetClientKeyProperty(instA, *tc.set)
			}
			status, body := call(t, tc.method, g.URL()+tc.path, sysA, nil)
			if status != tc.status || (tc.body != "" && body != tc.body) {
				t.Fatalf("%d %s, want %d %s", status, body, tc.status, tc.body)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
