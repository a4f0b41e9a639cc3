// Package preflight predicts the outcome of a Jira REST call before it is
// made: from the endpoint catalog, the tenant's declared Connect scopes, the
// identity the call runs as (the app's own user, or a user impersonated
// through the JWT-bearer grant, with the token's scopes) and, when known, the
// acting identity's Jira permissions. Predictions are pure and deterministic.
//
// Status predictions and their basis:
//   - 200: allowed (also for deprecated operations, outcome "deprecated").
//   - 403 scope_missing: the app's declared scopes do not imply the
//     operation's Connect scope (Connect's scope filter refuses it).
//   - 403 inaccessible: the operation's Connect scope is INACCESSIBLE; no
//     declared scope reaches it, whatever the identity.
//   - 401 act_as_user_missing: a user call without ACT_AS_USER declared; the
//     JWT-bearer token exchange fails, so there is no credential to send.
//   - 401 token_scope_missing: the impersonation token's scopes (the app's
//     declared scopes when the token was not narrowed) do not allow the
//     operation. Real Jira answered 401, not 403, to an impersonation token
//     lacking ADMIN on GET /rest/api/2/permissions (community thread 3746,
//     shared/docs/connect-protocol.md §3.1); 401 is predicted accordingly.
//   - 403 needs_admin / permission_missing: the acting identity is known to
//     lack Administer Jira (needs_admin) or another named permission. A
//     missing Browse projects on a single resource is predicted as 404,
//     which is how Jira hides what a user cannot see.
//   - 0 unknown_endpoint: the catalog does not know the operation. Status 0
//     means "no prediction": the catalog may be older than the site, so a
//     404 is not asserted.
package preflight

import (
	"fmt"
	"strings"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
	"github.com/connect-doctor/connect-doctor/scope"
)

// Identity is who a call runs as.
type Identity string

// The identities.
const (
	App  Identity = "app"  // the app's own user, JWT signed with the shared secret
	User Identity = "user" // a user impersonated through the JWT-bearer grant
)

// Outcome is a stable prediction code.
type Outcome string

// The outcomes.
const (
	Allowed           Outcome = "allowed"
	ScopeMissing      Outcome = "scope_missing"
	Inaccessible      Outcome = "inaccessible"
	ActAsUserMissing  Outcome = "act_as_user_missing"
	TokenScopeMissing Outcome = "token_scope_missing"
	PermissionMissing Outcome = "permission_missing"
	NeedsAdmin        Outcome = "needs_admin"
	UnknownEndpoint   Outcome = "unknown_endpoint"
	Deprecated        Outcome = "deprecated" // allowed, but the operation is deprecated
	// OAuthScopeMissing: on the Forge path, the granted OAuth 2.0 scopes
	// cover neither the operation's classic nor its granular scopes (401
	// "scope does not match" for the system token, 403 "missing scope
	// grants" for a user token).
	OAuthScopeMissing Outcome = "oauth_scope_missing"
	// ScopesUnknown: on the Forge path, the installation's granted scopes
	// are not known, so only permissions can be predicted.
	ScopesUnknown Outcome = "scopes_unknown"
)

// Input describes the call to predict.
type Input struct {
	Method, Path   string    // the concrete request
	Identity       Identity  // "app" (default) or "user"
	DeclaredScopes scope.Set // the tenant's installed scopes
	TokenScopes    scope.Set // impersonation token narrowing (nil = the app's scopes)
	Permissions    *Permissions
	// Forge selects the Forge Remote path: calls go through the
	// api.atlassian.com gateway with OAuth 2.0 tokens, so the granted
	// OAuthScopes decide (nil = not known), not Connect scopes.
	Forge       bool
	OAuthScopes []string
}

// Permissions is what the acting identity is known to hold, e.g. from
// GET /rest/api/3/mypermissions (project permissions asked without a
// project mean "held in some project"). Keys are Jira permission keys
// ("ADMINISTER", "BROWSE_PROJECTS"). Only a key present with false counts as
// missing, and only when Known is set: an absent key is unknown, because a
// probe usually asks for a few keys only. SYSTEM_ADMIN implies ADMINISTER.
type Permissions struct {
	Global map[string]bool
	Known  bool
}

// Result is a prediction.
type Result struct {
	Outcome           Outcome            `json:"outcome"`
	Status            int                `json:"status"` // predicted HTTP status: 200, 401, 403, 404; 0 = no prediction
	Reason            string             `json:"reason"`
	Fix               string             `json:"fix,omitempty"`
	Operation         *catalog.Operation `json:"operation,omitempty"`
	RequiredScope     scope.Scope        `json:"requiredScope,omitempty"`
	MissingScope      scope.Scope        `json:"missingScope,omitempty"`
	MissingPermission string             `json:"missingPermission,omitempty"`
	Deprecated        bool               `json:"deprecated,omitempty"`
	// MissingOAuthScopes is the smallest set of OAuth 2.0 scopes to add to
	// the manifest's permissions.scopes (Forge path).
	MissingOAuthScopes []string `json:"missingOAuthScopes,omitempty"`
}

// Predict predicts the outcome of the call in. The checks run in the order
// Jira meets them: catalog lookup, token exchange (user identity), Connect
// scope (INACCESSIBLE first), then the acting identity's permissions.
func Predict(c *catalog.Catalog, in Input) Result {
	method := strings.ToUpper(strings.TrimSpace(in.Method))
	op, ok := c.Find(method, in.Path)
	if !ok {
		r := Result{Outcome: UnknownEndpoint, Reason: fmt.Sprintf("%s %s is not in the endpoint catalog", method, in.Path)}
		if ops := c.PathOperations(in.Path); len(ops) > 0 {
			var ms []string
			for _, o := range ops {
				ms = append(ms, o.Method)
			}
			r.Reason = fmt.Sprintf("%s has no %s operation in the catalog (it has %s)", ops[0].Path, method, strings.Join(ms, ", "))
			r.Fix = "use one of the methods the endpoint supports"
		} else {
			r.Fix = "check the path against the Jira REST documentation (a typo, a wrong API version, or an endpoint newer than the catalog)"
		}
		return r
	}
	req := op.ConnectScope
	r := Result{Operation: op, RequiredScope: req, Deprecated: op.Deprecated}
	name := op.Method + " " + op.Path + " (" + op.OperationID + ")"
	if in.Forge {
		return predictForge(r, name, in)
	}
	if req == "" {
		r.Outcome = UnknownEndpoint
		r.Reason = name + " has no Connect scope in the catalog; its outcome cannot be predicted"
		return r
	}
	user := in.Identity == User

	if user && !in.DeclaredScopes.Has(scope.ActAsUser) {
		return r.fail(ActAsUserMissing, 401, scope.ActAsUser, "",
			"acting as a user needs the ACT_AS_USER scope, which the app does not declare (declared: "+setString(in.DeclaredScopes)+"); the JWT-bearer token exchange fails, so the call has no credential",
			`add "act_as_user" to the descriptor's scopes and have the site update the app`)
	}
	if req == scope.Inaccessible {
		return r.fail(Inaccessible, 403, "", "",
			name+" is INACCESSIBLE to Connect apps: no declared scope reaches it, for the app or an impersonated user, even if the same URL works for an admin in the browser",
			"use another endpoint, or do this part from Forge or with an API token outside the Connect app")
	}
	if !user {
		if !in.DeclaredScopes.Allows(req) {
			return r.fail(ScopeMissing, 403, req, "",
				fmt.Sprintf("%s needs Connect scope %s; the app declares %s", name, req, setString(in.DeclaredScopes)),
				fmt.Sprintf("add %q to the descriptor's scopes and have the site update the app (scope changes apply only after the new version is installed)", strings.ToLower(string(req))))
		}
	} else if req != scope.ActAsUser {
		token := in.TokenScopes
		narrowed := token != nil
		if !narrowed {
			token = in.DeclaredScopes
		}
		switch {
		case !in.DeclaredScopes.Allows(req):
			return r.fail(TokenScopeMissing, 401, req, "",
				fmt.Sprintf("%s needs Connect scope %s; the impersonation token carries the app's scopes (%s), which do not include it (Jira was seen answering 401 here rather than 403)", name, req, setString(in.DeclaredScopes)),
				fmt.Sprintf("add %q to the descriptor's scopes, have the site update the app, then mint a new user token", strings.ToLower(string(req))))
		case narrowed && !token.Allows(req):
			return r.fail(TokenScopeMissing, 401, req, "",
				fmt.Sprintf("%s needs Connect scope %s; the impersonation token was requested with %s only (Jira was seen answering 401 here rather than 403)", name, req, setString(token)),
				fmt.Sprintf("request the token with scope %s (or omit the scope parameter to get the app's scopes)", req))
		}
	}
	if res, failed := checkPermissions(r, name, in.Permissions); failed {
		return res
	}
	r.Status = 200
	who := "the app user"
	if user {
		who = "the impersonated user"
	}
	r.Reason = name + " needs Connect scope " + string(req) + ", which is allowed; Jira still applies " + who + "'s permissions" + permissionNote(op)
	r.Outcome = Allowed
	if op.Deprecated {
		r.Outcome = Deprecated
		r.Reason = name + " is deprecated (it may be removed); " + r.Reason
		r.Fix = "move to the operation that replaces it (see the Jira REST changelog)"
	}
	return r
}

// predictForge judges a call through the api.atlassian.com gateway: the
// granted OAuth 2.0 scopes must include all of the operation's classic
// scopes or all of its granular ones; then the acting identity's
// permissions apply.
func predictForge(r Result, name string, in Input) Result {
	op := r.Operation
	r.RequiredScope = ""
	user := in.Identity == User
	switch {
	case len(op.OAuthClassic) == 0 && len(op.OAuthGranular) == 0:
		if !op.AnonymousAllowed {
			r.Outcome = UnknownEndpoint
			r.Reason = name + " lists no OAuth 2.0 scopes in the catalog; its outcome through the gateway cannot be predicted"
			return r
		}
	case in.OAuthScopes == nil:
		r.Outcome = ScopesUnknown
		r.Reason = name + " needs " + scopeGroups(op) + "; the installation's granted scopes are not known yet (an upgrade event names them)"
		r.Fix = "compare with the manifest's permissions.scopes"
		return r
	default:
		missClassic, missGranular := missing(op.OAuthClassic, in.OAuthScopes), missing(op.OAuthGranular, in.OAuthScopes)
		if (len(op.OAuthClassic) == 0 || len(missClassic) > 0) && (len(op.OAuthGranular) == 0 || len(missGranular) > 0) {
			add := missClassic
			if len(op.OAuthClassic) == 0 || (len(op.OAuthGranular) > 0 && len(missGranular) < len(missClassic)) {
				add = missGranular
			}
			status, text := 401, `the gateway answers 401 "Unauthorized; scope does not match" to the system token`
			if user {
				status, text = 403, `the gateway answers 403 "…missing scope grants…" to a user token`
			}
			r = r.fail(OAuthScopeMissing, status, "", "",
				fmt.Sprintf("%s needs %s; the installation was granted %s: %s", name, scopeGroups(op), listString(in.OAuthScopes), text),
				fmt.Sprintf("add %s to the manifest's permissions.scopes, forge deploy (a major version) and have the site admin approve the upgrade", strings.Join(add, ", ")))
			r.MissingOAuthScopes = add
			return r
		}
	}
	if res, failed := checkPermissions(r, name, in.Permissions); failed {
		return res
	}
	r.Status, r.Outcome = 200, Allowed
	r.Reason = name + " is allowed by the granted OAuth scopes; Jira still applies the acting user's permissions" + permissionNote(op)
	if op.Deprecated {
		r.Outcome = Deprecated
		r.Reason = name + " is deprecated (it may be removed); " + r.Reason
		r.Fix = "move to the operation that replaces it (see the Jira REST changelog)"
	}
	return r
}

func missing(need, granted []string) []string {
	var out []string
	for _, n := range need {
		found := false
		for _, g := range granted {
			if strings.EqualFold(n, g) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, n)
		}
	}
	return out
}

func scopeGroups(op *catalog.Operation) string {
	var g []string
	if len(op.OAuthClassic) > 0 {
		g = append(g, "classic "+strings.Join(op.OAuthClassic, " + "))
	}
	if len(op.OAuthGranular) > 0 {
		g = append(g, "granular "+strings.Join(op.OAuthGranular, " + "))
	}
	return "OAuth scopes (" + strings.Join(g, ", or ") + ")"
}

func listString(s []string) string {
	if len(s) == 0 {
		return "no scopes"
	}
	return strings.Join(s, ", ")
}

func (r Result) fail(o Outcome, status int, missing scope.Scope, perm, reason, fix string) Result {
	r.Outcome, r.Status, r.MissingScope, r.MissingPermission, r.Reason, r.Fix = o, status, missing, perm, reason, fix
	return r
}

func setString(s scope.Set) string {
	if len(s) == 0 {
		return "no scopes"
	}
	return s.String()
}

func permissionNote(op *catalog.Operation) string {
	if op.Permission == catalog.PermNone {
		return " (none needed)"
	}
	if p := op.PermissionNeeded(); p != "" {
		return " (" + p + ")"
	}
	return ""
}
