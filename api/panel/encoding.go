package panel

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// encodedBody is a response body that never changes once built (the
// rendered admin page, the hashed static files), kept both as is and
// gzip-compressed. Compressing once at build time costs nothing per
// request; every browser asks for gzip, and the admin page then fits the
// server's 4 KiB write buffer, so it leaves in one write instead of two.
type encodedBody struct {
	plain []byte
	gzip  []byte // nil when compression would not make it smaller
}

func newEncodedBody(b []byte) encodedBody { return new(compressor).encode(b) }

// compressor reuses gzip writers and bounds how many exist: each holds
// about a megabyte of tables, and a burst of first page loads (one
// rendering per site, goroutines preempted mid-compression) would
// otherwise hold one per request at once.
type compressor struct {
	writers sync.Pool
	slots   chan struct{} // nil: not bounded (start-up, one at a time)
}

// maxCompressors bounds the gzip writers in use at once.
const maxCompressors = 4

func newCompressor() *compressor {
	return &compressor{slots: make(chan struct{}, maxCompressors)}
}

func (z *compressor) encode(b []byte) encodedBody {
	e := encodedBody{plain: b}
	if z.slots != nil {
		z.slots <- struct{}{}
		defer func() { <-z.slots }()
	}
	var buf bytes.Buffer
	zw, _ := z.writers.Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(&buf, gzip.BestCompression); err != nil {
			return e
		}
	} else {
		zw.Reset(&buf)
	}
	defer z.writers.Put(zw)
	if _, err := zw.Write(b); err != nil {
		return e
	}
	if err := zw.Close(); err != nil {
		return e
	}
	if buf.Len() < len(b) {
		e.gzip = bytes.Clone(buf.Bytes()) // exact size: one is kept per site
	}
	return e
}

// write answers 200 with the body, compressed when the client accepts
// gzip. Vary tells caches that the answer depends on Accept-Encoding.
func (e encodedBody) write(c *gin.Context, contentType string) {
	h := c.Writer.Header()
	body := e.plain
	if e.gzip != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = e.gzip
		}
	}
	// A known length lets net/http send the body in one piece instead of
	// chunks.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Data(http.StatusOK, contentType, body)
}

// acceptsGzip reports whether Accept-Encoding values (RFC 9110 §12.5.3)
// allow gzip: a "gzip" (or legacy "x-gzip") or "*" coding whose q is not
// zero. An explicit "gzip;q=0" refuses gzip even when "*" allows others.
func acceptsGzip(values []string) bool {
	star, gz := false, 0 // gz: 0 not named, 1 allowed, -1 refused
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.TrimSpace(coding)
			ok := qNonZero(params)
			switch {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				if ok {
					gz = 1
				} else if gz == 0 {
					gz = -1
				}
			case coding == "*":
				star = star || ok
			}
		}
	}
	return gz == 1 || (gz == 0 && star)
}

// qNonZero reports whether the parameters of one coding ("q=0.5", " q=0")
// leave its weight above zero. A malformed weight counts as zero: the
// coding is not chosen on a guess.
func qNonZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, val, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		return err == nil && q > 0 && q <= 1
	}
	return true
}
