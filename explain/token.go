package explain

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

// Token kinds reported by DecodeToken.
const (
	KindConnectJWT      = "connect-jwt"         // HS256 JWT with a computed qsh
	KindConnectContext  = "connect-context-jwt" // qsh = "context-qsh"
	KindConnectInstall  = "connect-install-jwt" // RS256 lifecycle token from Jira
	KindAssertion       = "jwt-bearer-assertion"
	KindOAuthAccess     = "oauth-access-token"
	KindForgeInvocation = "forge-invocation-token"
	KindForgeContext    = "forge-context-token"
	KindJWT             = "jwt" // a JWT of no recognised kind
)

// Signature check outcomes.
const (
	SigNotChecked     = "not_checked"
	SigValid          = "valid"
	SigInvalid        = "invalid"
	SigValidPrevious  = "valid_with_previous_secret"
	SigNotVerifiable  = "not_verifiable" // alg is not HMAC: needs a public key
	assertionIssuerNS = "urn:atlassian:connect:clientid:"
)

// maxTokenLen bounds what DecodeToken will look at.
const maxTokenLen = 16 << 10

// ErrNotJWT is returned by DecodeToken for input that is not a compact JWS.
var ErrNotJWT = errors.New("not a JWT")

// TokenReport describes a JWT decoded without trusting it.
type TokenReport struct {
	Kind       string      `json:"kind"`
	Header     TokenHeader `json:"header"`
	Claims     TokenClaims `json:"claims"`
	ClaimNames []string    `json:"claimNames"`
	Times      []TokenTime `json:"times,omitempty"`
	Lifetime   string      `json:"lifetime,omitempty"`
	// Signature is one of not_checked, valid, invalid,
	// valid_with_previous_secret, not_verifiable.
	Signature string    `json:"signature"`
	QSH       *QSHCheck `json:"qshCheck,omitempty"`
	Problems  []string  `json:"problems,omitempty"`
	// Forge holds the Forge claims of a Forge Invocation Token or context
	// token (app, principal, context), decoded without trusting them.
	Forge *ForgeClaims `json:"forge,omitempty"`

	signingInput string
	sig          []byte
}

// TokenHeader is the JOSE header.
type TokenHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// TokenClaims are the claims Connect Doctor reads. Times are Unix seconds.
type TokenClaims struct {
	Issuer    string          `json:"iss,omitempty"`
	Subject   string          `json:"sub,omitempty"`
	Audience  []string        `json:"aud,omitempty"`
	IssuedAt  *int64          `json:"iat,omitempty"`
	ExpiresAt *int64          `json:"exp,omitempty"`
	NotBefore *int64          `json:"nbf,omitempty"`
	QSH       string          `json:"qsh,omitempty"`
	Scope     string          `json:"scope,omitempty"`
	Tenant    string          `json:"tnt,omitempty"`
	Context   json.RawMessage `json:"context,omitempty"`
	// TokenUse is what the token says it is (token_use, token_type or
	// typ claim: "access", "id", "refresh"), when it says so.
	TokenUse string `json:"tokenUse,omitempty"`
}

// TokenTime is one time claim in human form.
type TokenTime struct {
	Claim    string `json:"claim"`
	Unix     int64  `json:"unix"`
	Time     string `json:"time"`               // RFC 3339, UTC
	Relative string `json:"relative,omitempty"` // "expired 3m12s ago", set by CheckTimes
}

// QSHCheck compares the token's qsh with the request it was sent with.
type QSHCheck struct {
	Method           string `json:"method"`
	URI              string `json:"uri"`
	BasePath         string `json:"basePath,omitempty"`
	Canonical        string `json:"canonical"` // the canonical request we computed
	Expected         string `json:"expected"`  // its hash
	TokenQSH         string `json:"tokenQsh"`
	Match            bool   `json:"match"`
	ContextQSH       bool   `json:"contextQsh,omitempty"`
	VariantName      string `json:"variant,omitempty"` // the mistake that reproduces the token's qsh
	VariantCanonical string `json:"variantCanonical,omitempty"`
}

// rawClaims holds the raw JSON of the claims read, for lenient decoding.
type rawClaims struct {
	Iss, Sub, Aud, Iat, Exp, Nbf, QSH, Scope, Scp, Tnt, Context json.RawMessage
}

// looksLikeJWT reports whether s has the compact JWS shape.
func looksLikeJWT(s string) bool {
	if len(s) < 10 || len(s) > maxTokenLen || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/') {
			return false
		}
	}
	return strings.HasPrefix(s, "eyJ") || strings.HasPrefix(s, "ew")
}

// StripScheme removes an "Authorization:" prefix, a scheme and quotes that
// people paste along with a token.
func StripScheme(tok string) string {
	t := strings.TrimSpace(tok)
	if i := strings.IndexByte(t, ':'); i > 0 && strings.EqualFold(t[:i], "authorization") {
		t = strings.TrimSpace(t[i+1:])
	}
	for _, p := range []string{"jwt ", "bearer ", "JWT ", "Bearer "} {
		if len(t) > len(p) && strings.EqualFold(t[:len(p)], p) {
			t = strings.TrimSpace(t[len(p):])
			break
		}
	}
	if strings.HasPrefix(t, "jwt=") {
		t = t[4:]
	}
	return strings.Trim(t, "\"'<> ")
}

// DecodeToken decodes a compact JWT without verifying it: header, typed
// claims and absolute times. The signature is kept for VerifySignature.
// Problems records every irregularity found (missing exp, string times,
// padding, alg none…). Nothing in the report is trusted.
func DecodeToken(tok string) (*TokenReport, error) {
	tok = StripScheme(tok)
	if len(tok) > maxTokenLen {
		return nil, fmt.Errorf("%w: token longer than %d bytes", ErrNotJWT, maxTokenLen)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: expected 3 dot-separated parts, found %d", ErrNotJWT, len(parts))
	}
	r := &TokenReport{Signature: SigNotChecked, signingInput: parts[0] + "." + parts[1]}
	hb, err := b64(parts[0], &r.Problems, "header")
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url: %v", ErrNotJWT, err)
	}
	if err := json.Unmarshal(hb, &r.Header); err != nil {
		return nil, fmt.Errorf("%w: header is not a JSON object: %v", ErrNotJWT, err)
	}
	pb, err := b64(parts[1], &r.Problems, "payload")
	if err != nil {
		return r, fmt.Errorf("payload is not base64url: %w", err)
	}
	var names map[string]json.RawMessage
	if err := json.Unmarshal(pb, &names); err != nil {
		return r, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	r.ClaimNames = make([]string, 0, len(names))
	for k := range names {
		r.ClaimNames = append(r.ClaimNames, k)
	}
	slices.Sort(r.ClaimNames)
	rc := rawClaims{Iss: names["iss"], Sub: names["sub"], Aud: names["aud"], Iat: names["iat"], Exp: names["exp"], Nbf: names["nbf"],
		QSH: names["qsh"], Scope: names["scope"], Scp: names["scp"], Tnt: names["tnt"], Context: names["context"]}
	c := &r.Claims
	c.Issuer = str(rc.Iss, "iss", &r.Problems)
	c.Subject = str(rc.Sub, "sub", &r.Problems)
	c.QSH = str(rc.QSH, "qsh", &r.Problems)
	c.Tenant = str(rc.Tnt, "tnt", &r.Problems)
	for _, k := range []string{"token_use", "token_type", "typ"} {
		var v string
		if json.Unmarshal(names[k], &v) == nil && v != "" {
			c.TokenUse = v
			break
		}
	}
	c.Scope = scopeClaim(rc.Scope)
	if c.Scope == "" {
		c.Scope = scopeClaim(rc.Scp)
	}
	c.Audience = audience(rc.Aud, &r.Problems)
	if len(rc.Context) > 0 && string(rc.Context) != "null" {
		c.Context = rc.Context
	}
	c.IssuedAt = numericDate(rc.Iat, "iat", &r.Problems)
	c.ExpiresAt = numericDate(rc.Exp, "exp", &r.Problems)
	c.NotBefore = numericDate(rc.Nbf, "nbf", &r.Problems)
	for _, t := range []struct {
		name string
		v    *int64
	}{{"iat", c.IssuedAt}, {"nbf", c.NotBefore}, {"exp", c.ExpiresAt}} {
		if t.v != nil {
			r.Times = append(r.Times, TokenTime{Claim: t.name, Unix: *t.v, Time: time.Unix(*t.v, 0).UTC().Format(time.RFC3339)})
		}
	}
	if c.IssuedAt != nil && c.ExpiresAt != nil {
		r.Lifetime = human(time.Duration(*c.ExpiresAt-*c.IssuedAt) * time.Second)
	}
	if sig, err := b64(parts[2], &r.Problems, "signature"); err == nil {
		r.sig = sig
	} else {
		r.Problems = append(r.Problems, "signature part is not base64url")
	}
	switch {
	case r.Header.Alg == "":
		r.Problems = append(r.Problems, "header has no alg")
	case strings.EqualFold(r.Header.Alg, "none"):
		r.Problems = append(r.Problems, `alg is "none": the token is unsigned and every Atlassian verifier rejects it`)
	}
	r.Kind = classify(r)
	if r.Kind == KindForgeInvocation || r.Kind == KindForgeContext {
		r.Forge = decodeForge(names)
	}
	if c.ExpiresAt == nil && (r.Kind == KindConnectJWT || r.Kind == KindConnectContext || r.Kind == KindAssertion) {
		r.Problems = append(r.Problems, "no exp claim: Atlassian rejects JWTs without an expiry")
	}
	return r, nil
}

func classify(r *TokenReport) string {
	c := &r.Claims
	switch {
	case c.QSH == connect.ContextQSH:
		return KindConnectContext
	case strings.HasPrefix(c.Issuer, assertionIssuerNS):
		return KindAssertion
	case c.Issuer == "forge/invocation-token":
		return KindForgeInvocation
	case c.Issuer == "forge/context-token":
		return KindForgeContext
	case c.QSH != "" && strings.HasPrefix(r.Header.Alg, "RS"):
		return KindConnectInstall
	case c.QSH != "":
		return KindConnectJWT
	case c.Scope != "" || strings.Contains(c.Issuer, "auth.atlassian.com") ||
		strings.Contains(c.Issuer, "oauth-2-authorization-server") || hasAud(c.Audience, "api.atlassian.com"):
		return KindOAuthAccess
	case strings.HasPrefix(r.Header.Alg, "HS") && c.Issuer != "" && c.Subject == "" && len(c.Context) == 0:
		// An HS256 token with an issuer and no qsh is most likely a Connect
		// app JWT whose qsh was forgotten.
		return KindConnectJWT
	}
	return KindJWT
}

func hasAud(aud []string, sub string) bool {
	for _, a := range aud {
		if strings.Contains(a, sub) {
			return true
		}
	}
	return false
}

func b64(s string, problems *[]string, part string) ([]byte, error) {
	if strings.ContainsAny(s, "+/") {
		*problems = append(*problems, part+" uses standard base64 ('+' or '/'), JWTs use base64url")
		s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	}
	if strings.HasSuffix(s, "=") {
		*problems = append(*problems, part+" is padded with '=', JWTs use unpadded base64url")
		s = strings.TrimRight(s, "=")
	}
	return base64.RawURLEncoding.DecodeString(s)
}

func str(raw json.RawMessage, name string, problems *[]string) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		*problems = append(*problems, name+" is not a string")
		return strings.Trim(string(raw), `"`)
	}
	return s
}

func scopeClaim(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return strings.Join(l, " ")
	}
	return ""
}

func audience(raw json.RawMessage, problems *[]string) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l
	}
	*problems = append(*problems, "aud is neither a string nor a list of strings")
	return nil
}

func numericDate(raw json.RawMessage, name string, problems *[]string) *int64 {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		*problems = append(*problems, name+" is a string; it must be a number of seconds (NumericDate)")
		var s string
		_ = json.Unmarshal(raw, &s)
		raw = []byte(s)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e15 || f < -1e15 {
		*problems = append(*problems, name+" is not a number")
		return nil
	}
	v := int64(f)
	if v > 1e11 {
		*problems = append(*problems, name+" looks like milliseconds; NumericDate is seconds since 1970")
	}
	return &v
}

// CheckTimes fills the relative form of each time claim against now and
// returns the problems it sees (expired, issued in the future). A zero now
// leaves the report unchanged.
func (r *TokenReport) CheckTimes(now time.Time) {
	if now.IsZero() {
		return
	}
	for i := range r.Times {
		t := &r.Times[i]
		d := time.Unix(t.Unix, 0).Sub(now)
		switch t.Claim {
		case "exp":
			if d <= 0 {
				t.Relative = "expired " + human(-d) + " ago"
			} else {
				t.Relative = "expires in " + human(d)
			}
		case "iat":
			if d > 0 {
				t.Relative = "issued " + human(d) + " in the future"
			} else {
				t.Relative = "issued " + human(-d) + " ago"
			}
		case "nbf":
			if d > 0 {
				t.Relative = "not valid for another " + human(d)
			} else {
				t.Relative = "valid since " + human(-d)
			}
		}
	}
}

// human renders a duration compactly: 45s, 3m12s, 2h5m, 3d4h.
func human(d time.Duration) string {
	if d < 0 {
		return "-" + human(-d)
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m := int(d / time.Minute)
		s := int((d % time.Minute) / time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		m := int((d % time.Hour) / time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days := int(d / (24 * time.Hour))
		h := int((d % (24 * time.Hour)) / time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

// VerifySignature checks an HMAC signature against secret and, failing
// that, against each previous secret (constant-time comparison). It sets
// and returns r.Signature. The secrets never appear in the report.
func (r *TokenReport) VerifySignature(secret string, previous ...string) string {
	m, ok := jwt.GetSigningMethod(r.Header.Alg).(*jwt.SigningMethodHMAC)
	if !ok || r.sig == nil {
		if secret != "" || len(previous) > 0 {
			r.Signature = SigNotVerifiable
		}
		return r.Signature
	}
	if secret == "" && len(previous) == 0 {
		return r.Signature
	}
	if secret != "" && m.Verify(r.signingInput, r.sig, []byte(secret)) == nil {
		r.Signature = SigValid
		return r.Signature
	}
	for _, p := range previous {
		if p != "" && m.Verify(r.signingInput, r.sig, []byte(p)) == nil {
			r.Signature = SigValidPrevious
			return r.Signature
		}
	}
	if secret != "" {
		r.Signature = SigInvalid
	}
	return r.Signature
}

// CheckQSH compares the token's qsh with the canonical request for method
// and requestURI (path and query, or an absolute URL) relative to basePath.
// On a mismatch it searches the common mistakes for one that reproduces
// the token's qsh.
func (r *TokenReport) CheckQSH(method, requestURI, basePath string) *QSHCheck {
	canon := connect.CanonicalRequest(method, requestURI, basePath)
	q := &QSHCheck{
		Method: strings.ToUpper(method), URI: requestURI, BasePath: basePath,
		Canonical: canon, Expected: connect.QSH(canon), TokenQSH: r.Claims.QSH,
	}
	switch {
	case r.Claims.QSH == connect.ContextQSH:
		q.ContextQSH = true
	case r.Claims.QSH == "":
	case subtleEq(r.Claims.QSH, q.Expected):
		q.Match = true
	default:
		if v, ok := findVariant(method, requestURI, basePath, strings.ToLower(r.Claims.QSH)); ok {
			q.VariantName, q.VariantCanonical = v.name, v.canonical
		}
	}
	r.QSH = q
	return q
}

func subtleEq(a, b string) bool { return strings.EqualFold(a, b) }
