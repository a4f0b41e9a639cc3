package jira

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/connect-doctor/connect-doctor/tenant"
)

// checkRelative validates a request URL given by a caller and returns its
// escaped path and a cleaned raw query (bytes that are not legal in a query
// are percent-encoded, so the qsh is computed over exactly what is sent).
func checkRelative(u *url.URL) (path, query string, err error) {
	if u == nil {
		return "", "", fmt.Errorf("%w: no URL", ErrPathNotAllowed)
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", "", fmt.Errorf("%w: got %q", ErrAbsoluteURL, u.Redacted())
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return "", "", fmt.Errorf("%w: %q has a fragment", ErrPathNotAllowed, u.Path)
	}
	path = u.EscapedPath()
	if err := checkPath(u.Path, path); err != nil {
		return "", "", err
	}
	return path, cleanQuery(u.RawQuery), nil
}

func checkPath(decoded, escaped string) error {
	if !strings.HasPrefix(escaped, "/rest/") || !strings.HasPrefix(decoded, "/rest/") {
		return fmt.Errorf("%w: %q does not start with /rest/ (hint: pass a path relative to the site, e.g. /rest/api/3/myself)", ErrPathNotAllowed, escaped)
	}
	lower := strings.ToLower(escaped)
	if strings.ContainsAny(decoded, "\\") || strings.Contains(lower, "%5c") {
		return fmt.Errorf("%w: %q contains a backslash", ErrPathNotAllowed, escaped)
	}
	if strings.Contains(escaped, "//") {
		return fmt.Errorf("%w: %q contains an empty segment", ErrPathNotAllowed, escaped)
	}
	// Decode until stable so that "%2e%2e", "%252e%252e", … are seen as the
	// dot segments some server on the way might make of them; a path still
	// changing after eight rounds is refused outright.
	s := decoded
	for round := 0; ; round++ {
		if round == 8 {
			return fmt.Errorf("%w: %q is percent-encoded too many times", ErrPathNotAllowed, escaped)
		}
		for _, seg := range strings.Split(s, "/") {
			if seg == "." || seg == ".." {
				return fmt.Errorf("%w: %q contains a dot segment", ErrPathNotAllowed, escaped)
			}
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				return fmt.Errorf("%w: %q contains a control character", ErrPathNotAllowed, escaped)
			}
		}
		if strings.Contains(s, "\\") {
			return fmt.Errorf("%w: %q contains an encoded backslash", ErrPathNotAllowed, escaped)
		}
		next, err := url.PathUnescape(s)
		if err != nil || next == s {
			break
		}
		s = next
	}
	return nil
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
