package jirasim

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// anonMessage is Jira's answer to an unauthenticated request to an
// operation that needs authentication (connect-protocol.md §3.1).
const anonMessage = "Client must be authenticated to access this resource."

// permissionMessage is the example body of a permission refusal (§3.1;
// illustrative in the notes, not captured live).
const permissionMessage = "You do not have permission to perform this action."

// issueHiddenMessage is Jira's text for an issue that does not exist or
// cannot be seen.
const issueHiddenMessage = "Issue does not exist or you do not have permission to see it."

func anonBody() map[string]any {
	return map[string]any{"message": anonMessage, "status-code": http.StatusUnauthorized}
}

func messageBody(status int, msg string) map[string]any {
	return map[string]any{"message": msg, "status-code": status}
}

func errorMessages(msgs ...string) map[string]any {
	if msgs == nil {
		msgs = []string{}
	}
	return map[string]any{"errorMessages": msgs, "errors": map[string]string{}}
}

func fieldErrors(errs map[string]string) map[string]any {
	return map[string]any{"errorMessages": []string{}, "errors": errs}
}

// wantsHTML reports whether an error should be rendered as Jira's HTML
// error page: the client sent an Accept header that does not take JSON
// (application/json, application/*, */*, or a +json type). A missing
// Accept gets JSON, as from Jira's REST layer.
func wantsHTML(r *http.Request) bool {
	acc := strings.ToLower(strings.Join(r.Header.Values("Accept"), ","))
	if strings.TrimSpace(acc) == "" {
		return false
	}
	for part := range strings.SplitSeq(acc, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		mt = strings.TrimSpace(mt)
		if mt == "application/json" || mt == "application/*" || mt == "*/*" || strings.HasSuffix(mt, "+json") {
			return false
		}
	}
	return true
}

// writeError answers an error, as JSON or as Jira's HTML error page.
func (s *Sim) writeError(w http.ResponseWriter, r *http.Request, status int, body map[string]any) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if wantsHTML(r) {
		h.Set("Content-Type", "text/html;charset=UTF-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, htmlErrorPage, status, http.StatusText(status), htmlHeading(status), status,
			html.EscapeString(http.StatusText(status)), html.EscapeString(bodyText(body)), html.EscapeString(s.siteURL))
		return
	}
	writeJSON(w, status, body)
}

// bodyText is the first message of an error body, for the HTML page.
func bodyText(body map[string]any) string {
	if m, ok := body["message"].(string); ok {
		return m
	}
	if ms, ok := body["errorMessages"].([]string); ok && len(ms) > 0 {
		return ms[0]
	}
	if errs, ok := body["errors"].(map[string]string); ok {
		for k, v := range errs {
			return k + ": " + v
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	if status == http.StatusNoContent {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// wwwAuthenticate is the challenge Jira sends with an unauthenticated 401.
func (s *Sim) wwwAuthenticate() string {
	return `OAuth realm="` + url.QueryEscape(s.siteURL) + `"`
}

const htmlErrorPage = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%d %s - Jira</title></head>
<body id="jira" class="aui-layout aui-theme-default page-type-message">
<div class="aui-page-panel"><section class="aui-page-panel-content">
<h1>%s</h1>
<div class="aui-message aui-message-error"><p><strong>%d %s</strong></p><p>%s</p></div>
<p><a href="%s">Go to the Jira home page</a></p>
</section></div></body></html>
`

func htmlHeading(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Oops, you&#39;ve found a dead link."
	case http.StatusUnauthorized:
		return "You&#39;re not logged in"
	case http.StatusForbidden:
		return "You don&#39;t have access to this page"
	case http.StatusTooManyRequests:
		return "Too many requests"
	}
	return "Something went wrong"
}
