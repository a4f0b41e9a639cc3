package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/connect-doctor/connect-doctor/connect"
)

// ErrorBody is the JSON envelope of every error answer:
// {"error":{"code":"…","message":"…","hint":"…"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Hint      string `json:"hint,omitempty"`
	Canonical string `json:"canonicalRequest,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// abort writes an error envelope and stops the handler chain.
func abort(c *gin.Context, status int, code, message, hint string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Hint: hint, RequestID: requestID(c)}})
}

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
	c.AbortWithStatusJSON(p.Status, ErrorBody{Error: ErrorDetail{Code: p.Code, Message: p.Message, Hint: p.Hint,
		Canonical: p.Canonical, RequestID: requestID(c)}})
}
