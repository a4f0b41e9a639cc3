package api

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
)

// FramingGuard wraps the public listener so that a request whose body
// framing two HTTP implementations could read differently is answered 400
// and its connection closed before the server reads it (RFC 9112 §6.1,
// §6.3, §5.2): Content-Length together with Transfer-Encoding, several or
// list-valued Content-Lengths, any Transfer-Encoding other than a single
// "chunked" (on HTTP/1.0 too), and obs-fold continuation lines. Go's
// server drops Content-Length when Transfer-Encoding is chunked and keeps
// the connection, so behind a proxy that honours Content-Length the rest
// of the body would be served as a second, smuggled request.
//
// The guard follows each connection's framing (header sections,
// Content-Length bodies, chunked bodies and trailers) without copying the
// stream; on anything it does not understand it steps aside and leaves
// the verdict to net/http, which refuses malformed framing itself.
func FramingGuard(ln net.Listener) net.Listener { return guardListener{ln} }

type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c}, nil
}

// Limits of the framing scanner: beyond them net/http refuses the request
// itself (MaxHeaderBytes, its 4 KiB chunk-line limit), so the guard steps
// aside.
const (
	maxGuardHeader    = 1 << 20
	maxGuardChunkLine = 4096
)

type framingState int

const (
	stHeader   framingState = iota // reading a header section
	stBody                         // skipping a Content-Length body
	stChunk                        // reading a chunk-size line
	stChunkDat                     // skipping chunk data and its CRLF
	stTrailer                      // reading the trailer section
	stOff                          // stepped aside
)

type guardConn struct {
	net.Conn
	wmu     sync.Mutex
	state   framingState
	buf     []byte // the current header section or line
	left    int64  // body or chunk bytes still to skip
	refused bool
}

// errAmbiguousFraming is returned from Read as a read error, so the server
// closes the connection without writing an answer of its own.
var errAmbiguousFraming = errors.New("ambiguous request framing")

func (c *guardConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

func (c *guardConn) Read(p []byte) (int, error) {
	if c.refused {
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: errAmbiguousFraming}
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != stOff {
		if why := c.scan(p[:n]); why != "" {
			c.refuse(why)
			return 0, &net.OpError{Op: "read", Net: "tcp", Err: errAmbiguousFraming}
		}
	}
	return n, err
}

// refuse answers 400 with the error envelope and closes the write side.
func (c *guardConn) refuse(why string) {
	c.refused = true
	body := `{"error":{"code":"ambiguous_framing","message":"` + why + `","hint":"Send either Content-Length or Transfer-Encoding: chunked, once, without folded header lines."}}`
	resp := "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	c.wmu.Lock()
	_, _ = c.Conn.Write([]byte(resp))
	c.wmu.Unlock()
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// scan advances the framing over p and returns why a request is refused.
func (c *guardConn) scan(p []byte) string {
	for len(p) > 0 {
		switch c.state {
		case stOff:
			return ""
		case stBody, stChunkDat:
			k := min(int64(len(p)), c.left)
			c.left -= k
			p = p[k:]
			if c.left == 0 {
				if c.state == stBody {
					c.state = stHeader
				} else {
					c.state = stChunk
				}
			}
		case stHeader, stTrailer:
			i := bytes.Index(p, []byte("\n"))
			if i < 0 {
				c.buf = append(c.buf, p...)
				p = nil
				if len(c.buf) > maxGuardHeader {
					c.state = stOff
				}
				continue
			}
			c.buf = append(c.buf, p[:i+1]...)
			p = p[i+1:]
			if !endsSection(c.buf, c.state == stHeader) {
				continue
			}
			section := c.buf
			c.buf = c.buf[:0]
			if c.state == stTrailer {
				c.state = stHeader
				continue
			}
			if why := c.frame(section); why != "" {
				return why
			}
		case stChunk:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				c.buf = append(c.buf, p...)
				p = nil
				if len(c.buf) > maxGuardChunkLine {
					c.state = stOff
				}
				continue
			}
			c.buf = append(c.buf, p[:i+1]...)
			p = p[i+1:]
			line := strings.TrimRight(string(c.buf), "\r\n")
			c.buf = c.buf[:0]
			size, _, _ := strings.Cut(line, ";")
			n, err := strconv.ParseInt(strings.TrimRight(size, " \t"), 16, 64)
			switch {
			case err != nil || n < 0 || n > 1<<40:
				c.state = stOff // malformed: net/http refuses it
			case n == 0:
				c.state = stTrailer
			default:
				c.state, c.left = stChunkDat, n+2 // data and its CRLF
			}
		}
	}
	return ""
}

// endsSection reports whether buf, a run of whole lines, ends with an
// empty line (after the request line, for a header section; leading empty
// lines before a request line are allowed and skipped).
func endsSection(buf []byte, header bool) bool {
	s := string(buf)
	if header && strings.TrimLeft(s, "\r\n") == "" {
		return false // blank lines before the request line
	}
	return strings.HasSuffix(s, "\n\r\n") || strings.HasSuffix(s, "\n\n") || (!header && (s == "\r\n" || s == "\n"))
}

// frame checks one header section and sets the state for its body.
func (c *guardConn) frame(section []byte) string {
	lines := strings.Split(strings.TrimLeft(string(section), "\r\n"), "\n")
	reqLine := strings.TrimRight(lines[0], "\r")
	var cls, tes []string
	for _, l := range lines[1:] {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			return "A header line is folded onto the next line (obs-fold)."
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			c.state = stOff // malformed: net/http refuses it
			return ""
		}
		switch {
		case strings.EqualFold(name, "Content-Length"):
			cls = append(cls, strings.TrimSpace(value))
		case strings.EqualFold(name, "Transfer-Encoding"):
			tes = append(tes, strings.TrimSpace(value))
		case strings.EqualFold(strings.TrimSpace(name), "Content-Length"), strings.EqualFold(strings.TrimSpace(name), "Transfer-Encoding"):
			return "A framing header name has white space around it."
		}
	}
	switch {
	case len(tes) > 0 && len(cls) > 0:
		return "The request has both Content-Length and Transfer-Encoding."
	case len(tes) > 1 || (len(tes) == 1 && !strings.EqualFold(tes[0], "chunked")):
		return "Transfer-Encoding must be a single chunked."
	case len(cls) > 1:
		return "The request has several Content-Length fields."
	}
	if len(tes) == 1 {
		if strings.HasSuffix(reqLine, "HTTP/1.0") {
			return "Transfer-Encoding is not defined for HTTP/1.0."
		}
		c.state = stChunk
		return ""
	}
	if len(cls) == 1 {
		n, err := strconv.ParseInt(cls[0], 10, 64)
		if err != nil || n < 0 || strings.ContainsAny(cls[0], "+-") {
			return "Content-Length is not a single number."
		}
		if n > 0 {
			c.state, c.left = stBody, n
			return ""
		}
	}
	c.state = stHeader
	return ""
}
