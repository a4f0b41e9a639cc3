package knowledge

import "strings"

// Text is a lower-cased response body with a trigram index, so that the
// many "does the body say X" questions of the rules and detectors cost the
// length of X rather than the length of the body. The index is a set of
// hashed trigrams (2 Kibit to 64 Kibit, by body length): a needle one of whose trigrams is absent cannot
// occur; when all are present, strings.Contains decides. Bodies shorter
// than indexMin are not indexed (a scan is as cheap as the index).
type Text struct {
	s     string
	idx   []uint64 // the trigram bit set: 1<<shift... bits, see newText
	shift uint     // a trigram's bit is its 32-bit hash >> shift
}

// indexMin is the body length from which an index pays for itself.
const indexMin = 128

// The bit set has about 16 bits per body byte (so a needle's absent
// trigram is seldom hidden by a collision), between 2^11 and 2^16 bits.
const (
	minBitsLog2 = 11
	maxBitsLog2 = 16
)

// NewText indexes s, which the caller has lower-cased.
func NewText(s string) *Text { return newText(s, indexMin) }

func newText(s string, min int) *Text {
	t := &Text{s: s}
	if len(s) >= min && len(s) >= 3 {
		log := uint(minBitsLog2)
		for log < maxBitsLog2 && 1<<log < 16*len(s) {
			log++
		}
		t.idx, t.shift = make([]uint64, 1<<(log-6)), 32-log
		for i := 0; i+3 <= len(s); i++ {
			h := tri(s[i], s[i+1], s[i+2]) >> t.shift
			t.idx[h>>6] |= 1 << (h & 63)
		}
	}
	return t
}

// tri hashes a trigram (Fibonacci hashing: the high bits are the good ones).
func tri(a, b, c byte) uint32 {
	return (uint32(a)<<16 | uint32(b)<<8 | uint32(c)) * 2654435761
}

// String returns the text.
func (t *Text) String() string {
	if t == nil {
		return ""
	}
	return t.s
}

// Contains reports whether needle occurs in the text, exactly as
// strings.Contains would.
func (t *Text) Contains(needle string) bool {
	if t == nil {
		return needle == ""
	}
	if t.idx != nil && len(needle) >= 3 {
		for i := 0; i+3 <= len(needle); i++ {
			h := tri(needle[i], needle[i+1], needle[i+2]) >> t.shift
			if t.idx[h>>6]&(1<<(h&63)) == 0 {
				return false
			}
		}
	}
	return strings.Contains(t.s, needle)
}

// ContainsAny returns the first needle that occurs in the text.
func (t *Text) ContainsAny(needles ...string) (string, bool) {
	for _, n := range needles {
		if t.Contains(n) {
			return n, true
		}
	}
	return "", false
}
