package jirasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// handle answers an authorised request with a realistic body (invented
// data in Jira's field names) for the operations users run most, and a
// small generic body for the rest.
func (s *Sim) handle(rc *restCtx) {
	switch rc.m.Op.OperationID {
	case "getCurrentUser":
		writeJSON(rc.w, http.StatusOK, s.userJSON(rc.c.user, true))
	case "getServerInfo":
		s.serverInfo(rc)
	case "getConfiguration":
		writeJSON(rc.w, http.StatusOK, map[string]any{
			"votingEnabled": true, "watchingEnabled": true, "unassignedIssuesAllowed": true, "subTasksEnabled": true,
			"issueLinkingEnabled": true, "timeTrackingEnabled": true, "attachmentsEnabled": true,
			"timeTrackingConfiguration": map[string]any{"workingHoursPerDay": 8.0, "workingDaysPerWeek": 5.0, "timeFormat": "pretty", "defaultUnit": "minute"},
		})
	case "getAllPermissions":
		perms := map[string]any{}
		for _, p := range permDefs {
			perms[p.Key] = map[string]any{"key": p.Key, "name": p.Name, "type": p.Type, "description": p.Description}
		}
		writeJSON(rc.w, http.StatusOK, map[string]any{"permissions": perms})
	case "getMyPermissions":
		s.myPermissions(rc)
	case "getBulkPermissions":
		s.bulkPermissions(rc)
	case "searchProjects":
		s.searchProjects(rc)
	case "getProject":
		s.getProject(rc)
	case "searchAndReconsileIssuesUsingJql", "searchAndReconsileIssuesUsingJqlPost":
		s.search(rc, true)
	case "searchForIssuesUsingJql", "searchForIssuesUsingJqlPost":
		s.search(rc, false)
	case "getIssue":
		s.getIssue(rc)
	case "createIssue":
		s.createIssue(rc)
	case "editIssue":
		s.editIssue(rc)
	case "deleteIssue":
		s.deleteIssue(rc)
	case "getIssueNavigatorDefaultColumns":
		writeJSON(rc.w, http.StatusOK, []map[string]string{
			{"label": "Issue Type", "value": "issuetype"}, {"label": "Key", "value": "issuekey"},
			{"label": "Summary", "value": "summary"}, {"label": "Status", "value": "status"},
		})
	case "getApplicationProperty":
		s.applicationProperties(rc)
	case "getUserEmail":
		s.userEmail(rc)
	case "getUser":
		s.getUser(rc)
	default:
		s.generic(rc)
	}
}

func (s *Sim) avatarURLs(seed string) map[string]string {
	base := "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/" + url.PathEscape(seed) + "-0.png"
	return map[string]string{"48x48": base + "?size=48", "24x24": base + "?size=24", "16x16": base + "?size=16", "32x32": base + "?size=32"}
}

// userJSON renders a user as Jira does; the email is shown to the user
// themselves only.
func (s *Sim) userJSON(u *User, self bool) map[string]any {
	initials := ""
	for f := range strings.FieldsSeq(u.DisplayName) {
		initials += f[:1]
	}
	out := map[string]any{
		"self":        s.siteURL + "/rest/api/3/user?accountId=" + u.AccountID,
		"accountId":   u.AccountID,
		"accountType": u.AccountType,
		"avatarUrls":  s.avatarURLs(initials),
		"displayName": u.DisplayName,
		"active":      u.Active,
		"timeZone":    u.TimeZone,
		"locale":      u.Locale,
	}
	if self {
		out["emailAddress"] = u.Email
		groups := []map[string]string{{"name": "jira-software-users", "groupId": "5f1b7c3e-0d7a-4c58-9a4e-1f0c1b2a3d41"}}
		if u.SiteAdmin {
			groups = append(groups, map[string]string{"name": "jira-admins", "groupId": "8c3a3f0e-6a12-4d9b-b1f2-55d0a7e9c2b7"})
		}
		if u.AccountType == "app" {
			groups = []map[string]string{{"name": "atlassian-addons-admin", "groupId": "b1e0c0d4-2f4e-4b53-8f1a-0c2d9e7a6b15"}}
		}
		out["groups"] = map[string]any{"size": len(groups), "items": groups}
		out["applicationRoles"] = map[string]any{"size": 1, "items": []map[string]string{{"key": "jira-software", "name": "Jira Software"}}}
		out["expand"] = "groups,applicationRoles"
	}
	return out
}

func (s *Sim) serverInfo(rc *restCtx) {
	now := s.siteNow(rc.c.appKey)
	writeJSON(rc.w, http.StatusOK, map[string]any{
		"baseUrl": s.siteURL, "displayUrl": s.siteURL, "version": "1001.0.0-SNAPSHOT", "versionNumbers": []int{1001, 0, 0},
		"deploymentType": "Cloud", "buildNumber": 100283, "buildDate": "2026-03-01T00:00:00.000+0000",
		"serverTime": now.UTC().Format("2006-01-02T15:04:05.000-0700"), "scmInfo": "a3c1f5e2d4b6978812ab34cd56ef7890a1b2c3d4",
		"serverTitle": "Jira", "defaultLocale": map[string]string{"locale": "en_US"}, "serverTimeZone": "Etc/UTC",
	})
}

func (s *Sim) myPermissions(rc *restCtx) {
	q := rc.r.URL.Query()
	raw := q.Get("permissions")
	if raw == "" {
		rc.reason = "permissions parameter missing"
		s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("The 'permissions' query parameter is required. Give a comma-separated list of permission keys."))
		return
	}
	s.mu.Lock()
	var proj string
	if v := firstNonEmpty(q.Get("projectKey"), q.Get("projectId")); v != "" {
		if p := s.projectLocked(v); p != nil {
			proj = p.Key
		}
	}
	if v := firstNonEmpty(q.Get("issueKey"), q.Get("issueId")); v != "" {
		if is := s.issueLocked(v); is != nil {
			proj = is.ProjectKey
		}
	}
	s.mu.Unlock()
	out := map[string]any{}
	for key := range strings.SplitSeq(raw, ",") {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		def, ok := permDefByKey(key)
		if !ok {
			rc.reason = "unknown permission key"
			s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages(fmt.Sprintf("The permission key '%s' is not valid.", key)))
			return
		}
		var have bool
		if def.Type == "GLOBAL" {
			have = hasGlobal(rc.c.user, key)
		} else if proj != "" {
			have = hasProject(rc.c.user, key, proj)
		} else {
			// Without a project, Jira reports whether the user holds the
			// permission in at least one project.
			s.mu.Lock()
			for _, p := range s.projects {
				have = have || hasProject(rc.c.user, key, p.Key)
			}
			s.mu.Unlock()
		}
		out[key] = map[string]any{"id": def.ID, "key": def.Key, "name": def.Name, "type": def.Type, "description": def.Description, "havePermission": have}
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"permissions": out})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// readJSON decodes a request body (at most 1 MiB).
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return io.EOF
	}
	return json.Unmarshal(b, v)
}

func (s *Sim) bulkPermissions(rc *restCtx) {
	var req struct {
		AccountID          string   `json:"accountId"`
		GlobalPermissions  []string `json:"globalPermissions"`
		ProjectPermissions []struct {
			Permissions []string `json:"permissions"`
			Projects    []int64  `json:"projects"`
			Issues      []int64  `json:"issues"`
		} `json:"projectPermissions"`
	}
	if err := readJSON(rc.r, &req); err != nil {
		rc.reason = "bad body"
		s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("The request body is not valid JSON."))
		return
	}
	subject := rc.c.user
	if req.AccountID != "" && (subject == nil || req.AccountID != subject.AccountID) {
		// Checking someone else's permissions needs Administer Jira.
		if !subject.isAdmin() {
			rc.reason = "checking another user's permissions needs Administer Jira"
			s.writeError(rc.w, rc.r, http.StatusForbidden, errorMessages(permissionMessage))
			return
		}
		s.mu.Lock()
		other := s.userLocked(req.AccountID)
		var c User
		if other != nil {
			c = cloneUser(other)
		}
		s.mu.Unlock()
		if other == nil {
			rc.reason = "unknown accountId"
			s.writeError(rc.w, rc.r, http.StatusBadRequest, fieldErrors(map[string]string{"accountId": "The user with accountId '" + req.AccountID + "' does not exist."}))
			return
		}
		subject = &c
	}
	global := []string{}
	for _, key := range req.GlobalPermissions {
		def, ok := permDefByKey(key)
		if !ok || def.Type != "GLOBAL" {
			rc.reason = "unknown global permission"
			s.writeError(rc.w, rc.r, http.StatusBadRequest, fieldErrors(map[string]string{"globalPermissions": "Unrecognized global permission: " + key}))
			return
		}
		if hasGlobal(subject, key) && !slices.Contains(global, key) {
			global = append(global, key)
		}
	}
	type grant struct {
		Permission string  `json:"permission"`
		Projects   []int64 `json:"projects"`
		Issues     []int64 `json:"issues"`
	}
	projectGrants := []grant{}
	s.mu.Lock()
	for _, pp := range req.ProjectPermissions {
		for _, perm := range pp.Permissions {
			g := grant{Permission: perm, Projects: []int64{}, Issues: []int64{}}
			for _, pid := range pp.Projects {
				if p := s.projectLocked(strconv.FormatInt(pid, 10)); p != nil && hasProject(subject, perm, p.Key) {
					g.Projects = append(g.Projects, pid)
				}
			}
			for _, iid := range pp.Issues {
				if is := s.issueLocked(strconv.FormatInt(iid, 10)); is != nil && hasProject(subject, perm, is.ProjectKey) {
					g.Issues = append(g.Issues, iid)
				}
			}
			if len(g.Projects)+len(g.Issues) > 0 {
				projectGrants = append(projectGrants, g)
			}
		}
	}
	s.mu.Unlock()
	writeJSON(rc.w, http.StatusOK, map[string]any{"globalPermissions": global, "projectPermissions": projectGrants})
}

func (s *Sim) projectJSON(p *project) map[string]any {
	return map[string]any{
		"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
		"self":   s.siteURL + "/rest/api/3/project/" + p.ID, "id": p.ID, "key": p.Key, "name": p.Name,
		"avatarUrls":     s.avatarURLs(p.Key),
		"projectTypeKey": p.TypeKey, "simplified": false, "style": "classic", "isPrivate": false, "properties": map[string]any{},
	}
}

func (s *Sim) visibleProjectsLocked(u *User) []*project {
	var out []*project
	for _, p := range s.projects {
		if u.canBrowse(p.Key) || u.adminsProject(p.Key) || u.isAdmin() {
			out = append(out, p)
		}
	}
	return out
}

func (s *Sim) searchProjects(rc *restCtx) {
	q := rc.r.URL.Query()
	start, max := atoiDefault(q.Get("startAt"), 0), atoiDefault(q.Get("maxResults"), 50)
	query := strings.ToLower(q.Get("query"))
	s.mu.Lock()
	var values []map[string]any
	for _, p := range s.visibleProjectsLocked(rc.c.user) {
		if query == "" || strings.Contains(strings.ToLower(p.Key+" "+p.Name), query) {
			values = append(values, s.projectJSON(p))
		}
	}
	s.mu.Unlock()
	total := len(values)
	values = page(values, start, max)
	writeJSON(rc.w, http.StatusOK, map[string]any{
		"self": s.siteURL + rc.r.URL.RequestURI(), "maxResults": max, "startAt": start, "total": total,
		"isLast": start+len(values) >= total, "values": values,
	})
}

func (s *Sim) getProject(rc *restCtx) {
	s.mu.Lock()
	p := s.projectLocked(rc.param("projectIdOrKey"))
	s.mu.Unlock()
	body := s.projectJSON(p)
	body["description"] = "A project of the Jira simulator."
	body["issueTypes"] = []map[string]any{{"id": "10001", "name": "Task", "subtask": false}, {"id": "10002", "name": "Bug", "subtask": false}, {"id": "10003", "name": "Story", "subtask": false}}
	writeJSON(rc.w, http.StatusOK, body)
}

func atoiDefault(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n
	}
	return d
}

func page[T any](v []T, start, max int) []T {
	if start >= len(v) {
		return []T{}
	}
	v = v[start:]
	if max < len(v) {
		v = v[:max]
	}
	return v
}

var issueTypeIDs = map[string]string{"Task": "10001", "Bug": "10002", "Story": "10003"}
var statusCats = map[string][2]string{"To Do": {"new", "2"}, "In Progress": {"indeterminate", "4"}, "Done": {"done", "3"}}

// adf wraps plain text in an Atlassian Document Format document (v3).
func adf(text string) map[string]any {
	return map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}}},
	}}
}

// adfText extracts the text of an ADF document or returns a plain string.
func adfText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		var b strings.Builder
		if s, ok := t["text"].(string); ok {
			b.WriteString(s)
		}
		if c, ok := t["content"].([]any); ok {
			for _, e := range c {
				b.WriteString(adfText(e))
			}
		}
		return b.String()
	}
	return ""
}

// issueJSONLocked renders an issue; fields limits the fields (nil = all).
func (s *Sim) issueJSONLocked(is *issue, v2 bool, fields []string) map[string]any {
	all := map[string]any{
		"summary":   is.Summary,
		"issuetype": map[string]any{"self": s.siteURL + "/rest/api/3/issuetype/" + issueTypeIDs[is.IssueType], "id": issueTypeIDs[is.IssueType], "name": is.IssueType, "subtask": false},
		"project":   map[string]any{"self": s.siteURL + "/rest/api/3/project/" + s.projectLocked(is.ProjectKey).ID, "id": s.projectLocked(is.ProjectKey).ID, "key": is.ProjectKey, "name": s.projectLocked(is.ProjectKey).Name},
		"status": map[string]any{"name": is.Status, "id": statusCats[is.Status][1],
			"statusCategory": map[string]any{"key": statusCats[is.Status][0], "name": is.Status}},
		"priority": map[string]any{"name": is.Priority},
		"labels":   is.Labels,
		"created":  is.Created.Format("2006-01-02T15:04:05.000-0700"),
		"updated":  is.Updated.Format("2006-01-02T15:04:05.000-0700"),
		"reporter": nil,
		"assignee": nil,
	}
	if v2 {
		all["description"] = is.Description
	} else {
		all["description"] = adf(is.Description)
	}
	if u := s.userByRoleLocked(is.ReporterRole); u != nil && is.ReporterRole != "" {
		all["reporter"] = s.userJSON(u, false)
	}
	if u := s.userByRoleLocked(is.AssigneeRole); u != nil && is.AssigneeRole != "" {
		all["assignee"] = s.userJSON(u, false)
	}
	out := all
	if fields != nil {
		out = map[string]any{}
		for _, f := range fields {
			if v, ok := all[f]; ok {
				out[f] = v
			}
		}
	}
	api := "3"
	if v2 {
		api = "2"
	}
	return map[string]any{"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id": is.ID, "self": s.siteURL + "/rest/api/" + api + "/issue/" + is.ID, "key": is.Key, "fields": out}
}

func parseFields(v string, def []string) []string {
	if v == "" {
		return def
	}
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "*all" || f == "*navigable" {
			return nil
		}
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (s *Sim) getIssue(rc *restCtx) {
	fields := parseFields(rc.r.URL.Query().Get("fields"), nil)
	s.mu.Lock()
	is := s.issueLocked(rc.param("issueIdOrKey"))
	body := s.issueJSONLocked(is, rc.v2, fields)
	s.mu.Unlock()
	writeJSON(rc.w, http.StatusOK, body)
}

var jqlProject = regexp.MustCompile(`(?i)\bproject\s*(?:=\s*"?([A-Za-z0-9_]+)"?|in\s*\(([^)]*)\))`)
var jqlKey = regexp.MustCompile(`(?i)\b(?:key|issuekey)\s*=\s*"?([A-Za-z0-9_]+-[0-9]+)"?`)

// search runs a (very) small JQL subset: project = X, project in (…),
// key = X-1; anything else matches every issue the user can browse.
func (s *Sim) search(rc *restCtx, enhanced bool) {
	var jql, fieldsParam string
	start, max := 0, 50
	if rc.r.Method == http.MethodPost {
		var req struct {
			JQL        string   `json:"jql"`
			Fields     []string `json:"fields"`
			StartAt    int      `json:"startAt"`
			MaxResults int      `json:"maxResults"`
		}
		if err := readJSON(rc.r, &req); err != nil && err != io.EOF {
			rc.reason = "bad body"
			s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("The request body is not valid JSON."))
			return
		}
		jql, fieldsParam, start = req.JQL, strings.Join(req.Fields, ","), req.StartAt
		if req.MaxResults > 0 {
			max = req.MaxResults
		}
	} else {
		q := rc.r.URL.Query()
		jql, fieldsParam = q.Get("jql"), q.Get("fields")
		start, max = atoiDefault(q.Get("startAt"), 0), atoiDefault(q.Get("maxResults"), 50)
	}
	if enhanced && strings.TrimSpace(jql) == "" {
		rc.reason = "unbounded JQL"
		s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("Unbounded JQL queries are not allowed here. Please add a search restriction to your query."))
		return
	}
	var projects []string
	if m := jqlProject.FindStringSubmatch(jql); m != nil {
		if m[1] != "" {
			projects = []string{strings.ToUpper(m[1])}
		} else {
			for p := range strings.SplitSeq(m[2], ",") {
				projects = append(projects, strings.ToUpper(strings.Trim(strings.TrimSpace(p), `"`)))
			}
		}
	}
	keyWanted := ""
	if m := jqlKey.FindStringSubmatch(jql); m != nil {
		keyWanted = strings.ToUpper(m[1])
	}
	defFields := []string{"summary", "status", "issuetype", "project", "assignee", "reporter", "priority", "created", "updated"}
	if enhanced {
		defFields = []string{} // the enhanced search returns ids only unless fields are asked for
	}
	fields := parseFields(fieldsParam, defFields)
	s.mu.Lock()
	var issues []map[string]any
	for _, is := range s.issues {
		if !rc.c.user.canBrowse(is.ProjectKey) {
			continue
		}
		if len(projects) > 0 && !slices.Contains(projects, is.ProjectKey) {
			continue
		}
		if keyWanted != "" && is.Key != keyWanted {
			continue
		}
		issues = append(issues, s.issueJSONLocked(is, rc.v2, fields))
	}
	s.mu.Unlock()
	total := len(issues)
	issues = page(issues, start, max)
	if enhanced {
		if len(fields) == 0 && fieldsParam == "" {
			for _, is := range issues {
				delete(is, "fields")
				delete(is, "key")
				delete(is, "self")
				delete(is, "expand")
			}
		}
		writeJSON(rc.w, http.StatusOK, map[string]any{"issues": issues, "isLast": start+len(issues) >= total})
		return
	}
	writeJSON(rc.w, http.StatusOK, map[string]any{"expand": "schema,names", "startAt": start, "maxResults": max, "total": total, "issues": issues})
}

func (s *Sim) createIssue(rc *restCtx) {
	var req struct {
		Fields map[string]any `json:"fields"`
	}
	if err := readJSON(rc.r, &req); err != nil {
		rc.reason = "bad body"
		s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("The request body is not valid JSON."))
		return
	}
	f := req.Fields
	errs := map[string]string{}
	summary, _ := f["summary"].(string)
	if strings.TrimSpace(summary) == "" {
		errs["summary"] = "You must specify a summary of the issue."
	}
	projRef, _ := f["project"].(map[string]any)
	projID := firstNonEmpty(str(projRef["key"]), str(projRef["id"]))
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projID)
	if p == nil {
		errs["project"] = "Specify a valid project ID or key"
	}
	typRef, _ := f["issuetype"].(map[string]any)
	typ := ""
	for name, id := range issueTypeIDs {
		if strings.EqualFold(str(typRef["name"]), name) || str(typRef["id"]) == id {
			typ = name
		}
	}
	if typ == "" {
		errs["issuetype"] = "Specify an issue type"
	}
	if len(errs) > 0 {
		rc.reason = "invalid issue"
		s.writeErrorLocked(rc, http.StatusBadRequest, fieldErrors(errs))
		return
	}
	if !hasProject(rc.c.user, "CREATE_ISSUES", p.Key) {
		rc.reason = "no Create issues permission"
		s.writeErrorLocked(rc, http.StatusBadRequest, fieldErrors(map[string]string{"project": "You do not have permission to create issues in this project."}))
		return
	}
	now := s.siteNow(rc.c.appKey)
	id := strconv.Itoa(s.nextID)
	s.nextID++
	is := &issue{ID: id, Key: s.nextIssueKey(p.Key), ProjectKey: p.Key, Summary: summary, Description: adfText(f["description"]),
		IssueType: typ, Status: "To Do", Priority: "Medium", Labels: []string{}, ReporterRole: rc.c.user.AccountID,
		Created: now, Updated: now}
	s.issues = append(s.issues, is)
	writeJSON(rc.w, http.StatusCreated, map[string]any{"id": is.ID, "key": is.Key, "self": s.siteURL + "/rest/api/3/issue/" + is.ID})
}

// writeErrorLocked is writeError for callers holding s.mu (writeError
// itself takes no lock).
func (s *Sim) writeErrorLocked(rc *restCtx, status int, body map[string]any) {
	s.writeError(rc.w, rc.r, status, body)
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

func (s *Sim) editIssue(rc *restCtx) {
	var req struct {
		Fields map[string]any `json:"fields"`
		Update map[string]any `json:"update"`
	}
	if err := readJSON(rc.r, &req); err != nil {
		rc.reason = "bad body"
		s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("The request body is not valid JSON."))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issueLocked(rc.param("issueIdOrKey"))
	errs := map[string]string{}
	for name, v := range req.Fields {
		switch name {
		case "summary":
			sum, _ := v.(string)
			if strings.TrimSpace(sum) == "" {
				errs["summary"] = "You must specify a summary of the issue."
				continue
			}
			is.Summary = sum
		case "description":
			is.Description = adfText(v)
		case "labels":
			var ls []string
			if arr, ok := v.([]any); ok {
				for _, l := range arr {
					ls = append(ls, str(l))
				}
			}
			is.Labels = ls
		default:
			errs[name] = fmt.Sprintf("Field '%s' cannot be set. It is not on the appropriate screen, or unknown.", name)
		}
	}
	if len(errs) > 0 {
		rc.reason = "invalid edit"
		s.writeErrorLocked(rc, http.StatusBadRequest, fieldErrors(errs))
		return
	}
	is.Updated = s.siteNow(rc.c.appKey)
	rc.w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) deleteIssue(rc *restCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.issueLocked(rc.param("issueIdOrKey"))
	s.issues = slices.DeleteFunc(s.issues, func(x *issue) bool { return x == is })
	rc.w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) applicationProperties(rc *restCtx) {
	props := []map[string]any{
		{"id": "jira.title", "key": "jira.title", "value": "Jira Simulator", "name": "Title", "desc": "The name of this site.", "type": "string", "defaultValue": "Jira"},
		{"id": "jira.baseurl", "key": "jira.baseurl", "value": s.siteURL, "name": "Base URL", "desc": "The address of this site.", "type": "string", "defaultValue": ""},
		{"id": "jira.lf.date.dmy", "key": "jira.lf.date.dmy", "value": "dd/MMM/yy", "name": "Day/Month/Year format", "desc": "Date format.", "type": "string", "defaultValue": "dd/MMM/yy"},
		{"id": "jira.option.voting", "key": "jira.option.voting", "value": "true", "name": "Voting", "desc": "Whether users may vote.", "type": "boolean", "defaultValue": "true"},
	}
	if key := rc.r.URL.Query().Get("key"); key != "" {
		for _, p := range props {
			if p["key"] == key {
				writeJSON(rc.w, http.StatusOK, []map[string]any{p})
				return
			}
		}
		rc.reason = "unknown property"
		s.writeError(rc.w, rc.r, http.StatusNotFound, errorMessages(fmt.Sprintf("Property '%s' does not exist.", key)))
		return
	}
	writeJSON(rc.w, http.StatusOK, props)
}

func (s *Sim) userEmail(rc *restCtx) {
	id := rc.r.URL.Query().Get("accountId")
	if id == "" {
		rc.reason = "accountId missing"
		s.writeError(rc.w, rc.r, http.StatusBadRequest, errorMessages("The accountId query parameter is required."))
		return
	}
	s.mu.Lock()
	u := s.userLocked(id)
	s.mu.Unlock()
	if u == nil {
		rc.reason = "unknown user"
		s.writeError(rc.w, rc.r, http.StatusNotFound, errorMessages(fmt.Sprintf("The user with accountId '%s' does not exist.", id)))
		return
	}
	writeJSON(rc.w, http.StatusOK, map[string]string{"accountId": u.AccountID, "email": u.Email})
}

func (s *Sim) getUser(rc *restCtx) {
	id := rc.r.URL.Query().Get("accountId")
	s.mu.Lock()
	u := s.userLocked(id)
	var c User
	if u != nil {
		c = cloneUser(u)
	}
	s.mu.Unlock()
	if u == nil {
		rc.reason = "unknown user"
		s.writeError(rc.w, rc.r, http.StatusNotFound, errorMessages(fmt.Sprintf("Specified user does not exist or you do not have required permissions")))
		return
	}
	writeJSON(rc.w, http.StatusOK, s.userJSON(&c, false))
}

// generic answers an authorised operation that has no realistic body.
func (s *Sim) generic(rc *restCtx) {
	switch rc.r.Method {
	case http.MethodDelete, http.MethodPut:
		rc.w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		s.mu.Lock()
		id := strconv.Itoa(s.nextID)
		s.nextID++
		s.mu.Unlock()
		writeJSON(rc.w, http.StatusCreated, map[string]any{"id": id, "self": s.siteURL + rc.r.URL.Path + "/" + id})
	default:
		writeJSON(rc.w, http.StatusOK, map[string]any{"self": s.siteURL + rc.r.URL.RequestURI(), "operationId": rc.m.Op.OperationID,
			"simulated": true, "generatedAt": s.siteNow(rc.c.appKey).UTC().Format(time.RFC3339)})
	}
}
