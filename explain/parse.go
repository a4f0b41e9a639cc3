package explain

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Parse errors. Each returned error wraps one of them.
var (
	ErrNoStatus   = errors.New("no HTTP status line (expected e.g. \"HTTP/1.1 401 Unauthorized\")")
	ErrBadHeader  = errors.New("malformed header line")
	ErrNoRequest  = errors.New("no HTTP request line (expected e.g. \"GET /rest/api/3/myself HTTP/1.1\")")
	ErrNoResponse = errors.New("no HTTP response in the input")
)

// maxParseInput bounds the text the parsers look at.
const maxParseInput = 4 << 20

// maxRequestBody bounds the request body kept from a capture.
const maxRequestBody = 64 << 10

// lines splits text into lines without their CR/LF endings.
func lines(raw string) []string {
	if len(raw) > maxParseInput {
		raw = raw[:maxParseInput]
	}
	ls := strings.Split(raw, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// isVerbose reports whether the text is `curl -v` output.
func isVerbose(ls []string) bool {
	for _, l := range ls {
		if strings.HasPrefix(l, "> ") || strings.HasPrefix(l, "< ") || l == ">" || l == "<" {
			return true
		}
	}
	return false
}

// verbose splits `curl -v` output into the request lines, the response
// lines (headers and body) and curl's own "*" info lines.
func verbose(ls []string) (req, resp, info []string) {
	inBody, reqBody := false, false
	for _, l := range ls {
		switch {
		case strings.HasPrefix(l, "> ") || l == ">":
			req = append(req, strings.TrimPrefix(strings.TrimPrefix(l, ">"), " "))
			inBody = false
		case strings.HasPrefix(l, "< ") || l == "<":
			h := strings.TrimPrefix(strings.TrimPrefix(l, "<"), " ")
			resp = append(resp, h)
			inBody = h == ""
		case strings.HasPrefix(l, "* ") || strings.HasPrefix(l, "{ [") || strings.HasPrefix(l, "} [") ||
			strings.HasPrefix(l, "curl: (") || strings.HasPrefix(l, "  % Total") || strings.HasPrefix(l, "                                 Dload"):
			info = append(info, l)
		default:
			switch {
			case inBody || len(resp) > 0:
				resp = append(resp, l)
			case len(req) > 0 && req[len(req)-1] == "" || reqBody:
				// A body pasted after the request headers (curl -d
				// shown by the user, or --trace-ascii).
				req = append(req, l)
				reqBody = true
			}
		}
	}
	return req, resp, info
}

func isStatusLine(l string) bool {
	return strings.HasPrefix(l, "HTTP/") && len(l) >= len("HTTP/2 200") && strings.IndexByte(l, ' ') > 0
}

// ParseResponse reads a raw HTTP response as printed by `curl -i` (HTTP/1.x
// or HTTP/2 status lines, CRLF or LF line ends), or the response side of
// `curl -v` output. When the text holds several responses (100 Continue,
// a proxy's "Connection established", redirects followed with -L), the last
// one is returned and the 3xx ones before it are listed in Redirects.
func ParseResponse(raw string) (Response, error) {
	ls := lines(raw)
	if isVerbose(ls) {
		_, resp, _ := verbose(ls)
		ls = resp
	}
	// Skip leading blank lines and anything before the first status line.
	start := -1
	for i, l := range ls {
		if isStatusLine(strings.TrimSpace(l)) {
			start = i
			break
		}
		if strings.TrimSpace(l) != "" && i > 20 {
			break
		}
	}
	if start < 0 {
		return Response{}, ErrNoStatus
	}
	ls = ls[start:]
	var redirects []Redirect
	for {
		status, hdr, rest, err := parseHead(ls)
		if err != nil {
			return Response{}, err
		}
		// Another response follows when the next non-empty line after the
		// blank separator is a status line and this one was interim or 3xx.
		next := -1
		for i, l := range rest {
			if strings.TrimSpace(l) == "" {
				continue
			}
			interim := status < 200 || (status >= 300 && status < 400) ||
				status == 200 && i == 0 && (len(hdr) == 0 || hdr.Get("Proxy-Agent") != "")
			if isStatusLine(l) && interim {
				next = i
			}
			break
		}
		if next >= 0 {
			if status >= 300 && status < 400 {
				redirects = append(redirects, Redirect{Status: status, Location: hdr.Get("Location")})
			}
			ls = rest[next:]
			continue
		}
		body := strings.Join(rest, "\n")
		return Response{Status: status, Header: hdr, Body: []byte(body), Redirects: redirects}, nil
	}
}

// parseHead parses a status line and the header block after it.
func parseHead(ls []string) (int, http.Header, []string, error) {
	f := strings.Fields(ls[0])
	if len(f) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: %q", ErrNoStatus, ls[0])
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 999 {
		return 0, nil, nil, fmt.Errorf("%w: bad status code in %q", ErrNoStatus, ls[0])
	}
	hdr, rest, err := parseHeaders(ls[1:])
	return code, hdr, rest, err
}

// parseHeaders reads "Name: value" lines up to the first blank line and
// returns the lines after it. Folded continuation lines are joined.
func parseHeaders(ls []string) (http.Header, []string, error) {
	hdr := http.Header{}
	last := ""
	for i, l := range ls {
		if strings.TrimSpace(l) == "" {
			return hdr, ls[i+1:], nil
		}
		if (l[0] == ' ' || l[0] == '\t') && last != "" {
			vs := hdr[last]
			vs[len(vs)-1] += " " + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\"") {
			return nil, nil, fmt.Errorf("%w: %q (expected \"Name: value\")", ErrBadHeader, truncate(l, 80))
		}
		last = textproto.CanonicalMIMEHeaderKey(name)
		hdr[last] = append(hdr[last], strings.TrimSpace(value))
	}
	return hdr, nil, nil
}

// ParseHeaderLine parses one "Name: value" line, as given to --header.
func ParseHeaderLine(l string) (name, value string, err error) {
	name, value, ok := strings.Cut(l, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\"") {
		return "", "", fmt.Errorf("%w: %q (expected \"Name: value\")", ErrBadHeader, truncate(l, 80))
	}
	return textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value), nil
}

// ParseRequest reads a raw HTTP request ("GET /path HTTP/1.1", headers,
// blank line, body) or the request side of `curl -v` output. A relative
// request target is combined with the Host header into an https URL.
func ParseRequest(raw string) (Request, error) {
	ls := lines(raw)
	var info []string
	if isVerbose(ls) {
		ls, _, info = verbose(ls)
	}
	start := -1
	for i, l := range ls {
		if isRequestLine(l) {
			start = i
			break
		}
	}
	if start < 0 {
		return Request{}, ErrNoRequest
	}
	f := strings.Fields(ls[start])
	hdr, rest, err := parseHeaders(ls[start+1:])
	if err != nil {
		return Request{}, err
	}
	// In a plain raw request the body ends where a response starts.
	var body []string
	for _, l := range rest {
		if isStatusLine(l) {
			break
		}
		body = append(body, l)
	}
	target := f[1]
	u := target
	if strings.HasPrefix(target, "/") {
		if host := hdr.Get("Host"); host != "" {
			scheme := "https://"
			if strings.HasSuffix(host, ":80") {
				scheme = "http://"
			}
			u = scheme + host + target
		}
	}
	req := Request{Method: strings.ToUpper(f[0]), URL: u, Header: hdr}
	if b := strings.TrimSpace(strings.Join(body, "\n")); b != "" {
		req.HasBody = true
		req.Body = []byte(truncate(b, maxRequestBody))
	}
	if cl, err := strconv.Atoi(hdr.Get("Content-Length")); err == nil && cl > 0 {
		req.HasBody = true
	}
	if strings.Contains(strings.ToLower(hdr.Get("Transfer-Encoding")), "chunked") {
		req.HasBody = true
	}
	for _, l := range info {
		if strings.HasPrefix(l, "} [") || strings.Contains(l, "upload completely sent off") {
			req.HasBody = true
		}
	}
	return req, nil
}

var methods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}

func isRequestLine(l string) bool {
	f := strings.Fields(l)
	if len(f) < 2 || len(f) > 3 {
		return false
	}
	ok := false
	for _, m := range methods {
		if strings.EqualFold(f[0], m) {
			ok = true
		}
	}
	return ok && (strings.HasPrefix(f[1], "/") || strings.Contains(f[1], "://")) &&
		(len(f) == 2 || strings.HasPrefix(f[2], "HTTP/"))
}

// ParseExchange reads text holding both the request and the response:
// `curl -v` output, or a raw request followed by a raw response.
func ParseExchange(raw string) (Request, Response, error) {
	req, err := ParseRequest(raw)
	if err != nil {
		return Request{}, Response{}, err
	}
	ls := lines(raw)
	if !isVerbose(ls) {
		// A raw request followed by a raw response: parse from the first
		// status line that follows the request line.
		i := strings.Index(raw, "\nHTTP/")
		if i < 0 {
			return req, Response{}, ErrNoResponse
		}
		raw = raw[i+1:]
	}
	resp, err := ParseResponse(raw)
	if err != nil {
		if errors.Is(err, ErrNoStatus) {
			return req, Response{}, fmt.Errorf("%w: %w", ErrNoResponse, err)
		}
		return req, Response{}, err
	}
	return req, resp, nil
}

// TransportError is a transport failure read from curl's output.
type TransportError struct{ Message string }

func (e *TransportError) Error() string { return e.Message }

// CurlError returns the transport failure that `curl -v` output reports
// ("Could not resolve host", "Connection refused", TLS errors, timeouts),
// or nil.
func CurlError(raw string) error {
	for _, l := range lines(raw) {
		t := strings.TrimSpace(strings.TrimPrefix(l, "* "))
		low := strings.ToLower(t)
		if strings.HasPrefix(low, "curl: (") || strings.Contains(low, "could not resolve host") ||
			strings.Contains(low, "connection refused") || strings.Contains(low, "timed out") ||
			strings.Contains(low, "ssl certificate problem") || strings.Contains(low, "connection reset") {
			return &TransportError{Message: t}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
