package api

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pageRequest is what Jira's iframe sends for the admin page: a GET with
// a JWT in the query and browser headers (about 1.6 KiB).
var pageRequest = "GET /admin?xdm_e=https%3A%2F%2Facme.atlassian.net&xdm_c=channel-connect-doctor__admin&cp=&xdm_deprecated_addon_key_do_not_use=connect-doctor&lic=none&cv=1001.0.0-SNAPSHOT&jwt=" +
	strings.Repeat("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", 12) + " HTTP/1.1\r\n" +
	"Host: app.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nAccept-Language: en-GB,en;q=0.9\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\nReferer: https://acme.atlassian.net/plugins/servlet/ac/connect-doctor/admin\r\n" +
	"Sec-Fetch-Dest: iframe\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: cross-site\r\nUpgrade-Insecure-Requests: 1\r\n" +
	"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nConnection: keep-alive\r\n\r\n"

// replayConn serves the same bytes over and over, like a keep-alive
// connection carrying one request after another.
type replayConn struct {
	data []byte
	off  int
}

func (c *replayConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}
func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkFramingGuard is the guard's cost per GET on a keep-alive
// connection read in net/http's 4 KiB reads (one op = one request).
func BenchmarkFramingGuard(b *testing.B) {
	for _, tc := range []struct {
		name string
		req  string
	}{
		{"GET", pageRequest},
		{"POST-chunked", "POST /api/checks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n{\"method\":\"GET\",}\r\n0\r\n\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := &guardConn{Conn: &replayConn{data: []byte(tc.req)}}
			buf := make([]byte, 4096)
			b.SetBytes(int64(len(tc.req)))
			b.ReportAllocs()
			for b.Loop() {
				for left := len(tc.req); left > 0; {
					n, err := c.Read(buf[:min(len(buf), left)])
					if err != nil && err != io.EOF {
						b.Fatal(err)
					}
					left -= n
				}
			}
			if c.state == stOff || c.refused {
				b.Fatalf("the guard stepped aside or refused: state %d", c.state)
			}
		})
	}
}
