package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/api/httperr"
	"github.com/connect-doctor/connect-doctor/connect"
)

// abortAuth writes the problem for a verification error: 401 with
// WWW-Authenticate, 403 for an inactive tenant, 503 for an unavailable
// dependency. Never 500.
func (s *Server) abortAuth(c *gin.Context, err error) {
	p := connect.ProblemFor(err)
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `JWT realm="`+s.appKey+`"`)
	}
	if p.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "5")
		// The body names only the failed dependency; the operator gets
		// the full error.
		s.Logger.Warn("dependency unavailable while verifying a token", slog.String("code", p.Code),
			slog.String("error", err.Error()), slog.String("request_id", requestID(c)))
	}
	s.metrics.authFailure(p.Code)
	var ve *connect.VerifyError
	if errors.As(err, &ve) && ve.ClientKey != "" {
		c.Set(ctxClientKey, ve.ClientKey)
	}
	c.Set(ctxAuthError, p.Code)
	httperr.AbortDetail(c, p.Status, httperr.Detail{Code: p.Code, Message: p.Message, Hint: p.Hint, Canonical: p.Canonical})
}
