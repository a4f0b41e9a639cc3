package connect

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/internal/ttlcache"
	"github.com/connect-doctor/connect-doctor/tenant"
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
//
// The verifier never modifies the tenants returned, and relies on them not
// being modified by anyone: a lookup may hand the same record to many
// requests, and a cached verification remembers the record it was made
// with.
type TenantLookup interface {
	LookupTenant(ctx context.Context, clientKey string, fresh bool) (*tenant.Tenant, error)
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
	Tenant *tenant.Tenant
	Claims *Claims
}

// AccountID is the acting user's accountId, or "" for anonymous requests.
func (v *Verified) AccountID() string { return v.Claims.AccountID() }

// RequestVerifier verifies HS256 tokens signed by a tenant's shared secret.
type RequestVerifier struct {
	tenants   TenantLookup
	appKey    string
	basePath  string
	now       func() time.Time
	validator *jwt.Validator
	// verified remembers tokens whose signature already checked out, by
	// their exact text: AP.context.getToken() hands the same context token
	// to every API call for up to 15 minutes. A hit still re-reads the
	// tenant, requires its secret to be unchanged, and re-checks exp, the
	// qsh (a request other than the one remembered is canonicalised and
	// hashed) and the tenant state; nil disables it.
	verified *ttlcache.Cache[string, *verifiedToken]
	leeway   time.Duration
}

// verifiedToken is a cache entry: the decoded claims, the tenant record
// and secret that verified them, and the request whose canonical form was
// last found to hash to the token's qsh. Entries are shared between
// goroutines: only request is written after the entry is cached.
type verifiedToken struct {
	claims *Claims
	tenant *tenant.Tenant // the record the signature was checked against
	secret string
	exp    time.Time // claims.ExpiresAt (required, so never zero)
	// request is "METHOD requestURI" of a request that matched qsh. qsh
	// is a pure function of method, path and query, so the same request
	// again matches without canonicalizing and hashing it again.
	request atomic.Pointer[string]
}

// matches reports whether method and requestURI are the request that
// last matched qsh.
func (e *verifiedToken) matches(method, requestURI string) bool {
	r := e.request.Load()
	return r != nil && len(*r) == len(method)+1+len(requestURI) &&
		(*r)[:len(method)] == method && (*r)[len(method)] == ' ' && (*r)[len(method)+1:] == requestURI
}

// RequestVerifierOptions configures a RequestVerifier.
type RequestVerifierOptions struct {
	AppKey   string // our app key: tokens with this iss are our own outgoing tokens
	BasePath string // path of our baseUrl, removed before computing qsh
	Now      func() time.Time
	Leeway   time.Duration // 0 means DefaultLeeway
	// VerifiedCacheSize bounds the cache of already-verified tokens
	// (0 means 8192; negative disables it).
	VerifiedCacheSize int
}

// NewRequestVerifier builds a verifier for request and context tokens.
func NewRequestVerifier(tenants TenantLookup, o RequestVerifierOptions) *RequestVerifier {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	var cache *ttlcache.Cache[string, *verifiedToken]
	if o.VerifiedCacheSize >= 0 {
		if o.VerifiedCacheSize == 0 {
			o.VerifiedCacheSize = 8192
		}
		// No TTL: an entry is good until its token's exp, checked on use.
		cache = ttlcache.New[string, *verifiedToken](ttlcache.Options{Size: o.VerifiedCacheSize})
	}
	return &RequestVerifier{
		verified: cache,
		leeway:   o.Leeway,
		tenants:  tenants,
		appKey:   o.AppKey,
		basePath: strings.TrimSuffix(o.BasePath, "/"),
		now:      o.Now,
		validator: jwt.NewValidator(
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(o.Leeway),
			jwt.WithTimeFunc(o.Now),
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
	claims, ten, entry, err := v.cached(ctx, token)
	if claims == nil && err == nil {
		claims, ten, entry, err = v.parse(ctx, token, false)
	}
	if errors.Is(err, ErrBadSignature) && ten != nil {
		// The secret may have been rotated by a reinstall that another
		// instance handled: re-read the tenant once, bypassing caches.
		claims, ten, entry, err = v.parse(ctx, token, true)
	}
	if err != nil {
		return nil, err
	}
	if err := checkLifetime(claims); err != nil {
		err.ClientKey = ten.ClientKey
		return nil, err
	}
	switch o.Kind {
	case ContextToken:
		if claims.QSH != ContextQSH {
			return nil, &VerifyError{Err: ErrContextTokenRequired, Detail: "qsh is not \"context-qsh\"", ClientKey: ten.ClientKey}
		}
	default:
		if claims.QSH == "" {
			return nil, &VerifyError{Err: ErrQSHMissing, ClientKey: ten.ClientKey}
		}
		if claims.QSH == ContextQSH {
			return nil, &VerifyError{Err: ErrContextTokenNotAllowed, ClientKey: ten.ClientKey}
		}
		if entry == nil || !entry.matches(method, requestURI) {
			canonical := CanonicalRequest(method, requestURI, v.basePath)
			if !QSHMatches(canonical, claims.QSH) {
				return nil, &VerifyError{Err: ErrQSHMismatch, Canonical: canonical, ClientKey: ten.ClientKey,
					Detail: "expected the hash of " + canonical}
			}
			if entry != nil {
				r := method + " " + requestURI
				entry.request.Store(&r)
			}
		}
	}
	switch ten.State {
	case tenant.StateInstalled:
	case tenant.StateDisabled:
		if !o.AllowDisabled {
			return nil, &VerifyError{Err: ErrTenantDisabled, ClientKey: ten.ClientKey}
		}
	default:
		return nil, &VerifyError{Err: ErrTenantUninstalled, ClientKey: ten.ClientKey}
	}
	return &Verified{Tenant: ten, Claims: claims}, nil
}

// cached returns the claims of a token verified before, if its tenant's
// secret is unchanged and the token has not expired since. (nil, nil, nil,
// nil) means "not cached": verify it in full (which also reports an expiry
// with the same error as a first sight would).
//
// Of the time claims only exp needs checking again: iat and nbf were not in
// the future when the signature was checked, and time only moves on.
func (v *RequestVerifier) cached(ctx context.Context, token string) (*Claims, *tenant.Tenant, *verifiedToken, error) {
	if v.verified == nil {
		return nil, nil, nil, nil
	}
	e, ok := v.verified.Get(token)
	if !ok {
		return nil, nil, nil, nil
	}
	ten, err := v.tenants.LookupTenant(ctx, e.claims.Issuer, false)
	if err != nil {
		return nil, nil, nil, err
	}
	// Tenant records are never modified once read, so the same record
	// holds the same secret; another record (re-read from the store) must
	// hold an equal one.
	if ten != e.tenant && subtle.ConstantTimeCompare([]byte(ten.SharedSecret), []byte(e.secret)) != 1 {
		v.verified.Remove(token) // rotated by a reinstall: verify again
		return nil, nil, nil, nil
	}
	if !v.now().Before(e.exp.Add(v.leeway)) {
		v.verified.Remove(token)
		return nil, nil, nil, nil
	}
	return e.claims, ten, e, nil
}

// parse verifies the signature and the time claims, and returns the tenant
// that signed the token (also on a signature failure, so the caller can
// retry with a fresh read).
//
// This is the hot path of every request, so it decodes the compact token
// itself instead of going through jwt.Parser (which decodes the header into
// a map): the header must name HS256 exactly, the parts are strict
// base64url, the MAC is checked by golang-jwt's HS256 method (constant
// time) before any claim is trusted, and the time claims are then checked
// by golang-jwt's Validator with the same options a Parser would use.
func (v *RequestVerifier) parse(ctx context.Context, token string, fresh bool) (*Claims, *tenant.Tenant, *verifiedToken, error) {
	header, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return nil, nil, nil, &VerifyError{Err: ErrMalformedToken, Detail: "a JWT has three dot-separated parts"}
	}
	raw := []byte(token) // one copy; the segments below are slices of it
	var hbuf [256]byte
	hb, err := decodeSegment(hbuf[:0], raw[:len(header)])
	if err != nil {
		return nil, nil, nil, &VerifyError{Err: ErrMalformedToken, Detail: "header is not base64url"}
	}
	var h struct {
		Alg string `json:"alg"`
	}
	switch string(hb) {
	case `{"typ":"JWT","alg":"HS256"}`, `{"alg":"HS256","typ":"JWT"}`:
		h.Alg = "HS256" // the headers Atlassian and golang-jwt write
	default:
		if err := json.Unmarshal(hb, &h); err != nil {
			return nil, nil, nil, &VerifyError{Err: ErrMalformedToken, Detail: "header is not a JSON object"}
		}
	}
	if h.Alg != jwt.SigningMethodHS256.Alg() {
		return nil, nil, nil, &VerifyError{Err: ErrUnsupportedAlg, Detail: fmt.Sprintf("alg %.20q; request tokens are HS256", h.Alg)}
	}
	var pbuf [1024]byte
	pb, err := decodeSegment(pbuf[:0], raw[len(header)+1:len(header)+1+len(payload)])
	if err != nil {
		return nil, nil, nil, &VerifyError{Err: ErrMalformedToken, Detail: "claims are not base64url"}
	}
	var w wireClaims
	if err := json.Unmarshal(pb, &w); err != nil {
		return nil, nil, nil, &VerifyError{Err: ErrMalformedToken, Detail: "claims are not a valid JSON object"}
	}
	claims := w.claims()
	var sbuf [64]byte
	sb, err := decodeSegment(sbuf[:0], raw[len(token)-len(sig):])
	if err != nil {
		return nil, nil, nil, &VerifyError{Err: ErrMalformedToken, Detail: "signature is not base64url"}
	}
	iss := claims.Issuer
	if iss == "" {
		return nil, nil, nil, &VerifyError{Err: ErrMissingClaim, Detail: "iss"}
	}
	if iss == v.appKey || strings.HasPrefix(iss, "urn:atlassian:connect:") {
		return nil, nil, nil, ErrOwnToken
	}
	if len(iss) > 255 || strings.ContainsFunc(iss, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, nil, nil, &VerifyError{Err: ErrUnknownTenant, Detail: "iss cannot be a clientKey (too long or control characters)"}
	}
	ten, err := v.tenants.LookupTenant(ctx, iss, fresh)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(ten.SharedSecret) < MinSecretLength {
		return nil, ten, nil, &VerifyError{Err: ErrWeakSecret, ClientKey: ten.ClientKey}
	}
	if err := jwt.SigningMethodHS256.Verify(token[:len(header)+1+len(payload)], sb, []byte(ten.SharedSecret)); err != nil {
		return nil, ten, nil, &VerifyError{Err: ErrBadSignature, ClientKey: ten.ClientKey}
	}
	if err := v.validator.Validate(claims); err != nil {
		return nil, ten, nil, mapJWTError(err, ten.ClientKey)
	}
	claims.accountID, claims.accountIDSet = claims.accountIDFromClaims(), true // decoded once, after the MAC
	var entry *verifiedToken
	if v.verified != nil && claims.ExpiresAt != nil {
		entry = &verifiedToken{claims: claims, tenant: ten, secret: ten.SharedSecret, exp: claims.ExpiresAt.Time}
		v.verified.Add(token, entry)
	}
	return claims, ten, entry, nil
}

// wireClaims decodes the claims with fewer allocations than
// jwt.RegisteredClaims (whose NumericDate goes through json.Number).
type wireClaims struct {
	Iss     string           `json:"iss"`
	Sub     string           `json:"sub"`
	Aud     jwt.ClaimStrings `json:"aud"`
	Exp     numericDate      `json:"exp"`
	Iat     numericDate      `json:"iat"`
	Nbf     numericDate      `json:"nbf"`
	Jti     string           `json:"jti"`
	QSH     string           `json:"qsh"`
	Context json.RawMessage  `json:"context"`
}

func (w *wireClaims) claims() *Claims {
	return &Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: w.Iss, Subject: w.Sub, Audience: w.Aud, ID: w.Jti,
		ExpiresAt: w.Exp.date(), IssuedAt: w.Iat.date(), NotBefore: w.Nbf.date(),
	}, QSH: w.QSH, Context: w.Context}
}

// maxNumericDate bounds time claims (the year 9999), so a huge number never
// converts to a platform-dependent time.
const maxNumericDate = 253402300799

// MaxTokenLifetime caps exp - iat of incoming tokens. Atlassian's page and
// lifecycle tokens live 3 minutes and context tokens 15; a token meant to
// be valid for longer than an hour is refused whatever its signature.
const MaxTokenLifetime = time.Hour

// checkLifetime requires iat and refuses lifetimes beyond MaxTokenLifetime.
func checkLifetime(c *Claims) *VerifyError {
	if c.IssuedAt == nil {
		return &VerifyError{Err: ErrMissingClaim, Detail: "iat"}
	}
	if c.ExpiresAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > MaxTokenLifetime {
		return &VerifyError{Err: ErrLifetimeTooLong, Detail: fmt.Sprintf("exp is %s after iat; at most %s is accepted",
			c.ExpiresAt.Sub(c.IssuedAt.Time).Round(time.Second), MaxTokenLifetime)}
	}
	return nil
}

// numericDate is a JSON number of seconds since the epoch, remembering
// whether it was present.
type numericDate struct {
	sec float64
	set bool
}

func (n *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return fmt.Errorf("time claim %.20q is not a time", b)
	}
	n.sec, n.set = f, true
	return nil
}

func (n numericDate) date() *jwt.NumericDate {
	if !n.set {
		return nil
	}
	sec, frac := math.Modf(n.sec)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9)))
}

// decodeSegment decodes strict, unpadded base64url into dst's spare
// capacity (allocating only when it is too small).
func decodeSegment(dst []byte, seg []byte) ([]byte, error) {
	enc := base64.RawURLEncoding.Strict()
	n := enc.DecodedLen(len(seg))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := enc.Decode(dst, seg)
	return dst[:m], err
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
