package jirasim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/scope"
)

// Installation is one app installed in the simulated site, as Jira records
// it.
type Installation struct {
	ClientKey      string
	SharedSecret   string
	OAuthClientID  string
	AppKey         string
	AppName        string
	AppBaseURL     string
	DescriptorURL  string
	CloudID        string
	InstallationID string
	Scopes         scope.Set
	Enabled        bool
	BotAccountID   string
	InstalledAt    time.Time
}

// install is the simulator's record of an app: the public view plus the
// descriptor it was installed from. A record survives uninstall (with
// installed=false) so a reinstall keeps the oauthClientId and bot user.
type install struct {
	Installation
	desc      descriptor
	installed bool
}

// descriptor is the part of atlassian-connect.json the simulator reads.
type descriptor struct {
	Key            string   `json:"key"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	BaseURL        string   `json:"baseUrl"`
	Scopes         []string `json:"scopes"`
	Authentication *struct {
		Type string `json:"type"`
	} `json:"authentication"`
	Lifecycle struct {
		Installed   string `json:"installed"`
		Uninstalled string `json:"uninstalled"`
		Enabled     string `json:"enabled"`
		Disabled    string `json:"disabled"`
	} `json:"lifecycle"`
	APIMigrations map[string]bool            `json:"apiMigrations"`
	Modules       map[string]json.RawMessage `json:"modules"`
}

// pageModule is an adminPages / generalPages / configurePage entry.
type pageModule struct {
	Key  string `json:"key"`
	URL  string `json:"url"`
	Name struct {
		Value string `json:"value"`
	} `json:"name"`
}

// InstallError is a refused install, with the message Jira shows the
// administrator.
type InstallError struct {
	Code    string // "descriptor-fetch", "descriptor-invalid", "callback-status", "callback-unreachable"
	Message string // Jira's (or Jira-like) text
	Status  int    // the app's status for "callback-status"
	Err     error  // the underlying cause, if any
}

func (e *InstallError) Error() string { return e.Message }
func (e *InstallError) Unwrap() error { return e.Err }

// Sentinel causes carried by InstallError.
var (
	ErrDescriptor   = errors.New("jirasim: invalid app descriptor")
	ErrCallback     = errors.New("jirasim: lifecycle callback failed")
	ErrUnreachable  = errors.New("jirasim: app host unreachable")
	appKeyPattern   = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,64}$`)
	maxDescriptorSz = int64(1 << 20)
)

func invalidDescriptor(format string, a ...any) error {
	return &InstallError{Code: "descriptor-invalid", Err: ErrDescriptor,
		Message: "Installation failed. The app descriptor is invalid: " + fmt.Sprintf(format, a...)}
}

// fetchDescriptor downloads and validates a descriptor.
func (s *Sim) fetchDescriptor(ctx context.Context, descriptorURL string) (*descriptor, error) {
	u, err := url.Parse(descriptorURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &InstallError{Code: "descriptor-fetch", Err: ErrDescriptor,
			Message: fmt.Sprintf("Installation failed. %q is not a valid app descriptor URL.", descriptorURL)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, descriptorURL, nil)
	if err != nil {
		return nil, fmt.Errorf("jirasim: descriptor request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &InstallError{Code: "descriptor-fetch", Err: fmt.Errorf("%w: %w", ErrUnreachable, err),
			Message: "Installation failed. The app descriptor could not be downloaded from " + descriptorURL + ". Check that the URL is reachable."}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDescriptorSz+1))
	if err != nil {
		return nil, &InstallError{Code: "descriptor-fetch", Err: err,
			Message: "Installation failed. The app descriptor could not be downloaded from " + descriptorURL + "."}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &InstallError{Code: "descriptor-fetch", Status: resp.StatusCode, Err: ErrDescriptor,
			Message: fmt.Sprintf("Installation failed. The app descriptor URL returned HTTP response code %d.", resp.StatusCode)}
	}
	if int64(len(body)) > maxDescriptorSz {
		return nil, invalidDescriptor("it is larger than 1 MiB.")
	}
	var d descriptor
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, invalidDescriptor("it is not valid JSON (%v).", err)
	}
	return &d, s.validateDescriptor(&d)
}

func (s *Sim) validateDescriptor(d *descriptor) error {
	switch {
	case d.Key == "":
		return invalidDescriptor("the required property \"key\" is missing.")
	case !appKeyPattern.MatchString(d.Key):
		return invalidDescriptor("\"key\" must be at most 64 characters of letters, digits, '.', '_' and '-' (got %q).", d.Key)
	case d.BaseURL == "":
		return invalidDescriptor("the required property \"baseUrl\" is missing.")
	}
	bu, err := url.Parse(d.BaseURL)
	if err != nil || bu.Host == "" || (bu.Scheme != "https" && bu.Scheme != "http") || bu.RawQuery != "" || bu.Fragment != "" {
		return invalidDescriptor("\"baseUrl\" must be an absolute http(s) URL without query (got %q).", d.BaseURL)
	}
	if s.opts.RequireHTTPS && bu.Scheme != "https" {
		return invalidDescriptor("\"baseUrl\" must use https (got %q).", d.BaseURL)
	}
	if d.Authentication == nil || !strings.EqualFold(d.Authentication.Type, "jwt") {
		return invalidDescriptor("\"authentication\" must be {\"type\": \"jwt\"} for an app with lifecycle callbacks.")
	}
	if d.Lifecycle.Installed == "" {
		return invalidDescriptor("\"lifecycle.installed\" is required.")
	}
	if !d.APIMigrations["signed-install"] {
		return invalidDescriptor("\"apiMigrations\": {\"signed-install\": true} is required; unsigned installs are no longer supported.")
	}
	for _, p := range []string{d.Lifecycle.Installed, d.Lifecycle.Uninstalled, d.Lifecycle.Enabled, d.Lifecycle.Disabled} {
		if p != "" && (!strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//")) {
			return invalidDescriptor("lifecycle URLs must be paths relative to baseUrl starting with \"/\" (got %q).", p)
		}
	}
	for _, name := range d.Scopes {
		sc, err := scope.Parse(name)
		if err != nil || !sc.Declarable() {
			return invalidDescriptor("unknown scope %q in \"scopes\".", name)
		}
	}
	for _, kind := range []string{"adminPages", "generalPages"} {
		if raw, ok := d.Modules[kind]; ok {
			var mods []pageModule
			if err := json.Unmarshal(raw, &mods); err != nil {
				return invalidDescriptor("\"modules.%s\" must be an array of page modules.", kind)
			}
			for _, m := range mods {
				if m.Key == "" || m.URL == "" {
					return invalidDescriptor("every entry of \"modules.%s\" needs a \"key\" and a \"url\".", kind)
				}
			}
		}
	}
	return nil
}

// pageModule finds a page module by key (adminPages, then generalPages,
// then configurePage).
func (d *descriptor) pageModule(key string) (pageModule, bool) {
	for _, kind := range []string{"adminPages", "generalPages"} {
		var mods []pageModule
		if raw, ok := d.Modules[kind]; ok && json.Unmarshal(raw, &mods) == nil {
			for _, m := range mods {
				if m.Key == key {
					return m, true
				}
			}
		}
	}
	var cp pageModule
	if raw, ok := d.Modules["configurePage"]; ok && json.Unmarshal(raw, &cp) == nil && cp.Key == key {
		return cp, true
	}
	return pageModule{}, false
}

const userAgent = "Atlassian Connect/1001.0.0-SNAPSHOT (Jira simulator)"

// InstallApp installs (or reinstalls) the app whose descriptor is at
// descriptorURL: it fetches and validates the descriptor, gives the
// installation a fresh shared secret, and POSTs the installed callback
// signed RS256 with the install key (kid, iss = clientKey, aud = app
// baseUrl, qsh, sub = the installing admin). A non-2xx answer fails the
// install with Jira's message and leaves any previous installation as it
// was. On success the app is enabled and, unless
// Options.SkipEnabledAfterInstall, the enabled callback follows.
func (s *Sim) InstallApp(ctx context.Context, descriptorURL string) (*Installation, error) {
	d, err := s.fetchDescriptor(ctx, descriptorURL)
	if err != nil {
		s.log.Info("jirasim: install refused", "descriptor", descriptorURL, "err", err)
		return nil, err
	}
	scopes, _ := scopesOf(d.Scopes)

	s.mu.Lock()
	prev := s.installs[d.Key]
	next := &install{desc: *d, installed: true}
	if prev != nil {
		next.Installation = prev.Installation
	} else {
		next.OAuthClientID = base64.RawURLEncoding.EncodeToString(
			fmt.Appendf(nil, `{"hostKey":%q,"addonKey":%q}`, s.clientKey, d.Key))
		next.InstallationID = "ari:cloud:ecosystem::installation/" + s.uuid()
		next.BotAccountID = s.accountID()
	}
	next.ClientKey = s.clientKey
	next.CloudID = s.cloudID
	next.AppKey = d.Key
	next.AppName = d.Name
	next.AppBaseURL = strings.TrimSuffix(d.BaseURL, "/")
	next.DescriptorURL = descriptorURL
	next.Scopes = scopes
	next.SharedSecret = s.randomString(64) // a new secret on every install
	next.Enabled = true
	next.InstalledAt = s.siteNow(d.Key)
	admin := s.userByRoleLocked("admin")
	s.mu.Unlock()

	adminID := ""
	if admin != nil {
		adminID = admin.AccountID
	}
	status, err := s.sendLifecycle(ctx, next, "installed", adminID)
	if err != nil {
		s.log.Info("jirasim: install callback unreachable", "app", d.Key, "err", err)
		return nil, &InstallError{Code: "callback-unreachable", Err: fmt.Errorf("%w: %w", ErrUnreachable, err),
			// Jira-like wording (simulated): the notes only capture the
			// text for an HTTP error answer.
			Message: "The app host did not respond when we tried to contact it during installation. Please try again later or contact the app vendor."}
	}
	if status < 200 || status > 299 {
		s.log.Info("jirasim: install refused by the app", "app", d.Key, "status", status)
		return nil, &InstallError{Code: "callback-status", Status: status, Err: ErrCallback,
			Message: fmt.Sprintf("The app host returned HTTP response code %d when we tried to contact it during installation. Please try again later or contact the app vendor.", status)}
	}

	s.mu.Lock()
	s.installs[d.Key] = next
	s.ensureBotLocked(next)
	out := next.Installation
	s.mu.Unlock()
	s.log.Info("jirasim: app installed", "app", d.Key, "clientKey", s.clientKey, "scopes", scopes.String())

	if !s.opts.SkipEnabledAfterInstall && d.Lifecycle.Enabled != "" {
		if st, err := s.sendLifecycle(ctx, next, "enabled", adminID); err != nil || st < 200 || st > 299 {
			s.log.Info("jirasim: enabled callback after install failed", "app", d.Key, "status", st, "err", err)
		}
	}
	return &out, nil
}

// ensureBotLocked creates or refreshes the app's bot user.
func (s *Sim) ensureBotLocked(in *install) {
	bot := s.userLocked(in.BotAccountID)
	if bot == nil {
		name := in.AppName
		if name == "" {
			name = in.AppKey
		}
		bot = &User{AccountID: in.BotAccountID, DisplayName: name, Email: in.BotAccountID + "@connect.atlassian.com",
			SiteAdmin: !s.opts.AppUsersNotAdmin, BrowseProjects: []string{"*"}, Role: "bot:" + in.AppKey, AccountType: "app"}
		defaultsUser(bot)
		s.users = append(s.users, bot)
	}
	bot.Active = true
}

// Installation returns the current installation of an app.
func (s *Sim) Installation(appKey string) (*Installation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installs[appKey]
	if in == nil || !in.installed {
		return nil, false
	}
	c := in.Installation
	return &c, true
}

// Uninstall sends the uninstalled callback (RS256, like install) and
// removes the app; its tokens stop working. The record is kept so that a
// reinstall keeps the oauthClientId and bot user, as Jira does.
func (s *Sim) Uninstall(ctx context.Context, appKey string) error {
	in, err := s.activeInstall(appKey)
	if err != nil {
		return err
	}
	s.mu.Lock()
	in.installed = false
	in.Enabled = false
	if bot := s.userLocked(in.BotAccountID); bot != nil {
		bot.Active = false
	}
	for k, t := range s.tokens {
		if t.appKey == appKey {
			delete(s.tokens, k)
		}
	}
	admin := s.userByRoleLocked("admin")
	s.mu.Unlock()
	return s.notify(ctx, in, "uninstalled", admin)
}

// Enable enables the app and sends the enabled callback (HS256 with the
// shared secret, qsh).
func (s *Sim) Enable(ctx context.Context, appKey string) error {
	return s.setEnabled(ctx, appKey, true)
}

// Disable disables the app and sends the disabled callback; while
// disabled, its JWTs and user tokens are refused.
func (s *Sim) Disable(ctx context.Context, appKey string) error {
	return s.setEnabled(ctx, appKey, false)
}

func (s *Sim) setEnabled(ctx context.Context, appKey string, on bool) error {
	in, err := s.activeInstall(appKey)
	if err != nil {
		return err
	}
	s.mu.Lock()
	in.Enabled = on
	admin := s.userByRoleLocked("admin")
	s.mu.Unlock()
	ev := "disabled"
	if on {
		ev = "enabled"
	}
	return s.notify(ctx, in, ev, admin)
}

func (s *Sim) activeInstall(appKey string) (*install, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installs[appKey]
	if in == nil || !in.installed {
		return nil, fmt.Errorf("%w: %q", ErrNotInstalled, appKey)
	}
	return in, nil
}

// notify sends an asynchronous lifecycle notification; the app's answer
// does not undo the state change, but a failure is reported.
func (s *Sim) notify(ctx context.Context, in *install, event string, admin *User) error {
	adminID := ""
	if admin != nil {
		adminID = admin.AccountID
	}
	status, err := s.sendLifecycle(ctx, in, event, adminID)
	if err != nil {
		return fmt.Errorf("%w: %s callback: %w", ErrCallback, event, err)
	}
	if status != 0 && (status < 200 || status > 299) {
		return fmt.Errorf("%w: %s callback answered HTTP %d", ErrCallback, event, status)
	}
	s.log.Info("jirasim: lifecycle", "event", event, "app", in.AppKey, "status", status)
	return nil
}

// lifecyclePayload is the JSON body of every lifecycle callback.
type lifecyclePayload struct {
	Key            string `json:"key"`
	ClientKey      string `json:"clientKey"`
	SharedSecret   string `json:"sharedSecret"`
	ServerVersion  string `json:"serverVersion"`
	PluginsVersion string `json:"pluginsVersion"`
	BaseURL        string `json:"baseUrl"`
	DisplayURL     string `json:"displayUrl"`
	ProductType    string `json:"productType"`
	Description    string `json:"description"`
	EventType      string `json:"eventType"`
	OAuthClientID  string `json:"oauthClientId"`
	CloudID        string `json:"cloudId"`
	InstallationID string `json:"installationId"`
}

// sendLifecycle POSTs one lifecycle callback and returns the app's status
// (0 when the descriptor declares no URL for the event).
func (s *Sim) sendLifecycle(ctx context.Context, in *install, event, adminID string) (int, error) {
	var rel string
	switch event {
	case "installed":
		rel = in.desc.Lifecycle.Installed
	case "uninstalled":
		rel = in.desc.Lifecycle.Uninstalled
	case "enabled":
		rel = in.desc.Lifecycle.Enabled
	case "disabled":
		rel = in.desc.Lifecycle.Disabled
	}
	if rel == "" {
		return 0, nil
	}
	target := in.AppBaseURL + rel
	tu, err := url.Parse(target)
	if err != nil {
		return 0, fmt.Errorf("jirasim: lifecycle URL %q: %w", target, err)
	}
	bu, _ := url.Parse(in.AppBaseURL)
	body, _ := json.Marshal(lifecyclePayload{
		Key: in.AppKey, ClientKey: in.ClientKey, SharedSecret: in.SharedSecret,
		ServerVersion: "100283", PluginsVersion: "1001.0.0-SNAPSHOT",
		BaseURL: s.siteURL, DisplayURL: s.siteURL, ProductType: "jira",
		Description: "Atlassian JIRA at " + s.siteURL, EventType: event,
		OAuthClientID: in.OAuthClientID, CloudID: in.CloudID, InstallationID: in.InstallationID,
	})
	now := s.siteNow(in.AppKey)
	claims := connect.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: in.ClientKey,
			// A jti per callback: Connect Doctor accepts an install token
			// once (issue 16 item 6). Whether Atlassian's tokens carry a
			// jti is unconfirmed; without one, two callbacks signed in the
			// same second with the same claims are one token.
			ID:        rand.Text(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Minute)),
		},
		QSH: connect.RequestQSH(http.MethodPost, tu.EscapedPath(), bu.EscapedPath()),
	}
	if adminID != "" {
		claims.Subject = adminID
	}
	var token string
	if event == "installed" || event == "uninstalled" {
		claims.Audience = jwt.ClaimStrings{in.AppBaseURL}
		k := s.currentKey()
		t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		t.Header["kid"] = k.kid
		token, err = t.SignedString(k.key)
	} else {
		token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(in.SharedSecret))
	}
	if err != nil {
		return 0, fmt.Errorf("jirasim: sign %s token: %w", event, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("jirasim: lifecycle request: %w", err)
	}
	req.Header.Set("Authorization", "JWT "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// SetScopes overrides the Connect scopes the site enforces for an
// installed app, as when a site still runs an older version of the app
// whose descriptor declared fewer scopes.
func (s *Sim) SetScopes(appKey string, scopes scope.Set) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installs[appKey]
	if in == nil || !in.installed {
		return fmt.Errorf("%w: %q", ErrNotInstalled, appKey)
	}
	in.Scopes = append(scope.Set(nil), scopes...)
	return nil
}

// AdminPageKeys lists the keys of the installed app's adminPages modules,
// in descriptor order.
func (s *Sim) AdminPageKeys(appKey string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.installs[appKey]
	if in == nil || !in.installed {
		return nil
	}
	var mods []pageModule
	if raw, ok := in.desc.Modules["adminPages"]; ok && json.Unmarshal(raw, &mods) == nil {
		keys := make([]string, len(mods))
		for i, m := range mods {
			keys[i] = m.Key
		}
		return keys
	}
	return nil
}
