// Package vmath computes functions of float32 slices for the layers of a
// net: GELU and its gradient, a sum of two slices, and a matrix transpose
// (these two of float64 slices too, in plain Go). GELU has AVX-512 and
// AVX2 kernels, add and transpose AVX2 ones (all generated with avo by
// asmgen), and each a plain-Go one; every
// kernel does the same float operations in the same order, each rounded
// as Go rounds it, so they give the same bits, and a run's results do not
// depend on the CPU.
package vmath

import "math"

//go:generate go run ./asmgen -out vmath_amd64.s -stubs stubs_amd64.go -pkg vmath

// kernel is one instruction set's GELU: gelu and grad take n entries, a
// multiple of lanes.
type kernel struct {
	name  string
	lanes int
	gelu  func(y, x *float32, n int)
	grad  func(dx, dy, x *float32, n int)
}

// kernels is this CPU's assembly kernels, best first (simdKernels).
var kernels = simdKernels()

// GELU sets y[i] = x[i] Phi(x[i]), Phi the normal CDF (cdf), for each of
// x; y is at least as long as x.
func GELU(y, x []float32) {
	y = y[:len(x)]
	n := 0
	if len(kernels) > 0 {
		k := kernels[0]
		if n = len(x) - len(x)%k.lanes; n > 0 {
			k.gelu(&y[0], &x[0], n)
		}
	}
	geluGo(y[n:], x[n:])
}

// GELUGrad sets dx[i] = dy[i] (Phi(x[i]) + x[i] phi(x[i])), phi the normal
// density, for each of dy; dx and x are at least as long as dy.
func GELUGrad(dx, dy, x []float32) {
	dx, x = dx[:len(dy)], x[:len(dy)]
	n := 0
	if len(kernels) > 0 {
		k := kernels[0]
		if n = len(dy) - len(dy)%k.lanes; n > 0 {
			k.grad(&dx[0], &dy[0], &x[0], n)
		}
	}
	geluGradGo(dx[n:], dy[n:], x[n:])
}

// Float is the element types Add and Transpose take: float32, which has
// their AVX2 kernels, and float64.
type Float interface{ ~float32 | ~float64 }

// Add sets dst[i] += src[i] for each of dst; src is at least as long.
func Add[T Float](dst, src []T) {
	src = src[:len(dst)]
	n := 0
	if d, ok := any(dst).([]float32); ok && hasAVX2 {
		if n = len(d) &^ 7; n > 0 {
			addS_avx2(&d[0], &any(src).([]float32)[0], n)
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] += src[i]
	}
}

// Transpose sets dst[j ldd + i] = src[i lds + j] for i < r, j < c: the r
// x c matrix src (rows lds apart) transposed into dst (rows ldd apart).
// It panics unless lds >= c, ldd >= r and both slices hold their
// matrices.
func Transpose[T Float](dst []T, ldd int, src []T, lds, r, c int) {
	if r <= 0 || c <= 0 {
		return
	}
	if lds < c || ldd < r || len(src) < (r-1)*lds+c || len(dst) < (c-1)*ldd+r {
		panic("vmath: Transpose's matrices do not fit their slices")
	}
	r8, c8 := 0, 0
	if d, ok := any(dst).([]float32); ok && hasAVX2 && r >= 8 && c >= 8 {
		r8, c8 = r&^7, c&^7
		transposeS_avx2(&d[0], ldd, &any(src).([]float32)[0], lds, r8, c8)
	}
	if c > c8 && r8 > 0 {
		transposeGo(dst[c8*ldd:], ldd, src[c8:], lds, r8, c-c8) // the columns past the tiles
	}
	if r > r8 {
		transposeGo(dst[r8:], ldd, src[r8*lds:], lds, r-r8, c) // the rows past them
	}
}

// transposeGo is Transpose in plain Go, the kernel's reference.
func transposeGo[T Float](dst []T, ldd int, src []T, lds, r, c int) {
	for i := range r {
		for j, v := range src[i*lds:][:c] {
			dst[j*ldd+i] = v
		}
	}
}

// geluGo is the plain-Go GELU, the kernels' reference.
func geluGo(y, x []float32) {
	y = y[:len(x)]
	for i, u := range x {
		v := float64(u)
		p, _ := cdf(v)
		y[i] = float32(v * p)
	}
}

// geluGradGo is the plain-Go gradient.
func geluGradGo(dx, dy, x []float32) {
	dx, x = dx[:len(dy)], x[:len(dy)]
	for i, d := range dy {
		v := float64(x[i])
		p, e := cdf(v)
		dx[i] = float32(float64(d) * (p + float64(float64(v*e)*invSqrt2Pi)))
	}
}

const invSqrt2Pi = 0.3989422804014327 // 1/sqrt(2 pi)

// cdf returns the normal CDF Phi(v) = (1 + erf(v/sqrt2))/2 by Abramowitz
// and Stegun's 7.1.26, within 7.5e-8 of it (for float32), and exp(-v^2/2),
// which it computes on the way and GELU's gradient needs too:
//
//	t = 1/(1 + p |v|/sqrt2), Phi(-|v|) = q = t (a1 + t (a2 + ... t a5)) exp(-v^2/2) / 2,
//
// and Phi(v) = 1 - q for v >= 0. The exp is its own (z = k ln2 + r with
// |r| <= ln2/2, Cody and Waite's two-part ln2, e^r from its Taylor series
// to r^9, within 1e-11; 2^k put in the exponent; e^-700 below -700). It
// has no branch: math.Erf's and math.Exp's branches on the size of v,
// and one on its sign, are mispredicted half the time on a net's
// activations. Every product is rounded before it is added (the explicit
// conversions forbid Go to fuse them), as the kernels do. NaN gives NaN.
func cdf(v float64) (phi, e float64) {
	const (
		sign  = 1 << 63
		pr    = 0.3275911 / math.Sqrt2
		log2e = 1.4426950408889634
		round = 0x1.8p52                   // adding it rounds to an integer, the integer in its low bits
		ln2hi = 6.93147180369123816490e-01 // 11 trailing zero bits: k ln2hi is exact
		ln2lo = 1.90821492927058770002e-10
		a1    = 0.254829592
		a2    = -0.284496736
		a3    = 1.421413741
		a4    = -1.453152027
		a5    = 1.061405429
	)
	a := math.Float64frombits(math.Float64bits(v) &^ sign)
	t := 1 / (1 + float64(pr*a))
	z := max(float64(-0.5*v)*v, -700)
	kr := float64(z*log2e) + round
	k := kr - round
	r := z - float64(k*ln2hi) - float64(k*ln2lo)
	s := 1.0 / 362880
	for _, c := range [...]float64{1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1, 1} {
		s = c + float64(r*s)
	}
	e = s * math.Float64frombits((math.Float64bits(kr)+1023)<<52)
	u := a5
	for _, c := range [...]float64{a4, a3, a2, a1} {
		u = c + float64(t*u)
	}
	q := float64(float64(0.5*t)*u) * e
	w := math.Float64bits(0.5 - q)
	return 0.5 + math.Float64frombits(w&^sign|math.Float64bits(v)&sign), e
}
