package jirasim

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/scope"
)

// The JWT-bearer grant (connect-protocol.md §1.e).
const (
	grantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	clientIDPrefix     = "urn:atlassian:connect:clientid:"
	accountIDPrefix    = "urn:atlassian:connect:useraccountid:"
	userKeyPrefix      = "urn:atlassian:connect:userkey:"
	// AccessTokenLifetime is the expires_in of every access token.
	AccessTokenLifetime = 900 * time.Second
	maxAssertionAhead   = 60 // seconds: exp may be at most this far in the future
)

// accessToken is an issued impersonation token.
type accessToken struct {
	appKey    string
	accountID string
	scopes    scope.Set
	expires   time.Time
}

// assertionClaims are the claims of a JWT-bearer assertion.
type assertionClaims struct {
	jwt.RegisteredClaims
	Tnt string `json:"tnt"`
}

// oauthError is an RFC 6749 §5.2 error.
type oauthError struct {
	status int
	code   string
	desc   string
}

func grantErr(desc string, a ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", fmt.Sprintf(desc, a...)}
}

// serveKey is the install key server: GET /<kid> answers the PEM key.
func (s *Sim) serveKey(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.takeFault(KeyServerDown, ""); ok {
		s.log.Info("jirasim: key server down (fault)", "path", r.URL.Path)
		if f.Drop {
			dropConnection(w)
			return
		}
		status := http.StatusInternalServerError
		if f.Status != 0 {
			status = f.Status
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	kid := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	var pem []byte
	for _, k := range s.keys {
		if k.kid == kid {
			pem = k.pem
		}
	}
	s.mu.Unlock()
	if pem == nil {
		// Like the CDN in front of a bucket: an unknown object is 404.
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(pem)
}

// serveToken is the OAuth 2.0 authorization server's token endpoint.
func (s *Sim) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth2/token" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "No such endpoint"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	appKey := s.peekAssertionApp(r)
	if f, ok := s.takeFault(TokenServerDown, appKey); ok {
		s.log.Info("jirasim: token server down (fault)")
		if f.Drop {
			dropConnection(w)
			return
		}
		status := http.StatusServiceUnavailable
		if f.Status != 0 {
			status = f.Status
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Server", "envoy")
		w.WriteHeader(status)
		fmt.Fprint(w, "upstream connect error or disconnect/reset before headers. reset reason: connection failure")
		return
	}
	resp, oerr := s.token(r)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if oerr != nil {
		s.log.Info("jirasim: token request refused", "error", oerr.code, "description", oerr.desc)
		writeJSON(w, oerr.status, map[string]string{"error": oerr.code, "error_description": oerr.desc})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// peekAssertionApp finds which app a token request claims to come from,
// without trusting it (only to pick per-app faults).
func (s *Sim) peekAssertionApp(r *http.Request) string {
	if r.Method != http.MethodPost {
		return ""
	}
	if err := r.ParseForm(); err != nil {
		return ""
	}
	var c assertionClaims
	if _, _, err := jwt.NewParser().ParseUnverified(r.PostForm.Get("assertion"), &c); err != nil {
		return ""
	}
	id := strings.TrimPrefix(c.Issuer, clientIDPrefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.installs {
		if in.OAuthClientID == id {
			return in.AppKey
		}
	}
	return ""
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

func (s *Sim) token(r *http.Request) (*tokenResponse, *oauthError) {
	if r.Method != http.MethodPost {
		return nil, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST"}
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "The request body must be application/x-www-form-urlencoded"}
	}
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "The request body could not be parsed"}
	}
	f := r.PostForm
	gt := f.Get("grant_type")
	switch {
	case gt == "":
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "Missing grant_type parameter"}
	case gt != grantTypeJWTBearer:
		return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Unsupported grant type: %s", gt)}
	}
	assertion := f.Get("assertion")
	if assertion == "" {
		return nil, &oauthError{http.StatusBadRequest, "invalid_request", "Missing assertion parameter"}
	}
	if len(assertion) > 8192 {
		return nil, grantErr("The assertion is too large")
	}

	// Find the tenant from the (unverified) issuer, then verify.
	var peek assertionClaims
	if _, _, err := jwt.NewParser().ParseUnverified(assertion, &peek); err != nil {
		return nil, grantErr("The assertion is not a valid JWT")
	}
	clientID, ok := strings.CutPrefix(peek.Issuer, clientIDPrefix)
	if !ok || clientID == "" {
		return nil, grantErr("Invalid issuer: expected %s<oauthClientId>", clientIDPrefix)
	}
	s.mu.Lock()
	var in *install
	for _, cand := range s.installs {
		if cand.OAuthClientID == clientID && cand.installed {
			c := *cand
			in = &c
		}
	}
	s.mu.Unlock()
	if in == nil {
		return nil, &oauthError{http.StatusUnauthorized, "invalid_client", "Unknown client: no installed app has this oauthClientId"}
	}
	now := s.siteNow(in.AppKey)
	var c assertionClaims
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
		// No iat-in-the-future check: with clock skew the server reports
		// the exp rule ("too far in the future"), the documented symptom.
	).ParseWithClaims(assertion, &c, func(*jwt.Token) (any, error) { return []byte(in.SharedSecret), nil })
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenMalformed):
		return nil, grantErr("Invalid assertion signature")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, grantErr("The assertion must carry an expiration timestamp (exp)")
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, grantErr("Assertion has expired")
	case err != nil:
		return nil, grantErr("Invalid assertion: %v", err)
	}
	ahead := int(c.ExpiresAt.Sub(now) / time.Second)
	tooLong := c.IssuedAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > maxAssertionAhead*time.Second
	if ahead > maxAssertionAhead || tooLong {
		if ahead < 0 {
			ahead = 0
		}
		return nil, grantErr("Expiration timestamp too far in the future [was %d seconds from now; please set `exp` to no more than %d seconds after issue time]", ahead, maxAssertionAhead)
	}
	if aud := c.Audience; len(aud) != 1 || strings.TrimSuffix(aud[0], "/") != s.authURL {
		return nil, grantErr("Invalid audience: the assertion's aud must be %s", s.authURL)
	}
	if strings.TrimSuffix(c.Tnt, "/") != s.siteURL {
		return nil, grantErr("Invalid tenant: tnt must be the site's baseUrl %s", s.siteURL)
	}
	if !in.Scopes.Has(scope.ActAsUser) {
		return nil, &oauthError{http.StatusBadRequest, "unauthorized_client", "The authenticated client is not authorized to use this authorization grant type"}
	}
	if !in.Enabled {
		return nil, &oauthError{http.StatusBadRequest, "unauthorized_client", "The app is disabled on this site"}
	}
	if strings.HasPrefix(c.Subject, userKeyPrefix) {
		return nil, grantErr("User keys are no longer supported; identify the user with %s<accountId>", accountIDPrefix)
	}
	accountID, ok := strings.CutPrefix(c.Subject, accountIDPrefix)
	if !ok || accountID == "" {
		return nil, grantErr("Invalid subject: expected %s<accountId>", accountIDPrefix)
	}
	s.mu.Lock()
	u := s.userLocked(accountID)
	var active bool
	if u != nil {
		active = u.Active
	}
	s.mu.Unlock()
	switch {
	case u == nil:
		return nil, grantErr("Unknown user: %s", accountID)
	case !active:
		return nil, grantErr("The user %s is not active", accountID)
	}

	granted := in.Scopes
	if raw, ok := f["scope"]; ok {
		var err error
		if granted, err = narrowScopes(strings.Join(raw, " "), in.Scopes); err != nil {
			return nil, &oauthError{http.StatusBadRequest, "invalid_scope", err.Error()}
		}
	}

	s.mu.Lock()
	tok := s.randomString(86)
	s.tokens[tok] = &accessToken{appKey: in.AppKey, accountID: accountID, scopes: granted, expires: now.Add(AccessTokenLifetime)}
	s.mu.Unlock()
	s.log.Info("jirasim: user token issued", "app", in.AppKey, "user", accountID, "scopes", granted.String())
	return &tokenResponse{AccessToken: tok, ExpiresIn: int(AccessTokenLifetime / time.Second), TokenType: "Bearer"}, nil
}

// narrowScopes reads a space-separated scope parameter. Each name must be
// a declarable Connect scope the app's own scopes allow.
func narrowScopes(param string, app scope.Set) (scope.Set, error) {
	var out scope.Set
	for name := range strings.FieldsSeq(param) {
		sc, err := scope.Parse(name)
		if err != nil || !sc.Declarable() || strings.ContainsAny(name, "-+,") {
			return nil, fmt.Errorf("Unknown scope %q (scopes are upper-case Connect scope names separated by spaces)", name)
		}
		if !app.Allows(sc) {
			return nil, fmt.Errorf("The scope %s was not granted to the app", sc)
		}
		if !out.Has(sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("The scope parameter is empty")
	}
	return out, nil
}
