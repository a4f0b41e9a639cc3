package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records non-negative durations in log-linear buckets, like an
// HDR histogram with 7 significant bits: values below 256 ns are exact and
// every larger value falls in a bucket whose width is at most 1/128 of its
// lower bound, so a reported percentile is within 0.8% of the true one.
// Buckets are allocated as far as the largest value recorded (about 3,500
// counters for 10 s). The zero value is ready to use; a Histogram is not
// safe for concurrent use: give each worker its own and Merge them.
type Histogram struct {
	counts []uint64
	total  uint64
	sum    float64 // ns
	min    int64
	max    int64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits // 128
)

// bucketIndex maps a value to its bucket: the value itself below 256
// (exact), then shift*128 + (v >> shift) with v>>shift in [128, 256).
func bucketIndex(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return shift*subBuckets + int(v>>shift)
}

// bucketRange is the smallest and largest value that map to bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i)
	}
	shift := i/subBuckets - 1
	m := uint64(i - shift*subBuckets)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	i := bucketIndex(uint64(v))
	if i >= len(h.counts) {
		n := max(2*len(h.counts), i+1, 2*subBuckets)
		c := make([]uint64, n)
		copy(c, h.counts)
		h.counts = c
	}
	h.counts[i]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Merge adds o's observations to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		c := make([]uint64, len(o.counts))
		copy(c, h.counts)
		h.counts = c
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
	h.sum += o.sum
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest observation (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest observation (exact).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the average observation.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Percentile returns the value at or below which a fraction q (0..1) of the
// observations fall: the upper bound of the bucket holding the
// ceil(q·count)-th smallest observation, capped by the exact maximum. It is
// 0 for an empty histogram.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			_, hi := bucketRange(i)
			return time.Duration(min(int64(hi), h.max))
		}
	}
	return time.Duration(h.max)
}

// Summary is a histogram's digest, in milliseconds for reading and JSON.
type Summary struct {
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Summary digests the histogram.
func (h *Histogram) Summary() Summary {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Summary{
		Count: h.total, MeanMS: ms(h.Mean()), P50MS: ms(h.Percentile(0.50)), P90MS: ms(h.Percentile(0.90)),
		P99MS: ms(h.Percentile(0.99)), MaxMS: ms(h.Max()),
	}
}
