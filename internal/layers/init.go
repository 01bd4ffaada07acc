package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// InitDirac draws every weight as PyTorch's default initialisation does,
// uniform in +-1/sqrt(fan-in) (kaiming_uniform with a = sqrt(5)), from rng
// in parameter order, then, with dirac, makes the first min(F, C) filters
// of each convolution the identity (torch.nn.init.dirac_: 1 at the
// kernel's centre K/2 of its own input channel, 0 elsewhere), as airbench
// does: each convolution starts as a residual path plus noise. Biases and
// beta stay 0, gamma 1.
func (n *Net[T]) InitUniform(rng *rand.Rand, dirac bool) {
	for _, l := range n.Layers {
		var w *Param[T]
		switch l := l.(type) {
		case *Conv[T]:
			w = l.W
		case *Affine[T]:
			w = l.W
		default:
			continue
		}
		fanIn := w.Shape[0] // affine (D, M): D
		if c, ok := l.(*Conv[T]); ok {
			fanIn = c.In.C * c.K * c.K
		}
		bound := 1 / math.Sqrt(float64(fanIn))
		for i := range w.V {
			w.V[i] = T(bound * (2*rng.Float64() - 1))
		}
		if c, ok := l.(*Conv[T]); ok && dirac {
			Dirac(c)
		}
	}
}

// Dirac sets the first min(F, C) filters of c to the identity: filter f is
// 1 at the centre (K/2, K/2) of input channel f and 0 elsewhere.
func Dirac[T Float](c *Conv[T]) {
	kk := c.K * c.K
	ckk := c.In.C * kk
	for f := range min(c.F, c.In.C) {
		w := c.W.V[f*ckk : (f+1)*ckk]
		clear(w)
		w[f*kk+c.K/2*c.K+c.K/2] = 1
	}
}

// WhitenEps is the whitening layer's regulariser, relative to the mean
// variance of a patch's entries (airbench's 5e-4 on images scaled to unit
// variance per channel).
const WhitenEps = 5e-4

// InitWhitening makes c a patch-whitening layer for the n images x (N, C,
// H, W), as airbench's first layer: with S the second moment of the
// images' K x K patches (every position, stride 1, no padding; S =
// P^T P / patches) and S = sum l_i v_i v_i^T, the eigenvalues in
// decreasing order, filter i is v_i / sqrt(l_i + e) and filter C K K + i
// its negation, e = WhitenEps trace(S)/(C K K). The first C K K filters'
// outputs over these patches then have second moment diag(l_i / (l_i +
// e)), near the identity. The bias is left as it is. It needs stride 1,
// no padding and F = 2 C K K. The arithmetic is this package's own (no
// BLAS or LAPACK chosen at run time), so the filters are the same bits on
// every machine.
func InitWhitening(c *Conv[float64], x []float64, n int) error {
	d := c.In.C * c.K * c.K
	if c.S != 1 || c.P != 0 || c.F != 2*d {
		return fmt.Errorf("a whitening layer is a convolution of %d filters of %dx%d, stride 1, no padding, not %d filters, stride %d, padding %d", 2*d, c.K, c.K, c.F, c.S, c.P)
	}
	s, count := PatchMoment(x, n, c.In, c.K)
	if count == 0 {
		return fmt.Errorf("no %dx%d patches in %d images of %v", c.K, c.K, n, c.In)
	}
	trace := 0.0
	for i := range d {
		trace += s[i*d+i]
	}
	if !(trace > 0) || math.IsInf(trace, 0) {
		return fmt.Errorf("the %d images have no variance to whiten (every patch the same): use more or other training images", n)
	}
	vals, vecs := SymEigen(s, d)
	eps := WhitenEps * trace / float64(d)
	for i := range d {
		k := 1 / math.Sqrt(max(vals[i], 0)+eps)
		for r := range d {
			v := vecs[r*d+i] * k
			c.W.V[i*d+r], c.W.V[(d+i)*d+r] = v, -v
		}
	}
	return nil
}

// PatchMoment returns the second moment P^T P / count (d x d, row-major,
// d = C K K) of the K x K patches P (rows in a filter's order: channel,
// row, column) at every position of the n images x (N, C, H, W), and
// count.
func PatchMoment(x []float64, n int, in Shape, k int) ([]float64, int) {
	d := in.C * k * k
	ho, wo := in.H-k+1, in.W-k+1
	sum := make([]float64, d*d)
	p := make([]float64, d)
	count := 0
	for e := range n {
		img := x[e*in.Size() : (e+1)*in.Size()]
		for oy := range ho {
			for ox := range wo {
				for ch := range in.C {
					for ky := range k {
						copy(p[(ch*k+ky)*k:(ch*k+ky+1)*k], img[(ch*in.H+oy+ky)*in.W+ox:][:k])
					}
				}
				for a, pa := range p {
					row := sum[a*d : (a+1)*d]
					for b := a; b < d; b++ {
						row[b] += pa * p[b]
					}
				}
				count++
			}
		}
	}
	for a := range d {
		for b := a; b < d; b++ {
			sum[a*d+b] /= float64(max(count, 1))
			sum[b*d+a] = sum[a*d+b]
		}
	}
	return sum, count
}

// SymEigen returns the eigenvalues of the symmetric d x d matrix a
// (row-major), largest first, and the eigenvectors as the columns of vecs
// (row-major d x d) in the same order, by cyclic Jacobi rotations (Golub
// and Van Loan 8.5): small matrices only (the sweeps are O(d^3) each).
func SymEigen(a []float64, d int) (vals, vecs []float64) {
	a = append([]float64(nil), a[:d*d]...)
	v := make([]float64, d*d)
	for i := range d {
		v[i*d+i] = 1
	}
	for range 100 {
		off, norm := 0.0, 0.0
		for p := range d {
			for q := range d {
				if p != q {
					off += a[p*d+q] * a[p*d+q]
				}
				norm += a[p*d+q] * a[p*d+q]
			}
		}
		if off <= 1e-30*norm {
			break
		}
		for p := range d {
			for q := p + 1; q < d; q++ {
				apq := a[p*d+q]
				if apq == 0 {
					continue
				}
				theta := (a[q*d+q] - a[p*d+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range d { // A J
					akp, akq := a[k*d+p], a[k*d+q]
					a[k*d+p], a[k*d+q] = c*akp-s*akq, s*akp+c*akq
				}
				for k := range d { // J^T (A J)
					apk, aqk := a[p*d+k], a[q*d+k]
					a[p*d+k], a[q*d+k] = c*apk-s*aqk, s*apk+c*aqk
				}
				for k := range d {
					vkp, vkq := v[k*d+p], v[k*d+q]
					v[k*d+p], v[k*d+q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	order := make([]int, d)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return a[order[i]*d+order[i]] > a[order[j]*d+order[j]] })
	vals, vecs = make([]float64, d), make([]float64, d*d)
	for i, o := range order {
		vals[i] = a[o*d+o]
		for r := range d {
			vecs[r*d+i] = v[r*d+o]
		}
	}
	return vals, vecs
}
