package forgesim

import (
	"net/http"
	"strings"

	"github.com/connect-doctor/connect-doctor/jira/catalog"
)

// ServeHTTP routes /ex/jira/<cloudId>/rest/… and POST /graphql; every
// other path is a 404, including /rest/… without the /ex/jira/<cloudId>
// prefix.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := g.now()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("Server", "AtlassianEdge")
	w.Header().Set("Atl-Traceid", g.traceID(r.Method+" "+r.URL.RequestURI()+now.String()))
	rr := GatewayRequest{Time: now, Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	defer func() { g.record(rr) }()
	if r.URL.Path == "/graphql" {
		g.serveGraphQL(w, r, &rr)
		return
	}
	segs := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	if len(segs) < 4 || segs[0] != "ex" || segs[1] != "jira" || !strings.HasPrefix(segs[3], "rest/") {
		rr.Status, rr.Reason = http.StatusNotFound, "no /ex/jira/<cloudId>/rest/ prefix"
		writeJSON(w, rr.Status, codeBody(rr.Status, NotFoundMessage))
		return
	}
	cloudID, apiPath := segs[2], "/"+segs[3]
	rr.CloudID = cloudID
	if _, ok := g.SiteURL(cloudID); !ok {
		rr.Status, rr.Reason = http.StatusNotFound, "unknown cloudId"
		writeJSON(w, rr.Status, codeBody(rr.Status, NotFoundMessage))
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
	if in.CloudID != cloudID {
		rr.Status, rr.Reason = http.StatusUnauthorized, "token issued for cloudId "+in.CloudID
		writeJSON(w, rr.Status, codeBody(rr.Status, UnauthorizedMessage))
		return
	}
	if isClientKeyProperty(apiPath) {
		rr.Operation = "getAddonProperty"
		rr.Status, rr.Reason = g.serveAddonProperty(w, r, &in)
		return
	}
	m, ok := g.cat.Match(r.Method, apiPath)
	if !ok {
		rr.Status, rr.Reason = http.StatusNotFound, "no such operation"
		writeJSON(w, rr.Status, jiraErrors("No operation matches "+r.Method+" "+apiPath+"."))
		return
	}
	op := m.Op
	rr.Operation = op.OperationID
	if !Allowed(op, in.Scopes) {
		rr.Reason = "scopes " + strings.Join(in.Scopes, " ") + " do not satisfy " + op.OperationID
		if rec.kind == TokenSystem {
			rr.Status = http.StatusUnauthorized
			writeJSON(w, rr.Status, codeBody(rr.Status, ScopeMismatchMessage))
			return
		}
		rr.Status = http.StatusForbidden
		var groups [][]string
		for _, gr := range [][]string{op.OAuthClassic, op.OAuthGranular} {
			if len(gr) > 0 {
				groups = append(groups, gr)
			}
		}
		writeJSON(w, rr.Status, map[string]any{"errorMessages": []string{MissingGrantsText(in.Scopes, groups)}})
		return
	}
	if op.Permission == catalog.PermAdmin && !g.isAdmin(&in, rec.accountID) {
		rr.Status, rr.Reason = http.StatusForbidden, "account lacks ADMINISTER"
		writeJSON(w, rr.Status, jiraErrors(PermissionMessage))
		return
	}
	rr.Status = g.answer(w, r, op, &in, rec)
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// answer writes a small realistic body for an authorised request.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, op *catalog.Operation, in *Installation, rec tokenRecord) int {
	site, _ := g.SiteURL(in.CloudID)
	self := g.APIBaseURL(in.CloudID)
	apiPath := strings.TrimPrefix(r.URL.Path, "/ex/jira/"+in.CloudID)
	acct := rec.accountID
	switch op.OperationID {
	case "getCurrentUser":
		typ := "atlassian"
		if acct == in.AppAccountID {
			typ = "app"
		}
		writeJSON(w, 200, map[string]any{
			"self": self + "/rest/api/3/user?accountId=" + acct, "accountId": acct, "accountType": typ,
			"displayName": g.displayName(acct), "active": true, "timeZone": "UTC", "locale": "en_US",
		})
	case "getMyPermissions":
		keys := r.URL.Query().Get("permissions")
		if keys == "" {
			writeJSON(w, 400, jiraErrors("The 'permissions' query parameter is required."))
			return 400
		}
		admin := g.isAdmin(in, acct)
		perms := map[string]any{}
		for _, k := range strings.Split(keys, ",") {
			k = strings.ToUpper(strings.TrimSpace(k))
			if k == "" {
				continue
			}
			typ, have := "PROJECT", true
			if k == "ADMINISTER" || k == "SYSTEM_ADMIN" || k == "CREATE_SHARED_OBJECTS" {
				typ, have = "GLOBAL", admin
			}
			perms[k] = map[string]any{"id": k, "key": k, "name": k, "type": typ, "havePermission": have}
		}
		writeJSON(w, 200, map[string]any{"permissions": perms})
	case "getAllPermissions":
		writeJSON(w, 200, map[string]any{"permissions": map[string]any{
			"ADMINISTER":      map[string]any{"key": "ADMINISTER", "name": "Administer Jira", "type": "GLOBAL"},
			"BROWSE_PROJECTS": map[string]any{"key": "BROWSE_PROJECTS", "name": "Browse Projects", "type": "PROJECT"},
		}})
	case "getUser":
		// GET /rest/api/3/user?accountId=…: the account's public profile
		// (the admin panel shows the viewer's displayName).
		id := r.URL.Query().Get("accountId")
		if id == "" {
			writeJSON(w, 400, jiraErrors("The 'accountId' query parameter needs to be provided."))
			return 400
		}
		typ := "atlassian"
		if id == in.AppAccountID {
			typ = "app"
		}
		writeJSON(w, 200, map[string]any{"self": self + "/rest/api/3/user?accountId=" + id, "accountId": id, "accountType": typ,
			"displayName": g.displayName(id), "active": true, "timeZone": "UTC", "locale": "en_US"})
	case "getServerInfo":
		writeJSON(w, 200, map[string]any{"baseUrl": site, "displayUrl": site, "version": "1001.0.0-SNAPSHOT",
			"versionNumbers": []int{1001, 0, 0}, "deploymentType": "Cloud", "buildNumber": 100280, "serverTitle": "Jira"})
	case "searchProjects":
		writeJSON(w, 200, map[string]any{"self": self + "/rest/api/3/project/search", "maxResults": 50, "startAt": 0, "total": 1, "isLast": true,
			"values": []any{map[string]any{"self": self + "/rest/api/3/project/10000", "id": "10000", "key": "DOC", "name": "Doctor", "projectTypeKey": "software", "simplified": true}}})
	default:
		switch r.Method {
		case http.MethodDelete:
			writeJSON(w, http.StatusNoContent, nil)
			return http.StatusNoContent
		case http.MethodPost:
			writeJSON(w, http.StatusCreated, map[string]any{"id": "10001", "self": self + apiPath + "/10001"})
			return http.StatusCreated
		}
		writeJSON(w, 200, map[string]any{"self": self + apiPath, "operationId": op.OperationID})
	}
	return http.StatusOK
}

// SiteHandler simulates a Jira site (https://<site>.atlassian.net) answering
// a request that carries an api.atlassian.com OAuth/Forge bearer token:
// 401 with the text users report (forge.md §3 O5). Requests without
// credentials get Jira's anonymous 401.
func (g *Gateway) SiteHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", g.now().UTC().Format(http.TimeFormat))
		w.Header().Set("Server", "AtlassianEdge")
		w.Header().Set("Atl-Traceid", g.traceID("site "+r.URL.RequestURI()))
		rr := GatewayRequest{Time: g.now(), Method: r.Method, Path: "site:" + r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Status: http.StatusUnauthorized}
		defer func() { g.record(rr) }()
		if tok, ok := bearer(r.Header.Get("Authorization")); ok {
			rec, _, _ := g.lookup(tok)
			rr.TokenKind, rr.InstallationID, rr.AccountID = rec.kind, rec.installationID, rec.accountID
			rr.Reason = "bearer token sent to the site instead of the gateway"
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": SiteTokenMessage, "status-code": http.StatusUnauthorized})
			return
		}
		rr.Reason = "anonymous"
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Client must be authenticated to access this resource.", "status-code": http.StatusUnauthorized})
	})
}
