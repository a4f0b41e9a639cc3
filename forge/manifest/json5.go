package manifest

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrJSON5 is wrapped by every JSON5 syntax error.
var ErrJSON5 = errors.New("descriptor syntax")

// JSON5ToJSON rewrites the JSON5 that vendors keep atlassian-connect.json in
// (atlassian-connect-express loads it as JSON5) into strict JSON: // and /* */
// comments are removed, trailing commas dropped, unquoted identifier keys and
// single-quoted strings turned into double-quoted strings, hexadecimal
// integers into decimal, a leading + or a bare leading/trailing decimal
// point completed. Line numbers are kept (comments become spaces and
// newlines), so a later encoding/json error still points near the right
// line. Strict JSON passes through unchanged. Errors name the line.
func JSON5ToJSON(src []byte) ([]byte, error) {
	s := string(src)
	s = strings.TrimPrefix(s, "\ufeff")
	out := make([]byte, 0, len(s))
	line := 1
	errAt := func(format string, a ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrJSON5, line, fmt.Sprintf(format, a...))
	}
	// A comma is written at once; the next significant character shows
	// whether it was a trailing one, which is then blanked out.
	pendingComma, commaAt := false, 0
	flushComma := func(next byte) {
		if pendingComma && (next == '}' || next == ']') {
			out[commaAt] = ' '
		}
		pendingComma = false
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			out = append(out, c)
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			out = append(out, c)
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, errAt("unterminated /* comment")
			}
			body := s[i : i+2+end+2]
			n := strings.Count(body, "\n")
			line += n
			out = append(out, strings.Repeat("\n", n)...)
			i += len(body)
		case c == ',':
			if pendingComma {
				return nil, errAt("two commas in a row")
			}
			pendingComma, commaAt = true, len(out)
			out = append(out, ',')
			i++
		case c == '"' || c == '\'':
			flushComma(c)
			str, n, nl, err := readString(s[i:])
			if err != nil {
				return nil, errAt("%v", err)
			}
			line += nl
			out = append(out, str...)
			i += n
		case c == '}' || c == ']' || c == '{' || c == '[' || c == ':':
			flushComma(c)
			out = append(out, c)
			i++
		case isIdentStart(c):
			flushComma(c)
			j := i
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			word := s[i:j]
			switch word {
			case "true", "false", "null":
				out = append(out, word...)
			case "Infinity", "NaN":
				return nil, errAt("%s cannot be represented in JSON", word)
			default:
				// An unquoted key: it must be followed by ':'.
				k := j
				for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n') {
					k++
				}
				if k >= len(s) || s[k] != ':' {
					return nil, errAt("unexpected word %q (strings need quotes)", word)
				}
				out = append(out, `"`+word+`"`...)
			}
			i = j
		case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
			flushComma(c)
			j := i
			for j < len(s) && strings.IndexByte("+-.0123456789abcdefABCDEFxX", s[j]) >= 0 {
				j++
			}
			num, err := jsonNumber(s[i:j])
			if err != nil {
				return nil, errAt("%v", err)
			}
			out = append(out, num...)
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, errAt("unexpected character %q", r)
		}
	}
	if pendingComma {
		return nil, errAt("trailing comma at the end of the document")
	}
	return out, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '-' }

// readString reads a JSON5 string starting at s[0] (a quote) and returns it
// as a JSON string literal, the bytes consumed and the newlines it spanned
// (JSON5 allows a backslash before a line break).
func readString(s string) (string, int, int, error) {
	q := s[0]
	var b strings.Builder
	b.WriteByte('"')
	nl := 0
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == q:
			b.WriteByte('"')
			return b.String(), i + 1, nl, nil
		case c == '\n':
			return "", 0, 0, errors.New("line break inside a string")
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, 0, errors.New("unterminated string")
			}
			e := s[i+1]
			switch e {
			case '\n':
				nl++
				i += 2
			case '\r':
				i += 2
				if i < len(s) && s[i] == '\n' {
					i++
				}
				nl++
			case '\'':
				b.WriteByte('\'')
				i += 2
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
				b.WriteByte('\\')
				b.WriteByte(e)
				i += 2
			case '0':
				b.WriteString(`\u0000`)
				i += 2
			case 'v':
				b.WriteString(`\u000b`)
				i += 2
			case 'x':
				if i+3 >= len(s) {
					return "", 0, 0, errors.New("short \\x escape")
				}
				b.WriteString(`\u00` + s[i+2:i+4])
				i += 4
			default:
				// JSON5: any other escaped character stands for itself.
				b.WriteByte(e)
				i += 2
			}
		case c == '"':
			b.WriteString(`\"`)
			i++
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, 0, errors.New("unterminated string")
}

// jsonNumber turns a JSON5 number into a JSON one.
func jsonNumber(n string) (string, error) {
	sign := ""
	switch {
	case strings.HasPrefix(n, "+"):
		n = n[1:]
	case strings.HasPrefix(n, "-"):
		sign, n = "-", n[1:]
	}
	if strings.HasPrefix(n, "0x") || strings.HasPrefix(n, "0X") {
		var v uint64
		if _, err := fmt.Sscanf(n[2:], "%x", &v); err != nil || len(n) == 2 {
			return "", fmt.Errorf("bad hexadecimal number %q", n)
		}
		return fmt.Sprintf("%s%d", sign, v), nil
	}
	if strings.HasPrefix(n, ".") {
		n = "0" + n
	}
	if strings.HasSuffix(n, ".") {
		n += "0"
	}
	if n == "" || strings.ContainsAny(n, "xXabcdfABCDF") {
		return "", fmt.Errorf("bad number %q", sign+n)
	}
	return sign + n, nil
}
