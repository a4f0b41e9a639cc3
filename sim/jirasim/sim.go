package jirasim

import (
	"github.com/connect-doctor/connect-doctor/sim/ratesim"

	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

// Options configures a simulator. The zero value is a usable, deterministic
// simulator with the default users.
type Options struct {
	// Now is the simulator's clock (default time.Now). A ClockSkew fault is
	// added on top of it.
	Now func() time.Time
	// Seed feeds the random generator behind every id, secret, key id and
	// token, so a fixed seed gives the same values run after run.
	Seed int64
	// Catalog lists the REST operations the site knows; nil means
	// catalog.Default().
	Catalog *catalog.Catalog
	// Users replaces the default users (a site admin, a regular user with
	// Browse projects on DOC only, an inactive user). Roles are taken from
	// User.Role, or else inferred: the first active site admin is "admin",
	// the first active non-admin "user", the first inactive "inactive".
	Users []User
	// HTTPClient calls the app: descriptor fetch and lifecycle callbacks
	// (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Logger receives one line per decision the simulator takes (why a
	// request was refused, which callback was sent). Default: discard.
	Logger *slog.Logger

	// SiteAddr, KeyServerAddr and AuthServerAddr are the listen addresses
	// (default "127.0.0.1:0": a free loopback port each).
	SiteAddr, KeyServerAddr, AuthServerAddr string

	// ScopeDenialStatus is the status of an app JWT call whose operation
	// needs a Connect scope the app did not declare, or an INACCESSIBLE
	// operation. Default 403 (connect-protocol.md §3.1).
	ScopeDenialStatus int
	// ScopeDenialMessage is the message of that refusal. Default
	// "Request not in an authorized API scope" (the 2016 Connect host
	// filter's text; the current cloud wording is not confirmed).
	ScopeDenialMessage string
	// UserTokenScopeDenialStatus is the status when an impersonation
	// (Bearer) token lacks the operation's Connect scope. Default 401 (the
	// /rest/api/2/permissions report in §3.1 and the data README).
	UserTokenScopeDenialStatus int
	// GetWithBodyStatus is the status of a GET carrying a body. Default 403
	// (ACE release notes, Jira CHANGE-2328).
	GetWithBodyStatus int
	// JWTLeeway is the tolerance on exp for app JWTs. Default 0: the notes
	// do not confirm any leeway on Jira's side. Set a negative value for
	// none explicitly (same as 0).
	JWTLeeway time.Duration
	// AppUsersNotAdmin, when true, creates app bot users without the
	// Administer Jira global permission. By default (false) a bot user is a
	// member of atlassian-addons-admin and holds Administer Jira, so the
	// app's declared scopes are what limits it (the 2017 "add-on
	// permissions update" note: Jira respects add-on scopes over
	// permissions). Not confirmed for current Jira Cloud.
	AppUsersNotAdmin bool
	// HideForbiddenIssues makes an issue the acting user may not browse
	// answer 404 "Issue does not exist or you do not have permission to see
	// it." as Jira does for issue reads, instead of the generic 403.
	HideForbiddenIssues bool
	// SkipEnabledAfterInstall stops InstallApp from sending the "enabled"
	// callback that follows a successful install (sent by default; whether
	// Jira Cloud always sends it is not confirmed in the notes).
	SkipEnabledAfterInstall bool
	// RequireHTTPS refuses descriptors whose baseUrl is not https, as real
	// Jira Cloud does. Default false so loopback apps can be installed.
	RequireHTTPS bool
	// InstallKeys, when set, are the RSA keys used in turn for the install
	// key server (the first is current; RotateInstallKey moves to the
	// next, generating more when they run out).
	InstallKeys []*rsa.PrivateKey
	// RateLimits, when set, enforces the 2026 points-based limits on the
	// REST API (sim/ratesim: pool, quotas, burst, per-issue writes, the
	// real headers; Force triggers each). The tenant is the site.
	RateLimits *ratesim.Model
}

// Sim is a running simulated Jira Cloud site. Its methods are safe for
// concurrent use.
type Sim struct {
	opts    Options
	now     func() time.Time
	cat     *catalog.Catalog
	log     *slog.Logger
	client  *http.Client
	servers []*http.Server

	siteURL, keysURL, authURL string

	clientKey, cloudID string
	loginKey           []byte // HMAC key for admin page login tickets

	// fmu guards faults only, so the clock (which reads the skew faults)
	// can be consulted while mu is held.
	fmu    sync.Mutex
	faults []*faultState

	mu       sync.Mutex
	rng      *rand.Rand
	keys     []installKey
	keyIdx   int
	users    []*User
	roles    map[string]string // role → accountId
	installs map[string]*install
	tokens   map[string]*accessToken
	pages    map[string]*pageSession
	requests []RecordedRequest
	projects []*project
	issues   []*issue
	nextID   int
}

// installKey is one RSA key of the install key server.
type installKey struct {
	kid string
	key *rsa.PrivateKey
	pem []byte
}

// Errors returned by the simulator's management methods.
var (
	ErrNotInstalled  = errors.New("jirasim: app is not installed")
	ErrUnknownModule = errors.New("jirasim: no such page module in the installed descriptor")
	ErrUnknownUser   = errors.New("jirasim: unknown user")
)

// New starts a simulator on loopback. Call Close when done.
func New(opts Options) (*Sim, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Catalog == nil {
		opts.Catalog = catalog.Default()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ScopeDenialStatus == 0 {
		opts.ScopeDenialStatus = http.StatusForbidden
	}
	if opts.ScopeDenialMessage == "" {
		opts.ScopeDenialMessage = "Request not in an authorized API scope"
	}
	if opts.UserTokenScopeDenialStatus == 0 {
		opts.UserTokenScopeDenialStatus = http.StatusUnauthorized
	}
	if opts.GetWithBodyStatus == 0 {
		opts.GetWithBodyStatus = http.StatusForbidden
	}
	if opts.JWTLeeway < 0 {
		opts.JWTLeeway = 0
	}
	for _, a := range []*string{&opts.SiteAddr, &opts.KeyServerAddr, &opts.AuthServerAddr} {
		if *a == "" {
			*a = "127.0.0.1:0"
		}
	}
	s := &Sim{
		opts:     opts,
		now:      opts.Now,
		cat:      opts.Catalog,
		log:      opts.Logger,
		client:   opts.HTTPClient,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x6a697261_73696d)),
		roles:    map[string]string{},
		installs: map[string]*install{},
		tokens:   map[string]*accessToken{},
		pages:    map[string]*pageSession{},
		nextID:   10000,
	}
	s.clientKey = s.uuid()
	s.cloudID = s.uuid()
	s.loginKey = []byte(s.randomString(32))
	if err := s.initUsers(opts.Users); err != nil {
		return nil, err
	}
	s.initData()
	if err := s.initKeys(); err != nil {
		return nil, err
	}

	var err error
	if s.siteURL, err = s.listen(opts.SiteAddr, s.rateLimited(opts.RateLimits, s.siteHandler())); err != nil {
		s.Close()
		return nil, err
	}
	if s.keysURL, err = s.listen(opts.KeyServerAddr, http.HandlerFunc(s.serveKey)); err != nil {
		s.Close()
		return nil, err
	}
	if s.authURL, err = s.listen(opts.AuthServerAddr, http.HandlerFunc(s.serveToken)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Sim) listen(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("jirasim: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the three servers.
func (s *Sim) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	}
}

// URL is the site's baseUrl, e.g. http://127.0.0.1:41234.
func (s *Sim) URL() string { return s.siteURL }

// KeyServerURL is the install key server; point the app's
// CONNECT_INSTALL_KEYS_URL at it. GET /<kid> answers the PEM public key.
func (s *Sim) KeyServerURL() string { return s.keysURL }

// AuthServerURL is the OAuth 2.0 authorization server (POST /oauth2/token)
// and the audience its JWT-bearer assertions must carry.
func (s *Sim) AuthServerURL() string { return s.authURL }

// ClientKey is the site's clientKey (one per site, shared by every app
// installed on it).
func (s *Sim) ClientKey() string { return s.clientKey }

// CloudID is the site's cloudId.
func (s *Sim) CloudID() string { return s.cloudID }

// siteNow is the site's clock for judgements about appKey's tokens: the
// injected clock plus any clock skew fault that applies.
func (s *Sim) siteNow(appKey string) time.Time {
	return s.now().Add(s.skew(appKey))
}

// loginTicket is the unforgeable, reusable ticket that logs a viewer into
// the simulated admin page.
func (s *Sim) loginTicket(accountID string) string {
	m := hmac.New(sha256.New, s.loginKey)
	m.Write([]byte(accountID))
	return accountID + "." + hex.EncodeToString(m.Sum(nil))[:32]
}

func (s *Sim) checkTicket(t string) (string, bool) {
	id, _, ok := strings.Cut(t, ".")
	if !ok || id == "" {
		return "", false
	}
	return id, hmac.Equal([]byte(s.loginTicket(id)), []byte(t))
}

// scopesOf parses descriptor scopes case-insensitively.
func scopesOf(names []string) (scope.Set, error) { return scope.ParseList(names) }

// rateLimited puts the points model in front of the site; the tenant is
// the site's clientKey.
func (s *Sim) rateLimited(m *ratesim.Model, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return m.Wrap(h, func(*http.Request) string { return s.clientKey }, nil)
}
