package connect

import (
	"net/http"
	"strings"
)

// MaxTokenLength caps the size of an incoming JWT (and of the Authorization
// header carrying it). Atlassian's tokens are well under 2 KiB even with a
// large context claim.
const MaxTokenLength = 8 << 10

// TokenFromRequest extracts the Connect JWT from "Authorization: JWT <token>"
// or the "jwt" query parameter. A request that carries two different tokens,
// a token in another scheme, or an oversized header is refused.
func TokenFromRequest(r *http.Request) (string, error) {
	var fromHeader string
	if h := r.Header.Values("Authorization"); len(h) > 0 {
		if len(h) > 1 {
			return "", ErrDuplicateToken
		}
		if len(h[0]) > MaxTokenLength+len("JWT ") {
			return "", ErrTokenTooLarge
		}
		scheme, tok, ok := strings.Cut(strings.TrimSpace(h[0]), " ")
		if !ok || !strings.EqualFold(scheme, "JWT") {
			return "", &VerifyError{Err: ErrAuthScheme, Detail: "got scheme " + quoteScheme(scheme)}
		}
		fromHeader = strings.TrimSpace(tok)
		if fromHeader == "" {
			return "", ErrNoToken
		}
	}
	var fromQuery string
	if raw := r.URL.RawQuery; strings.Contains(raw, "jwt") {
		if len(raw) > 4*MaxTokenLength {
			return "", ErrTokenTooLarge
		}
		// Scan the pairs instead of building a map: only "jwt" matters.
		seen := false
		for raw != "" {
			var pair string
			pair, raw, _ = strings.Cut(raw, "&")
			k, v, _ := strings.Cut(pair, "=")
			if k != "jwt" && formUnescape(k) != "jwt" {
				continue
			}
			v = formUnescape(v)
			if seen && v != fromQuery {
				return "", ErrDuplicateToken
			}
			fromQuery, seen = v, true
		}
		if len(fromQuery) > MaxTokenLength {
			return "", ErrTokenTooLarge
		}
	}
	switch {
	case fromHeader != "" && fromQuery != "" && fromHeader != fromQuery:
		return "", ErrDuplicateToken
	case fromHeader != "":
		return fromHeader, nil
	case fromQuery != "":
		return fromQuery, nil
	}
	return "", ErrNoToken
}

func quoteScheme(s string) string {
	if len(s) > 20 {
		s = s[:20] + "…"
	}
	if s == "" {
		return "(none)"
	}
	return "\"" + s + "\""
}
