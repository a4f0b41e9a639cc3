package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/config"
	"github.com/connect-doctor/connect-doctor/connect"
	"github.com/connect-doctor/connect-doctor/storage"
	"github.com/connect-doctor/connect-doctor/tenant"
)

// lifecycleRejection is a refused lifecycle callback: status, code, message.
type lifecycleRejection struct {
	status        int
	code, msg, hi string
}

// recordLifecycle appends to the lifecycle log (best effort: a store outage
// is already being answered with 503) and counts the event.
func (s *Server) recordLifecycle(c *gin.Context, event, clientKey, outcome, reason, detail string) {
	s.metrics.lifecycleEvent(event, outcome)
	err := s.Store.LogEvent(c.Request.Context(), storage.LifecycleEvent{
		ClientKey: clientKey, Event: event, Outcome: outcome, Reason: reason, Detail: detail,
	})
	if err != nil {
		s.Logger.Warn("lifecycle log write failed", slog.String("event", event), slog.String("error", err.Error()))
	}
}

// readPayload reads and validates the body of a lifecycle callback.
func (s *Server) readPayload(c *gin.Context, event string) (*connect.Payload, *lifecycleRejection) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, connect.MaxLifecycleBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || len(body) > connect.MaxLifecycleBody {
		return nil, &lifecycleRejection{http.StatusRequestEntityTooLarge, "payload_too_large", "The lifecycle payload is larger than allowed.", ""}
	}
	if err != nil {
		return nil, &lifecycleRejection{http.StatusBadRequest, "payload_unreadable", "The request body could not be read.", ""}
	}
	c.Set(ctxBodyHash, hashHex(body))
	p, err := connect.DecodePayload(bytes.NewReader(body), event)
	if err != nil {
		code := "payload_invalid"
		switch {
		case errors.Is(err, connect.ErrPayloadJSON):
			code = "payload_malformed"
		case errors.Is(err, connect.ErrPayloadEvent):
			code = "payload_wrong_event"
		case errors.Is(err, connect.ErrPayloadTooLarge):
			return nil, &lifecycleRejection{http.StatusRequestEntityTooLarge, "payload_too_large", err.Error(), ""}
		}
		return nil, &lifecycleRejection{http.StatusBadRequest, code, err.Error(), "Jira sends a JSON object with key, clientKey, sharedSecret (installed only) and baseUrl."}
	}
	if p.Key != s.appKey {
		return nil, &lifecycleRejection{http.StatusBadRequest, "wrong_app_key",
			"The payload is for app key \"" + truncate(p.Key, 64) + "\", not \"" + s.appKey + "\".",
			"Install the descriptor served by this deployment, or set APP_KEY to the key the site installed."}
	}
	if err := config.CheckBaseURL(p.BaseURL, s.AllowedHosts); err != nil {
		return nil, &lifecycleRejection{http.StatusForbidden, "host_not_allowed", err.Error(),
			"Add the site's host to ALLOWED_HOSTS if it is a genuine Atlassian site."}
	}
	// displayUrl ends up in the panel's frame-ancestors: the same host
	// rules as baseUrl (issue 16 item 10). Empty means "same as baseUrl".
	if p.DisplayURL != "" {
		if err := config.CheckBaseURL(p.DisplayURL, s.AllowedHosts); err != nil {
			return nil, &lifecycleRejection{http.StatusForbidden, "display_url_not_allowed", "displayUrl: " + err.Error(),
				"A site with a custom domain needs that domain in ALLOWED_HOSTS."}
		}
	}
	return p, nil
}

func (s *Server) reject(c *gin.Context, event, clientKey string, r *lifecycleRejection) {
	s.recordLifecycle(c, event, clientKey, storage.OutcomeRejected, r.code, r.msg)
	c.Set(ctxAuthError, r.code)
	httperr.Abort(c, r.status, r.code, r.msg, r.hi)
}

// refuseUnauthenticated answers a lifecycle attempt refused before its
// token was verified. Anyone can send those, so they are counted in
// metrics and sampled in the log, never stored row by row (issue 16 item
// 8): a flood must not grow the database.
func (s *Server) refuseUnauthenticated(c *gin.Context, event, clientKey, code string) {
	s.metrics.lifecycleEvent(event, outcomeRefusedUnauthenticated)
	if n, ok := s.refusals.allow(); ok {
		s.Logger.Warn("lifecycle: unauthenticated attempt refused", slog.String("event", event), slog.String("code", code),
			slog.String("client_key", truncate(clientKey, 64)), slog.String("remote", c.ClientIP()), slog.Int64("suppressed_before", n))
	}
}

// outcomeRefusedUnauthenticated labels refused unauthenticated attempts in
// the lifecycle metric (never in the lifecycle log).
const outcomeRefusedUnauthenticated = "refused_unauthenticated"

// refusalLogsPerMinute bounds the sampled refusal logs.
const refusalLogsPerMinute = 10

// sampler lets through at most perMinute events a minute and counts the
// ones it suppressed.
type sampler struct {
	mu         sync.Mutex
	now        func() time.Time
	perMinute  int
	window     time.Time
	n          int
	suppressed int64
}

func newSampler(now func() time.Time, perMinute int) *sampler {
	return &sampler{now: now, perMinute: perMinute}
}

// allow reports whether to log this event, with the number suppressed
// since the last one logged.
func (s *sampler) allow() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.window) >= time.Minute {
		s.window, s.n = now, 0
	}
	if s.n >= s.perMinute {
		s.suppressed++
		return 0, false
	}
	s.n++
	n := s.suppressed
	s.suppressed = 0
	return n, true
}

// installTokenKey identifies an install token for single use: the SHA-256
// of its signed part (header.claims), so re-encodings of the signature do
// not make it new.
func installTokenKey(tok string) string {
	if i := strings.LastIndexByte(tok, '.'); i > 0 {
		tok = tok[:i]
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// ctxBodyHash holds the SHA-256 of a lifecycle callback's body.
const ctxBodyHash = "lifecycle_body_hash"

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// memoryLedger is the single-instance TokenLedger used when none is given.
type memoryLedger struct {
	mu   sync.Mutex
	now  func() time.Time
	used map[string]usedToken
}

type usedToken struct {
	exp  time.Time
	body string
}

func newMemoryLedger(now func() time.Time) *memoryLedger {
	return &memoryLedger{now: now, used: map[string]usedToken{}}
}

func (m *memoryLedger) Use(_ context.Context, _, hash, bodyHash string, exp time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	if prev, ok := m.used[hash]; ok {
		if prev.body != bodyHash {
			return false, storage.ErrTokenUsed
		}
		return false, nil
	}
	m.used[hash] = usedToken{exp: exp, body: bodyHash}
	return true, nil
}

func (m *memoryLedger) UseOnce(_ context.Context, _, hash string, exp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire()
	if _, ok := m.used[hash]; ok {
		return storage.ErrTokenUsed
	}
	m.used[hash] = usedToken{exp: exp}
	return nil
}

// expire drops expired tokens; the caller holds mu.
func (m *memoryLedger) expire() {
	now := m.now()
	for k, e := range m.used {
		if e.exp.Before(now) {
			delete(m.used, k)
		}
	}
}

func (m *memoryLedger) Release(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.used, hash)
	return nil
}

// signedLifecycle handles the RS256-signed installed and uninstalled
// callbacks: payload, host, signature and claims, in that order, then the
// token's single use. It returns the token's ledger key (release it when
// the callback cannot be completed) and whether this is the token's first
// use; a redelivery (the same token and body again) may only be accepted
// when it changes nothing (see noOp).
func (s *Server) signedLifecycle(c *gin.Context, event string) (p *connect.Payload, key string, first, ok bool) {
	p, rej := s.readPayload(c, event)
	if rej != nil {
		ck := ""
		if p != nil {
			ck = p.ClientKey
		}
		s.refuseUnauthenticated(c, event, ck, rej.code)
		c.Set(ctxAuthError, rej.code)
		httperr.Abort(c, rej.status, rej.code, rej.msg, rej.hi)
		return nil, "", false, false
	}
	c.Set(ctxClientKey, p.ClientKey)
	tok, err := connect.TokenFromRequest(c.Request)
	var claims *connect.Claims
	if err == nil {
		// The client address bounds how many unknown kids it can make us
		// fetch (issue 16 item 7).
		vctx := connect.WithSource(c.Request.Context(), c.ClientIP())
		claims, err = s.InstallVerifier.Verify(vctx, c.Request.Method, c.Request.RequestURI, tok, p.ClientKey)
	}
	if err != nil {
		pr := connect.ProblemFor(err)
		if connect.IsUnavailable(err) {
			s.recordLifecycle(c, event, p.ClientKey, storage.OutcomeFailed, pr.Code, pr.Message)
		} else {
			s.refuseUnauthenticated(c, event, p.ClientKey, pr.Code)
		}
		s.abortAuth(c, err)
		return nil, "", false, false
	}
	// Single use (issue 16 item 6): the signature does not cover the body,
	// so the same token must not carry a second body.
	key = installTokenKey(tok)
	exp := s.Now().Add(time.Hour) // exp is required by the verifier; this is a guard
	if claims != nil && claims.ExpiresAt != nil {
		exp = claims.ExpiresAt.Time.Add(connect.DefaultLeeway)
	}
	first, err = s.UsedTokens.Use(c.Request.Context(), "install", key, c.GetString(ctxBodyHash), exp)
	switch {
	case errors.Is(err, storage.ErrTokenUsed):
		s.refuseReplay(c, event, p.ClientKey, "install token used a second time with another body")
		return nil, "", false, false
	case err != nil:
		s.Logger.Error("install token ledger unavailable", slog.String("error", err.Error()))
		s.recordLifecycle(c, event, p.ClientKey, storage.OutcomeFailed, "store_unavailable", "token ledger write failed")
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The callback could not be recorded; nothing was saved.", "Jira retries the callback.")
		return nil, "", false, false
	}
	return p, key, first, true
}

// refuseReplay answers a lifecycle token used a second time.
func (s *Server) refuseReplay(c *gin.Context, event, clientKey, detail string) {
	s.recordLifecycle(c, event, clientKey, storage.OutcomeRejected, "token_replayed", detail)
	c.Set(ctxAuthError, "token_replayed")
	c.Header("WWW-Authenticate", `JWT realm="connect-doctor"`)
	httperr.Abort(c, http.StatusUnauthorized, "token_replayed", "This lifecycle token was already used; each lifecycle token is accepted once.",
		"Jira signs a new token for every callback; a replayed capture is refused.")
}

func (s *Server) installed(c *gin.Context) {
	p, key, first, ok := s.signedLifecycle(c, connect.EventInstalled)
	if !ok {
		return
	}
	t := &tenant.Tenant{
		ClientKey: p.ClientKey, AppKey: p.Key, BaseURL: p.BaseURL, DisplayURL: p.DisplayURL,
		ProductType: p.ProductType, Description: p.Description, ServiceEntitlementNumber: p.ServiceEntitlementNumber,
		OAuthClientID: p.OAuthClientID, CloudID: p.CloudID, InstallationID: p.InstallationID,
		ServerVersion: p.ServerVersion, PluginsVersion: p.PluginsVersion, SharedSecret: p.SharedSecret,
		Scopes: s.declaredScopes(),
	}
	if !first {
		// A redelivery of an install already accepted is answered only if
		// it would change nothing: replayed after a reinstall it would
		// restore the old shared secret, after a disable or an uninstall
		// it would re-enable the site.
		if !s.redeliveryIsNoOp(c, connect.EventInstalled, p.ClientKey, func(stored *tenant.Tenant) bool { return sameInstall(stored, t) }) {
			return
		}
		s.recordLifecycle(c, connect.EventInstalled, p.ClientKey, storage.OutcomeAccepted, "redelivery", "the same install again; nothing changed")
		c.Status(http.StatusNoContent)
		return
	}
	if err := s.Store.SaveInstall(c.Request.Context(), t); err != nil {
		_ = s.UsedTokens.Release(context.WithoutCancel(c.Request.Context()), key)
		s.Invalidate(p.ClientKey)
		s.Logger.Error("install not stored", slog.String("client_key", p.ClientKey), slog.String("error", err.Error()))
		s.recordLifecycle(c, connect.EventInstalled, p.ClientKey, storage.OutcomeFailed, "store_unavailable", "database write failed")
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The installation could not be stored; nothing was saved.", "Jira retries the install; make sure the database is reachable.")
		return
	}
	s.Invalidate(p.ClientKey)
	s.recordLifecycle(c, connect.EventInstalled, p.ClientKey, storage.OutcomeAccepted, "", "")
	s.Logger.Info("installed", slog.String("client_key", p.ClientKey), slog.String("base_url", p.BaseURL))
	c.Status(http.StatusNoContent)
}

func (s *Server) uninstalled(c *gin.Context) {
	p, key, first, ok := s.signedLifecycle(c, connect.EventUninstalled)
	if !ok {
		return
	}
	if !first {
		// A redelivered uninstall is a no-op only while the site is still
		// uninstalled: replayed after a reinstall it would uninstall it.
		if !s.redeliveryIsNoOp(c, connect.EventUninstalled, p.ClientKey, func(stored *tenant.Tenant) bool { return stored.State == tenant.StateUninstalled }) {
			return
		}
		s.recordLifecycle(c, connect.EventUninstalled, p.ClientKey, storage.OutcomeAccepted, "redelivery", "the same uninstall again; nothing changed")
		c.Status(http.StatusNoContent)
		return
	}
	err := s.Store.SetState(c.Request.Context(), p.ClientKey, tenant.StateUninstalled)
	s.Invalidate(p.ClientKey)
	switch {
	case errors.Is(err, connect.ErrUnknownTenant):
		// Signed by Atlassian, but we never stored the install: nothing to do.
		s.recordLifecycle(c, connect.EventUninstalled, p.ClientKey, storage.OutcomeAccepted, "unknown_tenant", "no stored installation")
	case err != nil:
		_ = s.UsedTokens.Release(context.WithoutCancel(c.Request.Context()), key)
		s.recordLifecycle(c, connect.EventUninstalled, p.ClientKey, storage.OutcomeFailed, "store_unavailable", "database write failed")
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The uninstall could not be recorded.", "Jira retries; make sure the database is reachable.")
		return
	default:
		s.recordLifecycle(c, connect.EventUninstalled, p.ClientKey, storage.OutcomeAccepted, "", "")
	}
	s.Logger.Info("uninstalled", slog.String("client_key", p.ClientKey))
	c.Status(http.StatusNoContent)
}

// redeliveryIsNoOp reports whether a redelivered lifecycle callback (its
// token and body seen before) would change nothing, by noOp on the stored
// tenant (an unknown tenant: nothing to change back). Otherwise it answers
// 401 token_replayed (or 503 when the store cannot tell) and reports false.
func (s *Server) redeliveryIsNoOp(c *gin.Context, event, clientKey string, noOp func(*tenant.Tenant) bool) bool {
	stored, err := s.Store.Get(c.Request.Context(), clientKey)
	switch {
	case errors.Is(err, connect.ErrUnknownTenant):
		if event == connect.EventUninstalled {
			return true
		}
		s.refuseReplay(c, event, clientKey, "redelivered install of a tenant that is not stored")
		return false
	case err != nil:
		s.recordLifecycle(c, event, clientKey, storage.OutcomeFailed, "store_unavailable", "database read failed")
		c.Header("Retry-After", "5")
		httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The callback could not be checked against the stored installation.", "Jira retries the callback.")
		return false
	case !noOp(stored):
		s.refuseReplay(c, event, clientKey, "lifecycle token replayed after the installation changed")
		return false
	}
	return true
}

// sameInstall reports whether storing t would leave stored as it is (the
// secret compared in constant time).
func sameInstall(stored, t *tenant.Tenant) bool {
	sameSecret := subtle.ConstantTimeCompare([]byte(stored.SharedSecret), []byte(t.SharedSecret)) == 1
	return sameSecret && stored.State == tenant.StateInstalled && stored.AppKey == t.AppKey && stored.BaseURL == t.BaseURL &&
		stored.DisplayURL == t.DisplayURL && stored.ProductType == t.ProductType && stored.Description == t.Description &&
		stored.ServiceEntitlementNumber == t.ServiceEntitlementNumber && stored.OAuthClientID == t.OAuthClientID &&
		stored.CloudID == t.CloudID && stored.InstallationID == t.InstallationID && stored.ServerVersion == t.ServerVersion &&
		stored.PluginsVersion == t.PluginsVersion && stored.Scopes.String() == t.Scopes.String()
}

// lifecycleToken verifies the HS256 token of the enabled and disabled
// callbacks (a disabled tenant may send "enabled"), logging refusals.
func (s *Server) lifecycleToken(event string) gin.HandlerFunc {
	verify := s.requireToken(connect.VerifyOptions{AllowDisabled: true})
	return func(c *gin.Context) {
		verify(c)
		if c.IsAborted() {
			if c.Writer.Status() == http.StatusServiceUnavailable {
				s.recordLifecycle(c, event, c.GetString(ctxClientKey), storage.OutcomeFailed, c.GetString(ctxAuthError), "token refused")
				return
			}
			s.refuseUnauthenticated(c, event, c.GetString(ctxClientKey), c.GetString(ctxAuthError))
		}
	}
}

// enabledDisabled handles the HS256-signed enabled and disabled callbacks.
// Each token changes the state once (shared ledger): a captured "disabled"
// replayed after the site enabled the app again would disable it, so a
// token seen before is answered 204 only while it would change nothing.
func (s *Server) enabledDisabled(event string) gin.HandlerFunc {
	state := tenant.StateInstalled
	if event == connect.EventDisabled {
		state = tenant.StateDisabled
	}
	return func(c *gin.Context) {
		v := Verified(c)
		p, rej := s.readPayload(c, event)
		if rej != nil {
			s.reject(c, event, v.Tenant.ClientKey, rej)
			return
		}
		if p.ClientKey != v.Tenant.ClientKey {
			s.reject(c, event, v.Tenant.ClientKey, &lifecycleRejection{http.StatusForbidden, "client_key_mismatch",
				"The payload's clientKey is not the tenant that signed the request.", ""})
			return
		}
		tok, _ := connect.TokenFromRequest(c.Request) // verified above
		key := installTokenKey(tok)
		exp := s.Now().Add(time.Hour)
		if v.Claims != nil && v.Claims.ExpiresAt != nil {
			exp = v.Claims.ExpiresAt.Time.Add(connect.DefaultLeeway)
		}
		switch err := s.UsedTokens.UseOnce(c.Request.Context(), event, key, exp); {
		case errors.Is(err, storage.ErrTokenUsed):
			// A redelivery (Jira retries when our answer was lost) is
			// accepted while the tenant is still in the state it asks for;
			// once the state changed, the old token is a replay.
			if s.redeliveryIsNoOp(c, event, p.ClientKey, func(t *tenant.Tenant) bool { return t.State == state }) {
				s.recordLifecycle(c, event, p.ClientKey, storage.OutcomeAccepted, "", "redelivery, nothing changed")
				c.Status(http.StatusNoContent)
			}
			return
		case err != nil:
			s.Logger.Error("lifecycle token ledger unavailable", slog.String("error", err.Error()))
			s.recordLifecycle(c, event, p.ClientKey, storage.OutcomeFailed, "store_unavailable", "token ledger write failed")
			c.Header("Retry-After", "5")
			httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The state change could not be recorded.", "Jira retries the callback.")
			return
		}
		if err := s.Store.SetState(c.Request.Context(), p.ClientKey, state); err != nil {
			_ = s.UsedTokens.Release(context.WithoutCancel(c.Request.Context()), key)
			s.Invalidate(p.ClientKey)
			s.recordLifecycle(c, event, p.ClientKey, storage.OutcomeFailed, "store_unavailable", "database write failed")
			c.Header("Retry-After", "5")
			httperr.Abort(c, http.StatusServiceUnavailable, "store_unavailable", "The state change could not be stored.", "")
			return
		}
		s.Invalidate(p.ClientKey)
		s.recordLifecycle(c, event, p.ClientKey, storage.OutcomeAccepted, "", "")
		c.Status(http.StatusNoContent)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
