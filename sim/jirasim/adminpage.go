package jirasim

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
)

// contextTokenPath is the simulator endpoint the host page calls to mint a
// context JWT for AP.context.getToken (authorised by the page's nonce).
const contextTokenPath = "/plugins/servlet/ac-sim/context-token"

// Token lifetimes of the tokens the host mints.
const (
	PageTokenLifetime    = 3 * time.Minute
	ContextTokenLifetime = 15 * time.Minute
	pageSessionLifetime  = 12 * time.Hour
)

// pageSession is one rendered host page: who views which app module.
type pageSession struct {
	appKey, moduleKey, accountID string
	expires                      time.Time
}

// AdminPageURL returns the address of the simulated Jira page that embeds
// the app's page module (adminPages, generalPages or configurePage) in an
// iframe, viewed by accountID (a user of the site). The address carries a
// login ticket for that user, so it can be opened directly in a browser.
func (s *Sim) AdminPageURL(appKey, moduleKey, accountID string) string {
	return s.siteURL + "/plugins/servlet/ac/" + url.PathEscape(appKey) + "/" + url.PathEscape(moduleKey) +
		"?atl_sim_login=" + url.QueryEscape(s.loginTicket(accountID))
}

// ModuleURL builds the signed iframe URL Jira would give the app's page
// module for a viewer: the module URL with the context parameters and a
// page JWT (HS256, qsh over the module path and query relative to the app's
// baseUrl path, sub = viewer, iss = clientKey, exp 3 minutes). channel is
// the xdm_c value.
func (s *Sim) ModuleURL(appKey, moduleKey, accountID string) (string, error) {
	u, _, err := s.moduleURL(appKey, moduleKey, accountID)
	return u, err
}

var moduleVar = regexp.MustCompile(`\{[^{}]*\}`)

func (s *Sim) moduleURL(appKey, moduleKey, accountID string) (string, *Installation, error) {
	s.mu.Lock()
	in := s.installs[appKey]
	if in == nil || !in.installed {
		s.mu.Unlock()
		return "", nil, fmt.Errorf("%w: %q", ErrNotInstalled, appKey)
	}
	inst := in.Installation
	mod, ok := in.desc.pageModule(moduleKey)
	u := s.userLocked(accountID)
	var viewer User
	if u != nil {
		viewer = cloneUser(u)
	}
	s.mu.Unlock()
	if !ok {
		return "", nil, fmt.Errorf("%w: %q in %q", ErrUnknownModule, moduleKey, appKey)
	}
	if u == nil {
		return "", nil, fmt.Errorf("%w: %q", ErrUnknownUser, accountID)
	}
	// Context variables such as {project.key} have no value on an admin
	// page; Jira substitutes an empty string.
	rel := moduleVar.ReplaceAllString(mod.URL, "")
	target, err := url.Parse(inst.AppBaseURL + rel)
	if err != nil {
		return "", nil, fmt.Errorf("jirasim: module URL %q: %w", rel, err)
	}
	q := target.Query()
	q.Set("xdm_e", s.siteURL)
	q.Set("xdm_c", "channel-"+appKey+"__"+moduleKey)
	q.Set("cp", "")
	q.Set("xdm_deprecated_addon_key_do_not_use", appKey)
	q.Set("lic", "none")
	q.Set("cv", "1001.0.0-SNAPSHOT")
	q.Set("tz", viewer.TimeZone)
	q.Set("loc", strings.ReplaceAll(viewer.Locale, "_", "-"))
	q.Set("user_id", "")
	q.Set("user_key", "")
	target.RawQuery = q.Encode()
	base, _ := url.Parse(inst.AppBaseURL)
	now := s.siteNow(appKey)
	claims := connect.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    inst.ClientKey,
			Subject:   viewer.AccountID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(PageTokenLifetime)),
		},
		QSH:     connect.RequestQSH(http.MethodGet, target.RequestURI(), base.EscapedPath()),
		Context: json.RawMessage(`{}`),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(inst.SharedSecret))
	if err != nil {
		return "", nil, fmt.Errorf("jirasim: sign page token: %w", err)
	}
	q.Set("jwt", tok)
	target.RawQuery = q.Encode()
	return target.String(), &inst, nil
}

// viewer finds the logged-in viewer from the login ticket (query or
// cookie).
func (s *Sim) viewer(w http.ResponseWriter, r *http.Request) (string, bool) {
	if t := r.URL.Query().Get("atl_sim_login"); t != "" {
		if id, ok := s.checkTicket(t); ok {
			http.SetCookie(w, &http.Cookie{Name: "atl_sim_session", Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			return id, true
		}
		return "", false
	}
	if c, err := r.Cookie("atl_sim_session"); err == nil {
		return s.checkTicket(c.Value)
	}
	return "", false
}

func (s *Sim) serveAdminPage(w http.ResponseWriter, r *http.Request) {
	appKey, moduleKey := r.PathValue("appKey"), r.PathValue("moduleKey")
	accountID, ok := s.viewer(w, r)
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Log in - Jira</title></head><body><h1>You're not logged in</h1><p>Open the page through the link the simulator printed (it carries a login ticket).</p></body></html>`)
		return
	}
	src, inst, err := s.moduleURL(appKey, moduleKey, accountID)
	if err != nil {
		s.writeError(w, r, http.StatusNotFound, errorMessages(err.Error()))
		return
	}
	s.mu.Lock()
	nonce := s.randomString(40)
	u := cloneUser(s.userLocked(accountID))
	now := s.now()
	for k, p := range s.pages {
		if now.After(p.expires) {
			delete(s.pages, k)
		}
	}
	s.pages[nonce] = &pageSession{appKey: appKey, moduleKey: moduleKey, accountID: accountID, expires: now.Add(pageSessionLifetime)}
	s.mu.Unlock()

	appOrigin := ""
	if au, err := url.Parse(inst.AppBaseURL); err == nil {
		appOrigin = au.Scheme + "://" + au.Host
	}
	cfg, _ := json.Marshal(map[string]any{
		"nonce": nonce, "tokenURL": contextTokenPath, "appOrigin": appOrigin, "appKey": appKey, "moduleKey": moduleKey,
		"accountId": accountID, "displayName": u.DisplayName, "timeZone": u.TimeZone, "locale": u.Locale,
		"siteURL": s.siteURL, "pageURL": s.siteURL + "/plugins/servlet/ac/" + url.PathEscape(appKey) + "/" + url.PathEscape(moduleKey),
	})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	_ = hostPage.Execute(w, map[string]any{
		"Title": inst.AppName, "AppKey": appKey, "ModuleKey": moduleKey, "Src": src, "User": u.DisplayName,
		"Config": template.JS(cfg), "Site": s.siteURL, "Channel": "channel-" + appKey + "__" + moduleKey,
		"HostJS": template.JS(hostJS),
	})
}

// serveContextToken mints a context JWT for the viewer of a host page. The
// page's nonce authorises it, and only same-origin requests are served.
func (s *Sim) serveContextToken(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != s.siteURL {
		s.writeError(w, r, http.StatusForbidden, errorMessages("cross-origin token requests are refused"))
		return
	}
	var req struct {
		Nonce string `json:"nonce"`
	}
	if err := readJSON(r, &req); err != nil {
		s.writeError(w, r, http.StatusBadRequest, errorMessages("bad request"))
		return
	}
	s.mu.Lock()
	p := s.pages[req.Nonce]
	var in *install
	if p != nil {
		in = s.installs[p.appKey]
	}
	var inst Installation
	ok := p != nil && s.now().Before(p.expires) && in != nil && in.installed
	if ok {
		inst = in.Installation
	}
	s.mu.Unlock()
	if !ok {
		s.writeError(w, r, http.StatusUnauthorized, messageBody(http.StatusUnauthorized, "Unauthorized"))
		return
	}
	tok, err := s.contextToken(&inst, p.accountID)
	if err != nil {
		s.writeError(w, r, http.StatusInternalServerError, errorMessages("could not sign the context token"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// ContextToken mints the context JWT AP.context.getToken returns to an
// app's page: HS256 with the shared secret, qsh "context-qsh", sub = the
// viewer, iss = clientKey, exp 15 minutes.
func (s *Sim) ContextToken(appKey, accountID string) (string, error) {
	s.mu.Lock()
	in := s.installs[appKey]
	var inst Installation
	ok := in != nil && in.installed
	if ok {
		inst = in.Installation
	}
	s.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrNotInstalled, appKey)
	}
	return s.contextToken(&inst, accountID)
}

func (s *Sim) contextToken(inst *Installation, accountID string) (string, error) {
	now := s.siteNow(inst.AppKey)
	ctx, _ := json.Marshal(map[string]any{
		"license": map[string]bool{"active": false},
		"url":     map[string]string{"displayUrl": s.siteURL, "displayUrlServicedeskHelpCenter": s.siteURL},
		"jira":    map[string]any{},
	})
	claims := connect.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    inst.ClientKey,
			Subject:   accountID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ContextTokenLifetime)),
		},
		QSH:     connect.ContextQSH,
		Context: ctx,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(inst.SharedSecret))
}

func (s *Sim) serveHome(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	type link struct{ Name, Key, URL string }
	var links []link
	admin := s.userByRoleLocked("admin")
	for _, in := range s.installs {
		if !in.installed {
			continue
		}
		for _, kind := range []string{"adminPages", "generalPages"} {
			var mods []pageModule
			if raw, ok := in.desc.Modules[kind]; ok && json.Unmarshal(raw, &mods) == nil {
				for _, m := range mods {
					if admin != nil {
						links = append(links, link{Name: in.AppName + ": " + m.Name.Value, Key: m.Key, URL: "/plugins/servlet/ac/" + url.PathEscape(in.AppKey) + "/" + url.PathEscape(m.Key)})
					}
				}
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = homePage.Execute(w, map[string]any{"Site": s.siteURL, "Links": links})
}

func (s *Sim) serveAllJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(allJS))
}

var homePage = template.Must(template.New("home").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>System dashboard - Jira (simulated)</title></head>
<body><h1>Jira Cloud simulator</h1><p>Site: {{.Site}}</p>
{{if .Links}}<h2>App pages</h2><ul>{{range .Links}}<li><a href="{{.URL}}">{{.Name}}</a> ({{.Key}})</li>{{end}}</ul>
<p>Open an app page through a link that carries a login ticket (see the simulator's output).</p>{{else}}<p>No app installed.</p>{{end}}
</body></html>
`))

var hostPage = template.Must(template.New("host").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} - Administration - Jira (simulated)</title>
<style>
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,sans-serif;color:#172b4d}
#header{background:#0747a6;color:#fff;padding:10px 20px;font-weight:600}
#header small{font-weight:400;opacity:.8;margin-left:1em}
#layout{display:flex}
#sidebar{width:220px;padding:16px;background:#f4f5f7;min-height:calc(100vh - 40px);box-sizing:border-box}
#content{flex:1;padding:16px 24px}
.ap-iframe{width:100%;border:0;min-height:200px;display:block}
</style></head>
<body>
<div id="header">Jira Cloud (simulated)<small>{{.Site}} · logged in as {{.User}}</small></div>
<div id="layout"><div id="sidebar"><strong>Administration</strong><ul><li>Apps</li><li><em>{{.Title}}</em></li></ul></div>
<div id="content"><div class="ap-container" id="ap-{{.AppKey}}__{{.ModuleKey}}">
<iframe class="ap-iframe" id="embedded-{{.AppKey}}__{{.ModuleKey}}" name="{{.Channel}}" src="{{.Src}}" title="{{.Title}}"></iframe>
</div></div></div>
<script>window.__jirasim = {{.Config}};</script>
<script>{{.HostJS}}</script>
</body></html>
`))
