package catalog

import (
	"slices"
	"strings"
	"unicode"

	"github.com/connect-doctor/connect-doctor/scope"
)

// Query filters Search. Empty fields match everything.
type Query struct {
	// Text is matched case-insensitively: every whitespace-separated term
	// must occur in the path template, the operationId or a keyword (the
	// words of the operationId and the path). A text that is a concrete
	// request ("GET /rest/api/2/issue/ABC-1" or "/rest/api/2/issue/ABC-1")
	// matches the operations at that path instead.
	Text string
	// Scope keeps operations whose Connect scope is exactly this one (any
	// case, e.g. "admin").
	Scope string
	// Permission keeps operations whose permission tag or permission detail
	// equals this (e.g. "admin", "project-browse", "jira-access"; "none"
	// matches "none/anonymous").
	Permission string
}

// Search returns the operations matching q, in catalog order.
func (c *Catalog) Search(q Query) []Operation {
	var want scope.Scope
	if q.Scope != "" {
		s, err := scope.Parse(q.Scope)
		if err != nil {
			return nil
		}
		want = s
	}
	perm := strings.ToLower(strings.TrimSpace(q.Permission))
	text := strings.TrimSpace(q.Text)

	var only map[*Operation]bool
	if method, path, ok := requestText(text); ok {
		only = map[*Operation]bool{}
		for _, op := range c.PathOperations(path) {
			if method == "" || strings.EqualFold(op.Method, method) {
				only[op] = true
			}
		}
		text = ""
	}
	terms := strings.Fields(strings.ToLower(text))

	var out []Operation
	for i := range c.ops {
		op := &c.ops[i]
		if only != nil && !only[op] {
			continue
		}
		if want != "" && op.ConnectScope != want {
			continue
		}
		if perm != "" && !permMatches(op, perm) {
			continue
		}
		if !c.textMatches(i, terms) {
			continue
		}
		out = append(out, *op)
	}
	return out
}

// requestText recognises "METHOD /path" or "/path" (or a URL) typed as a
// search text.
func requestText(text string) (method, path string, ok bool) {
	f := strings.Fields(text)
	switch {
	case len(f) == 1 && isRequestPath(f[0]):
		return "", f[0], true
	case len(f) == 2 && isMethod(f[0]) && isRequestPath(f[1]):
		return strings.ToUpper(f[0]), f[1], true
	}
	return "", "", false
}

func isRequestPath(s string) bool {
	return strings.HasPrefix(s, "/") && strings.Count(s, "/") >= 2 ||
		strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func isMethod(s string) bool {
	switch strings.ToUpper(s) {
	case "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS":
		return true
	}
	return false
}

func permMatches(op *Operation, perm string) bool {
	if perm == "none" {
		perm = PermNone
	}
	return strings.EqualFold(op.Permission, perm) || strings.EqualFold(op.PermissionDetail, perm)
}

func (c *Catalog) textMatches(i int, terms []string) bool {
	if len(terms) == 0 {
		return true
	}
	op := &c.ops[i]
	path := strings.ToLower(op.Path)
	id := strings.ToLower(op.OperationID)
	for _, t := range terms {
		if strings.Contains(path, t) || strings.Contains(id, t) {
			continue
		}
		if slices.ContainsFunc(c.words[i], func(w string) bool { return strings.HasPrefix(w, t) }) {
			continue
		}
		return false
	}
	return true
}

// keywords returns the lower-case words of an operation: the camelCase
// parts of its operationId, the path's literal segments split on
// punctuation, its parameter names, its method and API.
func keywords(op *Operation) []string {
	var words []string
	add := func(w string) {
		w = strings.ToLower(w)
		if w != "" && !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	for _, w := range splitCamel(op.OperationID) {
		add(w)
	}
	for _, seg := range strings.Split(op.Path, "/") {
		seg = strings.Trim(seg, "{}")
		for _, w := range strings.FieldsFunc(seg, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w)
			for _, p := range splitCamel(w) {
				add(p)
			}
		}
	}
	add(op.Method)
	add(op.API)
	return words
}

func splitCamel(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i := 1; i < len(rs); i++ {
		if unicode.IsUpper(rs[i]) && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			out = append(out, string(rs[start:i]))
			start = i
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	return out
}
