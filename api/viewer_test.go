package api_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/api"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// TestViewer: the panel reads one viewer whichever protocol authenticated
// the request; a Forge route's SetViewer wins, a Connect token's viewer is
// built from its claims, and nothing authenticated gives nil.
func TestViewer(t *testing.T) {
	ct := &tenant.Tenant{ClientKey: "ck-connect"}
	ft := &tenant.Tenant{ClientKey: "ari:cloud:ecosystem::installation/1", APIBaseURL: "https://api.atlassian.com/ex/jira/c"}
	tests := []struct {
		name     string
		connect  *connect.Verified
		forge    *tenant.Viewer
		wantKey  string
		wantAcc  string
		wantKind tenant.Kind
	}{
		{name: "nothing authenticated"},
		{name: "connect token with a user", connect: &connect.Verified{Tenant: ct, Claims: &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "acc-1"}}},
			wantKey: "ck-connect", wantAcc: "acc-1", wantKind: tenant.Connect},
		{name: "anonymous connect token", connect: &connect.Verified{Tenant: ct, Claims: &connect.Claims{}}, wantKey: "ck-connect", wantKind: tenant.Connect},
		{name: "forge route", forge: &tenant.Viewer{Tenant: ft, AccountID: "acc-2", Kind: tenant.Forge},
			wantKey: ft.ClientKey, wantAcc: "acc-2", wantKind: tenant.Forge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			if tc.connect != nil {
				c.Set("cd.verified", tc.connect)
			}
			if tc.forge != nil {
				api.SetViewer(c, tc.forge)
			}
			v := api.Viewer(c)
			if tc.wantKey == "" {
				if v != nil {
					t.Fatalf("viewer %+v, want nil", v)
				}
				return
			}
			if v == nil || v.Tenant.ClientKey != tc.wantKey || v.AccountID != tc.wantAcc || v.Kind != tc.wantKind {
				t.Fatalf("viewer %+v, want %s %q %v", v, tc.wantKey, tc.wantAcc, tc.wantKind)
			}
			if again := api.Viewer(c); again != v {
				t.Fatal("the viewer is built once per request")
			}
		})
	}
}
