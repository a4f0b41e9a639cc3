package jira_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/connect-doctor/connect-doctor/jira"
	"github.com/connect-doctor/connect-doctor/oauth"
	"github.com/connect-doctor/connect-doctor/scope"
	"github.com/connect-doctor/connect-doctor/tenant"
)

func ExampleClient_AsApp() {
	// A stand-in for the tenant's Jira site.
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		fmt.Printf("Jira got %s %s with %s auth, User-Agent %q\n", r.Method, r.RequestURI, auth, r.UserAgent())
		if r.URL.Path == "/rest/api/2/permissions" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errorMessages":["You do not have permission to perform this action."],"errors":{}}`)
			return
		}
		fmt.Fprint(w, `{"accountId":"5b10ac8d82e05b22cc7d4ef5"}`)
	}))
	defer site.Close()

	tenant := &tenant.Tenant{ClientKey: "ck", BaseURL: site.URL, SharedSecret: "a-shared-secret-of-at-least-32-characters", State: tenant.StateInstalled}
	client := jira.New(jira.Options{AppKey: "com.example.doctor", Version: "1.0.0"})
	app := client.AsApp(tenant)

	resp, err := app.Call(context.Background(), http.MethodGet, "/rest/api/3/myself?expand=groups", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, string(resp.Body))

	_, err = app.Call(context.Background(), http.MethodGet, "/rest/api/2/permissions", nil)
	var apiErr *jira.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Identity, apiErr.Message())
	}

	_, err = app.Call(context.Background(), http.MethodGet, "https://elsewhere.example/rest/api/3/myself", nil)
	fmt.Println(errors.Is(err, jira.ErrAbsoluteURL))
	// Output:
	// Jira got GET /rest/api/3/myself?expand=groups with JWT auth, User-Agent "com.example.doctor/1.0.0 (connect-doctor)"
	// 200 {"accountId":"5b10ac8d82e05b22cc7d4ef5"}
	// Jira got GET /rest/api/2/permissions with JWT auth, User-Agent "com.example.doctor/1.0.0 (connect-doctor)"
	// 403 app You do not have permission to perform this action.
	// true
}

func ExampleClient_AsUser() {
	authServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"access_token":"user-token","expires_in":900,"token_type":"Bearer"}`)
	}))
	defer authServer.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("Jira got %s %s with %q\n", r.Method, r.RequestURI, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer site.Close()

	tenant := &tenant.Tenant{
		ClientKey: "ck", BaseURL: site.URL, OAuthClientID: "oauth-client-id",
		SharedSecret: "a-shared-secret-of-at-least-32-characters", State: tenant.StateInstalled,
	}
	tokens := oauth.NewCache(&oauth.Exchanger{TokenURL: authServer.URL}, oauth.CacheOptions{})
	client := jira.New(jira.Options{AppKey: "com.example.doctor", Version: "1.0.0", Tokens: tokens})
	user := client.AsUser(tenant, "5b10ac8d82e05b22cc7d4ef5", scope.Write)

	for range 2 {
		req, _ := http.NewRequest(http.MethodPut, "/rest/api/3/issue/TEST-1", strings.NewReader(`{"fields":{"summary":"Renamed"}}`))
		resp, err := user.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println("exchanges:", tokens.Stats().Exchanges)
	// Output:
	// Jira got PUT /rest/api/3/issue/TEST-1 with "Bearer user-token"
	// 204
	// Jira got PUT /rest/api/3/issue/TEST-1 with "Bearer user-token"
	// 204
	// exchanges: 1
}
