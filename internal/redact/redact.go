// Package redact removes personal data from the text of REST answers
// before they are stored: the values of personal fields (the list, with
// its source, is personal_fields.txt) and every e-mail address, in JSON
// that parses and in JSON cut short alike.
package redact

import (
	_ "embed"
	"regexp"
	"strings"
)

//go:embed personal_fields.txt
var fieldsFile string

// Mark replaces a redacted value.
const Mark = "[redacted]"

// Redactor redacts one set of personal fields.
type Redactor struct {
	str   *regexp.Regexp // "field": "value"
	obj   *regexp.Regexp // "field": { … } (one level, as avatarUrls)
	email *regexp.Regexp
}

// New builds the redactor of the embedded field list.
func New() *Redactor {
	var names []string
	for _, l := range strings.Split(fieldsFile, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, regexp.QuoteMeta(l))
		}
	}
	alt := strings.Join(names, "|")
	return &Redactor{
		str:   regexp.MustCompile(`("(?:` + alt + `)"\s*:\s*)"(?:[^"\\]|\\.)*("|$)`),
		obj:   regexp.MustCompile(`("(?:` + alt + `)"\s*:\s*)\{[^{}]*(\}|$)`),
		email: regexp.MustCompile(`[A-Za-z0-9._%+\-]+(@|%40|\\u0040)[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+`),
	}
}

// Text returns s with personal field values and e-mail addresses
// replaced. It is idempotent.
func (r *Redactor) Text(s string) string {
	s = r.obj.ReplaceAllString(s, `${1}"`+Mark+`"`)
	s = r.str.ReplaceAllString(s, `${1}"`+Mark+`"`)
	return r.email.ReplaceAllString(s, Mark)
}
