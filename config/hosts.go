package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// hostProfile is UTS-46 for lookup (non-transitional, STD3 rules, bidi
// rule) that also verifies DNS lengths, so empty labels are refused. It is
// immutable.
var hostProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(), idna.VerifyDNSLength(true))

// ASCIIHost returns host (without port) in its ASCII form under IDNA
// UTS-46 (the lookup profile, golang.org/x/net/idna), lower-cased. A host
// that the mapping changes other than by ASCII case is refused: fullwidth
// or ideographic dots (U+FF0E, U+3002, U+FF61) that become label
// separators, zero-width and ignored characters (U+200B, U+200D, U+00AD),
// fullwidth letters, and any non-ASCII label. Resolvers and dialers apply
// that mapping, so such a host is another spelling of an ASCII host that
// string matching would not see (issue 16 item 11). IP literals are
// returned as they are.
func ASCIIHost(host string) (string, error) {
	if net.ParseIP(host) != nil {
		return host, nil
	}
	lower := strings.ToLower(host)
	a, err := hostProfile.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("%w: host %q is not a valid IDNA host name: %v", ErrHostNotAllowed, host, err)
	}
	if a != lower {
		return "", fmt.Errorf("%w: host %q changes under IDNA/UTS-46 mapping (to %q); only its ASCII spelling is accepted", ErrHostNotAllowed, host, a)
	}
	return a, nil
}

// HostPattern is one entry of ALLOWED_HOSTS: an exact host ("x.atlassian.net",
// "127.0.0.1:8081" with an optional port) or "*.suffix", where "*" matches
// exactly one DNS label. Plain http is allowed only for loopback hosts listed
// explicitly (not through a wildcard).
type HostPattern struct {
	Wildcard bool   // "*.suffix"
	Host     string // lower case; for a wildcard, the suffix without "*."
	Port     string // optional, exact hosts only
}

func (p HostPattern) String() string {
	h := p.Host
	if p.Wildcard {
		h = "*." + h
	}
	if p.Port != "" {
		h = net.JoinHostPort(h, p.Port)
	}
	return h
}

// ParseHostPatterns parses a comma-separated ALLOWED_HOSTS value.
func ParseHostPatterns(s string) ([]HostPattern, error) {
	var out []HostPattern
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		var p HostPattern
		if scheme, host, ok := strings.Cut(f, "://"); ok {
			return nil, fmt.Errorf("pattern %q: remove the %s:// scheme and list the host alone (%s); tenants must use https, and plain http is accepted only for loopback hosts listed explicitly", f, scheme, host)
		}
		if strings.HasPrefix(f, "*.") {
			p.Wildcard = true
			f = f[2:]
			if strings.ContainsAny(f, "*:/@") || !strings.Contains(f, ".") {
				return nil, fmt.Errorf("pattern %q: a wildcard must look like *.example.com", "*."+f)
			}
			if _, err := ASCIIHost(f); err != nil {
				return nil, fmt.Errorf("pattern %q: %w", "*."+f, err)
			}
			p.Host = f
		} else {
			if strings.ContainsAny(f, "*/@") {
				return nil, fmt.Errorf("pattern %q: only a leading \"*.\" wildcard is supported", f)
			}
			host, port, err := net.SplitHostPort(f)
			if err != nil {
				host, port = f, ""
			}
			p.Host, p.Port = strings.Trim(host, "[]"), port
			if _, err := ASCIIHost(p.Host); err != nil {
				return nil, fmt.Errorf("pattern %q: %w", f, err)
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("must list at least one host pattern")
	}
	return out, nil
}

// ErrHostNotAllowed is returned for a tenant baseUrl outside ALLOWED_HOSTS.
var ErrHostNotAllowed = errors.New("host not allowed")

// CheckBaseURL validates a tenant's baseUrl against the patterns: an
// absolute https URL (http only for a loopback host listed explicitly), no
// user info, query or fragment, and a host matching one pattern.
func CheckBaseURL(raw string, patterns []HostPattern) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return fmt.Errorf("%w: %q is not an absolute URL", ErrHostNotAllowed, raw)
	}
	if u.User != nil || strings.Contains(u.Host, "@") {
		return fmt.Errorf("%w: %q contains user info", ErrHostNotAllowed, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %q contains a query or fragment", ErrHostNotAllowed, raw)
	}
	host, err := ASCIIHost(u.Hostname())
	if err != nil {
		return err
	}
	port := u.Port()
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(host) {
			return fmt.Errorf("%w: %q uses http; only https is accepted", ErrHostNotAllowed, raw)
		}
	default:
		return fmt.Errorf("%w: %q: scheme must be https", ErrHostNotAllowed, raw)
	}
	for _, p := range patterns {
		if p.Wildcard {
			if u.Scheme != "https" {
				continue // http is only for explicitly listed loopback hosts
			}
			label, rest, ok := strings.Cut(host, ".")
			if ok && label != "" && rest == p.Host {
				return nil
			}
			continue
		}
		if host == p.Host && (p.Port == "" || p.Port == port) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not in ALLOWED_HOSTS", ErrHostNotAllowed, host)
}
