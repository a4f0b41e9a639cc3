package api

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

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
	return p, nil
}

func (s *Server) reject(c *gin.Context, event, clientKey string, r *lifecycleRejection) {
	s.recordLifecycle(c, event, clientKey, storage.OutcomeRejected, r.code, r.msg)
	c.Set(ctxAuthError, r.code)
	httperr.Abort(c, r.status, r.code, r.msg, r.hi)
}

// signedLifecycle handles the RS256-signed installed and uninstalled
// callbacks: payload, host, signature and claims, in that order.
func (s *Server) signedLifecycle(c *gin.Context, event string) (*connect.Payload, bool) {
	p, rej := s.readPayload(c, event)
	if rej != nil {
		ck := ""
		if p != nil {
			ck = p.ClientKey
		}
		s.reject(c, event, ck, rej)
		return nil, false
	}
	c.Set(ctxClientKey, p.ClientKey)
	tok, err := connect.TokenFromRequest(c.Request)
	if err == nil {
		_, err = s.InstallVerifier.Verify(c.Request.Context(), c.Request.Method, c.Request.RequestURI, tok, p.ClientKey)
	}
	if err != nil {
		pr := connect.ProblemFor(err)
		outcome := storage.OutcomeRejected
		if connect.IsUnavailable(err) {
			outcome = storage.OutcomeFailed
		}
		s.recordLifecycle(c, event, p.ClientKey, outcome, pr.Code, pr.Message)
		s.abortAuth(c, err)
		return nil, false
	}
	return p, true
}

func (s *Server) installed(c *gin.Context) {
	p, ok := s.signedLifecycle(c, connect.EventInstalled)
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
	if err := s.Store.SaveInstall(c.Request.Context(), t); err != nil {
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
	p, ok := s.signedLifecycle(c, connect.EventUninstalled)
	if !ok {
		return
	}
	err := s.Store.SetState(c.Request.Context(), p.ClientKey, tenant.StateUninstalled)
	s.Invalidate(p.ClientKey)
	switch {
	case errors.Is(err, connect.ErrUnknownTenant):
		// Signed by Atlassian, but we never stored the install: nothing to do.
		s.recordLifecycle(c, connect.EventUninstalled, p.ClientKey, storage.OutcomeAccepted, "unknown_tenant", "no stored installation")
	case err != nil:
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

// lifecycleToken verifies the HS256 token of the enabled and disabled
// callbacks (a disabled tenant may send "enabled"), logging refusals.
func (s *Server) lifecycleToken(event string) gin.HandlerFunc {
	verify := s.requireToken(connect.VerifyOptions{AllowDisabled: true})
	return func(c *gin.Context) {
		verify(c)
		if c.IsAborted() {
			outcome := storage.OutcomeRejected
			if c.Writer.Status() == http.StatusServiceUnavailable {
				outcome = storage.OutcomeFailed
			}
			s.recordLifecycle(c, event, c.GetString(ctxClientKey), outcome, c.GetString(ctxAuthError), "token refused")
		}
	}
}

// enabledDisabled handles the HS256-signed enabled and disabled callbacks.
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
		if err := s.Store.SetState(c.Request.Context(), p.ClientKey, state); err != nil {
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
