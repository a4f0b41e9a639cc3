package forge

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLen caps the size of an accepted FIT (real ones are a few KiB).
const MaxTokenLen = 16 << 10

// Verifier checks Forge Invocation Tokens. It is safe for concurrent use.
type Verifier struct {
	cfg    Config
	keys   []KeySource
	ic     map[string]KeySource // Isolated Cloud key sets by label
	parser *jwt.Parser
	replay *replayCache
}

// NewVerifier validates cfg and returns a Verifier whose key sets are the
// configured production (or FORGE_JWKS_URL) set and, with AllowStaging, the
// staging set.
func NewVerifier(cfg Config) (*Verifier, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	sets := cfg.KeySets
	if sets == nil {
		sets = NewKeySets(KeySetOptions{HTTPClient: cfg.HTTPClient, Now: cfg.Now})
	}
	keys := []KeySource{sets.For(cfg.JWKSURL)}
	if cfg.AllowStaging && cfg.StagingURL != cfg.JWKSURL {
		keys = append(keys, sets.For(cfg.StagingURL))
	}
	return newVerifier(cfg, keys, icKeySets(cfg, sets)), nil
}

// icKeySets builds one key set per configured Isolated Cloud label.
func icKeySets(cfg Config, sets *KeySets) map[string]KeySource {
	ic := make(map[string]KeySource, len(cfg.ICLabels))
	for _, l := range cfg.ICLabels {
		ic[l] = sets.For(cfg.icKeySetURL(l))
	}
	return ic
}

// NewVerifierWithKeys is NewVerifier with explicit key sources (e.g.
// StaticKeys in tests); JWKSURL, AllowStaging and KeySets are ignored.
// Isolated Cloud key sets still come from ICKeySetURL and ICLabels.
func NewVerifierWithKeys(cfg Config, keys ...KeySource) (*Verifier, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key source", ErrConfig)
	}
	return newVerifier(cfg, keys, icKeySets(cfg, NewKeySets(KeySetOptions{HTTPClient: cfg.HTTPClient, Now: cfg.Now}))), nil
}

func newVerifier(cfg Config, keys []KeySource, ic map[string]KeySource) *Verifier {
	v := &Verifier{cfg: cfg, keys: keys, ic: ic}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(cfg.AppID),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithStrictDecoding(),
	)
	if cfg.ReplayCache {
		v.replay = newReplayCache(cfg.ReplayCacheSize)
	}
	return v
}

// AppID is the normalised app ARI the verifier expects as aud.
func (v *Verifier) AppID() string { return v.cfg.AppID }

// BearerToken extracts the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive). Any other scheme, several Authorization
// headers, or a missing token is ErrFITMissing.
func BearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	if len(vals) == 0 {
		return "", ErrFITMissing
	}
	if len(vals) > 1 {
		return "", fmt.Errorf("%w: %d Authorization headers", ErrFITMissing, len(vals))
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization scheme is %q, not Bearer", ErrFITMissing, scheme)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%w: empty Bearer token", ErrFITMissing)
	}
	return tok, nil
}

// VerifyRequest verifies the FIT in r's Authorization header.
func (v *Verifier) VerifyRequest(r *http.Request) (*Claims, error) {
	tok, err := BearerToken(r.Header)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), tok)
}

// Verify checks a raw FIT and returns its claims. ctx bounds a key-set
// refresh. The returned error wraps exactly one Sentinel.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if raw == "" {
		return nil, ErrFITMissing
	}
	if len(raw) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrFITMalformed, MaxTokenLen)
	}
	claims := new(Claims)
	icUsed := ""
	tok, err := v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		// claims holds the payload decoded but not yet verified: icLabel
		// may choose among the configured key sets, nothing more.
		keys, err := v.keySources(claims.ICLabel)
		if err != nil {
			return nil, err
		}
		icUsed = claims.ICLabel
		return v.key(ctx, keys, kid)
	})
	if err != nil {
		return nil, classify(tok, err)
	}
	// The verified icLabel must name the key set that verified it.
	if claims.ICLabel != icUsed {
		return nil, fmt.Errorf("%w: verified icLabel %.64q, key set chosen for %.64q", ErrFITICLabel, claims.ICLabel, icUsed)
	}
	// Checks golang-jwt does not do.
	if len(claims.Audience) != 1 {
		return nil, fmt.Errorf("%w: aud has %d values, want exactly %q", ErrFITWrongAudience, len(claims.Audience), v.cfg.AppID)
	}
	if claims.App.ID != v.cfg.AppID {
		return nil, fmt.Errorf("%w: app.id %q, aud %q", ErrFITAppMismatch, claims.App.ID, claims.Audience[0])
	}
	if claims.IssuedAt == nil {
		return nil, fmt.Errorf("%w: iat", ErrFITClaimMissing)
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life > v.cfg.MaxLifetime {
		return nil, fmt.Errorf("%w: exp is %v after iat; at most %v is accepted", ErrFITLifetimeTooLong, life, v.cfg.MaxLifetime)
	}
	if claims.ID == "" {
		return nil, fmt.Errorf("%w: jti", ErrFITClaimMissing)
	}
	if claims.InstallationID() == "" {
		return nil, fmt.Errorf("%w: app.installationId", ErrFITClaimMissing)
	}
	if !v.cfg.allowsEnvironment(claims.App.Environment) {
		return nil, fmt.Errorf("%w: environment %s %s is not in %v", ErrFITDevEnvironment,
			orNone(claims.App.Environment.Type), claims.App.Environment.ID, v.cfg.AllowedEnvironments)
	}
	if v.replay != nil && !v.replay.check(claims.ID, claims.ExpiresAt.Add(v.cfg.Leeway), v.cfg.Now()) {
		return nil, fmt.Errorf("%w: jti %q", ErrFITReplayed, claims.ID)
	}
	return claims, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// keySources picks the key sets for a token's (unverified) icLabel: the
// configured production (and staging) sets without one; with one, only the
// Isolated Cloud set of a label that has the pinned shape and is listed in
// ICLabels. A label never falls back to another set.
func (v *Verifier) keySources(icLabel string) ([]KeySource, error) {
	if icLabel == "" {
		return v.keys, nil
	}
	if !ValidICLabel(icLabel) {
		return nil, fmt.Errorf("%w: icLabel %.64q does not match %s", ErrFITICLabel, icLabel, ICLabelPattern)
	}
	ks, ok := v.ic[icLabel]
	if !ok {
		return nil, fmt.Errorf("%w: icLabel %q is not in FORGE_IC_LABELS", ErrFITICLabel, icLabel)
	}
	return []KeySource{ks}, nil
}

// key looks kid up in each key source in turn; an unknown kid in one source
// moves on to the next.
func (v *Verifier) key(ctx context.Context, keys []KeySource, kid string) (*rsa.PublicKey, error) {
	if kid == "" {
		return nil, fmt.Errorf("%w: token header has no kid", ErrFITUnknownKID)
	}
	var firstErr error
	for _, ks := range keys {
		k, err := ks.Key(ctx, kid)
		if err == nil {
			return k, nil
		}
		err = keyError(kid, "the key set", err)
		if firstErr == nil || !errors.Is(err, ErrFITUnknownKID) {
			firstErr = err
		}
	}
	return nil, firstErr
}

// classify turns a golang-jwt error into one Sentinel, most specific first.
func classify(tok *jwt.Token, err error) error {
	var s *Sentinel
	if errors.As(err, &s) { // from the keyfunc
		return fmt.Errorf("%w (%v)", s, strings.TrimPrefix(err.Error(), "token is unverifiable: error while executing keyfunc: "))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	if tok != nil && tok.Header != nil {
		if alg, _ := tok.Header["alg"].(string); alg == "" {
			return fmt.Errorf("%w: header has no alg", ErrFITMalformed)
		} else if alg != "RS256" {
			return fmt.Errorf("%w: alg %q", ErrFITBadAlg, alg)
		}
	}
	for _, m := range []struct {
		jwtErr error
		ours   *Sentinel
	}{
		{jwt.ErrTokenMalformed, ErrFITMalformed},
		{jwt.ErrTokenSignatureInvalid, ErrFITBadSignature},
		{jwt.ErrTokenInvalidIssuer, ErrFITWrongIssuer},
		{jwt.ErrTokenInvalidAudience, ErrFITWrongAudience},
		{jwt.ErrTokenRequiredClaimMissing, ErrFITClaimMissing},
		{jwt.ErrTokenExpired, ErrFITExpired},
		{jwt.ErrTokenNotValidYet, ErrFITNotYetValid},
		{jwt.ErrTokenUsedBeforeIssued, ErrFITNotYetValid},
	} {
		if errors.Is(err, m.jwtErr) {
			return fmt.Errorf("%w (%v)", m.ours, err)
		}
	}
	return fmt.Errorf("%w (%v)", ErrFITMalformed, err)
}

type ctxKey struct{}

// Middleware verifies the FIT of every request, passes the claims on in
// the request context (ClaimsFromContext), and answers failures with
// onError: api/httperr.Write gives Connect Doctor's JSON envelope. A nil
// onError answers the failure's status (Sentinel.Status) with its code as
// plain text.
func (v *Verifier) Middleware(next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if onError == nil {
		onError = func(w http.ResponseWriter, _ *http.Request, err error) {
			status := http.StatusUnauthorized
			var s *Sentinel
			if errors.As(err, &s) {
				status = s.Status()
			}
			http.Error(w, Code(err), status)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.VerifyRequest(r)
		if err != nil {
			onError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
	})
}

// WithClaims returns ctx carrying verified claims.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// ClaimsFromContext returns the claims Middleware verified, if any.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok
}
