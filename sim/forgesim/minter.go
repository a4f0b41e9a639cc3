package forgesim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults used by a zero Minter.
const (
	DefaultAppID          = "ari:cloud:ecosystem::app/11111111-2222-3333-4444-555555555555"
	DefaultInstallationID = "ari:cloud:ecosystem::installation/66666666-7777-8888-9999-000000000000"
	DefaultEnvironmentID  = "ari:cloud:ecosystem::environment/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	DefaultCloudID        = "0c3c2d1e-1111-2222-3333-444455556666"
	DefaultSiteURL        = "https://example.atlassian.net"
	// DefaultLifetime is the FIT lifetime of the Forge docs example.
	DefaultLifetime = 25 * time.Second
	// Issuer is the FIT issuer.
	Issuer = "forge/invocation-token"
)

// Minter mints Forge Invocation Tokens. Zero fields take the defaults above;
// Key and KID must be set (the key a KeyHost publishes under KID).
type Minter struct {
	Key *rsa.PrivateKey
	KID string

	AppID           string
	InstallationID  string
	CloudID         string
	SiteURL         string
	APIBaseURL      string // default https://api.atlassian.com/ex/jira/<CloudID>
	EnvironmentType string // default PRODUCTION
	EnvironmentID   string
	ModuleType      string // default core:endpoint
	ModuleKey       string // default doctor-events
	Lifetime        time.Duration
	Now             func() time.Time
}

// Option changes one minted token.
type Option func(*mint)

type mint struct {
	kid      *string
	method   jwt.SigningMethod
	key      any
	lifetime time.Duration
	iat      *time.Time
	edits    []edit
}

type edit struct {
	path  string
	value any
	del   bool
}

// WithKID sets the header kid ("" removes it).
func WithKID(kid string) Option { return func(m *mint) { m.kid = &kid } }

// WithAlg signs with another algorithm: "RS256", "RS384", "RS512", "PS256"
// (with the minter's RSA key unless key is given), "HS256" (key []byte, by
// default the DER-free modulus bytes of the public key — the classic
// confusion attack), "ES256" (a fresh P-256 key) or "none".
func WithAlg(alg string, key any) Option {
	return func(m *mint) {
		m.method = jwt.GetSigningMethod(alg)
		m.key = key
		if alg == "none" {
			m.method = jwt.SigningMethodNone
		}
	}
}

// WithLifetime sets exp - iat.
func WithLifetime(d time.Duration) Option { return func(m *mint) { m.lifetime = d } }

// WithIssuedAt sets iat (and nbf) instead of the minter's clock.
func WithIssuedAt(t time.Time) Option { return func(m *mint) { m.iat = &t } }

// WithClaim sets a claim by dotted path ("app.environment.type"), creating
// objects on the way.
func WithClaim(path string, value any) Option {
	return func(m *mint) { m.edits = append(m.edits, edit{path: path, value: value}) }
}

// WithoutClaim deletes a claim by dotted path.
func WithoutClaim(path string) Option {
	return func(m *mint) { m.edits = append(m.edits, edit{path: path, del: true}) }
}

// WithPrincipal sets the invoking user (UI calls).
func WithPrincipal(accountID string) Option {
	return func(m *mint) {
		m.edits = append(m.edits, edit{path: "principal", value: accountID})
	}
}

func (mt *Minter) defaults() Minter {
	d := *mt
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&d.AppID, DefaultAppID)
	set(&d.InstallationID, DefaultInstallationID)
	set(&d.CloudID, DefaultCloudID)
	set(&d.SiteURL, DefaultSiteURL)
	set(&d.APIBaseURL, "https://api.atlassian.com/ex/jira/"+d.CloudID)
	set(&d.EnvironmentType, "PRODUCTION")
	set(&d.EnvironmentID, DefaultEnvironmentID)
	set(&d.ModuleType, "core:endpoint")
	set(&d.ModuleKey, "doctor-events")
	if d.Lifetime == 0 {
		d.Lifetime = DefaultLifetime
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// Claims returns the default claim set for a token issued at iat.
func (mt *Minter) Claims(iat time.Time, lifetime time.Duration) map[string]any {
	d := mt.defaults()
	if lifetime == 0 {
		lifetime = d.Lifetime
	}
	return map[string]any{
		"iss": Issuer,
		"aud": d.AppID,
		"iat": iat.Unix(),
		"nbf": iat.Unix(),
		"exp": iat.Add(lifetime).Unix(),
		"jti": RandomID(),
		"app": map[string]any{
			"id":             d.AppID,
			"installationId": d.InstallationID,
			"installation": map[string]any{
				"id": d.InstallationID,
				"contexts": []any{map[string]any{
					"name": "jira", "apiBaseUrl": d.APIBaseURL, "cloudId": d.CloudID,
				}},
			},
			"apiBaseUrl":  d.APIBaseURL,
			"appVersion":  "1.0.0",
			"environment": map[string]any{"type": d.EnvironmentType, "id": d.EnvironmentID},
			"module":      map[string]any{"type": d.ModuleType, "key": d.ModuleKey},
		},
	}
}

// Mint returns a signed FIT.
func (mt *Minter) Mint(opts ...Option) (string, error) {
	d := mt.defaults()
	m := mint{method: jwt.SigningMethodRS256, lifetime: d.Lifetime}
	for _, o := range opts {
		o(&m)
	}
	iat := d.Now()
	if m.iat != nil {
		iat = *m.iat
	}
	claims := mt.Claims(iat, m.lifetime)
	for _, e := range m.edits {
		setPath(claims, e.path, e.value, e.del)
	}
	if m.method == nil {
		return "", fmt.Errorf("forgesim: unknown alg")
	}
	tok := jwt.NewWithClaims(m.method, jwt.MapClaims(claims))
	kid := d.KID
	if m.kid != nil {
		kid = *m.kid
	}
	if kid != "" {
		tok.Header["kid"] = kid
	}
	key := m.key
	if key == nil {
		switch m.method.Alg() {
		case "none":
			key = jwt.UnsafeAllowNoneSignatureType
		case "HS256", "HS384", "HS512":
			if d.Key == nil {
				return "", fmt.Errorf("forgesim: no key")
			}
			key = d.Key.PublicKey.N.Bytes()
		case "ES256":
			ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return "", err
			}
			key = ek
		default:
			if d.Key == nil {
				return "", fmt.Errorf("forgesim: Minter.Key is nil")
			}
			key = d.Key
		}
	}
	return tok.SignedString(key)
}

// MustMint is Mint for tests; it panics on error.
func (mt *Minter) MustMint(opts ...Option) string {
	s, err := mt.Mint(opts...)
	if err != nil {
		panic(err)
	}
	return s
}

func setPath(m map[string]any, path string, v any, del bool) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if del {
				return
			}
			next = map[string]any{}
			m[p] = next
		} else {
			next = maps.Clone(next)
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if del {
		delete(m, last)
	} else {
		m[last] = v
	}
}

// RandomID returns 16 random bytes in hex.
func RandomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OAuthToken mints a JWT-shaped Forge OAuth access token that expires at exp,
// signed with a throwaway key (a remote treats it as opaque).
func OAuthToken(kind string, exp time.Time) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "forge-" + kind, "exp": exp.Unix(), "iat": exp.Add(-4 * time.Hour).Unix(), "jti": RandomID(),
	})
	s, _ := tok.SignedString(key)
	return s
}
