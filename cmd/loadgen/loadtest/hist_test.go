package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsContiguous(t *testing.T) {
	// Every bucket's range starts right after the previous one ends, and
	// each value maps into the bucket whose range holds it.
	var next uint64
	for i := 0; i < 40*subBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != next || hi < lo {
			t.Fatalf("bucket %d = [%d,%d], want to start at %d", i, lo, hi, next)
		}
		if bucketIndex(lo) != i || bucketIndex(hi) != i {
			t.Fatalf("bucket %d: index(lo)=%d index(hi)=%d", i, bucketIndex(lo), bucketIndex(hi))
		}
		if lo >= 2*subBuckets && float64(hi-lo+1)/float64(lo) > 1.0/subBuckets {
			t.Fatalf("bucket %d is %d wide at %d: more than 1/128", i, hi-lo+1, lo)
		}
		next = hi + 1
	}
}

func TestPercentilesExactSmallValues(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v))
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.01, 1}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}}
	for _, tt := range tests {
		if got := h.Percentile(tt.q); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.q*100, got, tt.want)
		}
	}
	if h.Min() != 1 || h.Max() != 100 || h.Count() != 100 || h.Mean() != 50 { // mean 50.5 truncated
		t.Fatalf("min %v max %v count %d mean %v", h.Min(), h.Max(), h.Count(), h.Mean())
	}
}

// TestPercentilesAgainstSortedSample compares with the exact nearest-rank
// percentile of a long-tailed sample: the histogram may only round up, by
// less than one bucket (1/128).
func TestPercentilesAgainstSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	sample := make([]time.Duration, 200_000)
	for i := range sample {
		// Log-normal around 2 ms with a tail to ~1 s.
		d := time.Duration(math.Exp(rng.NormFloat64()*1.2) * float64(2*time.Millisecond))
		sample[i] = d
		h.Record(d)
	}
	slices.Sort(sample)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := sample[int(math.Ceil(q*float64(len(sample))))-1]
		got := h.Percentile(q)
		if got < exact || float64(got-exact) > float64(exact)/subBuckets {
			t.Errorf("p%v = %v, exact %v (error %.3f%%)", q*100, got, exact, 100*float64(got-exact)/float64(exact))
		}
	}
	if h.Max() != sample[len(sample)-1] || h.Percentile(1) != h.Max() {
		t.Fatalf("max %v, want %v", h.Max(), sample[len(sample)-1])
	}
}

func TestMergeEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var all, a, b Histogram
	for i := range 10_000 {
		d := time.Duration(rng.Int64N(int64(50 * time.Millisecond)))
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	if m.Summary() != all.Summary() || m.Min() != all.Min() {
		t.Fatalf("merged %+v, one histogram %+v", m.Summary(), all.Summary())
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Percentile(0.99) != 0 || h.Mean() != 0 || h.Summary().Count != 0 {
		t.Fatal("empty histogram is not zero")
	}
	h.Record(-time.Second)
	if h.Max() != 0 || h.Count() != 1 {
		t.Fatalf("negative recorded as %v", h.Max())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	d := time.Duration(1)
	for b.Loop() {
		h.Record(d)
		d = (d*7 + 13) % time.Second
	}
}
