package connect

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/connect-doctor/connect-doctor/scope"
)

// Descriptor is the typed view of an app descriptor (atlassian-connect.json)
// used for validation and routing. The full JSON is kept by Render.
type Descriptor struct {
	Key            string `json:"key"`
	Name           string `json:"name"`
	BaseURL        string `json:"baseUrl"`
	Authentication struct {
		Type string `json:"type"`
	} `json:"authentication"`
	Lifecycle struct {
		Installed   string `json:"installed"`
		Uninstalled string `json:"uninstalled"`
		Enabled     string `json:"enabled"`
		Disabled    string `json:"disabled"`
	} `json:"lifecycle"`
	APIMigrations map[string]bool            `json:"apiMigrations"`
	Scopes        []string                   `json:"scopes"`
	Modules       map[string]json.RawMessage `json:"modules"`
}

// Module is one page-like module of the descriptor.
type Module struct {
	Type string `json:"-"`
	Key  string `json:"key"`
	URL  string `json:"url"`
}

// ErrDescriptor wraps every descriptor validation problem.
var ErrDescriptor = errors.New("invalid app descriptor")

// DescriptorSettings are the values the served descriptor takes from the
// configuration.
type DescriptorSettings struct {
	BaseURL string
	Key     string
	Scopes  scope.Set
}

// RenderDescriptor fills the template with the settings, validates the
// result and returns the JSON to serve and its typed view.
func RenderDescriptor(template []byte, s DescriptorSettings) ([]byte, *Descriptor, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(template, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: template is not valid JSON: %v", ErrDescriptor, err)
	}
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		raw[k] = b
	}
	set("baseUrl", strings.TrimSuffix(s.BaseURL, "/"))
	set("key", s.Key)
	set("scopes", s.Scopes.Strings())
	out, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrDescriptor, err)
	}
	d, err := ParseDescriptor(out)
	if err != nil {
		return nil, nil, err
	}
	return out, d, nil
}

// ParseDescriptor decodes and validates a descriptor.
func ParseDescriptor(b []byte) (*Descriptor, error) {
	var d Descriptor
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrDescriptor, err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks what Jira would refuse, and what this framework needs:
// key charset and length, an absolute https baseUrl (http only for
// loopback), JWT authentication, known scopes, relative lifecycle and module
// URLs, unique module keys, and the signed-install and context-qsh
// migrations. All problems are reported together.
func (d *Descriptor) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrDescriptor}, a...)...))
	}
	if d.Key == "" || len(d.Key) > 64 || strings.IndexFunc(d.Key, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		bad("key %q must be 1–64 characters of letters, digits, '-', '_' and '.'", d.Key)
	}
	if u, err := url.Parse(d.BaseURL); err != nil || !u.IsAbs() || u.Host == "" {
		bad("baseUrl %q must be an absolute URL", d.BaseURL)
	} else if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		bad("baseUrl %q must use https (http is accepted for localhost only)", d.BaseURL)
	}
	if !strings.EqualFold(d.Authentication.Type, "jwt") {
		bad("authentication.type is %q; it must be \"jwt\"", d.Authentication.Type)
	}
	for _, s := range d.Scopes {
		sc, err := scope.Parse(s)
		if err != nil || !sc.Declarable() {
			bad("scope %q is not a Connect scope an app can declare", s)
		}
	}
	lc := map[string]string{"installed": d.Lifecycle.Installed, "uninstalled": d.Lifecycle.Uninstalled,
		"enabled": d.Lifecycle.Enabled, "disabled": d.Lifecycle.Disabled}
	for _, name := range []string{"installed", "uninstalled", "enabled", "disabled"} {
		if err := checkRelativeURL(lc[name]); err != nil {
			bad("lifecycle.%s: %v", name, err)
		}
	}
	for _, m := range []string{"signed-install", "context-qsh"} {
		if !d.APIMigrations[m] {
			bad("apiMigrations.%s must be true", m)
		}
	}
	mods, err := d.PageModules()
	if err != nil {
		errs = append(errs, err)
	}
	seen := map[string]string{}
	for _, m := range mods {
		if m.Key == "" {
			bad("a %s module has no key", m.Type)
			continue
		}
		if prev, dup := seen[m.Key]; dup {
			bad("module key %q is used by both %s and %s; keys must be unique", m.Key, prev, m.Type)
		}
		seen[m.Key] = m.Type
		if err := checkRelativeURL(m.URL); err != nil {
			bad("%s %q url: %v", m.Type, m.Key, err)
		}
	}
	return errors.Join(errs...)
}

// PageModules lists every module with a key (and a url, when it has one),
// whether the module type holds one object or an array.
func (d *Descriptor) PageModules() ([]Module, error) {
	var out []Module
	types := make([]string, 0, len(d.Modules))
	for t := range d.Modules {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		raw := d.Modules[t]
		var list []Module
		if err := json.Unmarshal(raw, &list); err != nil {
			var one Module
			if err := json.Unmarshal(raw, &one); err != nil {
				return nil, fmt.Errorf("%w: modules.%s is neither a module nor a list of modules", ErrDescriptor, t)
			}
			list = []Module{one}
		}
		for _, m := range list {
			m.Type = t
			out = append(out, m)
		}
	}
	return out, nil
}

// AdminPage returns the first adminPages module.
func (d *Descriptor) AdminPage() (Module, bool) {
	mods, _ := d.PageModules()
	for _, m := range mods {
		if m.Type == "adminPages" {
			return m, true
		}
	}
	return Module{}, false
}

func checkRelativeURL(s string) error {
	if s == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", s)
	}
	if u.IsAbs() || u.Host != "" || !strings.HasPrefix(s, "/") {
		return fmt.Errorf("%q must be relative to baseUrl and start with /", s)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "127.")
}
