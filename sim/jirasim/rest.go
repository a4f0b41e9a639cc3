package jirasim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

type callerKind int

const (
	anonymous  callerKind = iota
	appCaller             // Authorization: JWT, as the app's bot user
	userCaller            // Authorization: Bearer, as an impersonated user
)

// caller is who a REST request runs as.
type caller struct {
	kind   callerKind
	appKey string
	user   *User // a copy; nil for anonymous
	scopes scope.Set
}

// authFailure is a refused credential: 401 with a terse body, or another
// status where Jira uses one.
type authFailure struct {
	status int
	reason string // for the log and RecordedRequest, never sent
	body   map[string]any
}

// siteHandler routes the site's paths.
func (s *Sim) siteHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/rest/", s.serveREST)
	mux.HandleFunc("GET /plugins/servlet/ac/{appKey}/{moduleKey}", s.serveAdminPage)
	mux.HandleFunc("GET /atlassian-connect/all.js", s.serveAllJS)
	mux.HandleFunc("POST "+contextTokenPath, s.serveContextToken)
	mux.HandleFunc("GET /{$}", s.serveHome)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, http.StatusNotFound, messageBody(http.StatusNotFound, "null for uri: "+s.siteURL+r.URL.RequestURI()))
	})
	// The Date header tells the site's own time, so a site whose clock is
	// skewed (or a simulator on an injected clock) shows it, as a real
	// server does. Handlers that set Date themselves (the cached-401
	// fault) override it.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", s.siteNow(s.peekApp(r)).UTC().Format(http.TimeFormat))
		mux.ServeHTTP(w, r)
	})
}

// peekApp names the app a request's credentials claim to come from, without
// verifying anything (used only to pick per-app faults and for the log).
func (s *Sim) peekApp(r *http.Request) string {
	if tok, ok := jwtFrom(r); ok {
		var c connect.Claims
		if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err == nil {
			return c.Issuer
		}
		return ""
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t := s.tokens[strings.TrimSpace(tok)]; t != nil {
			return t.appKey
		}
	}
	return ""
}

// jwtFrom finds a Connect JWT: the Authorization: JWT header or the jwt
// query parameter.
func jwtFrom(r *http.Request) (string, bool) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "JWT "); ok {
		return strings.TrimSpace(tok), true
	}
	if tok := r.URL.Query().Get("jwt"); tok != "" {
		return tok, true
	}
	return "", false
}

func (s *Sim) serveREST(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rr := RecordedRequest{Time: s.now(), Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, AuthScheme: authScheme(r)}
	rr.AppKey = s.peekApp(r)
	defer func() {
		rr.Status = sw.status
		s.record(rr)
	}()
	rr.Fault, rr.Reason = s.rest(sw, r, &rr)
}

// rest runs one REST request through Jira's checks, in Jira's order, and
// returns the fault that answered and/or the reason for a refusal.
func (s *Sim) rest(w http.ResponseWriter, r *http.Request, rr *RecordedRequest) (fault, reason string) {
	if len(r.Header.Get("Authorization")) > 16<<10 {
		s.writeError(w, r, http.StatusRequestHeaderFieldsTooLarge, messageBody(http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large"))
		return "", "authorization header too large"
	}
	if f, ok := s.edgeFault(w, r, rr.AppKey); ok {
		return f, ""
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.ContentLength > 0 || r.ContentLength < 0) {
		w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
		s.writeError(w, r, s.opts.GetWithBodyStatus, errorMessages("GET requests must not have a body."))
		return "", "GET with a body"
	}

	c, fail := s.authenticate(r)
	if fail != nil {
		s.log.Info("jirasim: authentication failed", "method", r.Method, "path", r.URL.Path, "reason", fail.reason)
		s.writeError(w, r, fail.status, fail.body)
		return "", fail.reason
	}
	if c.user != nil {
		rr.AccountID = c.user.AccountID
	}

	m, ok := s.cat.Match(r.Method, r.URL.EscapedPath())
	if !ok {
		if ops := s.cat.PathOperations(r.URL.EscapedPath()); len(ops) > 0 {
			methods := make([]string, len(ops))
			for i, op := range ops {
				methods[i] = op.Method
			}
			w.Header().Set("Allow", strings.Join(methods, ","))
			s.writeError(w, r, http.StatusMethodNotAllowed, messageBody(http.StatusMethodNotAllowed, "Method Not Allowed"))
			return "", "method not allowed"
		}
		s.writeError(w, r, http.StatusNotFound, messageBody(http.StatusNotFound, "null for uri: "+s.siteURL+r.URL.RequestURI()))
		return "", "unknown path"
	}
	rr.Operation = m.Op.OperationID

	if c.kind == anonymous && !m.Op.AnonymousAllowed {
		return "", s.refuseAnonymous(w, r)
	}
	if c.kind != anonymous {
		if _, ok := s.takeFault(IPAllowlist, c.appKey); ok {
			s.writeError(w, r, http.StatusForbidden, errorMessages(ipAllowlistMessage))
			return IPAllowlist.String(), "IP allowlist"
		}
	}
	if reason, ok := s.checkScope(w, r, c, m.Op); !ok {
		return "", reason
	}
	rc := &restCtx{s: s, w: w, r: r, m: m, c: c, v2: !strings.HasPrefix(r.URL.Path, "/rest/api/3/") && strings.HasPrefix(r.URL.Path, "/rest/api/")}
	if reason, ok := s.checkPermission(rc); !ok {
		return "", reason
	}
	s.handle(rc)
	return "", rc.reason
}

func (s *Sim) refuseAnonymous(w http.ResponseWriter, r *http.Request) string {
	w.Header().Set("WWW-Authenticate", s.wwwAuthenticate())
	w.Header().Set("X-Seraph-LoginReason", "AUTHENTICATED_FAILED")
	s.writeError(w, r, http.StatusUnauthorized, anonBody())
	return "anonymous"
}

// unauthorized is the terse 401 Jira gives a credential it rejects.
func unauthorized(reason string) *authFailure {
	return &authFailure{status: http.StatusUnauthorized, reason: reason, body: messageBody(http.StatusUnauthorized, "Unauthorized")}
}

// authenticate works out who the request runs as.
func (s *Sim) authenticate(r *http.Request) (*caller, *authFailure) {
	if tok, ok := jwtFrom(r); ok {
		return s.authenticateJWT(r, tok)
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		s.mu.Lock()
		t := s.tokens[tok]
		var in *install
		var u *User
		if t != nil {
			in = s.installs[t.appKey]
			if uu := s.userLocked(t.accountID); uu != nil {
				c := cloneUser(uu)
				u = &c
			}
		}
		s.mu.Unlock()
		if t == nil {
			// Not a token the authorization server issued (for example a
			// Connect JWT sent with the Bearer scheme): anonymous.
			return &caller{kind: anonymous}, nil
		}
		switch {
		case !s.siteNow(t.appKey).Before(t.expires):
			return nil, unauthorized("user token expired")
		case in == nil || !in.installed || !in.Enabled:
			return nil, unauthorized("user token of an app that is not installed and enabled")
		case u == nil || !u.Active:
			return nil, unauthorized("user token for an unknown or inactive user")
		}
		return &caller{kind: userCaller, appKey: t.appKey, user: u, scopes: t.scopes}, nil
	}
	return &caller{kind: anonymous}, nil
}

func (s *Sim) authenticateJWT(r *http.Request, tok string) (*caller, *authFailure) {
	var peek connect.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &peek); err != nil {
		return nil, unauthorized("malformed JWT")
	}
	s.mu.Lock()
	in := s.installs[peek.Issuer]
	var inst install
	if in != nil {
		inst = *in
	}
	s.mu.Unlock()
	switch {
	case peek.Issuer == s.clientKey:
		return nil, unauthorized("JWT iss is the clientKey; Jira expects the app key")
	case in == nil || !inst.installed:
		return nil, unauthorized(fmt.Sprintf("JWT iss %q is not an installed app", peek.Issuer))
	case !inst.Enabled:
		return nil, unauthorized("the app is disabled")
	}
	now := s.siteNow(inst.AppKey)
	var c connect.Claims
	_, err := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(s.opts.JWTLeeway),
	).ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(inst.SharedSecret), nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, unauthorized("JWT expired (judged by the site's clock)")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, unauthorized("JWT signature does not verify with the shared secret")
	case err != nil:
		return nil, unauthorized("invalid JWT: " + err.Error())
	}
	want := connect.RequestQSH(r.Method, r.RequestURI, "")
	switch {
	case c.QSH == "":
		return nil, unauthorized("JWT has no qsh claim")
	case c.QSH != want:
		return nil, unauthorized(fmt.Sprintf("Expecting claim 'qsh' to have value '%s' but instead it has the value '%s'", want, c.QSH))
	}
	if c.Subject != "" {
		// Legacy impersonation through the JWT "sub" was removed; the
		// Connect host's texts for it (§3.1).
		s.mu.Lock()
		u := s.userLocked(c.Subject)
		bot := c.Subject == inst.BotAccountID
		s.mu.Unlock()
		if !bot {
			msg := fmt.Sprintf("Add-on '%s' disallowed to impersonate user '%s'", inst.AppKey, c.Subject)
			if u == nil || !u.Active {
				return nil, &authFailure{status: http.StatusUnauthorized, reason: "JWT sub names an unknown user", body: messageBody(http.StatusUnauthorized, msg)}
			}
			return nil, &authFailure{status: http.StatusForbidden, reason: "JWT sub impersonation", body: messageBody(http.StatusForbidden, msg)}
		}
	}
	s.mu.Lock()
	bot := s.userLocked(inst.BotAccountID)
	var u User
	if bot != nil {
		u = cloneUser(bot)
	}
	s.mu.Unlock()
	if bot == nil || !u.Active {
		// Connect host text for an inactive app user (§3.1).
		return nil, &authFailure{status: http.StatusUnauthorized, reason: "app user inactive",
			body: messageBody(http.StatusUnauthorized, "Your presented credentials do not provide access to this resource.")}
	}
	return &caller{kind: appCaller, appKey: inst.AppKey, user: &u, scopes: inst.Scopes}, nil
}

// checkScope enforces the Connect scope of the operation.
func (s *Sim) checkScope(w http.ResponseWriter, r *http.Request, c *caller, op *catalog.Operation) (string, bool) {
	if c.kind == anonymous {
		return "", true
	}
	need := op.ConnectScope
	if c.scopes.Allows(need) {
		return "", true
	}
	reason := fmt.Sprintf("Connect scope %s not granted (has %s)", need, c.scopes.String())
	if need == scope.Inaccessible {
		reason = "operation is INACCESSIBLE to Connect apps"
	}
	s.log.Info("jirasim: scope refusal", "op", op.OperationID, "app", c.appKey, "reason", reason)
	if c.kind == userCaller {
		status := s.opts.UserTokenScopeDenialStatus
		if status == http.StatusUnauthorized {
			s.writeError(w, r, status, messageBody(status, "Unauthorized"))
		} else {
			s.writeError(w, r, status, messageBody(status, s.opts.ScopeDenialMessage))
		}
		return reason, false
	}
	s.writeError(w, r, s.opts.ScopeDenialStatus, messageBody(s.opts.ScopeDenialStatus, s.opts.ScopeDenialMessage))
	return reason, false
}
