package connect_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// tenants is the smallest TenantLookup: a map of installed sites. A real
// app passes its store (storage.TenantCache).
type tenants map[string]*tenant.Tenant

func (m tenants) LookupTenant(_ context.Context, clientKey string, _ bool) (*tenant.Tenant, error) {
	if t, ok := m[clientKey]; ok {
		return t, nil
	}
	return nil, connect.ErrUnknownTenant
}

// A Connect app verifies the JWT Jira signs when it loads one of the app's
// pages (iss = the site's clientKey, HS256 with the shared secret from the
// installed callback, qsh over the request).
func ExampleRequestVerifier_Verify() {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	site := &tenant.Tenant{ClientKey: "ck-acme", BaseURL: "https://acme.atlassian.net",
		SharedSecret: "the-shared-secret-from-installed", State: tenant.StateInstalled}
	v := connect.NewRequestVerifier(tenants{site.ClientKey: site}, connect.RequestVerifierOptions{
		AppKey: "com.example.app", Now: func() time.Time { return now }})

	// What Jira sends: GET /admin?lic=none&jwt=<token>.
	uri := "/admin?lic=none"
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, connect.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: site.ClientKey, Subject: "5b10ac8d82e05b22cc7d4ef5",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute))},
		QSH: connect.RequestQSH("GET", uri, ""),
	}).SignedString([]byte(site.SharedSecret))

	got, err := v.Verify(context.Background(), "GET", uri, token, connect.VerifyOptions{})
	fmt.Println(got.Tenant.ClientKey, got.AccountID(), err)

	// The same token for another request fails the qsh check.
	_, err = v.Verify(context.Background(), "GET", "/admin?lic=active", token, connect.VerifyOptions{})
	fmt.Println(errors.Is(err, connect.ErrQSHMismatch), connect.ProblemFor(err).Code)
	// Output:
	// ck-acme 5b10ac8d82e05b22cc7d4ef5 <nil>
	// true qsh_mismatch
}
