package manifest

import (
	"regexp"
	"slices"
	"strings"
)

// Token scopes a manifest needs when an endpoint or remote enables the
// corresponding OAuth token (forge.md §1.1).
const (
	ScopeSystemToken = "read:app-system-token"
	ScopeUserToken   = "read:app-user-token"
)

// connectToOAuth is Atlassian's Connect → OAuth 2.0 equivalence table
// (forge.md §2.2, /platform/adopting-forge-from-connect/connect-to-oauth2-scope-equivalences):
// manage:jira-configuration = ADMIN, manage:jira-project = PROJECT_ADMIN,
// manage:jira-webhook = WRITE, read:jira-user = READ, read:jira-work = READ,
// write:jira-work = DELETE. Connect scopes are hierarchical, so a scope gets
// the OAuth scopes of every scope it implies (see oauthFor). One deliberate
// addition: WRITE also maps to write:jira-work, because the endpoint catalog
// shows Jira's WRITE-scoped operations (create issue, add comment, …) need
// write:jira-work, which the table lists only against DELETE.
var connectToOAuth = map[string][]string{
	"READ":          {"read:jira-user", "read:jira-work"},
	"WRITE":         {"manage:jira-webhook", "write:jira-work"},
	"DELETE":        {"write:jira-work"},
	"PROJECT_ADMIN": {"manage:jira-project"},
	"ADMIN":         {"manage:jira-configuration"},
}

// connectChain is the Connect scope hierarchy, lowest first.
var connectChain = []string{"READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN"}

// normConnect upper-cases a Connect scope and turns "-" into "_".
func normConnect(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
}

// OAuthScopesFor returns the sorted OAuth 2.0 scopes equivalent to the given
// Connect scopes (READ…ADMIN; ACT_AS_USER and ACCESS_EMAIL_ADDRESSES have no
// product-scope equivalent: user calls use the app user token).
func OAuthScopesFor(connectScopes []string) []string {
	var out []string
	for _, cs := range connectScopes {
		i := slices.Index(connectChain, normConnect(cs))
		for _, implied := range connectChain[:i+1] {
			out = append(out, connectToOAuth[implied]...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ConnectScopeSpelling is the manifest spelling of a Connect scope for
// product ("jira"): lower case, "_" → "-", suffix ":connect-<product>".
func ConnectScopeSpelling(connectScope, product string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(connectScope)), "_", "-") + ":connect-" + product
}

// connectScopes are the Connect scope spellings @forge/manifest knows.
var connectScopes = []string{
	"read:connect-jira", "write:connect-jira", "delete:connect-jira", "project-admin:connect-jira",
	"admin:connect-jira", "act-as-user:connect-jira", "access-email-addresses:connect-jira",
	"read:connect-confluence", "write:connect-confluence", "delete:connect-confluence",
	"space-admin:connect-confluence", "admin:connect-confluence", "act-as-user:connect-confluence",
	"access-email-addresses:connect-confluence",
}

// classicScopes are Jira's classic OAuth 2.0 scopes and the Forge platform
// scopes the checker accepts by name.
var classicScopes = []string{
	"read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-configuration",
	"manage:jira-project", "manage:jira-webhook", "manage:jira-data-provider",
	ScopeSystemToken, ScopeUserToken, "storage:app", "read:me", "read:account",
	"report:personal-data",
}

// granularRE matches Atlassian granular scopes such as read:issue:jira or
// write:board-scope:jira-software.
var granularRE = regexp.MustCompile(`^(read|write|delete|manage|validate|admin):[a-z0-9][a-z0-9._-]*:(jira|jira-software|jira-service-management|confluence|compass|bitbucket|jira-work-management)$`)

// IsConnectScope reports whether s is a Connect scope spelling.
func IsConnectScope(s string) bool { return strings.Contains(s, ":connect-") }

// scopeKnown reports whether s is a scope the checker recognises.
func scopeKnown(s string, extra []string) bool {
	return slices.Contains(connectScopes, s) || slices.Contains(classicScopes, s) ||
		granularRE.MatchString(s) || slices.Contains(extra, s)
}

// isProductScope reports whether s grants product access (anything but the
// token scopes).
func isProductScope(s string) bool { return s != ScopeSystemToken && s != ScopeUserToken }
