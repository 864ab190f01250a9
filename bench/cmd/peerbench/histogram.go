package main

import (
	"math/bits"
	"time"
)

// histogram counts durations in fixed log-linear buckets, HDR-style: exact
// below 128 ns, then 64 buckets per power of two, so any recorded value is
// off by at most 1/64 (1.6 %) of itself. 37 µs lands in the bucket
// [36,864 ns, 37,376 ns) and reads back as its midpoint, 37,120 ns.
//
// Recording is one array increment, cheap enough to time every call; each
// caller goroutine owns one histogram and they are merged afterwards, so
// there is no sharing on the hot path.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
}

const (
	histSubBits = 6                // 64 sub-buckets per power of two
	histSub     = 1 << histSubBits // 64
	// Values up to 2^40 ns (18 minutes) fit; longer ones land in the last
	// bucket.
	histBuckets = (40-histSubBits)*histSub + 2*histSub
)

// bucketOf returns the bucket index of v nanoseconds.
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	i := shift*histSub + int(v>>shift)
	return min(i, histBuckets-1)
}

// valueOf returns the midpoint, in nanoseconds, of bucket i.
func valueOf(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	m := uint64(i - shift*histSub)
	return m<<shift + (1<<shift)/2
}

// record counts one duration.
func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the duration below which a fraction q (0…1) of the
// recorded values fall, or 0 if nothing was recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total))
	if rank >= h.total {
		rank = h.total - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return time.Duration(valueOf(i))
		}
	}
	return time.Duration(valueOf(histBuckets - 1))
}
