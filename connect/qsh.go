package connect

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// ContextQSH is the fixed qsh value carried by context tokens minted with
// AP.context.getToken(); such tokens are bound to no request.
const ContextQSH = "context-qsh"

// CanonicalRequest returns the canonical request string
// METHOD&URI&QUERY for a request, computed exactly as Atlassian does.
//
// requestURI is the request target as sent on the wire (path and optional
// query, still percent-encoded, e.g. r.RequestURI); a scheme and host, if
// present, are ignored. basePath is the receiver's base path that is removed
// from the front of the path: the path of the app's baseUrl for requests to
// the app, the product context path (e.g. "/wiki") for requests to Jira or
// Confluence. The "jwt" query parameter is excluded.
func CanonicalRequest(method, requestURI, basePath string) string {
	path, query, _ := strings.Cut(requestURI, "?")
	path, _, _ = strings.Cut(path, "#")
	query, _, _ = strings.Cut(query, "#")
	if i := strings.Index(path, "://"); i >= 0 && !strings.Contains(path[:i], "/") {
		// Absolute URI: drop scheme and authority.
		rest := path[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			path = rest[j:]
		} else {
			path = "/"
		}
	}
	var b strings.Builder
	b.Grow(len(method) + len(path) + len(query) + 16)
	b.WriteString(strings.ToUpper(method))
	b.WriteByte('&')
	b.WriteString(CanonicalURI(path, basePath))
	b.WriteByte('&')
	writeCanonicalQuery(&b, query)
	return b.String()
}

// QSH returns the lower-case hex SHA-256 of a canonical request.
func QSH(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:])
}

// RequestQSH is QSH(CanonicalRequest(method, requestURI, basePath)).
func RequestQSH(method, requestURI, basePath string) string {
	return QSH(CanonicalRequest(method, requestURI, basePath))
}

// CanonicalURI canonicalises the raw (still encoded) path of a request: the
// base path is removed, an empty result becomes "/", a leading "/" is added
// when missing, one trailing "/" is removed, and "&" becomes "%26".
func CanonicalURI(rawPath, basePath string) string {
	basePath = strings.TrimSuffix(basePath, "/")
	p := rawPath
	if basePath != "" && strings.HasPrefix(p, basePath) &&
		(len(p) == len(basePath) || p[len(basePath)] == '/') {
		p = p[len(basePath):]
	}
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	if strings.IndexByte(p, '&') >= 0 {
		p = strings.ReplaceAll(p, "&", "%26")
	}
	return p
}

// CanonicalQuery canonicalises a raw query string: form-decoded, "jwt"
// dropped, keys sorted by code point, repeated values sorted and joined
// with ",", each key and value RFC 3986 encoded.
func CanonicalQuery(rawQuery string) string {
	var b strings.Builder
	writeCanonicalQuery(&b, rawQuery)
	return b.String()
}

type queryPair struct{ key, value string }

func writeCanonicalQuery(b *strings.Builder, rawQuery string) {
	if rawQuery == "" {
		return
	}
	// Sorting the (key, value) pairs by key and then value gives the keys in
	// code-point order and each key's values sorted, ready to be joined.
	var stack [16]queryPair
	pairs := stack[:0]
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k = formUnescape(k)
		if k == "jwt" {
			continue
		}
		pairs = append(pairs, queryPair{k, formUnescape(v)})
	}
	slices.SortFunc(pairs, func(a, b queryPair) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	for i, p := range pairs {
		switch {
		case i == 0:
		case pairs[i-1].key == p.key:
			b.WriteByte(',')
			writeRFC3986(b, p.value)
			continue
		default:
			b.WriteByte('&')
		}
		writeRFC3986(b, p.key)
		b.WriteByte('=')
		writeRFC3986(b, p.value)
	}
}

// QSHMatches reports, in constant time, whether claimed is the qsh of
// canonical. It allocates nothing beyond the hash.
func QSHMatches(canonical, claimed string) bool {
	sum := sha256.Sum256([]byte(canonical))
	var want [sha256.Size * 2]byte
	hex.Encode(want[:], sum[:])
	return subtle.ConstantTimeCompare(want[:], []byte(claimed)) == 1
}

// formUnescape decodes "+" and %XX like application/x-www-form-urlencoded.
// A malformed escape leaves the input as it was, so a hostile query can never
// make the canonicaliser fail; the signer and the verifier then agree on the
// raw text.
func formUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

const upperHex = "0123456789ABCDEF"

// writeRFC3986 percent-encodes everything except A-Z a-z 0-9 - . _ ~.
func writeRFC3986(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
}
