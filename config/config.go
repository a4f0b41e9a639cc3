// Package config reads Connect Doctor's settings from the environment, once,
// in main, and validates them; every other package receives the values it
// needs as arguments. An invalid setting is an error that names the variable.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/connect-doctor/connect-doctor/forge"
	"github.com/connect-doctor/connect-doctor/scope"
)

// Config is the validated configuration of the app.
type Config struct {
	Port              int
	BaseURL           string // our public base URL, no trailing slash
	DatabaseURL       string // empty: SQLite under DataDir
	DataDir           string
	AppKey            string
	Scopes            scope.Set
	InstallKeysURL    string
	AllowedHosts      []HostPattern
	EncryptionKey     []byte   // 32 bytes; nil in SQLite dev mode until generated
	PreviousKeys      [][]byte // older keys still accepted for decryption during a rotation
	OAuthTokenURL     string   // override for the JWT-bearer server (simulator); empty: chosen per tenant host
	APJSURL           string   // Atlassian's all.js, or the simulator's bridge
	CatalogFile       string
	LogLevel          slog.Level
	LogFormat         string // text | json
	ShutdownTimeout   time.Duration
	CheckHistoryLimit int // per-tenant history rows kept
	// UninstalledRetention: check history of tenants uninstalled for
	// longer than this is purged.
	UninstalledRetention time.Duration
	// LifecycleLogRetention: lifecycle_events rows older than this are
	// pruned hourly (LIFECYCLE_LOG_RETENTION, default 2160h = 90 days).
	LifecycleLogRetention  time.Duration
	ChecksPerMinute        int // per-site ceiling on /api/checks (per identity: app, user)
	AccountChecksPerMinute int // per-user limit on /api/checks, under the ceiling
	// MetricsAddr is a separate listener for /metrics (e.g. 127.0.0.1:9090);
	// MetricsToken, when set, puts /metrics on the public listener behind a
	// bearer token. With neither, /metrics is not served at all.
	MetricsAddr  string
	MetricsToken string
	// TrustedProxies are the addresses or CIDRs of the load balancers in
	// front of the app: only from them is X-Forwarded-For believed for the
	// client address (per-source limits, logs). Empty: the TCP peer is the
	// client.
	TrustedProxies []string
	// Forge Remote (issue 8): ForgeEnabled is false when FORGE_APP_ID is
	// unset, and the /forge routes are then not mounted. Forge holds the
	// validated FORGE_* settings.
	ForgeEnabled bool
	Forge        forge.Config
	// ForgeLicense, when set (FORGE_REQUIRE_LICENSE), refuses /forge/api
	// calls whose FIT carries no active Marketplace licence (issue 15).
	ForgeLicense *forge.LicensePolicy
	// ForgePreUninstallTimeout bounds the pre-uninstall call's work
	// (FORGE_PRE_UNINSTALL_TIMEOUT; Forge waits 55 s).
	ForgePreUninstallTimeout time.Duration
	// RateLimits configure the points budget shared by the instances
	// (JIRA_RATE_*, issue 17).
	RateLimits RateLimits
}

// RateLimits are the JIRA_RATE_* settings of the points budget.
type RateLimits struct {
	PoolPoints int64         // JIRA_RATE_POOL_POINTS: the app's pool per hour until Jira reports its quota
	Share      string        // JIRA_RATE_SHARE: borrow (equal share, idle capacity lent), lend-ahead (lent on projected spend too), equal (no borrowing), first-come
	LeaseMax   int64         // JIRA_RATE_LEASE_MAX: largest lease one instance takes for one tenant
	LeaseSpan  time.Duration // JIRA_RATE_LEASE_SPAN: a lease covers this much of the tenant's demand
	LeaseIdle  time.Duration // JIRA_RATE_LEASE_IDLE: an unused lease goes back to the ledger after this
	Tier       int           // JIRA_RATE_TIER: 1 (one pool per app) or 2 (a quota per tenant)
}

// Error is an invalid setting.
type Error struct {
	Var    string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %s", e.Var, e.Reason)
	}
	return fmt.Sprintf("config: %s=%q: %s", e.Var, e.Value, e.Reason)
}

// ErrInvalid is matched by every *Error via errors.Is.
var ErrInvalid = errors.New("invalid configuration")

// Is makes errors.Is(err, ErrInvalid) true for configuration errors.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Defaults.
const (
	DefaultPort           = 8080
	DefaultAppKey         = "connect-doctor"
	DefaultScopes         = "READ,ACT_AS_USER"
	DefaultInstallKeysURL = "https://connect-install-keys.atlassian.com"
	DefaultAllowedHosts   = "*.atlassian.net,*.jira.com,*.jira-dev.com"
	DefaultAPJSURL        = "https://connect-cdn.atl-paas.net/all.js"
)

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests) and validates it. All problems are reported together.
func Load(getenv func(string) string) (*Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	bad := func(k, v, reason string) { errs = append(errs, &Error{Var: k, Value: v, Reason: reason}) }

	c := &Config{}
	port, err := strconv.Atoi(get("PORT", strconv.Itoa(DefaultPort)))
	if err != nil || port < 1 || port > 65535 {
		bad("PORT", getenv("PORT"), fmt.Sprintf("must be a port number between 1 and 65535 (unset it for %d)", DefaultPort))
		port = DefaultPort // one error per cause: the BASE_URL default derived from PORT is not a second one
	}
	c.Port = port

	c.BaseURL = strings.TrimSuffix(get("BASE_URL", fmt.Sprintf("http://localhost:%d", port)), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		bad("BASE_URL", c.BaseURL, "must be an absolute http(s) URL such as https://doctor.example.com")
	} else if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		bad("BASE_URL", c.BaseURL, "must use https (Jira Cloud refuses plain http apps); http is only for localhost")
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("BASE_URL", c.BaseURL, "must not contain a query, fragment or user info")
	}

	c.DatabaseURL = get("DATABASE_URL", "")
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_URL", RedactDSN(c.DatabaseURL), "must be a postgres:// URL (leave it unset for the embedded SQLite database)")
		}
	}
	c.DataDir = get("DATA_DIR", "./data")

	c.AppKey = get("APP_KEY", DefaultAppKey)
	if err := ValidateAppKey(c.AppKey); err != nil {
		bad("APP_KEY", c.AppKey, err.Error())
	}
	c.Scopes, err = scope.ParseSet(get("CONNECT_SCOPES", DefaultScopes))
	if err != nil {
		bad("CONNECT_SCOPES", getenv("CONNECT_SCOPES"), err.Error()+"; use READ, WRITE, DELETE, PROJECT_ADMIN, ADMIN, ACT_AS_USER, ACCESS_EMAIL_ADDRESSES")
	} else {
		for _, s := range c.Scopes {
			if !s.Declarable() {
				bad("CONNECT_SCOPES", getenv("CONNECT_SCOPES"), fmt.Sprintf("%s cannot be declared by an app", s))
			}
		}
	}

	c.InstallKeysURL = strings.TrimSuffix(get("CONNECT_INSTALL_KEYS_URL", DefaultInstallKeysURL), "/")
	if u, err := url.Parse(c.InstallKeysURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopback(u.Hostname()))) {
		bad("CONNECT_INSTALL_KEYS_URL", c.InstallKeysURL, "must be an https URL (http only for loopback test servers)")
	}

	c.AllowedHosts, err = ParseHostPatterns(get("ALLOWED_HOSTS", DefaultAllowedHosts))
	if err != nil {
		bad("ALLOWED_HOSTS", getenv("ALLOWED_HOSTS"), err.Error())
	}

	if k := getenv("ENCRYPTION_KEY"); k != "" {
		key, err := ParseEncryptionKey(k)
		if err != nil {
			bad("ENCRYPTION_KEY", "", err.Error())
		}
		c.EncryptionKey = key
	} else if c.DatabaseURL != "" {
		bad("ENCRYPTION_KEY", "", "is required when DATABASE_URL is set: 32 random bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)")
	}

	if prev := getenv("ENCRYPTION_KEY_PREVIOUS"); prev != "" {
		if getenv("ENCRYPTION_KEY") == "" && c.DatabaseURL == "" { // with DATABASE_URL, the missing key is reported above
			bad("ENCRYPTION_KEY_PREVIOUS", "", "needs ENCRYPTION_KEY (the new key) to be set as well: a rotation reads old secrets under ENCRYPTION_KEY_PREVIOUS and writes them under ENCRYPTION_KEY")
		}
		for _, k := range strings.Split(prev, ",") {
			key, err := ParseEncryptionKey(k)
			if err != nil {
				bad("ENCRYPTION_KEY_PREVIOUS", "", "each comma-separated key "+err.Error())
				break
			}
			c.PreviousKeys = append(c.PreviousKeys, key)
		}
	}

	c.OAuthTokenURL = strings.TrimSuffix(get("OAUTH_TOKEN_URL", ""), "/")
	if c.OAuthTokenURL != "" {
		if u, err := url.Parse(c.OAuthTokenURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopback(u.Hostname()))) {
			bad("OAUTH_TOKEN_URL", c.OAuthTokenURL, "must be an https URL (http only for loopback test servers)")
		}
	}
	c.APJSURL = get("AP_JS_URL", DefaultAPJSURL)
	if u, err := url.Parse(c.APJSURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopback(u.Hostname()))) {
		bad("AP_JS_URL", c.APJSURL, "must be an https URL (http only for loopback test servers)")
	}
	c.CatalogFile = get("CATALOG_FILE", "")

	switch strings.ToLower(get("LOG_LEVEL", "info")) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("LOG_LEVEL", getenv("LOG_LEVEL"), "must be debug, info, warn or error")
	}
	c.LogFormat = strings.ToLower(get("LOG_FORMAT", "text"))
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", getenv("LOG_FORMAT"), "must be text or json")
	}
	c.ShutdownTimeout, err = time.ParseDuration(get("SHUTDOWN_TIMEOUT", "15s"))
	if err != nil || c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", getenv("SHUTDOWN_TIMEOUT"), "must be a positive duration such as 15s")
	}
	c.CheckHistoryLimit, err = strconv.Atoi(get("CHECK_HISTORY_LIMIT", "500"))
	if err != nil || c.CheckHistoryLimit < 1 {
		bad("CHECK_HISTORY_LIMIT", getenv("CHECK_HISTORY_LIMIT"), "must be a positive integer")
	}
	c.LifecycleLogRetention, err = time.ParseDuration(get("LIFECYCLE_LOG_RETENTION", "2160h"))
	if err != nil || c.LifecycleLogRetention <= 0 {
		bad("LIFECYCLE_LOG_RETENTION", getenv("LIFECYCLE_LOG_RETENTION"), "must be a positive duration such as 2160h (90 days)")
	}
	c.UninstalledRetention, err = time.ParseDuration(get("UNINSTALLED_RETENTION", "720h"))
	if err != nil || c.UninstalledRetention <= 0 {
		bad("UNINSTALLED_RETENTION", getenv("UNINSTALLED_RETENTION"), "must be a positive duration such as 720h (30 days)")
	}
	c.ChecksPerMinute, err = strconv.Atoi(get("CHECKS_PER_MINUTE", "60"))
	if err != nil || c.ChecksPerMinute < 1 {
		bad("CHECKS_PER_MINUTE", getenv("CHECKS_PER_MINUTE"), "must be a positive integer")
	}
	if c.ChecksPerMinute > 0 {
		c.AccountChecksPerMinute, err = strconv.Atoi(get("ACCOUNT_CHECKS_PER_MINUTE", strconv.Itoa(max(1, c.ChecksPerMinute/3))))
		if err != nil || c.AccountChecksPerMinute < 1 || c.AccountChecksPerMinute > c.ChecksPerMinute {
			bad("ACCOUNT_CHECKS_PER_MINUTE", getenv("ACCOUNT_CHECKS_PER_MINUTE"), "must be a positive integer no larger than CHECKS_PER_MINUTE")
		}
	}
	c.MetricsAddr = get("METRICS_ADDR", "")
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			bad("METRICS_ADDR", c.MetricsAddr, "must be host:port, e.g. 127.0.0.1:9090 (a listener of its own for /metrics)")
		}
	}
	c.TrustedProxies = nil
	for _, p := range strings.Split(getenv("TRUSTED_PROXIES"), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("TRUSTED_PROXIES", p, "must be a comma-separated list of IP addresses or CIDRs of your load balancers, e.g. 10.0.0.0/8,192.0.2.7")
				continue
			}
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	c.MetricsToken = getenv("METRICS_TOKEN")
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		bad("METRICS_TOKEN", "", "must be at least 16 characters (generate one with: openssl rand -hex 16)")
	}
	var ferr error
	if c.Forge, c.ForgeEnabled, ferr = forge.ConfigFromEnv(getenv); ferr != nil {
		v := "FORGE_APP_ID"
		for _, name := range []string{"FORGE_IC_JWKS_URL", "FORGE_IC_LABELS", "FORGE_JWKS_URL", "FORGE_ALLOW_STAGING", "FORGE_ALLOWED_ENVIRONMENTS", "FORGE_API_HOSTS"} {
			if strings.Contains(ferr.Error(), name) {
				v = name
				break
			}
		}
		bad(v, getenv(v), ferr.Error())
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("FORGE_REQUIRE_LICENSE"))); v {
	case "", "false", "off":
	case "true", "on":
		c.ForgeLicense = &forge.LicensePolicy{}
	case "allow-absent":
		c.ForgeLicense = &forge.LicensePolicy{AllowAbsentInProduction: true}
	default:
		bad("FORGE_REQUIRE_LICENSE", v, "must be true, false or allow-absent")
	}
	if v := strings.TrimSpace(getenv("FORGE_PRE_UNINSTALL_TIMEOUT")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d >= 55*time.Second {
			bad("FORGE_PRE_UNINSTALL_TIMEOUT", v, "must be a duration from 1s to under 55s (Forge gives the pre-uninstall call 55 s), e.g. 50s")
		}
		c.ForgePreUninstallTimeout = d
	}
	c.RateLimits = RateLimits{PoolPoints: 65000, Share: "borrow", LeaseMax: 5000, LeaseSpan: 500 * time.Millisecond, LeaseIdle: 5 * time.Second, Tier: 1}
	for _, v := range []struct {
		name string
		dst  *int64
		lo   int64
	}{{"JIRA_RATE_POOL_POINTS", &c.RateLimits.PoolPoints, 1}, {"JIRA_RATE_LEASE_MAX", &c.RateLimits.LeaseMax, 1}} {
		if raw := strings.TrimSpace(getenv(v.name)); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n < v.lo {
				bad(v.name, raw, "must be a positive integer (points)")
				continue
			}
			*v.dst = n
		}
	}
	for _, v := range []struct {
		name   string
		dst    *time.Duration
		lo, hi time.Duration
	}{{"JIRA_RATE_LEASE_SPAN", &c.RateLimits.LeaseSpan, 10 * time.Millisecond, time.Minute},
		{"JIRA_RATE_LEASE_IDLE", &c.RateLimits.LeaseIdle, 100 * time.Millisecond, 30 * time.Minute}} {
		if raw := strings.TrimSpace(getenv(v.name)); raw != "" {
			d, err := time.ParseDuration(raw)
			if err != nil || d < v.lo || d > v.hi {
				bad(v.name, raw, fmt.Sprintf("must be a duration from %s to %s", v.lo, v.hi))
				continue
			}
			*v.dst = d
		}
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("JIRA_RATE_SHARE"))); v {
	case "":
	case "borrow", "lend-ahead", "equal", "first-come":
		c.RateLimits.Share = v
	default:
		bad("JIRA_RATE_SHARE", v, "must be borrow (equal shares, capacity lent once its time passed unused), lend-ahead (also lent ahead on projected spend), equal (no borrowing) or first-come")
	}
	switch v := strings.TrimSpace(getenv("JIRA_RATE_TIER")); v {
	case "", "1":
	case "2":
		c.RateLimits.Tier = 2
	default:
		bad("JIRA_RATE_TIER", v, "must be 1 (one pool per app, the default) or 2 (a quota per tenant, after Atlassian's review)")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// ValidateAppKey checks an app key the way the Connect descriptor schema
// does: 1–64 characters of letters, digits, "-", "_" and ".".
func ValidateAppKey(k string) error {
	if k == "" || len(k) > 64 {
		return errors.New("must be 1 to 64 characters long")
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("contains %q: only letters, digits, '-', '_' and '.' are allowed", r)
		}
	}
	return nil
}

// ParseEncryptionKey accepts 32 bytes as 64 hex characters or as standard or
// URL-safe base64.
func ParseEncryptionKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("must be 32 bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)")
}

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedactDSN hides the password of a database URL, also when the URL does
// not parse: everything between "scheme://" and the last "@" of the
// authority is hidden then, and so is any password=… parameter.
func RedactDSN(s string) string {
	if u, err := url.Parse(s); err == nil {
		if u.User == nil {
			return redactParams(s)
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return redactParams(u.String())
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return redactParams(s)
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = "xxxxx" + authority[at:]
	}
	return redactParams(scheme + "://" + authority + path)
}

// redactParams hides the value of password=… parameters (URL query or
// key=value DSN).
func redactParams(s string) string {
	lower := strings.ToLower(s)
	var b strings.Builder
	for {
		i := strings.Index(lower, "password=")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len("password=")
		end := strings.IndexAny(s[j:], "& ")
		if end < 0 {
			end = len(s) - j
		}
		b.WriteString(s[:j] + "xxxxx")
		s, lower = s[j+end:], lower[j+end:]
	}
}
