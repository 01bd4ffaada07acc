//go:build !arm64

package gemm

import "math"

// fma32 returns x*y+z rounded once to float32, as the FMA instructions do.
// The product of two float32 is exact in float64, so the only rounding to
// correct is of the float64 sum s = x*y + z, which can put s exactly halfway
// between two float32 values when the exact sum is not: then the error of
// the sum (two-sum, exact) says which way the exact value lies.
func fma32(x, y, z float32) float32 {
	p := float64(x) * float64(y)
	s := p + float64(z)
	r := float32(s)
	if float64(r) == s || math.IsInf(s, 0) || math.IsNaN(s) {
		return r
	}
	// The neighbour of r on the other side of s.
	var o float32
	if float64(r) < s {
		o = math.Nextafter32(r, float32(math.Inf(1)))
	} else {
		o = math.Nextafter32(r, float32(math.Inf(-1)))
	}
	if (float64(r)+float64(o))/2 != s {
		return r // s is not a tie, so rounding it once was exact enough
	}
	// Two-sum: s + e == p + z exactly.
	bb := s - p
	e := (p - (s - bb)) + (float64(z) - bb)
	switch {
	case e == 0:
		return r // a true tie: round half to even, as float32(s) did
	case (e > 0) == (float64(o) > s):
		return o
	default:
		return r
	}
}
