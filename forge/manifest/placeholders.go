package manifest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Placeholder is one template reference found in a descriptor: the ACE
// style {{name}} that atlassian-connect-express fills from its config, or
// the Spring style ${name} / ${name:default} that Spring Boot apps
// (atlassian-connect-spring-boot) fill from their properties.
type Placeholder struct {
	Text    string `json:"text"`              // as written, e.g. ${addon.base-url}
	Name    string `json:"name"`              // e.g. addon.base-url
	Style   string `json:"style"`             // "ace" or "spring"
	Default string `json:"default,omitempty"` // Spring ${name:default}
	// HasDefault tells ${name:} (empty default) from ${name}.
	HasDefault bool   `json:"hasDefault,omitempty"`
	Line       int    `json:"line"`
	Value      string `json:"value,omitempty"`  // what it was replaced with
	Source     string `json:"source,omitempty"` // --base-url, --key, --set, default
}

var (
	acePlaceholderRE    = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}`)
	springPlaceholderRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_.\-\[\]]*)(:([^}]*))?\}`)
)

// Names that --base-url and --key fill, in ACE and Spring spelling
// (ACE: localBaseUrl, appKey; Spring: addon.base-url, addon.key and their
// relaxed-binding spellings).
var (
	baseURLNames = []string{"localBaseUrl", "baseUrl", "addon.base-url", "addon.baseUrl", "addon.base_url", "ADDON_BASE_URL"}
	keyNames     = []string{"appKey", "addon.key", "ADDON_KEY"}
)

// A Spring-style ${project.key} names a Connect context parameter
// (data/descriptor-patterns.json connectContextObjects): Spring's
// resolvePlaceholders leaves an unknown ${...} untouched, and Connect then
// expands the {project.key} inside it, so it is not a placeholder to fill.

// IsConnectContext reports whether a ${name} is a Connect context parameter.
func IsConnectContext(name string) bool {
	obj, _, ok := strings.Cut(name, ".")
	return ok && slices.Contains(patterns().ConnectContextObjects, obj)
}

// Values fill placeholders.
type Values struct {
	BaseURL string            // --base-url
	Key     string            // --key
	Set     map[string]string // --set NAME=VALUE (wins over BaseURL and Key)
}

func (v Values) lookup(name string) (string, string, bool) {
	if x, ok := v.Set[name]; ok {
		return x, "--set", true
	}
	if v.BaseURL != "" && slices.Contains(baseURLNames, name) {
		return v.BaseURL, "--base-url", true
	}
	if v.Key != "" && slices.Contains(keyNames, name) {
		return v.Key, "--key", true
	}
	return "", "", false
}

// FillPlaceholders replaces every ACE and Spring placeholder in src with
// its value: --set, else --base-url/--key for the names they stand for,
// else a Spring default. Values are escaped for the JSON string they land
// in. It returns the text, every placeholder found (with what replaced it)
// and those left unresolved, which stay in the text as written.
func FillPlaceholders(src []byte, vals Values) ([]byte, []Placeholder, []Placeholder) {
	var all, unresolved []Placeholder
	s := string(src)
	lineAt := func(off int) int { return strings.Count(s[:off], "\n") + 1 }
	type hit struct {
		start, end int
		p          Placeholder
	}
	var hits []hit
	for _, m := range acePlaceholderRE.FindAllStringSubmatchIndex(s, -1) {
		hits = append(hits, hit{m[0], m[1], Placeholder{Text: s[m[0]:m[1]], Name: s[m[2]:m[3]], Style: "ace", Line: lineAt(m[0])}})
	}
	for _, m := range springPlaceholderRE.FindAllStringSubmatchIndex(s, -1) {
		p := Placeholder{Text: s[m[0]:m[1]], Name: s[m[2]:m[3]], Style: "spring", Line: lineAt(m[0])}
		if m[4] >= 0 {
			p.HasDefault, p.Default = true, s[m[6]:m[7]]
		}
		hits = append(hits, hit{m[0], m[1], p})
	}
	slices.SortFunc(hits, func(a, b hit) int { return a.start - b.start })
	var out strings.Builder
	last := 0
	for _, h := range hits {
		if h.start < last { // overlapping match (e.g. ${{x}}): keep the first
			continue
		}
		p := h.p
		v, src, ok := vals.lookup(p.Name)
		if !ok && p.HasDefault {
			v, src, ok = p.Default, "default", true
		}
		if !ok && p.Style == "spring" && IsConnectContext(p.Name) {
			p.Source = "connect context parameter, left as written"
			out.WriteString(s[last:h.end])
			all = append(all, p)
			last = h.end
			continue
		}
		out.WriteString(s[last:h.start])
		if ok {
			p.Value, p.Source = v, src
			out.WriteString(jsonEscape(v))
		} else {
			out.WriteString(p.Text)
			unresolved = append(unresolved, p)
		}
		all = append(all, p)
		last = h.end
	}
	out.WriteString(s[last:])
	return []byte(out.String()), all, unresolved
}

// jsonEscape escapes v for the inside of a JSON string.
func jsonEscape(v string) string {
	b, _ := json.Marshal(v)
	return string(b[1 : len(b)-1])
}

// FlagFor names the flag that fills placeholder name.
func FlagFor(name string) string {
	switch {
	case slices.Contains(baseURLNames, name):
		return "--base-url URL"
	case slices.Contains(keyNames, name):
		return "--key KEY"
	}
	return "--set " + name + "=VALUE"
}

// HostProblem says why a URL cannot be a Forge remote's baseUrl, or why it
// deserves a warning.
type HostProblem struct {
	URL     string `json:"url"`
	Reason  string `json:"reason"`
	Blocker bool   `json:"blocker"` // true: the manifest would not work at all
}

var placeholderHostRE = regexp.MustCompile(`[<>{}\[\]*]|(^|[.-])(replace|your|yourdomain|your-domain|changeme|change-me|xxx+|placeholder|subdomain)([.-]|$)`)

// CheckRemoteURL reports what is wrong with u as the Connect remote's
// baseUrl: placeholders (https://<replace>.ngrok.io/), hosts Atlassian cannot
// reach (localhost, private addresses), plain http, and development tunnels.
func CheckRemoteURL(u string) *HostProblem {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || p.Host == "" {
		if strings.ContainsAny(u, "<>{}") {
			return &HostProblem{URL: u, Reason: "is a placeholder, not a URL", Blocker: true}
		}
		return &HostProblem{URL: u, Reason: "is not an absolute URL", Blocker: true}
	}
	host := strings.ToLower(p.Hostname())
	if host == "" {
		host = strings.ToLower(p.Host)
	}
	switch {
	case placeholderHostRE.MatchString(host) || strings.ContainsAny(u, "<>"):
		return &HostProblem{URL: u, Reason: fmt.Sprintf("has a placeholder host (%s): fill in the app's real public URL", host), Blocker: true}
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal"):
		return &HostProblem{URL: u, Reason: fmt.Sprintf("points at %s, which Atlassian cannot reach", host), Blocker: true}
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast()) {
		return &HostProblem{URL: u, Reason: fmt.Sprintf("points at the non-public address %s, which Atlassian cannot reach", host), Blocker: true}
	}
	if p.Scheme != "https" {
		return &HostProblem{URL: u, Reason: "is not https (a Forge remote's baseUrl must be https)", Blocker: true}
	}
	for _, suf := range patterns().DevTunnelSuffixes {
		if strings.HasSuffix(host, suf) {
			return &HostProblem{URL: u, Reason: fmt.Sprintf("is a development tunnel (%s): the remote works only while the tunnel runs; use the production URL for a production deploy", host)}
		}
	}
	if host == "example.com" || strings.HasSuffix(host, ".example.com") || strings.HasSuffix(host, ".example") || strings.HasSuffix(host, ".test") || strings.HasSuffix(host, ".invalid") {
		return &HostProblem{URL: u, Reason: fmt.Sprintf("uses a reserved documentation host (%s)", host)}
	}
	return nil
}
