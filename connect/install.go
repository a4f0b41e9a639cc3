package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/internal/keyset"
	"github.com/golang-jwt/jwt/v5"
)

// KeySource returns the RSA public key for a kid: InstallKeys, or a
// keyset.Static in tests.
type KeySource = keyset.Source

// InstallVerifier verifies the RS256 tokens that sign the installed and
// uninstalled callbacks (apiMigrations.signed-install).
type InstallVerifier struct {
	keys     KeySource
	baseURL  string
	basePath string
	parser   *jwt.Parser
}

// InstallVerifierOptions configures an InstallVerifier.
type InstallVerifierOptions struct {
	BaseURL string // our descriptor baseUrl: the required aud
	Now     func() time.Time
	Leeway  time.Duration // 0 means DefaultLeeway
}

// NewInstallVerifier builds the lifecycle verifier.
func NewInstallVerifier(keys KeySource, o InstallVerifierOptions) *InstallVerifier {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	base := strings.TrimSuffix(o.BaseURL, "/")
	return &InstallVerifier{
		keys:     keys,
		baseURL:  base,
		basePath: pathOf(base),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(o.Leeway),
			jwt.WithTimeFunc(o.Now),
			jwt.WithStrictDecoding(),
		),
	}
}

// Verify checks a lifecycle token: RS256 with a valid kid whose key the key
// server knows, aud = our baseUrl (trailing slash ignored), iss = the
// payload's clientKey, qsh = the hash of this request, exp and iat present.
// A context token or an HS256 token is refused.
func (v *InstallVerifier) Verify(ctx context.Context, method, requestURI, token, payloadClientKey string) (*Claims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	if len(token) > MaxTokenLength {
		return nil, ErrTokenTooLarge
	}
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, &VerifyError{Err: ErrInvalidKID, Detail: "no kid in the JWT header"}
		}
		key, err := v.keys.Key(ctx, kid)
		if err != nil {
			return nil, keyError(kid, err)
		}
		return key, nil
	})
	if err != nil {
		return nil, mapJWTError(err, payloadClientKey)
	}
	if err := checkLifetime(claims); err != nil {
		return nil, err
	}
	if !v.audienceOK(claims.Audience) {
		return nil, &VerifyError{Err: ErrAudience, Detail: "aud " + strings.Join(claims.Audience, ",") + ", expected " + v.baseURL}
	}
	if subtle.ConstantTimeCompare([]byte(claims.Issuer), []byte(payloadClientKey)) != 1 || payloadClientKey == "" {
		return nil, &VerifyError{Err: ErrIssuerMismatch, Detail: "iss does not equal the payload's clientKey"}
	}
	if claims.QSH == "" {
		return nil, &VerifyError{Err: ErrQSHMissing}
	}
	if claims.QSH == ContextQSH {
		return nil, &VerifyError{Err: ErrContextTokenNotAllowed, Detail: "lifecycle callbacks never accept context tokens"}
	}
	canonical := CanonicalRequest(method, requestURI, v.basePath)
	if subtle.ConstantTimeCompare([]byte(QSH(canonical)), []byte(claims.QSH)) != 1 {
		return nil, &VerifyError{Err: ErrQSHMismatch, Canonical: canonical, Detail: "expected the hash of " + canonical}
	}
	return claims, nil
}

func (v *InstallVerifier) audienceOK(aud jwt.ClaimStrings) bool {
	for _, a := range aud {
		if strings.TrimSuffix(a, "/") == v.baseURL {
			return true
		}
	}
	return false
}

// IsUnavailable reports whether err means a dependency (key server, store)
// failed, so the right answer is 503 and Jira should retry.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrKeyServer) || errors.Is(err, ErrStore)
}

// pathOf returns the path part of an absolute URL ("" for none).
func pathOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			return strings.TrimSuffix(u[j:], "/")
		}
		return ""
	}
	return strings.TrimSuffix(u, "/")
}

// BasePath returns the path of a base URL, without a trailing slash.
func BasePath(baseURL string) string { return pathOf(baseURL) }
