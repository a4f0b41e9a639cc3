// Package knowledge holds what the diagnosis engine knows about services as
// data: one embedded YAML file per service family (rules/*.yaml) saying how
// to recognise a response from the service (host, Server, Via and
// vendor-specific headers), which authorization schemes it legitimately
// uses, and which of its error texts, codes and headers mean which cause,
// each rule with the public source it was taken from. The engine keeps the
// computing (tokens, qsh, signatures, scopes, clocks); this package only
// loads, validates and matches patterns.
package knowledge

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed rules/*.yaml
var embedded embed.FS

// ErrInvalid wraps every validation error; the message names file and line.
var ErrInvalid = errors.New("invalid knowledge file")

// Strength is how much one piece of evidence proves.
type Strength string

// Strength classes.
const (
	// Decisive: the service's own error code or text naming the cause, or
	// a recomputation (qsh, signature) that proves it.
	Decisive Strength = "decisive"
	// Strong: a specific header or a structural fact of the exchange.
	Strong Strength = "strong"
	// Weak: a heuristic, or a status alone.
	Weak Strength = "weak"
)

// Service is one service family's knowledge.
type Service struct {
	File    string `yaml:"-"`
	Family  string `yaml:"family"`
	Name    string `yaml:"service"`
	Version int    `yaml:"version"`
	// Atlassian marks Atlassian products (the engine's Connect and Jira
	// reasoning applies to them).
	Atlassian bool       `yaml:"atlassian"`
	Identify  []Identify `yaml:"identify"`
	Schemes   *Schemes   `yaml:"schemes"`
	Rules     []Rule     `yaml:"rules"`
}

// Identify is one way to recognise the service. Every field given must
// match.
type Identify struct {
	HostSuffix string `yaml:"host_suffix"` // request host ends with it
	Header     string `yaml:"header"`      // response header present
	Value      string `yaml:"value"`       // ... and contains this (case-insensitive)
	Server     string `yaml:"server"`      // Server header contains (case-insensitive)
	Body       string `yaml:"body"`        // lower-cased body contains
	PathPrefix string `yaml:"path_prefix"` // request path starts with
	Source     string `yaml:"source"`
	Line       int    `yaml:"-"`
}

// Schemes are the Authorization schemes (lower case) and credential
// placements the service accepts.
type Schemes struct {
	Names  []string `yaml:"names"`
	Query  []string `yaml:"query"`  // query parameters that carry a credential
	Header []string `yaml:"header"` // other headers that carry a credential
	Source string   `yaml:"source"`
	Line   int      `yaml:"-"`
}

// Rule maps an observation to a cause.
type Rule struct {
	ID       string   `yaml:"id"`
	Cause    string   `yaml:"cause"`
	Strength Strength `yaml:"strength"`
	Status   []int    `yaml:"status"`
	// Scoped: the rule applies only when the service was identified.
	Scoped bool `yaml:"scoped"`
	// BodyAny: the lower-cased body contains one of these.
	BodyAny []string `yaml:"body_any"`
	// BodyAll: ... and all of these.
	BodyAll []string `yaml:"body_all"`
	// HeaderAny: one of these response headers ("Name" or "Name: substring").
	HeaderAny []string `yaml:"header_any"`
	// WWWAuthError: the WWW-Authenticate error parameter equals one of these.
	WWWAuthError []string `yaml:"www_auth_error"`
	// PathPrefix: the request path starts with one of these.
	PathPrefix []string `yaml:"path_prefix"`
	// Credential: the request's credential kind is one of these (none,
	// basic, bearer, jwt, other, bare, cookie, apikey, query, unknown).
	Credential []string `yaml:"credential"`
	Title      string   `yaml:"title"`
	Fix        string   `yaml:"fix"`
	Collect    string   `yaml:"collect"`
	Source     string   `yaml:"source"`
	Line       int      `yaml:"-"`
}

// Base is the loaded knowledge.
type Base struct {
	Services []*Service
}

// Load reads and validates every rules/*.yaml file of fsys. known says
// whether a cause code exists.
func Load(fsys fs.FS, known func(string) bool) (*Base, error) {
	names, err := fs.Glob(fsys, "rules/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	b := &Base{}
	var errs []error
	for _, n := range names {
		raw, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		s, err := Parse(path.Base(n), raw, known)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Services = append(b.Services, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// Default loads the embedded rule files.
func Default(known func(string) bool) (*Base, error) { return Load(embedded, known) }

func invalid(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %w: %s", file, line, ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads one rule file.
func Parse(file string, raw []byte, known func(string) bool) (*Service, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", file, ErrInvalid, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, invalid(file, 1, "not a mapping")
	}
	root := doc.Content[0]
	if err := strictKeys(file, root, "family", "service", "version", "atlassian", "identify", "schemes", "rules"); err != nil {
		return nil, err
	}
	s := &Service{File: file}
	if err := root.Decode(s); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", file, ErrInvalid, err)
	}
	if s.Family == "" || s.Name == "" || s.Version < 1 {
		return nil, invalid(file, root.Line, "family, service and version (>= 1) are required")
	}
	// Line numbers of the list items.
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i].Value, root.Content[i+1]
		switch k {
		case "identify":
			for j, it := range v.Content {
				if j < len(s.Identify) {
					s.Identify[j].Line = it.Line
					if err := strictKeys(file, it, "host_suffix", "header", "value", "server", "body", "path_prefix", "source"); err != nil {
						return nil, err
					}
				}
			}
		case "rules":
			for j, it := range v.Content {
				if j < len(s.Rules) {
					s.Rules[j].Line = it.Line
					if err := strictKeys(file, it, "id", "cause", "strength", "status", "scoped", "body_any", "body_all", "header_any", "www_auth_error", "path_prefix", "credential", "title", "fix", "collect", "source"); err != nil {
						return nil, err
					}
				}
			}
		case "schemes":
			if s.Schemes != nil {
				s.Schemes.Line = v.Line
			}
		}
	}
	if len(s.Identify) == 0 {
		return nil, invalid(file, root.Line, "no identify entries")
	}
	for i := range s.Identify {
		id := &s.Identify[i]
		if id.HostSuffix == "" && id.Header == "" && id.Server == "" && id.Body == "" {
			return nil, invalid(file, id.Line, "identify entry matches nothing (give host_suffix, header, server or body)")
		}
		id.Header = http.CanonicalHeaderKey(id.Header)
		id.Body = strings.ToLower(id.Body)
		if id.PathPrefix != "" && !strings.HasPrefix(id.PathPrefix, "/") {
			return nil, invalid(file, id.Line, "path_prefix %q does not start with /", id.PathPrefix)
		}
		if !isURL(id.Source) {
			return nil, invalid(file, id.Line, "identify entry without a public source URL")
		}
	}
	if sc := s.Schemes; sc != nil && !isURL(sc.Source) {
		return nil, invalid(file, sc.Line, "schemes without a public source URL")
	}
	ids := map[string]int{}
	for i := range s.Rules {
		r := &s.Rules[i]
		if r.ID == "" {
			return nil, invalid(file, r.Line, "rule without id")
		}
		if prev, dup := ids[r.ID]; dup {
			return nil, invalid(file, r.Line, "rule id %q repeated (first on line %d)", r.ID, prev)
		}
		ids[r.ID] = r.Line
		if known != nil && !known(r.Cause) {
			return nil, invalid(file, r.Line, "rule %s: unknown cause code %q", r.ID, r.Cause)
		}
		switch r.Strength {
		case Decisive, Strong, Weak:
		default:
			return nil, invalid(file, r.Line, "rule %s: strength %q (want decisive, strong or weak)", r.ID, r.Strength)
		}
		if len(r.BodyAny) == 0 && len(r.BodyAll) == 0 && len(r.HeaderAny) == 0 && len(r.WWWAuthError) == 0 && len(r.Status) == 0 {
			return nil, invalid(file, r.Line, "rule %s matches nothing (give status, body_any, body_all, header_any or www_auth_error)", r.ID)
		}
		if !isURL(r.Source) {
			return nil, invalid(file, r.Line, "rule %s without a public source URL", r.ID)
		}
		if r.Fix == "" {
			return nil, invalid(file, r.Line, "rule %s without a fix", r.ID)
		}
		for _, p := range r.PathPrefix {
			if !strings.HasPrefix(p, "/") {
				return nil, invalid(file, r.Line, "rule %s: path_prefix %q does not start with /", r.ID, p)
			}
		}
		for _, st := range r.Status {
			if st < 100 || st > 599 {
				return nil, invalid(file, r.Line, "rule %s: status %d", r.ID, st)
			}
		}
		for j, n := range r.BodyAny {
			r.BodyAny[j] = strings.ToLower(n)
		}
		for j, n := range r.BodyAll {
			r.BodyAll[j] = strings.ToLower(n)
		}
	}
	if s.Schemes != nil {
		for j, n := range s.Schemes.Names {
			s.Schemes.Names[j] = strings.ToLower(n)
		}
	}
	return s, nil
}

func strictKeys(file string, m *yaml.Node, allowed ...string) error {
	if m.Kind != yaml.MappingNode {
		return invalid(file, m.Line, "expected a mapping")
	}
	for i := 0; i < len(m.Content); i += 2 {
		if !slices.Contains(allowed, m.Content[i].Value) {
			return invalid(file, m.Content[i].Line, "unknown key %q (want one of %s)", m.Content[i].Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") }

// Observation is what the engine saw, in the form the rules match.
type Observation struct {
	Host   string // request host, lower case ("" when unknown)
	Path   string // request path ("" when unknown)
	Status int
	Header http.Header
	Low    string // lower-cased body
	// Text is Low indexed (knowledge.NewText(Low)); nil means not yet.
	Text       *Text
	WWWErrors  []string
	Credential string
}

// text returns the indexed body, indexing it on first use.
func (o *Observation) text() *Text {
	if o.Text == nil {
		o.Text = NewText(o.Low)
	}
	return o.Text
}

// Identified is a service recognised in an exchange, with why.
type Identified struct {
	Service *Service
	Why     string
	ByHost  bool
}

// Identify returns the services the exchange shows, most specific first:
// a response header or body of a service beats the request host (the host
// may sit behind a CDN that answered instead).
func (b *Base) Identify(o *Observation) []Identified {
	var byResp, byHost []Identified
	server := strings.ToLower(o.Header.Get("Server"))
	for _, s := range b.Services {
		for _, id := range s.Identify {
			why, host, ok := id.match(o, server)
			if !ok {
				continue
			}
			if host {
				byHost = append(byHost, Identified{Service: s, Why: why, ByHost: true})
			} else {
				byResp = append(byResp, Identified{Service: s, Why: why})
			}
			break
		}
	}
	return append(byResp, byHost...)
}

func (id Identify) match(o *Observation, server string) (string, bool, bool) {
	var why []string
	host := false
	if id.HostSuffix != "" {
		h := o.Host
		if h == "" || !(h == id.HostSuffix || strings.HasSuffix(h, "."+id.HostSuffix) || strings.HasPrefix(id.HostSuffix, ".") && strings.HasSuffix(h, id.HostSuffix)) {
			return "", false, false
		}
		why = append(why, "host "+o.Host)
		host = true
	}
	if id.PathPrefix != "" {
		if !strings.HasPrefix(o.Path, id.PathPrefix) {
			return "", false, false
		}
		why = append(why, "path "+id.PathPrefix+"…")
		host = false // a host and a path are as specific as a vendor header
	}
	if id.Header != "" {
		vs := o.Header[id.Header] // canonical since Parse
		if len(vs) == 0 {
			return "", false, false
		}
		v := vs[0]
		if id.Value != "" && !strings.Contains(strings.ToLower(v), strings.ToLower(id.Value)) {
			return "", false, false
		}
		why = append(why, "response header "+id.Header)
		host = false
	}
	if id.Server != "" {
		if !strings.Contains(server, strings.ToLower(id.Server)) {
			return "", false, false
		}
		why = append(why, "Server: "+o.Header.Get("Server"))
		host = false
	}
	if id.Body != "" {
		if !o.text().Contains(id.Body) { // lower-cased by Parse
			return "", false, false
		}
		why = append(why, "the body mentions "+fmt.Sprintf("%q", id.Body))
		host = false
	}
	return strings.Join(why, ", "), host, true
}

// Hit is one rule that matched.
type Hit struct {
	Rule    *Rule
	Service *Service
	Matched string // what matched, for evidence
}

// Match returns the rules that match the observation. Rules of identified
// services apply; unscoped rules of other services apply too (their texts
// are specific enough on their own).
func (b *Base) Match(o *Observation, ids []Identified) []Hit {
	var out []Hit
	for _, s := range b.Services {
		identified := false
		for _, id := range ids {
			if id.Service == s {
				identified = true
			}
		}
		for i := range s.Rules {
			r := &s.Rules[i]
			if r.Scoped && !identified {
				continue
			}
			if m, ok := r.match(o); ok {
				out = append(out, Hit{Rule: r, Service: s, Matched: m})
			}
		}
	}
	return out
}

func (r *Rule) match(o *Observation) (string, bool) {
	if len(r.Status) > 0 && !slices.Contains(r.Status, o.Status) {
		return "", false
	}
	if len(r.Credential) > 0 && !slices.Contains(r.Credential, o.Credential) {
		return "", false
	}
	var what []string
	if len(r.PathPrefix) > 0 {
		found := ""
		for _, p := range r.PathPrefix {
			if strings.HasPrefix(o.Path, p) {
				found = p
				break
			}
		}
		if found == "" {
			return "", false
		}
		what = append(what, "the path starts with "+found)
	}
	if len(r.BodyAny) > 0 {
		found := ""
		for _, n := range r.BodyAny {
			if o.text().Contains(n) {
				found = n
				break
			}
		}
		if found == "" {
			return "", false
		}
		what = append(what, fmt.Sprintf("the body says %q", found))
	}
	for _, n := range r.BodyAll {
		if !o.text().Contains(n) {
			return "", false
		}
	}
	if len(r.BodyAll) > 0 && len(r.BodyAny) == 0 {
		what = append(what, fmt.Sprintf("the body says %q", strings.Join(r.BodyAll, " … ")))
	}
	if len(r.HeaderAny) > 0 {
		found := ""
		for _, h := range r.HeaderAny {
			name, sub, _ := strings.Cut(h, ":")
			name, sub = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(sub))
			for _, v := range o.Header.Values(name) {
				if sub == "" || strings.Contains(strings.ToLower(v), sub) {
					found = http.CanonicalHeaderKey(name) + ": " + trunc(v, 80)
					break
				}
			}
			if found != "" {
				break
			}
		}
		if found == "" {
			return "", false
		}
		what = append(what, "response header "+found)
	}
	if len(r.WWWAuthError) > 0 {
		found := ""
		for _, e := range o.WWWErrors {
			if slices.Contains(r.WWWAuthError, e) {
				found = e
			}
		}
		if found == "" {
			return "", false
		}
		what = append(what, `WWW-Authenticate error="`+found+`"`)
	}
	return strings.Join(what, "; "), true
}

// SchemeOK reports whether an identified service accepts the scheme.
func (s *Service) SchemeOK(scheme string) bool {
	return s.Schemes != nil && slices.Contains(s.Schemes.Names, strings.ToLower(scheme))
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
