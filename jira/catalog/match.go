package catalog

import (
	"net/url"
	"strings"
)

// Match is a concrete request resolved to its catalog operation.
type Match struct {
	Op *Operation
	// Params maps the template's parameter names to the decoded values taken
	// from the request; nil when the template has none.
	Params map[string]string
	// Path is the normalised concrete path in the catalog's (v3) form: the
	// template with the parameters filled in (path-escaped where needed),
	// without query, host, /wiki prefix or trailing slash.
	Path string
}

// maxSegments bounds the depth of paths the matcher considers; no Jira
// template comes close.
const maxSegments = 32

// node is one segment position in the path trie. Literal children win over
// the parameter child; find backtracks to the parameter child when the
// literal branch does not lead to a complete template.
type node struct {
	lit   map[string]*node
	param *node
	ops   []methodRef // operations whose template ends here
}

// methodRef is one operation ending at a node, with the segment positions
// and names of its template's parameters (names can differ per method).
type methodRef struct {
	method string
	idx    int
	params []param
	parts  []string // the template's segments, for rebuilding the path
}

type param struct {
	pos  int
	name string
}

func isParam(seg string) (string, bool) {
	if len(seg) >= 3 && seg[0] == '{' && seg[len(seg)-1] == '}' && !strings.ContainsAny(seg[1:len(seg)-1], "{}") {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

func (n *node) insert(template, method string, idx int) error {
	cur := n
	var ps []param
	var parts []string
	pos := 0
	for seg := range strings.SplitSeq(strings.Trim(template, "/"), "/") {
		if seg == "" {
			continue
		}
		parts = append(parts, seg)
		if name, ok := isParam(seg); ok {
			if cur.param == nil {
				cur.param = &node{}
			}
			cur = cur.param
			ps = append(ps, param{pos, name})
		} else {
			// Templates with a partial parameter ("{id}.json") are kept as
			// literals: they never match a concrete request by guesswork.
			if cur.lit == nil {
				cur.lit = map[string]*node{}
			}
			next := cur.lit[seg]
			if next == nil {
				next = &node{}
				cur.lit[seg] = next
			}
			cur = next
		}
		pos++
		if pos > maxSegments {
			return errTooDeep
		}
	}
	cur.ops = append(cur.ops, methodRef{method: method, idx: idx, params: ps, parts: parts})
	return nil
}

type matchError string

func (e matchError) Error() string { return string(e) }

const errTooDeep = matchError("path template too deep")

// Version aliases: Atlassian states that REST v2 and v3 offer the same
// operations (v3 adds ADF bodies), so /rest/api/2/… and /rest/api/latest/…
// resolve to the /rest/api/3/… twin, and /rest/agile/latest/… to
// /rest/agile/1.0/…. This is an assumption, not checked against a v2 spec;
// an alias is only added where the catalog has no literal of that name.
var versionAliases = []struct {
	prefix []string
	alias  string
	twinOf string
}{
	{[]string{"rest", "api"}, "2", "3"},
	{[]string{"rest", "api"}, "latest", "3"},
	{[]string{"rest", "agile"}, "latest", "1.0"},
}

func (n *node) addAliases() {
	for _, a := range versionAliases {
		cur := n
		for _, seg := range a.prefix {
			if cur == nil {
				break
			}
			cur = cur.lit[seg]
		}
		if cur == nil || cur.lit[a.twinOf] == nil {
			continue
		}
		if _, exists := cur.lit[a.alias]; !exists {
			cur.lit[a.alias] = cur.lit[a.twinOf]
		}
	}
}

func (n *node) find(segs []string) *node {
	if len(segs) == 0 {
		if len(n.ops) > 0 {
			return n
		}
		return nil
	}
	if c := n.lit[segs[0]]; c != nil {
		if t := c.find(segs[1:]); t != nil {
			return t
		}
	}
	if n.param != nil {
		return n.param.find(segs[1:])
	}
	return nil
}

// splitRequest turns a request path into decoded segments, reporting false
// for input that cannot name a catalog operation. It strips an absolute
// URL's scheme and host, the query and fragment, empty segments (so "//" and
// a trailing slash are ignored) and a leading Confluence-style "wiki"
// segment; it percent-decodes segments and refuses dot segments.
func (c *Catalog) splitRequest(p string, buf []string) ([]string, bool) {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if len(p) > 0 && p[0] != '/' {
		if i := strings.Index(p, "://"); i > 0 && isScheme(p[:i]) {
			rest := p[i+3:]
			j := strings.IndexByte(rest, '/')
			if j < 0 {
				return nil, false
			}
			p = rest[j:]
		}
	}
	segs := buf[:0]
	for len(p) > 0 {
		var seg string
		if i := strings.IndexByte(p, '/'); i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			seg, p = p, ""
		}
		if seg == "" {
			continue
		}
		if strings.IndexByte(seg, '%') >= 0 {
			d, err := url.PathUnescape(seg)
			if err != nil || d == "" {
				return nil, false
			}
			seg = d
		}
		if seg == "." || seg == ".." {
			return nil, false
		}
		if len(segs) == maxSegments {
			return nil, false
		}
		segs = append(segs, seg)
	}
	if len(segs) > 0 && segs[0] == "wiki" && c.root.lit["wiki"] == nil {
		segs = segs[1:]
	}
	return segs, true
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || i > 0 && ('0' <= b && b <= '9' || b == '+' || b == '-' || b == '.')) {
			return false
		}
	}
	return s != ""
}

// Match maps a concrete request to its operation. requestPath may be a path
// ("/rest/api/2/issue/ABC-1?expand=names") or an absolute URL: the scheme
// and host, query, fragment, empty segments (trailing or double slashes) and
// a leading Confluence-style /wiki segment are ignored; segments are
// percent-decoded before matching; /rest/api/2 and /rest/api/latest map to
// their /rest/api/3 twin (an assumption: Atlassian documents v2 and v3 as
// the same operations) and /rest/agile/latest to /rest/agile/1.0. Dot
// segments and malformed escapes are no match. The method is
// case-insensitive.
//
// The most specific template wins (literal segments over parameters,
// backtracking to a parameter when the literal branch leads nowhere); if
// that template has no operation for the method, the result is no match
// (Jira answers 405 there), never a guess at another template.
func (c *Catalog) Match(method, requestPath string) (Match, bool) {
	var buf [maxSegments]string
	ref, segs := c.resolve(method, requestPath, &buf)
	if ref == nil {
		return Match{}, false
	}
	op := &c.ops[ref.idx]
	m := Match{Op: op, Path: op.Path}
	if len(ref.params) > 0 {
		m.Params = make(map[string]string, len(ref.params))
		for _, p := range ref.params {
			m.Params[p.name] = segs[p.pos]
		}
		m.Path = fill(ref.parts, segs, ref.params)
	}
	return m, true
}

// Find is Match without the parameters and normalised path: it only
// resolves the operation, without allocating.
func (c *Catalog) Find(method, requestPath string) (*Operation, bool) {
	var buf [maxSegments]string
	ref, _ := c.resolve(method, requestPath, &buf)
	if ref == nil {
		return nil, false
	}
	return &c.ops[ref.idx], true
}

func (c *Catalog) resolve(method, requestPath string, buf *[maxSegments]string) (*methodRef, []string) {
	segs, ok := c.splitRequest(requestPath, buf[:])
	if !ok {
		return nil, nil
	}
	n := c.root.find(segs)
	if n == nil {
		return nil, nil
	}
	for i := range n.ops {
		if strings.EqualFold(n.ops[i].method, method) {
			return &n.ops[i], segs
		}
	}
	return nil, nil
}

// PathOperations returns the operations whose template matches the
// request's path, whatever their method (useful to tell "unknown path" from
// "method not allowed"); nil when the path is unknown.
func (c *Catalog) PathOperations(requestPath string) []*Operation {
	var buf [maxSegments]string
	segs, ok := c.splitRequest(requestPath, buf[:])
	if !ok {
		return nil
	}
	n := c.root.find(segs)
	if n == nil {
		return nil
	}
	out := make([]*Operation, len(n.ops))
	for i, r := range n.ops {
		out[i] = &c.ops[r.idx]
	}
	return out
}

// fill writes the template's segments with each parameter replaced by its
// path-escaped value, in one allocation when nothing needs escaping.
func fill(parts, segs []string, ps []param) string {
	var vals [maxSegments]string
	n := 0
	for i, p := range ps {
		v := segs[p.pos]
		if needsEscape(v) {
			v = url.PathEscape(v)
		}
		vals[i] = v
		n += len(v)
	}
	pi := 0
	for i, seg := range parts {
		if pi < len(ps) && ps[pi].pos == i {
			pi++
			continue
		}
		n += len(seg)
	}
	var b strings.Builder
	b.Grow(n + len(parts))
	pi = 0
	for i, seg := range parts {
		b.WriteByte('/')
		if pi < len(ps) && ps[pi].pos == i {
			b.WriteString(vals[pi])
			pi++
		} else {
			b.WriteString(seg)
		}
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("-_.~$&+:=@", b) >= 0: // what url.PathEscape keeps
		default:
			return true
		}
	}
	return false
}
