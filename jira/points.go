package jira

// The documented cost model (rate-limits.md §2): a request costs 1, plus
// per object read 1 for core objects and 2 for identity objects (users,
// groups, project roles, permissions); writes cost a flat 1. Which objects
// a GET returns is not known before the answer, so EstimatePoints guesses
// from the path; the budget is corrected from the quota headers Jira
// returns (Budget.Observe).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultListSize is the object count assumed for a list read without
// maxResults (Jira's usual page size).
const DefaultListSize = 50

// EstimatePoints is the expected cost of one request.
func EstimatePoints(method, path, query string) int64 {
	switch method {
	case http.MethodGet, http.MethodHead, "":
	default:
		if method == http.MethodPost && isReadPost(path) {
			break
		}
		return 1
	}
	per := int64(1)
	if identityPath(path) {
		per = 2
	}
	n := int64(1)
	if isList(path) {
		n = DefaultListSize
		if query != "" {
			if v, err := url.ParseQuery(query); err == nil {
				if m, err := strconv.ParseInt(v.Get("maxResults"), 10, 64); err == nil && m >= 0 {
					n = min(m, 5000)
				}
			}
		}
	}
	return 1 + n*per
}

// isReadPost: POST endpoints that read (JQL search, bulk fetch, permission
// checks) are charged by objects returned, not as writes.
func isReadPost(path string) bool {
	last := lastSegment(path)
	return last == "search" || last == "jql" || last == "bulkfetch" || last == "check" || last == "picker"
}

func identityPath(path string) bool {
	for _, w := range [...]string{"/user", "/group", "/role", "/permission", "/mypermissions", "/myself"} {
		if strings.Contains(path, w) {
			return true
		}
	}
	return false
}

// isList guesses whether a path returns many objects: it ends in a
// collection word, not in an identifier.
func isList(path string) bool {
	last := lastSegment(path)
	if last == "" || isIdentifier(last) {
		return false
	}
	switch last {
	case "search", "jql", "members", "member", "users", "groups", "picker", "bulkfetch", "assignable", "viewissue", "comment", "worklog", "changelog", "properties", "versions", "components":
		return true
	}
	return false
}

func lastSegment(path string) string {
	path = strings.TrimRight(path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// isIdentifier: a segment that names one object: digits, an issue key
// (ABC-123), a UUID-like or account-id-like token (contains a digit and is
// not a version such as "3" after /api/... which EndpointTemplate keeps).
func isIdentifier(seg string) bool {
	if seg == "" {
		return false
	}
	digits := 0
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c >= '0' && c <= '9' {
			digits++
		}
	}
	return digits > 0 || strings.Contains(seg, "%3A") || strings.Contains(seg, ":")
}

// EndpointTemplate normalises a concrete path to the endpoint a burst
// bucket covers: identifier segments become "{id}", the API version is
// kept (/rest/api/3/issue/ABC-1/comment → /rest/api/3/issue/{id}/comment).
func EndpointTemplate(method, path string) string {
	_ = method
	if !needsTemplate(path) {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		if isIdentifier(seg) && !isVersionSegment(path, seg, i) {
			b.WriteString("{id}")
		} else {
			b.WriteString(seg)
		}
	}
	return b.String()
}

func needsTemplate(path string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; (c >= '0' && c <= '9') || c == ':' || c == '%' {
			return true
		}
	}
	return false
}

// isVersionSegment keeps the API version (/rest/api/3, /rest/agile/1.0).
func isVersionSegment(path, _ string, i int) bool {
	return i == 3 && strings.HasPrefix(path, "/rest/")
}

// IssueOf returns the issue id or key a write goes to
// (/rest/api/{v}/issue/{issueIdOrKey}[/…]), or "" for reads and other paths.
func IssueOf(method, path string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "":
		return ""
	}
	i := strings.Index(path, "/issue/")
	if i < 0 || !strings.HasPrefix(path, "/rest/") {
		return ""
	}
	rest := path[i+len("/issue/"):]
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		rest = rest[:j]
	}
	if !isIdentifier(rest) {
		return "" // /issue/bulk, /issue/createmeta…
	}
	return rest
}
