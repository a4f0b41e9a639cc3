package explain

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/connect-doctor/connect-doctor/connect"
)

type qshVariant struct {
	name      string
	canonical string
}

type pathVariant struct {
	name string
	uri  string // canonical URI part
}

type queryVariant struct {
	name  string
	query string
}

// splitURI splits a request URI or absolute URL into origin, raw path and
// raw query.
func splitURI(requestURI string) (origin, path, query string) {
	s, _, _ := strings.Cut(requestURI, "#")
	path, query, _ = strings.Cut(s, "?")
	if i := strings.Index(path, "://"); i > 0 && !strings.Contains(path[:i], "/") {
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			origin, path = path[:i+3+j], rest[j:]
		} else {
			origin, path = path, "/"
		}
	}
	return origin, path, query
}

// findVariant looks for a common mistake that reproduces tokenQSH.
func findVariant(method, requestURI, basePath, tokenQSH string) (qshVariant, bool) {
	if len(tokenQSH) != 2*sha256.Size {
		return qshVariant{}, false
	}
	origin, path, query := splitURI(requestURI)
	M := strings.ToUpper(method)
	base := connect.CanonicalURI(path, basePath)
	canonQ := connect.CanonicalQuery(query)

	paths := []pathVariant{{"", base}}
	add := func(name, uri string) {
		for _, p := range paths {
			if p.uri == uri {
				return
			}
		}
		paths = append(paths, pathVariant{name, uri})
	}
	if strings.TrimSuffix(basePath, "/") != "" {
		add("the base path "+strings.TrimSuffix(basePath, "/")+" was included in the hashed path (it must be left out)", connect.CanonicalURI(path, ""))
	}
	if len(path) > 1 && strings.HasSuffix(path, "/") {
		add("the trailing slash was kept (it must be removed)", base+"/")
	}
	if strings.Contains(path, "%") {
		if d, err := url.PathUnescape(path); err == nil {
			add("the path was percent-decoded before hashing (hash it as sent)", connect.CanonicalURI(d, basePath))
		}
	}
	if e := (&url.URL{Path: path}).EscapedPath(); e != path {
		add("the path was percent-encoded before hashing", connect.CanonicalURI(e, basePath))
	}
	if strings.Contains(path, "&") {
		add(`"&" in the path was not replaced by %26`, strings.ReplaceAll(base, "%26", "&"))
	}
	for _, sw := range [][2]string{{"/rest/api/2/", "/rest/api/3/"}, {"/rest/api/3/", "/rest/api/2/"}, {"/rest/api/latest/", "/rest/api/3/"}, {"/rest/api/latest/", "/rest/api/2/"}, {"/rest/api/2/", "/rest/api/latest/"}, {"/rest/api/3/", "/rest/api/latest/"}} {
		if strings.Contains(base, sw[0]) {
			add("the token was minted for "+sw[1]+"… while the request went to "+sw[0]+"… (token reused or built for another URL)", strings.Replace(base, sw[0], sw[1], 1))
		}
	}
	if origin != "" {
		add("the absolute URL (scheme and host) was hashed instead of the path", origin+connect.CanonicalURI(path, ""))
	}

	queries := []queryVariant{{"", canonQ}}
	addQ := func(name, q string) {
		for _, v := range queries {
			if v.query == q {
				return
			}
		}
		queries = append(queries, queryVariant{name, q})
	}
	if canonQ != "" {
		addQ("the query string was left out of the hash", "")
	}
	if strings.Contains(canonQ, "%20") {
		addQ(`spaces were encoded as "+" instead of "%20"`, strings.ReplaceAll(canonQ, "%20", "+"))
	}
	if strings.Contains(canonQ, "%2C") {
		addQ(`commas were left unencoded (must be %2C)`, strings.ReplaceAll(canonQ, "%2C", ","))
	}
	pairs := rawPairs(query)
	if len(pairs) > 0 {
		addQ("the query was hashed as sent, not canonicalised", joinRaw(pairs))
		addQ("the parameters were not sorted", joinEnc(pairs, false))
		addQ("repeated parameters were not joined with commas", joinEnc(pairs, true))
		addQ("the query values were hashed unencoded", joinDecoded(pairs))
		if strings.Contains(query, "jwt=") {
			addQ("the jwt parameter itself was included", canonicalWithJWT(pairs))
		}
	}

	var want [sha256.Size]byte
	if n, err := hex.Decode(want[:], []byte(tokenQSH)); err != nil || n != sha256.Size {
		return qshVariant{}, false // not a SHA-256: no variant can produce it
	}
	try := func(c string) bool { return sha256.Sum256([]byte(c)) == want }
	canon := func(m, uri, q string) string { return m + "&" + uri + "&" + q }
	// One mistake at a time, then path × query pairs.
	for _, p := range paths[1:] {
		if c := canon(M, p.uri, canonQ); try(c) {
			return qshVariant{p.name, c}, true
		}
	}
	for _, q := range queries[1:] {
		if c := canon(M, base, q.query); try(c) {
			return qshVariant{q.name, c}, true
		}
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", strings.ToLower(M)} {
		if m == M {
			continue
		}
		if c := canon(m, base, canonQ); try(c) {
			name := "the token was minted for method " + m + " but the request used " + M
			if m == strings.ToLower(M) {
				name = "the method was not upper-cased"
			}
			return qshVariant{name, c}, true
		}
	}
	if c := M + "&" + base; canonQ == "" && try(c) {
		return qshVariant{`the trailing "&" of the canonical request was left out`, c}, true
	}
	rawURI := path
	if query != "" {
		rawURI += "?" + query
	}
	if try(rawURI) {
		return qshVariant{"the raw URL was hashed instead of the canonical request", rawURI}, true
	}
	if try(M + " " + rawURI) {
		return qshVariant{"the request line was hashed instead of the canonical request", M + " " + rawURI}, true
	}
	for _, p := range paths[1:] {
		for _, q := range queries[1:] {
			if c := canon(M, p.uri, q.query); try(c) {
				return qshVariant{p.name + ", and " + q.name, c}, true
			}
		}
	}
	return qshVariant{}, false
}

type kv struct{ rawK, rawV, k, v string }

func rawPairs(query string) []kv {
	var out []kv
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" {
			continue
		}
		rk, rv, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(rk)
		if err != nil {
			k = rk
		}
		v, err := url.QueryUnescape(rv)
		if err != nil {
			v = rv
		}
		out = append(out, kv{rk, rv, k, v})
		if len(out) > 64 {
			break
		}
	}
	return out
}

func joinRaw(pairs []kv) string {
	var parts []string
	for _, p := range pairs {
		if p.k == "jwt" {
			continue
		}
		parts = append(parts, p.rawK+"="+p.rawV)
	}
	return strings.Join(parts, "&")
}

func enc(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// joinEnc encodes the pairs RFC 3986 style, without the jwt parameter.
// sorted sorts them by key and value but keeps repeated keys apart;
// otherwise the original order is kept.
func joinEnc(pairs []kv, sorted bool) string {
	var use []kv
	for _, p := range pairs {
		if p.k != "jwt" {
			use = append(use, p)
		}
	}
	if sorted {
		slices.SortStableFunc(use, func(a, b kv) int {
			if c := strings.Compare(a.k, b.k); c != 0 {
				return c
			}
			return strings.Compare(a.v, b.v)
		})
	}
	parts := make([]string, len(use))
	for i, p := range use {
		parts[i] = enc(p.k) + "=" + enc(p.v)
	}
	return strings.Join(parts, "&")
}

// canonicalWithJWT is the canonical query with the jwt parameter kept.
func canonicalWithJWT(pairs []kv) string {
	groups := map[string][]string{}
	var keys []string
	for _, p := range pairs {
		if _, ok := groups[p.k]; !ok {
			keys = append(keys, p.k)
		}
		groups[p.k] = append(groups[p.k], p.v)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		vs := groups[k]
		slices.Sort(vs)
		ev := make([]string, len(vs))
		for j, v := range vs {
			ev[j] = enc(v)
		}
		parts[i] = enc(k) + "=" + strings.Join(ev, ",")
	}
	return strings.Join(parts, "&")
}

func joinDecoded(pairs []kv) string {
	var use []kv
	for _, p := range pairs {
		if p.k != "jwt" {
			use = append(use, p)
		}
	}
	slices.SortStableFunc(use, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	parts := make([]string, len(use))
	for i, p := range use {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}
