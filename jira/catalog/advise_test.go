package catalog_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

func TestAdvise(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		name             string
		input            string
		wantScopes       []string
		wantOps          int
		wantInaccessible []string
		wantUnknown      int
	}{
		{"reads only", "GET /rest/api/2/search\nGET /rest/api/2/configuration\nget /rest/api/3/myself\n", []string{"READ"}, 3, nil, 0},
		{"community report", "GET /rest/api/2/search\nGET /rest/api/2/permissions\nGET /rest/api/2/settings/columns\n",
			[]string{"ADMIN"}, 3, []string{"getIssueNavigatorDefaultColumns"}, 0},
		{"write and delete issue", "PUT /rest/api/3/issue/ABC-1\nDELETE /rest/api/3/issue/ABC-1\n", []string{"DELETE"}, 2, nil, 0},
		{"separate axes", "GET /rest/api/3/mypreferences?key=x\nGET /rest/api/3/user/email?accountId=1\nPOST /rest/api/3/issue\n",
			[]string{"WRITE", "ACT_AS_USER", "ACCESS_EMAIL_ADDRESSES"}, 3, nil, 0},
		{"comments blanks duplicates", "# my app\n\nGET /rest/api/3/issue/ABC-1\nGET /rest/api/3/issue/XYZ-9\n  \n", []string{"READ"}, 1, nil, 0},
		{"project admin", "PUT /rest/api/3/project/ABC\nGET /rest/agile/1.0/board/1\n", []string{"PROJECT_ADMIN"}, 2, nil, 0},
		{"operationId line", "getServerInfo\n", []string{"READ"}, 1, nil, 0},
		{"unknowns", "GET /rest/api/3/nope\nPATCH /rest/api/3/myself\nthis is not a request\n", []string{}, 0, nil, 3},
		{"none scope needs nothing", "GET /rest/atlassian-connect/1/addons/com.example.app/properties\n", []string{}, 1, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adv, err := c.AdviseLines(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, s := range adv.Scopes {
				got = append(got, string(s))
			}
			if !slices.Equal(got, tt.wantScopes) {
				t.Fatalf("scopes = %v, want %v", got, tt.wantScopes)
			}
			if len(adv.Operations) != tt.wantOps || len(adv.Unknown) != tt.wantUnknown {
				t.Fatalf("ops=%d unknown=%+v", len(adv.Operations), adv.Unknown)
			}
			var inacc []string
			for _, a := range adv.Inaccessible {
				inacc = append(inacc, a.OperationID)
			}
			if !slices.Equal(inacc, tt.wantInaccessible) {
				t.Fatalf("inaccessible = %v, want %v", inacc, tt.wantInaccessible)
			}
			// Every reachable operation is allowed by the advice.
			for _, a := range adv.Operations {
				if a.RequiredScope != scope.Inaccessible && !adv.Scopes.Allows(a.RequiredScope) {
					t.Fatalf("%s needs %s, not allowed by %v", a.Input, a.RequiredScope, adv.Scopes)
				}
			}
		})
	}
}

func TestAdviseUnknownReasons(t *testing.T) {
	adv := catalog.Default().Advise([]catalog.Request{{"PATCH", "/rest/api/3/myself"}, {"GET", "/nope"}})
	if len(adv.Unknown) != 2 || !strings.Contains(adv.Unknown[0].Reason, "has no PATCH operation; methods there: GET") {
		t.Fatalf("unknown = %+v", adv.Unknown)
	}
	if !strings.Contains(adv.Unknown[1].Reason, "no operation") {
		t.Fatalf("unknown path reason = %q", adv.Unknown[1].Reason)
	}
	b, _ := json.Marshal(catalog.Default().Advise(nil))
	if string(b) != `{"scopes":[],"operations":[],"inaccessible":[],"unknown":[]}` {
		t.Fatalf("empty advice JSON = %s", b)
	}
}

func TestParseRequest(t *testing.T) {
	if r, err := catalog.ParseRequest("  get   /rest/api/3/myself "); err != nil || r.Method != "GET" || r.Path != "/rest/api/3/myself" {
		t.Fatalf("ParseRequest = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "GET", "FETCH /x", "GET /a /b"} {
		if _, err := catalog.ParseRequest(bad); err == nil {
			t.Fatalf("ParseRequest(%q) accepted", bad)
		}
	}
}

func ExampleCatalog_Advise() {
	adv := catalog.Default().Advise([]catalog.Request{
		{"GET", "/rest/api/2/search?jql=project=ABC"},
		{"GET", "/rest/api/2/permissions"},
		{"GET", "/rest/api/2/settings/columns"},
	})
	fmt.Println(adv.Scopes)
	for _, a := range adv.Operations {
		fmt.Println(a.Method, a.Template, a.RequiredScope)
	}
	fmt.Println(len(adv.Inaccessible), "inaccessible")
	// Output:
	// ADMIN
	// GET /rest/api/3/search READ
	// GET /rest/api/3/permissions ADMIN
	// GET /rest/api/3/settings/columns INACCESSIBLE
	// 1 inaccessible
}
