package panel

import (
	"github.com/gin-gonic/gin"
)

// ErrorBody is the JSON error envelope shared with the rest of the API:
// {"error":{"code":"…","message":"…","hint":"…"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of the envelope.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Hint      string `json:"hint,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// abort writes an error envelope and stops the handler chain. The request
// id is the one the server's middleware put on the response.
func abort(c *gin.Context, status int, code, message, hint string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Hint: hint,
		RequestID: c.Writer.Header().Get("X-Request-Id")}})
}

// Error codes of the panel API (besides the token errors of the server).
const (
	CodeNotJiraAdmin     = "not_jira_admin"
	CodeAdminCheckFailed = "admin_check_failed"
	CodeBadJSON          = "invalid_json"
	CodeBadMethod        = "method_not_allowed_for_checks"
	CodeBadIdentity      = "invalid_identity"
	CodeAbsoluteURL      = "absolute_url"
	CodePathNotAllowed   = "path_not_allowed"
	CodeGetWithBody      = "get_with_body"
	CodeBodyTooLarge     = "body_too_large"
	CodeNoViewer         = "no_viewer"
	CodeRateLimited      = "rate_limited"
	CodeNotFound         = "not_found"
	CodeBadCursor        = "invalid_cursor"
	CodeBadLimit         = "invalid_limit"
	CodeUnparseable      = "unparseable_exchange"
	CodeNoOperations     = "no_operations"
	CodeStoreUnavailable = "store_unavailable"
	CodeTenantCannotCall = "tenant_cannot_be_called"
	CodeClientConfig     = "client_not_configured"
)
