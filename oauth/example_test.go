package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

func ExampleCache() {
	// A stand-in authorization server (in production: oauth.ServerFor(baseUrl)).
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		r.ParseForm()
		fmt.Printf("exchange: grant_type=%s scope=%q\n", r.PostForm.Get("grant_type"), r.PostForm.Get("scope"))
		fmt.Fprint(w, `{"access_token":"at-1","expires_in":900,"token_type":"Bearer"}`)
	}))
	defer srv.Close()

	tenant := &tenant.Tenant{
		ClientKey: "ck", BaseURL: "https://acme.atlassian.net", OAuthClientID: "cid",
		SharedSecret: "a-shared-secret-of-at-least-32-characters", State: tenant.StateInstalled,
	}
	cache := oauth.NewCache(&oauth.Exchanger{TokenURL: srv.URL, Timeout: 10 * time.Second}, oauth.CacheOptions{})
	for range 3 {
		tok, err := cache.Token(context.Background(), tenant, "5b10ac8d82e05b22cc7d4ef5", scope.Set{scope.Write, scope.Read})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(tok.TokenType, tok.Scopes)
	}
	s := cache.Stats()
	fmt.Printf("exchanges=%d hits=%d\n", s.Exchanges, s.Hits)
	fmt.Println(oauth.ServerFor("https://acme.jira-dev.com"))
	// Output:
	// exchange: grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer scope="READ WRITE"
	// Bearer READ,WRITE
	// Bearer READ,WRITE
	// Bearer READ,WRITE
	// exchanges=1 hits=2
	// https://oauth-2-authorization-server.stg.services.atlassian.com
}
