package main

import (
	"fmt"
	"slices"
)

// rated is a measurement with a rate, for ratios.
type rated interface{ rate() float64 }

// medianOf is the median of f over the rounds' measurements.
func medianOf[M any](ms []M, f func(M) float64) float64 {
	xs := make([]float64, len(ms))
	for i, m := range ms {
		xs[i] = f(m)
	}
	return median(xs)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratioCell is "0.82× (0.79–0.85)": per round, ms's rate over base's.
func ratioCell[M rated](ms, base []M) string {
	rs := roundRatios(ms, base)
	if len(rs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", median(rs), slices.Min(rs), slices.Max(rs))
}

func sumErrors(ms []redisMeasurement) int64 {
	var n int64
	for _, m := range ms {
		n += m.errors
	}
	return n
}

// fmtRate formats a rate: 17,712 → "17.7k", 11,600,000 → "11.60M".
func fmtRate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// fmtDur formats nanoseconds: 86 → "86 ns", 56,500 → "56.5 µs".
func fmtDur(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.2f ms", ns/1e6)
}

// fmtPer formats a count per decision: 1 → "1.00", 0.0004 → "0.0004",
// 0.00002 → "<0.0001".
func fmtPer(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x < 0.0001:
		return "<0.0001"
	case x < 0.01:
		return fmt.Sprintf("%.4f", x)
	}
	return fmt.Sprintf("%.2f", x)
}
