package preflight

import (
	"fmt"
	"strings"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// Jira permission keys used by the checks.
const (
	KeyAdminister         = "ADMINISTER"
	KeySystemAdmin        = "SYSTEM_ADMIN"
	KeyAdministerProjects = "ADMINISTER_PROJECTS"
	KeyBrowseProjects     = "BROWSE_PROJECTS"
	KeyUserPicker         = "USER_PICKER"
	KeyBulkChange         = "BULK_CHANGE"
)

// permissionKeys maps the permission names used in Jira's REST
// documentation (lower case) to permission keys.
var permissionKeys = map[string]string{
	"administer jira":              KeyAdminister,
	"administer projects":          KeyAdministerProjects,
	"browse projects":              KeyBrowseProjects,
	"browse project":               KeyBrowseProjects,
	"browse users and groups":      KeyUserPicker,
	"make bulk changes":            KeyBulkChange,
	"share dashboards and filters": "CREATE_SHARED_OBJECTS",
	"create issues":                "CREATE_ISSUES",
	"edit issues":                  "EDIT_ISSUES",
	"delete issues":                "DELETE_ISSUES",
	"assign issues":                "ASSIGN_ISSUES",
	"link issues":                  "LINK_ISSUES",
	"transition issues":            "TRANSITION_ISSUES",
	"resolve issues":               "RESOLVE_ISSUES",
	"add comments":                 "ADD_COMMENTS",
	"create attachments":           "CREATE_ATTACHMENTS",
	"set issue security":           "SET_ISSUE_SECURITY",
	"work on issues":               "WORK_ON_ISSUES",
	"manage watcher list":          "MANAGE_WATCHERS",
	"view voters and watchers":     "VIEW_VOTERS_AND_WATCHERS",
	"edit all comments":            "EDIT_ALL_COMMENTS",
	"edit own comments":            "EDIT_OWN_COMMENTS",
	"delete all comments":          "DELETE_ALL_COMMENTS",
	"delete own comments":          "DELETE_OWN_COMMENTS",
	"delete all attachments":       "DELETE_ALL_ATTACHMENTS",
	"delete own attachments":       "DELETE_OWN_ATTACHMENTS",
	"edit all worklogs":            "EDIT_ALL_WORKLOGS",
	"edit own worklogs":            "EDIT_OWN_WORKLOGS",
	"delete all worklogs":          "DELETE_ALL_WORKLOGS",
	"delete own worklogs":          "DELETE_OWN_WORKLOGS",
}

// PermissionKey maps a permission name as written in Jira's REST
// documentation ("Administer Jira", "Browse projects") to its key.
func PermissionKey(name string) (string, bool) {
	k, ok := permissionKeys[strings.ToLower(strings.TrimSpace(name))]
	return k, ok
}

// NewPermissions merges permission maps (e.g. the global and project
// answers of the permission probe) into a known Permissions.
func NewPermissions(sets ...map[string]bool) *Permissions {
	p := &Permissions{Global: map[string]bool{}, Known: true}
	for _, set := range sets {
		for k, v := range set {
			p.Global[k] = p.Global[k] || v
		}
	}
	return p
}

// lacks reports whether p shows the permission is not held: Known, and the
// key present with false.
func (p *Permissions) lacks(key string) bool {
	if p == nil || !p.Known {
		return false
	}
	if key == KeyAdminister && p.Global[KeySystemAdmin] {
		return false
	}
	held, present := p.Global[key]
	return present && !held
}

// checkPermissions applies the acting identity's known permissions to the
// operation's permission facts.
func checkPermissions(r Result, name string, p *Permissions) (Result, bool) {
	if p == nil || !p.Known {
		return r, false
	}
	op := r.Operation
	hidden := 403
	if strings.Contains(op.Path, "{") {
		hidden = 404 // Jira hides single resources the user cannot browse
	}
	browseMissing := func() (Result, bool) {
		if hidden == 404 {
			return r.fail(PermissionMissing, 404, "", KeyBrowseProjects,
				name+" needs Browse projects for the project; the acting identity holds it in no project, and Jira answers 404 for what a user cannot see",
				"grant Browse projects in the project's permission scheme (for the app user: the atlassian-addons-project-access role)"), true
		}
		return r, false // lists and searches are filtered, not refused
	}
	switch op.Permission {
	case catalog.PermAdmin:
		if p.lacks(KeyAdminister) {
			return r.fail(NeedsAdmin, 403, "", KeyAdminister,
				name+" needs the Administer Jira global permission, which the acting identity does not hold",
				"run it as a user in a group with Administer Jira (for the app user: declare the ADMIN scope so Jira adds it to atlassian-addons-admin)"), true
		}
	case catalog.PermAdminOrProjectAdmin:
		if p.lacks(KeyAdminister) && p.lacks(KeyAdministerProjects) {
			return r.fail(PermissionMissing, 403, "", KeyAdministerProjects,
				name+" needs Administer projects for the project or Administer Jira; the acting identity holds neither",
				"grant Administer projects in the project's permission scheme, or Administer Jira"), true
		}
	case catalog.PermProjectBrowse:
		if p.lacks(KeyBrowseProjects) && p.lacks(KeyAdminister) && p.lacks(KeyAdministerProjects) ||
			op.PermissionDetail == "project-browse" && p.lacks(KeyBrowseProjects) {
			return browseMissing()
		}
	case catalog.PermOther:
		switch op.PermissionDetail {
		case "admin-and-project-browse":
			if p.lacks(KeyAdminister) {
				return r.fail(NeedsAdmin, 403, "", KeyAdminister, name+" needs Administer Jira (and Browse projects); the acting identity does not hold Administer Jira",
					"run it as a user with Administer Jira"), true
			}
		case "project-admin":
			if p.lacks(KeyAdministerProjects) {
				return r.fail(PermissionMissing, 403, "", KeyAdministerProjects, name+" needs Administer projects; the acting identity holds it in no project",
					"grant Administer projects in the project's permission scheme"), true
			}
		case "browse-users":
			if p.lacks(KeyUserPicker) {
				return r.fail(PermissionMissing, 403, "", KeyUserPicker, name+" needs the Browse users and groups global permission, which the acting identity does not hold",
					"grant Browse users and groups (global permissions)"), true
			}
		case "bulk-change":
			if p.lacks(KeyBulkChange) {
				return r.fail(PermissionMissing, 403, "", KeyBulkChange, name+" needs the Make bulk changes global permission, which the acting identity does not hold",
					"grant Make bulk changes (global permissions)"), true
			}
		case "project-permissions":
			var keys []string
			for _, n := range op.PermissionNames {
				if k, ok := PermissionKey(n); ok {
					keys = append(keys, k)
				}
			}
			others := 0
			for _, k := range keys {
				if k != KeyBrowseProjects {
					others++
				}
			}
			for _, k := range keys {
				if k == KeyBrowseProjects && p.lacks(k) {
					if res, failed := browseMissing(); failed {
						return res, true
					}
				}
				// With several other names the text may offer alternatives
				// ("Edit all worklogs" or "Edit own worklogs"): only a single
				// named permission is asserted.
				if k != KeyBrowseProjects && others == 1 && p.lacks(k) {
					return r.fail(PermissionMissing, 403, "", k,
						fmt.Sprintf("%s needs the %s project permission; the acting identity holds it in no project", name, k),
						"grant it in the project's permission scheme"), true
				}
			}
		}
	}
	return r, false
}
