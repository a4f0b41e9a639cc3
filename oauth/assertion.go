package oauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/connect"
)

// Authorization servers for the JWT-bearer grant (connect-protocol.md §1.e).
const (
	ServerProduction     = "https://oauth-2-authorization-server.services.atlassian.com"
	ServerStaging        = "https://oauth-2-authorization-server.stg.services.atlassian.com"
	ServerFedRAMP        = "https://oauth-2-authorization-server.services.atlassian-us-gov-mod.com"
	ServerFedRAMPStaging = "https://oauth-2-authorization-server.stg.services.atlassian-us-gov-mod.com"
)

// GrantType is the OAuth grant used for user impersonation.
const GrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// AssertionLifetime is exp − iat of the assertions this package signs. The
// server refuses more than 60 s; the 10 s margin absorbs a clock that runs
// ahead of Atlassian's.
const AssertionLifetime = 50 * time.Second

// Issuer and subject prefixes of the assertion.
const (
	IssuerPrefix  = "urn:atlassian:connect:clientid:"
	SubjectPrefix = "urn:atlassian:connect:useraccountid:"
)

// ServerFor returns the authorization server for a tenant's baseUrl:
// staging for *.jira-dev.com, FedRAMP for *.atlassian-us-gov-mod.net
// (staging: *.atlassian-stg-fedm.net), production otherwise.
func ServerFor(tenantBaseURL string) string {
	host := tenantBaseURL
	if u, err := url.Parse(tenantBaseURL); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	hasSuffix := func(domain string) bool { return host == domain || strings.HasSuffix(host, "."+domain) }
	switch {
	case hasSuffix("jira-dev.com"):
		return ServerStaging
	case hasSuffix("atlassian-stg-fedm.net"):
		return ServerFedRAMPStaging
	case hasSuffix("atlassian-us-gov-mod.net"):
		return ServerFedRAMP
	}
	return ServerProduction
}

// Assertion is the content of a JWT-bearer assertion.
type Assertion struct {
	OAuthClientID string // the tenant's oauthClientId from the install payload
	AccountID     string // the user to act as
	TenantBaseURL string // the tenant baseUrl ("tnt"); Confluence's includes /wiki
	Audience      string // the authorization server's base URL
}

type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Tnt string `json:"tnt"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// Sign returns the HS256 assertion with iat = now and exp = now +
// AssertionLifetime. aud is a plain string, as Atlassian expects.
func (a Assertion) Sign(secret string, now time.Time) (string, error) {
	switch {
	case secret == "":
		return "", fmt.Errorf("%w: the tenant has no shared secret", ErrAssertion)
	case a.OAuthClientID == "":
		return "", fmt.Errorf("%w: the tenant has no oauthClientId (the install payload carries one only when the app declares ACT_AS_USER)", ErrAssertion)
	case a.AccountID == "":
		return "", fmt.Errorf("%w: no accountId to act as", ErrAssertion)
	case !validAccountID(a.AccountID):
		return "", fmt.Errorf("%w: accountId %q has characters an Atlassian accountId never has", ErrAssertion, a.AccountID)
	case a.TenantBaseURL == "":
		return "", fmt.Errorf("%w: the tenant has no baseUrl", ErrAssertion)
	case a.Audience == "":
		return "", fmt.Errorf("%w: no authorization server (audience)", ErrAssertion)
	}
	c := assertionClaims{
		Iss: IssuerPrefix + a.OAuthClientID,
		Sub: SubjectPrefix + a.AccountID,
		Tnt: a.TenantBaseURL,
		Aud: a.Audience,
		Iat: now.Unix(),
		Exp: now.Add(AssertionLifetime).Unix(),
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrAssertion, err)
	}
	return connect.SignHS256(payload, secret), nil
}

// validAccountID accepts the shapes Atlassian uses ("5b10ac8d82e05b22cc7d4ef5",
// "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "qm:…") and nothing that
// could smuggle structure into a URN.
func validAccountID(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ':' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
