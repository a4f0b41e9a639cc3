package jira

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// MaxPathLength bounds a caller's path and query, in bytes.
const MaxPathLength = 2048

// maxDecodeRounds bounds how many times a path is percent-decoded while
// looking for what a server on the way could make of it; a path still
// changing after that many rounds is refused.
const maxDecodeRounds = 8

// ValidatePath checks a path (with an optional query) given by a user or a
// caller before anything is sent: it must be relative to the site and stay
// under /rest/ however Jira's servlet container (Tomcat) or a proxy on the
// way normalises it. The error wraps ErrAbsoluteURL (a scheme, a host,
// "//host", user info, or one of those once decoded) or ErrPathNotAllowed
// (anything else), with a message that says what was refused.
//
// Tomcat removes ";…" path parameters from every segment before resolving
// dot segments ("..;" is ".."), percent-decodes, and may treat backslashes
// and encoded slashes as separators; other servers fold overlong UTF-8 and
// compatibility characters (U+FF0E "．") into ASCII. Rather than predict one
// of them, the path is refused when any of those readings, at any depth of
// percent-decoding, has a path parameter, a dot or empty segment, a
// separator that was not written as "/", a control character, a fragment,
// invalid UTF-8, or leaves /rest/.
func ValidatePath(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty path", ErrPathNotAllowed)
	}
	if len(p) > MaxPathLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrPathNotAllowed, MaxPathLength)
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= 0x20 || p[i] == 0x7f {
			return fmt.Errorf("%w: contains a space or control character", ErrPathNotAllowed)
		}
	}
	if strings.HasPrefix(p, "//") || strings.HasPrefix(p, `\`) || strings.HasPrefix(p, `/\`) {
		return fmt.Errorf("%w: %q names a host (\"//host\")", ErrAbsoluteURL, shorten(p))
	}
	u, err := url.Parse(p)
	if err != nil {
		return fmt.Errorf("%w: not a valid URL path", ErrPathNotAllowed)
	}
	_, _, err = checkRelative(u)
	return err
}

// checkRelative validates a request URL given by a caller and returns its
// escaped path and a cleaned raw query (bytes that are not legal in a query
// are percent-encoded, so the qsh is computed over exactly what is sent).
func checkRelative(u *url.URL) (path, query string, err error) {
	if u == nil {
		return "", "", fmt.Errorf("%w: no URL", ErrPathNotAllowed)
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", "", fmt.Errorf("%w: got %q", ErrAbsoluteURL, shorten(u.Redacted()))
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return "", "", fmt.Errorf("%w: %q has a fragment (#…), which is never sent to Jira", ErrPathNotAllowed, shorten(u.Path))
	}
	path = u.EscapedPath()
	if err := checkPath(path); err != nil {
		return "", "", err
	}
	return path, cleanQuery(u.RawQuery), nil
}

// checkPath checks an escaped path at every depth of percent-decoding.
func checkPath(escaped string) error {
	s, slashes := escaped, strings.Count(escaped, "/")
	for round := 0; ; round++ {
		if round == maxDecodeRounds {
			return fmt.Errorf("%w: %q is percent-encoded too many times", ErrPathNotAllowed, shorten(escaped))
		}
		if err := checkReading(s, escaped, round); err != nil {
			return err
		}
		// Compatibility characters ("．" U+FF0E, "／" U+FF0F, "﹔"…) that
		// NFKC folds into ASCII separators or dots.
		if folded := norm.NFKC.String(s); folded != s {
			if err := checkReading(folded, escaped, round); err != nil {
				return err
			}
		}
		// An encoded "/" becomes a separator on Tomcat (or a 400) and on
		// any decoding proxy, never part of a name.
		if n := strings.Count(s, "/"); n != slashes {
			return fmt.Errorf("%w: %q contains an encoded slash (%%2F)", ErrPathNotAllowed, shorten(escaped))
		}
		next, err := url.PathUnescape(s)
		if err != nil {
			return fmt.Errorf("%w: %q has a malformed percent-encoding", ErrPathNotAllowed, shorten(escaped))
		}
		if next == s {
			return nil
		}
		s = next
	}
}

// checkReading checks one reading of the path (round: how many times it
// was decoded).
func checkReading(s, escaped string, round int) error {
	if !strings.HasPrefix(s, "/rest/") {
		if round > 0 && (strings.HasPrefix(s, "//") || strings.Contains(s, "://")) {
			return fmt.Errorf("%w: %q names a host once decoded", ErrAbsoluteURL, shorten(escaped))
		}
		return fmt.Errorf("%w: %q does not start with /rest/ (pass a path relative to the site, e.g. /rest/api/3/myself)", ErrPathNotAllowed, shorten(escaped))
	}
	if strings.Contains(s, "://") {
		return fmt.Errorf("%w: %q embeds a URL", ErrAbsoluteURL, shorten(escaped))
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %q decodes to invalid UTF-8 (e.g. an overlong \".\" or \"/\")", ErrPathNotAllowed, shorten(escaped))
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: %q contains a control character", ErrPathNotAllowed, shorten(escaped))
		case c == '\\':
			return fmt.Errorf("%w: %q contains a backslash", ErrPathNotAllowed, shorten(escaped))
		case c == ';':
			return fmt.Errorf("%w: %q contains a path parameter (\";…\"), which Tomcat strips before resolving \"..\"", ErrPathNotAllowed, shorten(escaped))
		case c == '#' && round > 0:
			return fmt.Errorf("%w: %q contains an encoded fragment (%%23)", ErrPathNotAllowed, shorten(escaped))
		case c == '?' && round > 0:
			return fmt.Errorf("%w: %q contains an encoded \"?\" in the path", ErrPathNotAllowed, shorten(escaped))
		}
	}
	if strings.Contains(s, "//") {
		if round > 0 {
			return fmt.Errorf("%w: %q contains an encoded \"//\"", ErrAbsoluteURL, shorten(escaped))
		}
		return fmt.Errorf("%w: %q contains an empty segment (\"//\")", ErrPathNotAllowed, shorten(escaped))
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q contains a dot segment (\".\" or \"..\")", ErrPathNotAllowed, shorten(escaped))
		}
	}
	return nil
}

// shorten keeps error messages bounded.
func shorten(s string) string {
	if len(s) <= 120 {
		return s
	}
	return strings.ToValidUTF8(s[:120], "") + "…"
}

// cleanQuery percent-encodes bytes that may not appear in a request
// target's query (space, controls, non-ASCII, and `"<>\^{|}), keeping
// everything else — including existing escapes and "+" — as the caller
// wrote it.
func cleanQuery(q string) string {
	clean := true
	for i := 0; i < len(q); i++ {
		if !queryByteOK(q[i]) {
			clean = false
			break
		}
	}
	if clean {
		return q
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if queryByteOK(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func queryByteOK(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '"', '<', '>', '\\', '^', '`', '{', '|', '}', '#':
		return false
	}
	return true
}

// tenantBase parses and checks a tenant's stored baseUrl: https (plain http
// only for loopback hosts, i.e. a local simulator), a host, no query, user
// info or fragment. The returned URL has no trailing "/" in its path.
func tenantBase(t *tenant.Tenant) (*url.URL, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: no tenant", ErrTenant)
	}
	if t.State == tenant.StateUninstalled || t.State == tenant.StateDisabled {
		return nil, fmt.Errorf("%w: %s is %s", ErrTenant, t.ClientKey, t.State)
	}
	u, err := url.Parse(t.BaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: baseUrl %q of %s is not an absolute URL", ErrTenant, t.BaseURL, t.ClientKey)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: baseUrl %q of %s has user info, a query or a fragment", ErrTenant, t.BaseURL, t.ClientKey)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: baseUrl %q of %s is plain http (allowed only for loopback hosts)", ErrTenant, t.BaseURL, t.ClientKey)
		}
	default:
		return nil, fmt.Errorf("%w: baseUrl %q of %s has scheme %q", ErrTenant, t.BaseURL, t.ClientKey, u.Scheme)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolve joins a validated relative path and query to the tenant base.
func resolve(base *url.URL, relPath, query string) *url.URL {
	u := *base
	raw := base.EscapedPath() + relPath
	p, err := url.PathUnescape(raw)
	if err != nil { // relPath came from EscapedPath, so this cannot happen
		p = raw
	}
	u.Path, u.RawPath = p, raw
	u.RawQuery = query
	u.ForceQuery = false
	return &u
}

// withinBase reports whether an outgoing URL targets the tenant: same
// scheme and host, path under the base path. The signer checks it on every
// attempt, so no redirect or caller mistake can carry a token elsewhere.
func withinBase(base, u *url.URL) bool {
	if u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) {
		return false
	}
	bp := base.EscapedPath()
	return strings.HasPrefix(u.EscapedPath(), bp+"/rest/")
}
