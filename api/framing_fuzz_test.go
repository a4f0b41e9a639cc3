package api

import (
	"bytes"
	"testing"
)

// guardVerdict runs the guard's scanner over data delivered in reads of
// at most step bytes and returns its verdict and where it stopped.
func guardVerdict(data []byte, step int) (why string, at int, state framingState) {
	c := &guardConn{}
	for off := 0; off < len(data); off += step {
		end := min(off+step, len(data))
		if c.state == stOff {
			return "", off, stOff
		}
		if why := c.scan(data[off:end]); why != "" {
			return why, off, c.state
		}
	}
	return "", len(data), c.state
}

// FuzzFramingGuard: the guard's verdict on a byte stream does not depend
// on how the network splits it into reads (a request smuggled past it by
// splitting a header across packets would be a bypass), and it neither
// panics nor refuses a stream whose requests each carry one plain framing.
func FuzzFramingGuard(f *testing.F) {
	for _, s := range []string{
		pageRequest,
		"POST /installed HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
		"\r\n\r\nGET / HTTP/1.1\nHost: a\n\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		f.Add([]byte(s), uint8(1))
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		why, at, state := guardVerdict(data, len(data)+1)
		why2, at2, state2 := guardVerdict(data, int(step%64)+1)
		if why != why2 || (why == "" && state != state2 && state != stOff && state2 != stOff) {
			t.Fatalf("one read: %q (state %d, at %d); reads of %d: %q (state %d, at %d)", why, state, at, step%64+1, why2, state2, at2)
		}
		_ = at
		// A stream of plain requests built from the input is never refused.
		if why == "" || len(data) == 0 {
			return
		}
		plain := []byte("GET /" + string(bytes.Map(func(r rune) rune {
			if r < '!' || r > '~' {
				return 'x'
			}
			return r
		}, data[:min(len(data), 64)])) + " HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
		if w, _, _ := guardVerdict(bytes.Repeat(plain, 2), int(step%64)+1); w != "" {
			t.Fatalf("a plain request was refused: %q: %s", plain, w)
		}
	})
}
