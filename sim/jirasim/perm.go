package jirasim

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// restCtx is one authorised REST request on its way to its handler.
type restCtx struct {
	s      *Sim
	w      http.ResponseWriter
	r      *http.Request
	m      catalog.Match
	c      *caller
	v2     bool   // /rest/api/2 or /rest/api/latest: plain-text rich fields
	reason string // why the handler refused, if it did
}

func (rc *restCtx) param(names ...string) string {
	for _, n := range names {
		if v := rc.m.Params[n]; v != "" {
			return v
		}
	}
	return ""
}

// The global and project permissions the simulator knows, with invented
// descriptions (Jira's keys and names).
type permDef struct {
	ID, Key, Name, Type, Description string
}

var permDefs = []permDef{
	{"0", "ADMINISTER", "Administer Jira", "GLOBAL", "Configure the site: settings, schemes, users and apps."},
	{"44", "SYSTEM_ADMIN", "Jira System Administrators", "GLOBAL", "Perform system-level administration."},
	{"27", "USER_PICKER", "Browse users and groups", "GLOBAL", "See the names of users and groups, for example in pickers."},
	{"22", "CREATE_SHARED_OBJECTS", "Share dashboards and filters", "GLOBAL", "Share dashboards and filters with others."},
	{"24", "MANAGE_GROUP_FILTER_SUBSCRIPTIONS", "Manage group filter subscriptions", "GLOBAL", "Subscribe groups to filters."},
	{"33", "BULK_CHANGE", "Make bulk changes", "GLOBAL", "Change many issues at once."},
	{"10", "BROWSE_PROJECTS", "Browse Projects", "PROJECT", "See the project and its issues."},
	{"11", "CREATE_ISSUES", "Create Issues", "PROJECT", "Create issues in the project."},
	{"12", "EDIT_ISSUES", "Edit Issues", "PROJECT", "Edit issues in the project."},
	{"13", "ASSIGN_ISSUES", "Assign Issues", "PROJECT", "Change the assignee of issues."},
	{"14", "RESOLVE_ISSUES", "Resolve Issues", "PROJECT", "Resolve and reopen issues."},
	{"15", "ADD_COMMENTS", "Add Comments", "PROJECT", "Comment on issues."},
	{"16", "DELETE_ISSUES", "Delete Issues", "PROJECT", "Delete issues."},
	{"23", "ADMINISTER_PROJECTS", "Administer Projects", "PROJECT", "Configure the project: roles, components, versions."},
	{"46", "TRANSITION_ISSUES", "Transition Issues", "PROJECT", "Move issues through their workflow."},
}

func permDefByKey(key string) (permDef, bool) {
	for _, p := range permDefs {
		if p.Key == key {
			return p, true
		}
	}
	return permDef{}, false
}

// hasGlobal reports whether u holds a global permission.
func hasGlobal(u *User, key string) bool {
	if u == nil || !u.Active {
		return false
	}
	switch key {
	case "ADMINISTER", "SYSTEM_ADMIN":
		return u.SiteAdmin
	case "USER_PICKER", "CREATE_SHARED_OBJECTS", "MANAGE_GROUP_FILTER_SUBSCRIPTIONS", "BULK_CHANGE":
		return true
	}
	return false
}

// hasProject reports whether u holds a project permission in a project.
// Browse gives the everyday issue permissions; deleting issues and
// administering the project need project admin (or Administer Jira for
// deletion).
func hasProject(u *User, key, projectKey string) bool {
	if u == nil || !u.Active {
		return false
	}
	switch key {
	case "ADMINISTER_PROJECTS":
		return u.adminsProject(projectKey)
	case "DELETE_ISSUES":
		return u.canBrowse(projectKey) && (u.SiteAdmin || u.adminsProject(projectKey))
	}
	if _, ok := permDefByKey(key); !ok {
		return false
	}
	return u.canBrowse(projectKey)
}

// projectOf resolves the project a request is about from its path
// parameters: ("", true, true) when none is named; ok=false when the named
// project or issue does not exist (the message says which).
func (rc *restCtx) projectOf() (key string, named bool, msg string, ok bool) {
	s := rc.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := rc.param("issueIdOrKey"); id != "" {
		is := s.issueLocked(id)
		if is == nil {
			return "", true, issueHiddenMessage, false
		}
		return is.ProjectKey, true, "", true
	}
	if id := rc.param("projectIdOrKey", "projectKeyOrId", "projectId"); id != "" {
		p := s.projectLocked(id)
		if p == nil {
			return "", true, fmt.Sprintf("No project could be found with key '%s'.", id), false
		}
		return p.Key, true, "", true
	}
	return "", false, "", true
}

// checkPermission enforces the acting user's product permission for the
// operation (the app's bot user for app JWTs, the impersonated user for
// user tokens).
func (s *Sim) checkPermission(rc *restCtx) (string, bool) {
	op := rc.m.Op
	u := rc.c.user
	proj, named, msg, exists := rc.projectOf()
	if !exists {
		s.writeError(rc.w, rc.r, http.StatusNotFound, errorMessages(msg))
		return "not found", false
	}
	allowed := true
	switch op.Permission {
	case catalog.PermAdmin:
		allowed = u.isAdmin()
	case catalog.PermAdminOrProjectAdmin:
		allowed = u.isAdmin() || (named && u.adminsProject(proj)) || (!named && u != nil && u.Active && len(u.AdminProjects) > 0)
	case catalog.PermProjectBrowse:
		allowed = !named || u.canBrowse(proj)
	case catalog.PermNone:
		allowed = true
	default:
		switch op.PermissionDetail {
		case "site-admin", "admin-and-project-browse":
			allowed = u.isAdmin()
		case "project-admin":
			allowed = u.isAdmin() || (named && u.adminsProject(proj))
		case "app-only":
			allowed = rc.c.kind == appCaller
		case "project-permissions":
			switch {
			case !named:
				allowed = u != nil && u.Active || op.AnonymousAllowed
			case rc.r.Method == http.MethodDelete && slices.Contains(op.PermissionNames, "Delete issues"):
				allowed = hasProject(u, "DELETE_ISSUES", proj)
			default:
				allowed = u.canBrowse(proj)
			}
		default: // jira-access, browse-users, bulk-change, admin-or-self, …
			allowed = u != nil && u.Active || op.AnonymousAllowed
		}
	}
	if allowed {
		return "", true
	}
	if rc.c.kind == anonymous {
		return s.refuseAnonymous(rc.w, rc.r), false
	}
	reason := fmt.Sprintf("user %s lacks the permission for %s (%s)", u.AccountID, op.OperationID, op.Permission)
	s.log.Info("jirasim: permission refusal", "op", op.OperationID, "user", u.AccountID, "permission", op.Permission, "detail", op.PermissionDetail)
	if named && s.opts.HideForbiddenIssues && rc.param("issueIdOrKey") != "" {
		s.writeError(rc.w, rc.r, http.StatusNotFound, errorMessages(issueHiddenMessage))
		return reason, false
	}
	s.writeError(rc.w, rc.r, http.StatusForbidden, errorMessages(permissionMessage))
	return reason, false
}
