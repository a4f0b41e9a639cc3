package forgesim

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// OfflineTokenMutation is the GraphQL document for an offline user token
// (forge.md §1.4). Send it to POST <gateway>/graphql with the app system
// token as Bearer and variables {"input": {"contextIds": [SiteARI(cloudId)],
// "userId": "<accountId>"}}.
const OfflineTokenMutation = `mutation forge_remote_offlineUserAuthToken($input: OfflineUserAuthTokenInput!) {
  offlineUserAuthToken(input: $input) {
    success
    errors { message }
    authToken { token ttl }
  }
}`

// SiteARI is the context ARI of a Jira site: ari:cloud:jira::site/<cloudId>.
func SiteARI(cloudID string) string { return "ari:cloud:jira::site/" + cloudID }

// OfflineTokenInput is the mutation's input.
type OfflineTokenInput struct {
	ContextIDs []string `json:"contextIds"`
	UserID     string   `json:"userId"`
}

// OfflineTokenResponse is the GraphQL answer.
type OfflineTokenResponse struct {
	Data struct {
		OfflineUserAuthToken *struct {
			Success bool `json:"success"`
			Errors  []struct {
				Message string `json:"message"`
			} `json:"errors"`
			AuthToken *struct {
				Token string `json:"token"`
				TTL   int64  `json:"ttl"` // seconds
			} `json:"authToken"`
		} `json:"offlineUserAuthToken"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors,omitempty"`
}

var (
	reInlineContext = regexp.MustCompile(`contextIds\s*:\s*\[\s*"([^"]*)"`)
	reInlineUser    = regexp.MustCompile(`userId\s*:\s*"([^"]*)"`)
)

// serveGraphQL implements offlineUserAuthToken, authorised by the system
// token of the installation whose site the context ARI names.
func (g *Gateway) serveGraphQL(w http.ResponseWriter, r *http.Request, rr *GatewayRequest) {
	if r.Method != http.MethodPost {
		rr.Status, rr.Reason = http.StatusMethodNotAllowed, "graphql needs POST"
		writeJSON(w, rr.Status, map[string]any{"errors": []any{map[string]string{"message": "Only POST is supported"}}})
		return
	}
	tok, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		rr.Status, rr.Reason = http.StatusUnauthorized, "no bearer token"
		writeJSON(w, rr.Status, codeBody(rr.Status, UnauthorizedMessage))
		return
	}
	rec, in, reason := g.lookup(tok)
	rr.TokenKind, rr.InstallationID, rr.AccountID = rec.kind, rec.installationID, rec.accountID
	if reason != "" {
		rr.Status, rr.Reason = http.StatusUnauthorized, reason
		writeJSON(w, rr.Status, codeBody(rr.Status, UnauthorizedMessage))
		return
	}
	var req struct {
		Query     string                     `json:"query"`
		Variables map[string]json.RawMessage `json:"variables"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err := json.Unmarshal(body, &req); err != nil || !strings.Contains(req.Query, "offlineUserAuthToken") {
		rr.Status, rr.Reason = http.StatusBadRequest, "not an offlineUserAuthToken request"
		writeJSON(w, rr.Status, map[string]any{"errors": []any{map[string]string{"message": "the simulator only implements the offlineUserAuthToken mutation"}}})
		return
	}
	var input OfflineTokenInput
	if raw, ok := req.Variables["input"]; ok {
		_ = json.Unmarshal(raw, &input)
	} else {
		if m := reInlineContext.FindStringSubmatch(req.Query); m != nil {
			input.ContextIDs = []string{m[1]}
		}
		if m := reInlineUser.FindStringSubmatch(req.Query); m != nil {
			input.UserID = m[1]
		}
	}
	fail := func(msg string) {
		rr.Status, rr.Reason = http.StatusOK, msg
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"offlineUserAuthToken": map[string]any{
			"success": false, "errors": []any{map[string]string{"message": msg}}, "authToken": nil}}})
	}
	switch {
	case rec.kind != TokenSystem:
		fail("offlineUserAuthToken must be called with the app system token")
		return
	case input.UserID == "":
		fail("userId is required")
		return
	case len(input.ContextIDs) != 1 || input.ContextIDs[0] != SiteARI(in.CloudID):
		fail("contextIds must hold the installation's context " + SiteARI(in.CloudID))
		return
	}
	tokStr, exp, err := g.issue(TokenOffline, in.InstallationID, input.UserID)
	if err != nil {
		fail(err.Error())
		return
	}
	rr.Status, rr.AccountID = http.StatusOK, input.UserID
	ttl := int64(exp.Sub(g.now()).Round(time.Second) / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"offlineUserAuthToken": map[string]any{
		"success": true, "errors": nil, "authToken": map[string]any{"token": tokStr, "ttl": ttl}}}})
}
