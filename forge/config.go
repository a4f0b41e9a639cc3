package forge

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Constants from forge.md §1.3.
const (
	// Issuer is the iss of every Forge Invocation Token.
	Issuer = "forge/invocation-token"
	// ProductionJWKSURL is Atlassian's production key set for FITs.
	ProductionJWKSURL = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json"
	// StagingJWKSURL is Atlassian's internal staging key set; trusted only
	// when Config.AllowStaging is set.
	StagingJWKSURL = "https://forge.cdn.stg.atlassian-dev.net/.well-known/jwks.json"
	// AppARIPrefix prefixes an app UUID to form the app ARI (the FIT aud).
	AppARIPrefix = "ari:cloud:ecosystem::app/"
	// DefaultLeeway is the clock-skew tolerance on exp, nbf and iat.
	DefaultLeeway = 5 * time.Second
	// DefaultMaxLifetime caps exp - iat of an accepted FIT. Atlassian
	// documents no lifetime (its example lives 25 s), so the cap is far
	// above anything Forge mints and only refuses tokens meant to last.
	DefaultMaxLifetime = time.Hour
	// DefaultReplayCacheSize bounds the jti replay cache.
	DefaultReplayCacheSize = 100_000
	// DefaultAPIHost is the only product API gateway trusted by default.
	DefaultAPIHost = "api.atlassian.com"
	// ICLabelPlaceholder is replaced by a FIT's icLabel in the Isolated
	// Cloud key set URL template (forge.md §1.3).
	ICLabelPlaceholder = "{IC_LABEL}"
	// ICLabelPattern is the only shape of icLabel that may select a key
	// set: it is read before the signature is checked.
	ICLabelPattern = `^[a-z0-9_-]{1,50}$`
)

var icLabelRE = regexp.MustCompile(ICLabelPattern)

// ValidICLabel reports whether label has the pinned icLabel shape
// (ICLabelPattern): lower-case letters, digits, "_" and "-", 1 to 50 bytes.
// A label of any other shape never reaches a URL.
func ValidICLabel(label string) bool { return icLabelRE.MatchString(label) }

// The Forge environment types (app.environment.type).
const (
	EnvProduction  = "PRODUCTION"
	EnvStaging     = "STAGING"
	EnvDevelopment = "DEVELOPMENT"
)

// Config configures a Verifier. The zero value of every optional field means
// the secure default.
type Config struct {
	// AppID is the app's ARI (ari:cloud:ecosystem::app/<uuid>) or bare
	// UUID, which is normalised to the ARI. Required.
	AppID string
	// JWKSURL is the key set to trust. Default ProductionJWKSURL. It is
	// never taken from a token.
	JWKSURL string
	// AllowStaging additionally trusts StagingJWKSURL (or StagingJWKSURL
	// field when set). Atlassian-internal; off by default.
	AllowStaging bool
	// StagingURL overrides StagingJWKSURL (tests).
	StagingURL string
	// AllowedEnvironments lists the accepted app.environment.type values
	// (case-insensitive) or exact app.environment.id ARIs. Default
	// {"PRODUCTION"}.
	AllowedEnvironments []string
	// Leeway is the clock-skew tolerance. Zero means DefaultLeeway; a
	// negative value means none. At most one minute.
	Leeway time.Duration
	// MaxLifetime caps exp - iat (0: DefaultMaxLifetime; at least one
	// minute).
	MaxLifetime time.Duration
	// ReplayCache turns on the jti replay cache; ReplayCacheSize bounds
	// it (default DefaultReplayCacheSize).
	ReplayCache     bool
	ReplayCacheSize int
	// APIHosts lists the hosts app.apiBaseUrl may point at (see
	// CheckAPIBaseURL). Default {"api.atlassian.com"}.
	APIHosts []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// HTTPClient fetches key sets. Default: a client with KeySetTimeout.
	HTTPClient *http.Client
	// KeySets shares cached key sets between verifiers. Default: a
	// private cache.
	KeySets *KeySets
	// ICKeySetURL is the Isolated Cloud key set URL template Atlassian
	// gives at onboarding; ICLabelPlaceholder is replaced by the label.
	// ICLabels lists the Isolated Cloud labels this backend serves: a
	// FIT's icLabel selects a key set only when it matches ICLabelPattern
	// and is listed here, never on its own. Both empty: FITs that carry an
	// icLabel are refused.
	ICKeySetURL string
	ICLabels    []string
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// NormalizeAppID turns a bare app UUID into the app ARI and checks an ARI's
// shape. It is applied to configuration only, never to a token.
func NormalizeAppID(id string) (string, error) {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return "", fmt.Errorf("%w: app id is empty (set FORGE_APP_ID to app.id from manifest.yml)", ErrConfig)
	case uuidRE.MatchString(id):
		return AppARIPrefix + strings.ToLower(id), nil
	case strings.HasPrefix(id, AppARIPrefix) && uuidRE.MatchString(strings.TrimPrefix(id, AppARIPrefix)):
		return AppARIPrefix + strings.ToLower(strings.TrimPrefix(id, AppARIPrefix)), nil
	}
	return "", fmt.Errorf("%w: app id %q is neither %s<uuid> nor a bare UUID", ErrConfig, id, AppARIPrefix)
}

// normalized returns a copy with defaults applied, or a config error.
func (c Config) normalized() (Config, error) {
	var err error
	if c.AppID, err = NormalizeAppID(c.AppID); err != nil {
		return c, err
	}
	if c.JWKSURL == "" {
		c.JWKSURL = ProductionJWKSURL
	}
	if c.StagingURL == "" {
		c.StagingURL = StagingJWKSURL
	}
	for _, u := range []string{c.JWKSURL, c.StagingURL} {
		if err := checkKeySetURL(u); err != nil {
			return c, err
		}
	}
	if err := c.checkIC(); err != nil {
		return c, err
	}
	if len(c.AllowedEnvironments) == 0 {
		c.AllowedEnvironments = []string{EnvProduction}
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	case c.Leeway < 0:
		c.Leeway = 0
	case c.Leeway > time.Minute:
		return c, fmt.Errorf("%w: leeway %v is more than a minute", ErrConfig, c.Leeway)
	}
	switch {
	case c.MaxLifetime == 0:
		c.MaxLifetime = DefaultMaxLifetime
	case c.MaxLifetime < time.Minute:
		return c, fmt.Errorf("%w: maximum FIT lifetime %v is less than a minute", ErrConfig, c.MaxLifetime)
	}
	if c.ReplayCacheSize <= 0 {
		c.ReplayCacheSize = DefaultReplayCacheSize
	}
	if len(c.APIHosts) == 0 {
		c.APIHosts = []string{DefaultAPIHost}
	}
	if err := checkAPIHosts(c.APIHosts); err != nil {
		return c, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// checkIC validates the Isolated Cloud settings: every label has the
// pinned shape and yields an absolute key set URL.
func (c Config) checkIC() error {
	switch {
	case len(c.ICLabels) > 0 && c.ICKeySetURL == "":
		return fmt.Errorf("%w: FORGE_IC_LABELS is set but FORGE_IC_JWKS_URL (the Isolated Cloud key set URL template) is not", ErrConfig)
	case c.ICKeySetURL != "" && !strings.Contains(c.ICKeySetURL, ICLabelPlaceholder):
		return fmt.Errorf("%w: FORGE_IC_JWKS_URL %q does not contain %s", ErrConfig, c.ICKeySetURL, ICLabelPlaceholder)
	}
	for _, l := range c.ICLabels {
		if !ValidICLabel(l) {
			return fmt.Errorf("%w: FORGE_IC_LABELS entry %.64q does not match %s", ErrConfig, l, ICLabelPattern)
		}
		if err := checkKeySetURL(c.icKeySetURL(l)); err != nil {
			return fmt.Errorf("FORGE_IC_JWKS_URL: %w", err)
		}
	}
	return nil
}

// icKeySetURL is the key set URL of a label already checked against
// ICLabelPattern (whose characters need no escaping in a URL).
func (c Config) icKeySetURL(label string) string {
	return strings.ReplaceAll(c.ICKeySetURL, ICLabelPlaceholder, label)
}

func checkKeySetURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%w: key set URL %q is not an absolute http(s) URL", ErrConfig, raw)
	}
	return nil
}

// allowsEnvironment applies the environment policy.
func (c Config) allowsEnvironment(env Environment) bool {
	for _, a := range c.AllowedEnvironments {
		if (env.Type != "" && strings.EqualFold(a, env.Type)) || (env.ID != "" && a == env.ID) {
			return true
		}
	}
	return false
}

// CheckAPIBaseURL checks that a FIT's app.apiBaseUrl is an https URL on one
// of the configured API hosts, so product calls (which carry the OAuth
// tokens) never go anywhere else.
func (v *Verifier) CheckAPIBaseURL(raw string) error {
	return checkAPIBaseURL(raw, v.cfg.APIHosts)
}

func checkAPIBaseURL(raw string, hosts []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: app.apiBaseUrl %q is not a plain absolute URL", ErrFITMalformed, raw)
	}
	host := strings.ToLower(u.Host)
	if u.Port() == "" {
		// A bare host entry (api.atlassian.com) matches https on port 443.
		if u.Scheme != "https" || !slices.Contains(hosts, host) {
			return fmt.Errorf("%w: app.apiBaseUrl %q is not https on one of FORGE_API_HOSTS %v", ErrFITMalformed, raw, hosts)
		}
		return nil
	}
	// host:port entries name a local gateway (tests, dev mode) exactly;
	// plain http is accepted only for such a loopback entry.
	if !slices.Contains(hosts, host) {
		return fmt.Errorf("%w: app.apiBaseUrl host %q is not in FORGE_API_HOSTS %v", ErrFITMalformed, u.Host, hosts)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return fmt.Errorf("%w: app.apiBaseUrl %q is plain http on a non-loopback host", ErrFITMalformed, raw)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkAPIHosts validates FORGE_API_HOSTS entries: a host name, or
// host:port for a local gateway.
func checkAPIHosts(hosts []string) error {
	for _, h := range hosts {
		u, err := url.Parse("https://" + h)
		if err != nil || u.Host != h || u.Path != "" || u.User != nil || u.Hostname() == "" {
			return fmt.Errorf("%w: FORGE_API_HOSTS entry %q is not a host name or host:port", ErrConfig, h)
		}
	}
	return nil
}

// ConfigFromEnv reads FORGE_APP_ID, FORGE_JWKS_URL, FORGE_ALLOW_STAGING,
// FORGE_ALLOWED_ENVIRONMENTS (comma-separated), FORGE_API_HOSTS
// (comma-separated), FORGE_IC_JWKS_URL and FORGE_IC_LABELS
// (comma-separated, taken as written: an upper-case label is an error). enabled is false when FORGE_APP_ID is unset, meaning the
// Forge routes stay off. The returned Config is validated.
func ConfigFromEnv(getenv func(string) string) (cfg Config, enabled bool, err error) {
	cfg.AppID = strings.TrimSpace(getenv("FORGE_APP_ID"))
	if cfg.AppID == "" {
		return Config{}, false, nil
	}
	cfg.JWKSURL = strings.TrimSpace(getenv("FORGE_JWKS_URL"))
	if cfg.JWKSURL != "" {
		if err := checkKeySetURL(cfg.JWKSURL); err != nil {
			return Config{}, true, fmt.Errorf("FORGE_JWKS_URL: %w", err)
		}
	}
	if s := strings.TrimSpace(getenv("FORGE_ALLOW_STAGING")); s != "" {
		if cfg.AllowStaging, err = strconv.ParseBool(s); err != nil {
			return Config{}, true, fmt.Errorf("%w: FORGE_ALLOW_STAGING=%q is not a boolean", ErrConfig, s)
		}
	}
	cfg.AllowedEnvironments = splitList(getenv("FORGE_ALLOWED_ENVIRONMENTS"), true)
	for _, e := range cfg.AllowedEnvironments {
		if !strings.HasPrefix(e, "ari:") && e != EnvProduction && e != EnvStaging && e != EnvDevelopment {
			return Config{}, true, fmt.Errorf("%w: FORGE_ALLOWED_ENVIRONMENTS entry %q is not PRODUCTION, STAGING, DEVELOPMENT or an environment ARI", ErrConfig, e)
		}
	}
	cfg.APIHosts = splitList(getenv("FORGE_API_HOSTS"), false)
	cfg.ICKeySetURL = strings.TrimSpace(getenv("FORGE_IC_JWKS_URL"))
	cfg.ICLabels = strings.FieldsFunc(getenv("FORGE_IC_LABELS"), func(r rune) bool { return r == ',' || r == ' ' })
	if _, err := cfg.normalized(); err != nil {
		return Config{}, true, err
	}
	return cfg, true, nil
}

func splitList(s string, upper bool) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if upper && !strings.HasPrefix(f, "ari:") {
			f = strings.ToUpper(f)
		} else if !upper {
			f = strings.ToLower(f)
		}
		out = append(out, f)
	}
	return out
}
