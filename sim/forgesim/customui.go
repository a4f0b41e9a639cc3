package forgesim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// CustomUIOptions configure NewCustomUIHost.
type CustomUIOptions struct {
	// Site is the installation the page belongs to: its gateway knows the
	// installation, its invoker calls the remote, its minter signs FITs.
	// Required.
	Site *Site
	// Resource is the Custom UI resource directory (index.html at its
	// root), as resources[].path points at it. Required.
	Resource fs.FS
	// RemoteURL is the remote's baseUrl (remotes[].baseUrl). Required.
	RemoteURL string
	// RemoteKey is remotes[].key, the first argument of requestRemote
	// (default "doctor").
	RemoteKey string
	// ModuleKey and Title describe the jira:adminPage module (defaults
	// "doctor-admin" and "Connect Doctor").
	ModuleKey, Title string
	// SystemToken and UserToken are the resolver endpoint's
	// auth.appSystemToken / auth.appUserToken: the OAuth tokens Forge adds
	// to invokeRemote calls (never to requestRemote).
	SystemToken, UserToken bool
	// Locale and Timezone are what getContext reports (defaults "en-US",
	// "UTC").
	Locale, Timezone string
	// Addr is where to listen (default "127.0.0.1:0").
	Addr string
	// Now is the clock for page sessions (default time.Now).
	Now func() time.Time
	// InstallationID is the installation the page belongs to (default
	// Site.InstallationID()): another installation registered on the
	// Site's gateway, such as the one `connect-doctor dev --forge` links
	// to a Connect tenant.
	InstallationID string
}

// BridgeCall is one @forge/bridge call the page made, for assertions.
type BridgeCall struct {
	Name      string // getContext, invoke (invokeRemote), fetchRemote (requestRemote: the FIT handed to the browser)
	AccountID string // the viewing user
	Method    string // invoke and fetchRemote
	Path      string // invoke and fetchRemote
	Status    int    // invoke: the remote's status (0 when it could not be reached)
	Err       string // why the simulator refused or failed the call
}

// CustomUIHost plays Jira and Forge's CDN for one Custom UI module: a
// Jira-like admin page (AdminPageURL) that embeds the resource in an
// iframe, served by the host the way Forge's CDN serves a deployed
// resource (with a Custom UI content security policy), with a bridge
// runtime injected into index.html before the app's scripts. That runtime
// defines window.__bridge.callBridge, which @forge/bridge calls:
//
//   - invoke (invokeRemote, invokeType "ui-remote-fetch"): forwarded to the
//     remote through the site's Invoker as Forge's proxy does — a UI FIT
//     with the viewer as principal, plus x-forge-oauth-system and
//     x-forge-oauth-user as the endpoint's auth and the installation's
//     scopes allow; the answer comes back as {success, payload: {status,
//     headers, body}};
//   - fetchRemote (requestRemote): the browser itself calls the remote
//     with a FIT the host mints, and no OAuth token (forge.md §1.2), so the
//     remote's CORS policy is exercised;
//   - getContext (view.getContext): the module's context for the viewer;
//   - emitReadyEvent: accepted.
//
// Any other call is rejected with a clear error. The runtime also reports
// the content's height to the page, which resizes the iframe as Forge does.
// The viewing user is the page's "user" query parameter: the test decides
// who is logged in.
type CustomUIHost struct {
	o   CustomUIOptions
	ln  net.Listener
	srv *http.Server
	url string

	mu       sync.Mutex
	sessions map[string]uiSession
	order    []string
	calls    []BridgeCall
}

type uiSession struct {
	accountID string
	created   time.Time
}

// Limits of the host.
const (
	uiSessionTTL    = 2 * time.Hour
	uiMaxSessions   = 1000
	uiMaxBridgeBody = 1 << 20
)

// NewCustomUIHost starts the host. Like httptest.NewServer, it panics when
// it cannot listen, and when a required option is missing (set-up bugs).
func NewCustomUIHost(o CustomUIOptions) *CustomUIHost {
	if o.Site == nil || o.Resource == nil || o.RemoteURL == "" {
		panic("forgesim: NewCustomUIHost needs Site, Resource and RemoteURL")
	}
	if o.RemoteKey == "" {
		o.RemoteKey = "doctor"
	}
	if o.InstallationID == "" {
		o.InstallationID = o.Site.InstallationID()
	}
	if o.ModuleKey == "" {
		o.ModuleKey = "doctor-admin"
	}
	if o.Title == "" {
		o.Title = "Connect Doctor"
	}
	if o.Locale == "" {
		o.Locale = "en-US"
	}
	if o.Timezone == "" {
		o.Timezone = "UTC"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.RemoteURL = strings.TrimSuffix(o.RemoteURL, "/")
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		panic(fmt.Sprintf("forgesim: Custom UI host listen on %s: %v", o.Addr, err))
	}
	h := &CustomUIHost{o: o, ln: ln, url: "http://" + ln.Addr().String(), sessions: map[string]uiSession{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h
}

// URL is the host's base URL (http://127.0.0.1:PORT).
func (h *CustomUIHost) URL() string { return h.url }

// Close stops the host.
func (h *CustomUIHost) Close() { _ = h.srv.Close() }

// AdminPageURL is the Jira admin page of the module as accountID sees it:
// /jira/settings/apps/<app uuid>/<environment uuid>?user=<accountID>.
func (h *CustomUIHost) AdminPageURL(accountID string) string {
	app := lastSegment(h.o.Site.AppID())
	env := lastSegment(h.o.Site.minter.defaults().EnvironmentID)
	return h.url + "/jira/settings/apps/" + app + "/" + env + "?user=" + url.QueryEscape(accountID)
}

// Calls returns the bridge calls made so far, oldest first.
func (h *CustomUIHost) Calls() []BridgeCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]BridgeCall(nil), h.calls...)
}

func lastSegment(ari string) string { return ari[strings.LastIndex(ari, "/")+1:] }

func (h *CustomUIHost) record(c BridgeCall) {
	h.mu.Lock()
	h.calls = append(h.calls, c)
	h.mu.Unlock()
}

// ServeHTTP routes the admin page, the host's own scripts, the resource
// under /cdn/<session>/ and the bridge endpoints.
func (h *CustomUIHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/jira/settings/apps/") && r.Method == http.MethodGet:
		h.page(w, r)
	case p == "/forgesim/bridge.js" || p == "/forgesim/host.js" || p == "/forgesim/host.css":
		h.asset(w, path.Base(p))
	case strings.HasPrefix(p, "/cdn/"):
		rest := strings.TrimPrefix(p, "/cdn/")
		id, file, _ := strings.Cut(rest, "/")
		sess, ok := h.session(id)
		if !ok {
			uiError(w, http.StatusNotFound, "forgesim: unknown or expired Custom UI session; reload the admin page")
			return
		}
		switch file {
		case "__forgesim/bridge":
			h.bridge(w, r, sess)
		case "__forgesim/fit":
			h.fit(w, r, sess)
		default:
			h.resource(w, r, file)
		}
	default:
		uiError(w, http.StatusNotFound, "forgesim: not found")
	}
}

func uiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg}})
}

func uiJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func (h *CustomUIHost) newSession(accountID string) string {
	id := RandomID()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[id] = uiSession{accountID: accountID, created: h.o.Now()}
	h.order = append(h.order, id)
	if len(h.order) > uiMaxSessions {
		delete(h.sessions, h.order[0])
		h.order = h.order[1:]
	}
	return id
}

func (h *CustomUIHost) session(id string) (uiSession, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[id]
	if !ok || h.o.Now().Sub(s.created) > uiSessionTTL {
		return uiSession{}, false
	}
	return s, true
}

var hostPage = template.Must(template.New("host").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} - Apps - Jira (Forge simulator)</title>
<link rel="stylesheet" href="/forgesim/host.css">
<script src="/forgesim/host.js" defer></script>
</head>
<body>
<header class="fs-top"><strong>Jira</strong><span class="fs-site">{{.SiteURL}}</span><span class="fs-user" data-account-id="{{.AccountID}}">{{.AccountID}}</span></header>
<div class="fs-body">
<nav class="fs-side" aria-label="Apps"><p class="fs-side-h">Apps</p><a aria-current="page" href="">{{.Title}}</a></nav>
<main class="fs-main">
<h1>{{.Title}}</h1>
<iframe class="forge-iframe" id="forge-iframe-{{.ModuleKey}}" title="{{.Title}}" src="{{.Src}}" data-module-key="{{.ModuleKey}}"
 sandbox="allow-scripts allow-same-origin allow-forms allow-popups allow-downloads"></iframe>
</main>
</div>
</body>
</html>
`))

// page renders the Jira admin page for the viewer named in ?user=.
func (h *CustomUIHost) page(w http.ResponseWriter, r *http.Request) {
	acc := r.URL.Query().Get("user")
	if acc == "" {
		uiError(w, http.StatusBadRequest, "forgesim: who is viewing? add ?user=<accountId> (AdminPageURL does)")
		return
	}
	sid := h.newSession(acc)
	var buf bytes.Buffer
	err := hostPage.Execute(&buf, map[string]string{
		"Title": h.o.Title, "SiteURL": h.o.Site.SiteURL(), "AccountID": acc, "ModuleKey": h.o.ModuleKey,
		"Src": "/cdn/" + sid + "/index.html",
	})
	if err != nil {
		uiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'")
	_, _ = w.Write(buf.Bytes())
}

func (h *CustomUIHost) asset(w http.ResponseWriter, name string) {
	body, ctype := "", "text/javascript; charset=utf-8"
	switch name {
	case "bridge.js":
		body = bridgeRuntime
	case "host.js":
		body = hostScript
	case "host.css":
		body, ctype = hostStyle, "text/css; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, body)
}

// headTag finds the opening head tag the runtime is injected after.
var headTag = regexp.MustCompile(`(?i)<head[^>]*>`)

// resource serves a file of the Custom UI resource with a Custom UI CSP:
// scripts and styles from the resource only, connections to the resource's
// origin (the bridge) and to the remote (requestRemote).
func (h *CustomUIHost) resource(w http.ResponseWriter, r *http.Request, file string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		uiError(w, http.StatusMethodNotAllowed, "forgesim: resources are read with GET")
		return
	}
	if file == "" {
		file = "index.html"
	}
	if !fs.ValidPath(file) {
		uiError(w, http.StatusNotFound, "forgesim: no such resource file")
		return
	}
	b, err := fs.ReadFile(h.o.Resource, file)
	if err != nil {
		uiError(w, http.StatusNotFound, "forgesim: no such resource file: "+file)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(file))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	if file == "index.html" {
		tag := `<script src="/forgesim/bridge.js"></script>`
		if loc := headTag.FindIndex(b); loc != nil {
			b = append(b[:loc[1]:loc[1]], append([]byte("\n"+tag), b[loc[1]:]...)...)
		} else {
			b = append([]byte(tag+"\n"), b...)
		}
	}
	connect := "'self'"
	if u, err := url.Parse(h.o.RemoteURL); err == nil && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src "+connect+
		"; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; object-src 'none'")
	_, _ = w.Write(b)
}

// bridge answers callBridge(name, payload) for the calls the simulator
// handles on the server: getContext and invoke.
func (h *CustomUIHost) bridge(w http.ResponseWriter, r *http.Request, s uiSession) {
	if r.Method != http.MethodPost {
		uiError(w, http.StatusMethodNotAllowed, "forgesim: the bridge is called with POST")
		return
	}
	var in struct {
		Name    string          `json:"name"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, uiMaxBridgeBody)).Decode(&in); err != nil {
		uiError(w, http.StatusBadRequest, "forgesim: bridge call is not JSON: "+err.Error())
		return
	}
	switch in.Name {
	case "getContext":
		h.record(BridgeCall{Name: in.Name, AccountID: s.accountID})
		uiJSON(w, map[string]any{"result": h.context(s)})
	case "invoke":
		uiJSON(w, map[string]any{"result": h.invoke(r.Context(), s, in.Payload)})
	default:
		msg := fmt.Sprintf("forgesim: callBridge(%q) is not simulated (getContext, invoke, fetchRemote, emitReadyEvent are)", in.Name)
		h.record(BridgeCall{Name: in.Name, AccountID: s.accountID, Err: msg})
		uiError(w, http.StatusNotImplemented, msg)
	}
}

// context is what view.getContext() resolves to for the viewer.
func (h *CustomUIHost) context(s uiSession) map[string]any {
	in := h.o.Site.Installation()
	if other, ok := h.o.Site.Gateway().Installation(h.o.InstallationID); ok {
		in = other
	}
	env := h.o.Site.minter.defaults()
	envType := in.Environment
	if envType == "" {
		envType = "PRODUCTION"
	}
	return map[string]any{
		"accountId":       s.accountID,
		"cloudId":         in.CloudID,
		"siteUrl":         h.o.Site.SiteURL(),
		"moduleKey":       h.o.ModuleKey,
		"localId":         h.o.ModuleKey,
		"environmentId":   lastSegment(env.EnvironmentID),
		"environmentType": envType,
		"installationId":  in.InstallationID,
		"locale":          h.o.Locale,
		"timezone":        h.o.Timezone,
		"extension":       map[string]any{"type": "jira:adminPage"},
		"license":         nil,
	}
}

// invokeMethods are the methods invokeRemote accepts.
var invokeMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// invoke forwards an invokeRemote call to the remote as Forge's proxy
// does and answers in the bridge's {success, payload|error} shape.
func (h *CustomUIHost) invoke(ctx context.Context, s uiSession, raw json.RawMessage) map[string]any {
	var in struct {
		Path       string            `json:"path"`
		Method     string            `json:"method"`
		Headers    map[string]string `json:"headers"`
		Body       json.RawMessage   `json:"body"`
		InvokeType string            `json:"invokeType"`
	}
	fail := func(c BridgeCall, msg string) map[string]any {
		c.Err = msg
		h.record(c)
		return map[string]any{"success": false, "error": map[string]any{"message": msg}}
	}
	call := BridgeCall{Name: "invoke", AccountID: s.accountID}
	if err := json.Unmarshal(raw, &in); err != nil {
		return fail(call, "forgesim: invoke payload: "+err.Error())
	}
	call.Method, call.Path = strings.ToUpper(in.Method), in.Path
	switch {
	case in.InvokeType != "ui-remote-fetch":
		return fail(call, fmt.Sprintf("forgesim: invokeType %q is not simulated (only ui-remote-fetch, i.e. invokeRemote)", in.InvokeType))
	case !invokeMethods[call.Method]:
		return fail(call, fmt.Sprintf("forgesim: invokeRemote method %q (use GET, POST, PUT, PATCH or DELETE)", in.Method))
	case !strings.HasPrefix(in.Path, "/") || strings.HasPrefix(in.Path, "//"):
		return fail(call, fmt.Sprintf("forgesim: invokeRemote path %q must start with a single /", in.Path))
	}
	hdr := http.Header{}
	for k, v := range in.Headers {
		lk := strings.ToLower(k)
		// Forge sets these itself; the frontend cannot.
		if lk == "authorization" || strings.HasPrefix(lk, "x-forge-") || strings.HasPrefix(lk, "x-b3-") || lk == "host" || lk == "content-length" {
			continue
		}
		hdr.Set(k, v)
	}
	var body any
	if len(in.Body) > 0 && string(in.Body) != "null" {
		body = []byte(in.Body)
	}
	resp, err := h.o.Site.Invoker().Invoke(ctx, h.o.RemoteURL, in.Path, InvocationSpec{
		InstallationID: h.o.InstallationID, AccountID: s.accountID, Kind: KindUI, Method: call.Method,
		Event: body, Header: hdr, WithSystemToken: h.o.SystemToken, WithUserToken: h.o.UserToken,
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fail(call, "forgesim: the remote did not answer within 25 s")
		}
		return fail(call, "forgesim: the remote could not be reached: "+err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	call.Status = resp.StatusCode
	h.record(call)
	headers := map[string][]string{}
	for k, v := range resp.Header {
		headers[strings.ToLower(k)] = v
	}
	var out any
	if len(bytes.TrimSpace(b)) > 0 {
		if json.Unmarshal(b, &out) != nil {
			out = string(b)
		}
	}
	payload := map[string]any{"status": resp.StatusCode, "headers": headers}
	if out != nil {
		payload["body"] = out
	}
	return map[string]any{"success": true, "payload": payload}
}

// fit hands the browser a UI FIT for requestRemote: the browser then calls
// the remote itself, with the FIT as bearer and no OAuth token.
func (h *CustomUIHost) fit(w http.ResponseWriter, r *http.Request, s uiSession) {
	if r.Method != http.MethodPost {
		uiError(w, http.StatusMethodNotAllowed, "forgesim: POST")
		return
	}
	var in struct {
		RemoteKey string `json:"remoteKey"`
		Method    string `json:"method"`
		Path      string `json:"path"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, uiMaxBridgeBody)).Decode(&in); err != nil {
		uiError(w, http.StatusBadRequest, "forgesim: requestRemote: "+err.Error())
		return
	}
	call := BridgeCall{Name: "fetchRemote", AccountID: s.accountID, Method: strings.ToUpper(in.Method), Path: in.Path}
	if in.RemoteKey != h.o.RemoteKey {
		call.Err = fmt.Sprintf("forgesim: requestRemote(%q): the manifest has no remote with that key (the app's is %q)", in.RemoteKey, h.o.RemoteKey)
		h.record(call)
		uiError(w, http.StatusBadRequest, call.Err)
		return
	}
	inst, ok := h.o.Site.Gateway().Installation(h.o.InstallationID)
	if !ok {
		uiError(w, http.StatusNotFound, "forgesim: the installation is gone")
		return
	}
	tok, err := h.o.Site.Invoker().fit(inst, InvocationSpec{Kind: KindUI, AccountID: s.accountID})
	if err != nil {
		uiError(w, http.StatusInternalServerError, "forgesim: minting the FIT: "+err.Error())
		return
	}
	h.record(call)
	uiJSON(w, map[string]any{"url": h.o.RemoteURL, "fit": tok})
}
