package loadtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

// Token lifetimes Jira uses: page and lifecycle tokens live 3 minutes,
// context tokens (AP.context.getToken) 15 minutes.
const (
	JiraPageTokenTTL    = 3 * time.Minute
	JiraContextTokenTTL = 15 * time.Minute
)

// emptyContext is the "context" claim Jira puts in page and lifecycle
// tokens when there is nothing to say.
var emptyContext = json.RawMessage(`{}`)

// InstallSigner plays Atlassian's side of signed install: it holds an RSA
// key under a kid, signs lifecycle callbacks with it (RS256), and serves
// the public key as the install key server does (GET /<kid> → PEM).
type InstallSigner struct {
	KID string
	key *rsa.PrivateKey
	pem []byte
}

// NewInstallSigner generates a 2048-bit key under a random kid
// ("loadgen-<16 hex>"). The app caches install keys by kid, so every
// process gets its own kid and never collides with a key cached earlier.
func NewInstallSigner() (*InstallSigner, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the install key: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return newInstallSigner("loadgen-"+hex.EncodeToString(b[:]), key)
}

func newInstallSigner(kid string, key *rsa.PrivateKey) (*InstallSigner, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the install key: %w", err)
	}
	return &InstallSigner{KID: kid, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, nil
}

// PublicKeyPEM is the PEM the key server answers for KID.
func (s *InstallSigner) PublicKeyPEM() []byte { return s.pem }

// ServeHTTP is the key server: GET or HEAD /<kid> answers the PEM public
// key; anything else is 404 (405 for other methods).
func (s *InstallSigner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if strings.TrimPrefix(r.URL.Path, "/") != s.KID {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(s.pem)
}

// InstallToken signs a lifecycle callback (POST requestURI, e.g.
// "/installed") exactly as Jira does with signed install: header alg RS256
// and kid; claims iss = clientKey, aud = [the app's baseUrl], qsh over the
// request with the baseUrl's path removed, iat, exp = iat + ttl (Jira: 3
// minutes) and an empty context.
func (s *InstallSigner) InstallToken(clientKey, appBaseURL, method, requestURI string, iat time.Time, ttl time.Duration) (string, error) {
	c := &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: clientKey, Audience: jwt.ClaimStrings{appBaseURL},
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}, QSH: connect.RequestQSH(method, requestURI, connect.BasePath(appBaseURL)), Context: emptyContext}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = s.KID
	return tok.SignedString(s.key)
}

// RequestToken mints the HS256 token Jira puts on an iframe page load or
// webhook: iss = clientKey, sub = the viewer's accountId ("" for none),
// qsh over method and requestURI with basePath removed (a jwt query
// parameter is ignored, as in the canonical request), iat and exp = iat +
// ttl, signed with the tenant's shared secret.
func RequestToken(t Tenant, accountID, method, requestURI, basePath string, iat time.Time, ttl time.Duration) (string, error) {
	c := &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: t.ClientKey, Subject: accountID,
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}, QSH: connect.RequestQSH(method, requestURI, basePath), Context: emptyContext}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(t.Secret))
}

// ContextToken mints the HS256 token AP.context.getToken() returns: iss =
// clientKey, sub = accountID ("" for an anonymous viewer), qsh
// "context-qsh", iat and exp = iat + ttl (Jira: 15 minutes).
func ContextToken(t Tenant, accountID string, iat time.Time, ttl time.Duration) (string, error) {
	c := &connect.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: t.ClientKey, Subject: accountID,
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}, QSH: connect.ContextQSH, Context: emptyContext}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(t.Secret))
}

// InstallPayload is the body Jira posts to /installed for t.
func InstallPayload(t Tenant, appKey string) connect.Payload {
	return connect.Payload{
		Key: appKey, ClientKey: t.ClientKey, SharedSecret: t.Secret, ServerVersion: "100276", PluginsVersion: "1001.0.0-SNAPSHOT",
		BaseURL: t.BaseURL, DisplayURL: t.BaseURL, ProductType: "jira", Description: "Atlassian JIRA at " + t.BaseURL,
		ServiceEntitlementNumber: "SEN-L" + t.ClientKey[strings.LastIndexByte(t.ClientKey, '-')+1:], EventType: connect.EventInstalled,
		OAuthClientID: "oauth-" + t.ClientKey, CloudID: "cloud-" + t.ClientKey,
		InstallationID: "ari:cloud:ecosystem::installation/" + t.ClientKey,
	}
}
