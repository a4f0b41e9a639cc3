package panel

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
