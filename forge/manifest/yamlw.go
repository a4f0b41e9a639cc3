package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// yw writes YAML text by hand so that comments and key order are ours.
type yw struct{ b strings.Builder }

func (w *yw) line(indent int, s string) {
	w.b.WriteString(strings.Repeat("  ", indent))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *yw) comment(indent int, s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || (r != '\t' && r != '\r' && yamlPrintable(r)) {
			return r
		}
		return ' '
	}, s)
	for _, l := range strings.Split(s, "\n") {
		w.line(indent, strings.TrimRight("# "+l, " "))
	}
}

func (w *yw) blank() { w.b.WriteByte('\n') }

var plainRE = regexp.MustCompile(`^[A-Za-z_/$.][A-Za-z0-9_./@${}-]*(:[A-Za-z0-9_./@${}-]+)*$`)

var yamlWords = []string{"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}

// scalar renders a string as a plain YAML scalar when that is unambiguous,
// otherwise as a double-quoted one.
func scalar(s string) string {
	if plainRE.MatchString(s) && !slices.Contains(yamlWords, strings.ToLower(s)) && !strings.Contains(s, "${") {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return s
		}
	}
	if strings.HasPrefix(s, "https://") && !strings.ContainsAny(s, " #'\"\\\t\r\n") && !strings.ContainsFunc(s, func(r rune) bool { return !yamlPrintable(r) }) {
		return s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	// JSON leaves DEL, C1 controls and noncharacters raw; YAML refuses
	// them even inside double quotes, so they are escaped too.
	var out strings.Builder
	for _, r := range strings.TrimSpace(buf.String()) {
		if !yamlPrintable(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// yamlPrintable reports whether r can stand raw in what we write: YAML 1.2
// c-printable (as yaml.v3 checks it), minus the characters YAML reads as
// line breaks (NEL, LS, PS), which would end a comment or fold a string.
func yamlPrintable(r rune) bool {
	switch {
	case r == 0x85 || r == 0x2028 || r == 0x2029:
		return false
	case r == 0x09 || r == 0x0A || r == 0x0D:
		return true
	case r >= 0x20 && r <= 0x7E:
		return true
	case (r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF):
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

func value(v any) string {
	switch x := v.(type) {
	case string:
		return scalar(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case nil:
		return "null"
	}
	return scalar(fmt.Sprint(v))
}

// sortedKeys returns m's keys with "key" first, then alphabetical.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "key":
			return -1
		case b == "key":
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// mapping writes a JSON object's members at indent.
func (w *yw) mapping(indent int, m map[string]any) {
	for _, k := range sortedKeys(m) {
		w.member(indent, k, m[k])
	}
}

func (w *yw) member(indent int, k string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			w.line(indent, scalar(k)+": {}")
			return
		}
		w.line(indent, scalar(k)+":")
		w.mapping(indent+1, x)
	case []any:
		if len(x) == 0 {
			w.line(indent, scalar(k)+": []")
			return
		}
		w.line(indent, scalar(k)+":")
		w.sequence(indent+1, x)
	default:
		w.line(indent, scalar(k)+": "+value(v))
	}
}

func (w *yw) sequence(indent int, items []any) {
	for _, it := range items {
		switch x := it.(type) {
		case map[string]any:
			if len(x) == 0 {
				w.line(indent, "- {}")
				continue
			}
			keys := sortedKeys(x)
			// First member on the dash line, the rest aligned under it.
			var sub yw
			sub.member(0, keys[0], x[keys[0]])
			first := strings.Split(strings.TrimSuffix(sub.b.String(), "\n"), "\n")
			w.line(indent, "- "+first[0])
			for _, l := range first[1:] {
				w.line(indent+1, l)
			}
			for _, k := range keys[1:] {
				w.member(indent+1, k, x[k])
			}
		case []any:
			w.line(indent, "-")
			w.sequence(indent+1, x)
		default:
			w.line(indent, "- "+value(it))
		}
	}
}

// list writes "name:" and a block sequence of strings.
func (w *yw) list(indent int, name string, items []string) {
	w.line(indent, name+":")
	for _, it := range items {
		w.line(indent+1, "- "+scalar(it))
	}
}

// connectModules writes the entries of a connectModules map (the caller
// writes the key): one sequence per module type, the lifecycle type first,
// then alphabetically, so that the output does not depend on map order.
func (w *yw) connectModules(cm map[string][]any) {
	names := make([]string, 0, len(cm))
	for n := range cm {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		la, lb := strings.HasSuffix(a, ":lifecycle"), strings.HasSuffix(b, ":lifecycle")
		switch {
		case la && !lb:
			return -1
		case lb && !la:
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, n := range names {
		w.line(1, n+":")
		w.sequence(2, cm[n])
	}
}
