package api

import (
	"bytes"
	"errors"
	"net"
	"strconv"
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
	buf     []byte // the current line, while it is incomplete
	left    int64  // body or chunk bytes still to skip
	refused bool
	// The header section being read, line by line: nothing but the
	// framing facts is kept, so a request is never copied.
	started  bool  // the request line was seen
	http10   bool  // it ends in HTTP/1.0
	section  int64 // bytes of the section so far
	nCL, nTE int
	cl       int64 // the Content-Length value (valid when clOK)
	clOK     bool
	teOK     bool // the single Transfer-Encoding is "chunked"
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
// Complete lines are examined where they lie in p; only a line split
// across reads is copied (into buf).
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
		case stHeader, stTrailer, stChunk:
			i := bytes.IndexByte(p, '\n')
			limit := maxGuardHeader
			if c.state == stChunk {
				limit = maxGuardChunkLine
			}
			if i < 0 {
				c.buf = append(c.buf, p...)
				c.section += int64(len(p))
				p = nil
				if len(c.buf) > limit || c.section > maxGuardHeader {
					c.state = stOff // net/http refuses it itself
				}
				continue
			}
			line := p[:i]
			if len(c.buf) > 0 {
				c.buf = append(c.buf, line...)
				line = c.buf
			}
			c.section += int64(i + 1)
			p = p[i+1:]
			if len(line) > limit || c.section > maxGuardHeader {
				c.state = stOff
				continue
			}
			line = bytes.TrimSuffix(line, []byte("\r"))
			why := c.line(line)
			c.buf = c.buf[:0]
			if why != "" {
				return why
			}
		}
	}
	return ""
}

// line handles one complete line (without its CRLF) of a header section,
// a trailer section or a chunk-size line.
func (c *guardConn) line(l []byte) string {
	switch c.state {
	case stChunk:
		c.section = 0
		size, _, _ := bytes.Cut(l, []byte(";"))
		n, ok := parseHex(bytes.TrimRight(size, " \t"))
		switch {
		case !ok:
			c.state = stOff // malformed: net/http refuses it
		case n == 0:
			c.state = stTrailer
		default:
			c.state, c.left = stChunkDat, n+2 // data and its CRLF
		}
		return ""
	case stTrailer:
		if len(l) == 0 {
			c.state, c.section = stHeader, 0
		}
		return ""
	}
	if !c.started {
		if len(l) == 0 {
			c.section = 0
			return "" // blank lines before the request line
		}
		c.started, c.http10 = true, bytes.HasSuffix(l, []byte("HTTP/1.0"))
		return ""
	}
	if len(l) == 0 {
		return c.frame()
	}
	if l[0] == ' ' || l[0] == '\t' {
		return "A header line is folded onto the next line (obs-fold)."
	}
	name, value, ok := bytes.Cut(l, []byte(":"))
	if !ok {
		c.state = stOff // malformed: net/http refuses it
		return ""
	}
	value = bytes.TrimSpace(value)
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		c.nCL++
		c.cl, c.clOK = parseDec(value)
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		c.nTE++
		c.teOK = bytes.EqualFold(value, []byte("chunked"))
	case bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")), bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")):
		return "A framing header name has white space around it."
	}
	return ""
}

// frame decides, at the end of a header section, how its body is framed,
// and resets the section.
func (c *guardConn) frame() string {
	nCL, nTE, clOK, teOK, cl, http10 := c.nCL, c.nTE, c.clOK, c.teOK, c.cl, c.http10
	c.started, c.http10, c.section, c.nCL, c.nTE, c.cl, c.clOK, c.teOK = false, false, 0, 0, 0, 0, false, false
	c.state = stHeader
	switch {
	case nTE > 0 && nCL > 0:
		return "The request has both Content-Length and Transfer-Encoding."
	case nTE > 1 || (nTE == 1 && !teOK):
		return "Transfer-Encoding must be a single chunked."
	case nCL > 1:
		return "The request has several Content-Length fields."
	}
	if nTE == 1 {
		if http10 {
			return "Transfer-Encoding is not defined for HTTP/1.0."
		}
		c.state = stChunk
		return ""
	}
	if nCL == 1 {
		if !clOK {
			return "Content-Length is not a single number."
		}
		if cl > 0 {
			c.state, c.left = stBody, cl
		}
	}
	return ""
}

// parseDec parses a Content-Length: 1 to 18 ASCII digits, nothing else.
func parseDec(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// parseHex parses a chunk size: hex digits, at most 1<<40.
func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		var v byte
		switch {
		case d >= '0' && d <= '9':
			v = d - '0'
		case d >= 'a' && d <= 'f':
			v = d - 'a' + 10
		case d >= 'A' && d <= 'F':
			v = d - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(v)
		if n > 1<<40 {
			return 0, false
		}
	}
	return n, true
}
