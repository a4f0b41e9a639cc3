package connect

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultLeeway is the clock-skew tolerance applied to exp, iat and nbf.
const DefaultLeeway = 30 * time.Second

// MinSecretLength is the shortest shared secret accepted as an HMAC key.
const MinSecretLength = 16

// TenantLookup finds an installed tenant by clientKey. With fresh set it
// must bypass any cache: the verifier asks for a fresh copy once after a
// signature failure, so that a reinstall handled by another instance
// (which rotated the secret) never causes a 401 here. A missing tenant is
// reported with an error wrapping ErrUnknownTenant; a store failure with one
// wrapping ErrStore.
type TenantLookup interface {
	LookupTenant(ctx context.Context, clientKey string, fresh bool) (*Tenant, error)
}

// TokenKind selects the rules a route applies to incoming HS256 tokens. The
// kinds are mutually exclusive.
type TokenKind int

const (
	// RequestToken: iframe pages, webhooks and the enabled/disabled
	// callbacks. qsh must equal the hash of this request.
	RequestToken TokenKind = iota
	// ContextToken: calls from the app's own UI with AP.context.getToken().
	// qsh must be exactly "context-qsh".
	ContextToken
)

func (k TokenKind) String() string {
	if k == ContextToken {
		return "context"
	}
	return "request"
}

// Verified is the outcome of a successful verification.
type Verified struct {
	Tenant *Tenant
	Claims *Claims
}

// AccountID is the acting user's accountId, or "" for anonymous requests.
func (v *Verified) AccountID() string { return v.Claims.AccountID() }

// RequestVerifier verifies HS256 tokens signed by a tenant's shared secret.
type RequestVerifier struct {
	tenants  TenantLookup
	appKey   string
	basePath string
	now      func() time.Time
	parser   *jwt.Parser
}

// RequestVerifierOptions configures a RequestVerifier.
type RequestVerifierOptions struct {
	AppKey   string // our app key: tokens with this iss are our own outgoing tokens
	BasePath string // path of our baseUrl, removed before computing qsh
	Now      func() time.Time
	Leeway   time.Duration // 0 means DefaultLeeway
}

// NewRequestVerifier builds a verifier for request and context tokens.
func NewRequestVerifier(tenants TenantLookup, o RequestVerifierOptions) *RequestVerifier {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	return &RequestVerifier{
		tenants:  tenants,
		appKey:   o.AppKey,
		basePath: strings.TrimSuffix(o.BasePath, "/"),
		now:      o.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(o.Leeway),
			jwt.WithTimeFunc(o.Now),
			jwt.WithStrictDecoding(),
		),
	}
}

// VerifyOptions are per-route settings.
type VerifyOptions struct {
	Kind TokenKind
	// AllowDisabled accepts tokens from a tenant that disabled the app (the
	// enabled callback arrives while the tenant is still disabled).
	AllowDisabled bool
}

// Verify checks token for a request with the given method and raw request
// URI (path and query as sent). Errors wrap the package's sentinels.
func (v *RequestVerifier) Verify(ctx context.Context, method, requestURI, token string, o VerifyOptions) (*Verified, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	if len(token) > MaxTokenLength {
		return nil, ErrTokenTooLarge
	}
	claims, tenant, err := v.parse(ctx, token, false)
	if errors.Is(err, ErrBadSignature) && tenant != nil {
		// The secret may have been rotated by a reinstall that another
		// instance handled: re-read the tenant once, bypassing caches.
		claims, tenant, err = v.parse(ctx, token, true)
	}
	if err != nil {
		return nil, err
	}
	if claims.IssuedAt == nil {
		return nil, &VerifyError{Err: ErrMissingClaim, Detail: "iat", ClientKey: tenant.ClientKey}
	}
	switch o.Kind {
	case ContextToken:
		if claims.QSH != ContextQSH {
			return nil, &VerifyError{Err: ErrContextTokenRequired, Detail: "qsh is not \"context-qsh\"", ClientKey: tenant.ClientKey}
		}
	default:
		if claims.QSH == "" {
			return nil, &VerifyError{Err: ErrQSHMissing, ClientKey: tenant.ClientKey}
		}
		if claims.QSH == ContextQSH {
			return nil, &VerifyError{Err: ErrContextTokenNotAllowed, ClientKey: tenant.ClientKey}
		}
		canonical := CanonicalRequest(method, requestURI, v.basePath)
		if subtle.ConstantTimeCompare([]byte(QSH(canonical)), []byte(claims.QSH)) != 1 {
			return nil, &VerifyError{Err: ErrQSHMismatch, Canonical: canonical, ClientKey: tenant.ClientKey,
				Detail: "expected the hash of " + canonical}
		}
	}
	switch tenant.State {
	case StateInstalled:
	case StateDisabled:
		if !o.AllowDisabled {
			return nil, &VerifyError{Err: ErrTenantDisabled, ClientKey: tenant.ClientKey}
		}
	default:
		return nil, &VerifyError{Err: ErrTenantUninstalled, ClientKey: tenant.ClientKey}
	}
	return &Verified{Tenant: tenant, Claims: claims}, nil
}

// parse verifies the signature and the time claims, and returns the tenant
// that signed the token (also on a signature failure, so the caller can
// retry with a fresh read).
func (v *RequestVerifier) parse(ctx context.Context, token string, fresh bool) (*Claims, *Tenant, error) {
	claims := &Claims{}
	var tenant *Tenant
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		iss := claims.Issuer
		if iss == "" {
			return nil, &VerifyError{Err: ErrMissingClaim, Detail: "iss"}
		}
		if iss == v.appKey || strings.HasPrefix(iss, "urn:atlassian:connect:") {
			return nil, ErrOwnToken
		}
		tn, err := v.tenants.LookupTenant(ctx, iss, fresh)
		if err != nil {
			return nil, err
		}
		tenant = tn
		if len(tn.SharedSecret) < MinSecretLength {
			return nil, ErrWeakSecret
		}
		return []byte(tn.SharedSecret), nil
	})
	if err != nil {
		ck := ""
		if tenant != nil {
			ck = tenant.ClientKey
		}
		return nil, tenant, mapJWTError(err, ck)
	}
	return claims, tenant, nil
}

// mapJWTError turns golang-jwt's errors into this package's sentinels; our
// own sentinels returned from a key function are kept.
func mapJWTError(err error, clientKey string) error {
	for _, own := range []error{ErrOwnToken, ErrUnknownTenant, ErrStore, ErrWeakSecret, ErrInvalidKID,
		ErrUnknownKID, ErrKeyServer, ErrMissingClaim} {
		if errors.Is(err, own) {
			var ve *VerifyError
			if errors.As(err, &ve) {
				return ve
			}
			if own == ErrStore || own == ErrKeyServer {
				return err
			}
			return &VerifyError{Err: own, ClientKey: clientKey, Detail: detail(err, own)}
		}
	}
	var sentinel error
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		sentinel = ErrMalformedToken
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		sentinel = ErrBadSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		sentinel = ErrMissingClaim
	case errors.Is(err, jwt.ErrTokenExpired):
		sentinel = ErrExpired
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		sentinel = ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		sentinel = ErrUnsupportedAlg
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		sentinel = ErrMalformedToken
	default:
		sentinel = ErrMalformedToken
	}
	// golang-jwt reports a disallowed alg as "signing method … is invalid"
	// wrapped in ErrTokenSignatureInvalid; tell it apart from a bad MAC.
	if sentinel == ErrBadSignature && strings.Contains(err.Error(), "signing method") {
		sentinel = ErrUnsupportedAlg
	}
	return &VerifyError{Err: sentinel, ClientKey: clientKey, Detail: trimJWTMessage(err)}
}

func detail(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i >= 0 {
		msg = strings.TrimPrefix(msg[i+len(sentinel.Error()):], ": ")
	}
	return msg
}

func trimJWTMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "token has invalid claims: ")
	return msg
}

// ErrorWithDetail adds context to a sentinel.
func ErrorWithDetail(sentinel error, format string, a ...any) error {
	return &VerifyError{Err: sentinel, Detail: fmt.Sprintf(format, a...)}
}
